package daemon

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/slo"
)

// TestFingerprintCoversTheCountsNotTheObjective: the rings hold per-step
// counts, so a new objective keeps them (only budget figures change), while
// a new window or step makes them mean something else.
func TestFingerprintCoversTheCountsNotTheObjective(t *testing.T) {
	set, diags := slo.Check(filepath.Join("..", "examples", "slos", "checkout-availability.yaml"))
	if slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("example: %v", diags)
	}
	base := *set.SLOs[0]
	fp := fingerprint(&base, time.Minute)
	for _, tc := range []struct {
		name string
		mod  func(s *slo.Spec)
		step time.Duration
		same bool
	}{
		{"a new objective keeps the fingerprint", func(s *slo.Spec) { s.Objective = 99.5 }, time.Minute, true},
		{"a new window changes it", func(s *slo.Spec) { s.Window = 7 * 24 * time.Hour }, time.Minute, false},
		{"a new step changes it", func(s *slo.Spec) {}, 30 * time.Second, false},
		{"a new group_by changes it", func(s *slo.Spec) { s.GroupBy = []string{"route"} }, time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.mod(&spec)
			if got := fingerprint(&spec, tc.step) == fp; got != tc.same {
				t.Errorf("same fingerprint %v, want %v", got, tc.same)
			}
		})
	}
}

// TestAPendingPageJSONCannotCarryDoesNotCostTheSnapshot: pages waiting for
// the outbox ride in the state snapshot; one that cannot be encoded (a NaN
// figure) is left out with a log line, and the snapshot is still written.
func TestAPendingPageJSONCannotCarryDoesNotCostTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	h := newDemoDaemon(t, dir, nil, nil)
	good := notify.Page{DedupKey: "good", Action: notify.Resolve}
	bad := notify.Page{DedupKey: "bad", Action: notify.Resolve, Details: notify.Details{Burn: map[string]float64{"1h": math.NaN()}}}
	h.d.pending = []notify.Page{bad, good}
	h.d.saveState(demoStart)
	if got := metricValue(t, h.d.m.snapshots.WithLabelValues("ok")); got != 1 {
		t.Fatalf("%v snapshots written, want 1", got)
	}
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 || st.Pending[0].DedupKey != "good" {
		t.Errorf("pending pages in the snapshot %+v, want only the good one", st.Pending)
	}
}
