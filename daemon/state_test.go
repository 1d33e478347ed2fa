package daemon

import (
	"math"
	"testing"

	"github.com/slodhq/slod/notify"
)

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
