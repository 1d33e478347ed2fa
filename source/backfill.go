package source

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// Progress reports one backfill segment read and ingested.
type Progress struct {
	SLO string
	// Segment (1-based) of Segments; each covers (From, To] at Resolution.
	Segment, Segments int
	From, To          time.Time
	Resolution        time.Duration
	// Queries is how many range queries the segment took.
	Queries int
}

// SyncOptions configure Sync.
type SyncOptions struct {
	// Delay leaves the newest steps to Prometheus's ingestion: steps are read
	// up to now − Delay.
	Delay time.Duration
	// Reread re-reads this many of the newest steps already ingested, to
	// pick up late samples (default 2; negative: none).
	Reread int
	// Points caps points per series per query (default 10,000).
	Points int
	// Progress, when set, is called after each segment.
	Progress func(Progress)
	// Keep, when set, drops the series whose instance key
	// (burnrate.LabelsKey of its labels) it refuses before they are
	// ingested: a shard keeps only the instances it owns.
	Keep func(labelsKey string) bool
	// Partition, when set, narrows the queries to one shard's part of the
	// series (Reader.Partition); Keep still applies to what they return.
	Partition *Partition
	// Cold keeps the cold start's layout (Plan) for a read that resumes a
	// cold one which failed halfway: the evaluator has steps, but its
	// history is still being filled for the first time. (An evaluator with
	// no step is always read cold.)
	Cold bool
	// Cache, when set, keeps the series read and the read buffers from one
	// sync of the SLO to the next, so a steady tick allocates nothing per
	// series (see SeriesCache). One per SLO.
	Cache *SeriesCache
	// RereadOnly reads nothing new: only the Reread steps up to now (never
	// past the newest ingested), again, for the samples that arrived after
	// they were read; Delay does not apply. A caller that reads new steps
	// without re-reading (Reread < 0) runs it afterwards, off the path of
	// its evaluation.
	RereadOnly bool
}

// Segment is a range (From, To] read at one resolution.
type Segment struct {
	From, To   time.Time
	Resolution time.Duration
}

// Plan splits the steps an evaluator lacks up to end into segments, oldest
// first: history that only a coarse tier keeps is read at that tier's
// resolution, the rest at the step. The first read starts at most one SLO
// window before end.
//
// A cold start (an evaluator that has ingested nothing) reads less of each
// finer tier's span at its own resolution: the newest ColdFineSpan at the
// step, the newest ColdMidSpan at 10 minutes, older history at the coarse
// tier's hour. The windows of the paging rows (5m, 30m, 1h) are then
// exact, and the older part of a finer tier holds coarser readings spread
// evenly over its buckets (burnrate's appendInterval): a window whose edge
// falls there (the 2h and 6h windows for five hours, the 3d window for two
// days) errs by at most one coarse bucket's deviation from an even spread,
// as a coarse tier's edge always does. It is what makes a cold start of
// 100,000 instances read a third of the points (docs/performance.md). A
// gap after a restart or an outage is read at full resolution, since its
// ticks are replayed one by one.
func Plan(ev *burnrate.Evaluator, end time.Time, reread int) []Segment {
	return plan(ev, end, reread, false)
}

// plan is Plan, reading cold (the cold start's layout) also when the
// evaluator has steps.
func plan(ev *burnrate.Evaluator, end time.Time, reread int, cold bool) []Segment {
	step := ev.Step()
	end = end.Truncate(step)
	start := ev.LastStep()
	cold = cold || start.IsZero()
	window := ev.Spec().History()
	if start.IsZero() || end.Sub(start) > window {
		start = end.Add(-window)
	} else {
		start = start.Add(-time.Duration(reread) * step)
	}
	start = start.Truncate(step)
	if !end.After(start) {
		return nil
	}
	if ev.Spec().TimeSlices != nil {
		// Every slice is judged on its own counts: read them all at the step.
		return []Segment{{From: start, To: end, Resolution: step}}
	}
	tiers := ev.Tiers()
	var segs []Segment
	cur := start
	for i := len(tiers) - 1; i >= 1; i-- {
		res := tiers[i].Resolution
		if res <= step {
			continue
		}
		// Older than the next finer tier keeps (on a cold start: reads at
		// its resolution): read at this resolution.
		finer := tiers[i-1].Span
		if cold {
			finer = min(finer, coldSpan(i-1))
		}
		a := ceilTime(cur, res)
		b := end.Add(-finer).Truncate(res)
		if b.After(a) {
			if a.After(cur) {
				segs = append(segs, Segment{From: cur, To: a, Resolution: step})
			}
			segs = append(segs, Segment{From: a, To: b, Resolution: res})
			cur = b
		}
	}
	if end.After(cur) {
		segs = append(segs, Segment{From: cur, To: end, Resolution: step})
	}
	return segs
}

