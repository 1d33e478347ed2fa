package engine

import (
	"hash/fnv"
	"slices"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// SplitAll, as a key of Shard.Split, splits every group_by SLO.
const SplitAll = "*"

// Shard places SLOs on one of Count engines that share the load. An SLO
// goes whole to one shard, by a hash of its id, unless Split names it:
// then its instances are split among all shards by a label value
// partition (source.Partition) that is pushed into its queries, so each
// shard's queries select, and the server evaluates and returns, only that
// shard's series.
type Shard struct {
	Index, Count int
	// Split maps the ids of the group_by SLOs split among the shards
	// (SplitAll: every group_by SLO) to the label partitioned on; "" is
	// the SLO's first group_by label. A label that is not one of the SLO's
	// group_by labels leaves it whole.
	Split map[string]string
}

// Enabled reports whether there is more than one shard.
func (s Shard) Enabled() bool { return s.Count > 1 }

// OwnsSLO reports whether the shard owns an SLO that goes whole to one
// shard: FNV-1a of the SLO id and the empty label set, modulo Count (the
// placement slod has always used for SLOs without group_by).
func (s Shard) OwnsSLO(id string) bool {
	if !s.Enabled() {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(burnrate.LabelsKey(nil)))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// Partition is the query partition of a split SLO, or nil when the SLO
// goes whole to one shard.
func (s Shard) Partition(spec *slo.Spec) *source.Partition {
	if !s.Enabled() || len(spec.GroupBy) == 0 {
		return nil
	}
	label, ok := s.Split[spec.ID]
	if !ok {
		if label, ok = s.Split[SplitAll]; !ok {
			return nil
		}
	}
	if label == "" {
		label = spec.GroupBy[0]
	}
	if !slices.Contains(spec.GroupBy, label) {
		return nil
	}
	return &source.Partition{Label: label, Index: s.Index, Count: s.Count}
}

// placement is where an SLO runs: split by a partition, or whole on this
// shard (mine) or another.
type placement struct {
	part *source.Partition
	mine bool
}

func (s Shard) place(spec *slo.Spec) placement {
	if p := s.Partition(spec); p != nil {
		return placement{part: p, mine: true}
	}
	return placement{mine: s.OwnsSLO(spec.ID)}
}

// owns reports whether the placement holds an instance.
func (p placement) owns(labelsKey string) bool {
	if p.part != nil {
		return p.part.OwnsKey(labelsKey)
	}
	return p.mine
}
