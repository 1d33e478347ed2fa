package daemon

import (
	"math"
	"testing"

	"github.com/slodhq/slod/notify"
)

// TestAPendingPageJSONCannotCarryDoesNotCostTheState: pages waiting for
// the outbox ride in the incidents state; one that cannot be encoded (a
// NaN figure) is left out with a log line, and the file is still written.
func TestAPendingPageJSONCannotCarryDoesNotCostTheState(t *testing.T) {
	dir := t.TempDir()
	h := newDemoDaemon(t, dir, nil, nil)
	good := notify.Page{DedupKey: "good", Action: notify.Resolve}
	bad := notify.Page{DedupKey: "bad", Action: notify.Resolve, Details: notify.Details{Burn: map[string]float64{"1h": math.NaN()}}}
	h.d.pending = []notify.Page{bad, good}
	if err := h.d.saveState(demoStart); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, h.d.m.incidentWrites.WithLabelValues("ok")); got != 1 {
		t.Fatalf("%v incident states written, want 1", got)
	}
	st, err := readIncidents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 || st.Pending[0].DedupKey != "good" {
		t.Errorf("pending pages in the state %+v, want only the good one", st.Pending)
	}
}