// How much of the fine and the 10-minute tier a cold start reads at their
// own resolution (Plan): the longest window of the default policy's page
// rows, and its first ticket row's.
const (
	ColdFineSpan = time.Hour
	ColdMidSpan  = 24 * time.Hour
)

// coldSpan is what a cold start reads of tier i at its own resolution.
func coldSpan(i int) time.Duration {
	switch i {
	case 0:
		return ColdFineSpan
	case 1:
		return ColdMidSpan
	}
	return 1<<63 - 1
}

// rereadPlan is the segment of a RereadOnly sync: the reread steps up to
// end, at the step, none past the newest step ingested.
func rereadPlan(ev *burnrate.Evaluator, end time.Time, reread int) []Segment {
	step := ev.Step()
	end = end.Truncate(step)
	if last := ev.LastStep(); end.After(last) {
		end = last
	}
	if end.IsZero() || reread <= 0 {
		return nil
	}
	return []Segment{{From: end.Add(-time.Duration(reread) * step), To: end, Resolution: step}}
}

func ceilTime(t time.Time, d time.Duration) time.Time {
	if f := t.Truncate(d); f.Equal(t) {
		return t
	}
	return t.Truncate(d).Add(d)
}

// Sync reads every step the evaluator lacks up to now − Delay and ingests
// it: the whole SLO window on first use (backfill), the gap after an
// outage or a restore, and on a normal tick just the newest steps (plus a
// couple re-read for late samples). It returns the number of range queries
// sent. Ingest problems (cardinality cap) are returned after the rest is
// stored; read errors stop the sync, keeping what was ingested so far.
func Sync(ctx context.Context, ev *burnrate.Evaluator, q Querier, now time.Time, o SyncOptions) (int, error) {
	if o.Reread == 0 {
		o.Reread = 2
	} else if o.Reread < 0 {
		o.Reread = 0
	}
	r := &Reader{Querier: q, Spec: ev.Spec(), Step: ev.Step(), Points: o.Points, Series: ev.Len(), Partition: o.Partition, Cache: o.Cache}
	var segs []Segment
	if o.RereadOnly {
		segs = rereadPlan(ev, now, o.Reread)
	} else {
		segs = plan(ev, now.Add(-o.Delay), o.Reread, o.Cold)
	}
	queries := 0
	var ingestErrs []error
	ingest := func(b burnrate.Batch) error {
		if o.Keep != nil {
			b.Series = slices.DeleteFunc(b.Series, func(s burnrate.Series) bool {
				key := s.Key
				if key == "" {
					key = burnrate.LabelsKey(s.Labels)
				}
				return !o.Keep(key)
			})
		}
		if err := ev.Ingest(b); err != nil {
			var ce *burnrate.CardinalityError
			if !errors.As(err, &ce) && !errors.Is(err, burnrate.ErrStepTooOld) {
				return err
			}
			ingestErrs = append(ingestErrs, err)
		}
		return nil
	}
	for i, s := range segs {
		// Each chunk is ingested as it arrives: a long backfill keeps what
		// it read when a later chunk fails, and the next sync resumes there.
		n, err := r.ReadChunks(ctx, s.From, s.To, s.Resolution, ingest)
		queries += n
		r.Series = ev.Len() // known now: later segments need not ask
		if err != nil {
			return queries, err
		}
		if o.Progress != nil {
			o.Progress(Progress{SLO: ev.Spec().ID, Segment: i + 1, Segments: len(segs), From: s.From, To: s.To, Resolution: s.Resolution, Queries: n})
		}
	}
	if len(ingestErrs) > 0 {
		return queries, fmt.Errorf("slo %q: sync: %w", ev.Spec().ID, errors.Join(ingestErrs...))
	}
	return queries, nil
}
