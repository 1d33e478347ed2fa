package server

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/slodhq/slod/burnrate"
)

// randomSnapshot has instances in every combination of evaluated and
// misconfigured, and open incidents of random class and severity, several
// to some keys, some to keys no instance has.
func randomSnapshot(seed uint64) *Snapshot {
	rng := rand.New(rand.NewPCG(seed, 7))
	snap := &Snapshot{At: now}
	classes := []burnrate.IncidentClass{burnrate.ClassBurn, burnrate.ClassNoData}
	sevs := []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket}
	for s := range 1 + rng.IntN(5) {
		sl := SLO{ID: fmt.Sprintf("slo-%d", s), Service: fmt.Sprintf("svc-%d", s%2)}
		misconfigured := rng.IntN(4) == 0
		for i := range rng.IntN(200) {
			in := Instance{Key: fmt.Sprintf("%s{i=\"%d\"}", sl.ID, i), Labels: map[string]string{"i": fmt.Sprint(i)},
				Evaluated: rng.IntN(5) > 0, Misconfigured: misconfigured}
			sl.Instances = append(sl.Instances, in)
			for range rng.IntN(3) * rng.IntN(2) {
				snap.Incidents = append(snap.Incidents, burnrate.Incident{Key: in.Key, SLO: sl.ID,
					Class: classes[rng.IntN(2)], Severity: sevs[rng.IntN(2)]})
			}
		}
		snap.SLOs = append(snap.SLOs, sl)
	}
	for i := range 10 {
		snap.Incidents = append(snap.Incidents, burnrate.Incident{Key: fmt.Sprintf("gone{i=\"%d\"}", i),
			Class: classes[rng.IntN(2)], Severity: sevs[rng.IntN(2)]})
	}
	rng.Shuffle(len(snap.Incidents), func(i, j int) { snap.Incidents[i], snap.Incidents[j] = snap.Incidents[j], snap.Incidents[i] })
	return snap
}

// The index's state, one map lookup per instance, is Instance.State, which
// scans every incident for each instance.
func TestSnapshotStateLookupAgreesWithInstanceState(t *testing.T) {
	seen := map[State]bool{}
	for seed := range uint64(50) {
		snap := randomSnapshot(seed)
		var total Counts
		for i, sl := range snap.SLOs {
			var counts Counts
			for j, in := range sl.Instances {
				want := in.State(snap.Incidents)
				if got := snap.State(i, j); got.String() != want {
					t.Fatalf("seed %d: %s: lookup says %s, Instance.State %s", seed, in.Key, got, want)
				}
				counts.add(snap.State(i, j))
				seen[snap.State(i, j)] = true
			}
			if snap.Counts(i) != counts {
				t.Errorf("seed %d: %s: counts %+v, want %+v", seed, sl.ID, snap.Counts(i), counts)
			}
			for st := range numStates {
				*total.field(st) += counts.Of(st)
			}
		}
		if snap.Total() != total {
			t.Errorf("seed %d: total %+v, want %+v", seed, snap.Total(), total)
		}
	}
	if len(seen) != int(numStates) {
		t.Errorf("the random snapshots reached only the states %v", seen)
	}
}

func TestSnapshotParseStateReadsEveryStateName(t *testing.T) {
	for st := range numStates {
		if got, ok := ParseState(st.String()); !ok || got != st {
			t.Errorf("%s reads as %v %v", st, got, ok)
		}
	}
	if _, ok := ParseState("paging"); ok {
		t.Error("an unknown name reads as a state")
	}
}
