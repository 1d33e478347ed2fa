package burnrate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestExplainMatchesTheWorkbookFormula(t *testing.T) {
	const w = 30 * 24 * time.Hour
	for _, objective := range []float64{99, 99.5, 99.9, 99.95} {
		budget := 1 - objective/100
		for i, x := range DefaultPolicy().Explain(w, budget) {
			r := DefaultPolicy().Rows[i]
			if want := r.BudgetShare * float64(w) / float64(r.Long); math.Abs(x.Factor-want) > 1e-9 {
				t.Errorf("%v row %d: factor %v, want %v", objective, i, x.Factor, want)
			}
			if want := x.Factor * budget; math.Abs(x.ErrorRatio-want) > 1e-12 {
				t.Errorf("%v row %d: trigger ratio %v, want %v", objective, i, x.ErrorRatio, want)
			}
			for _, d := range x.Detections {
				// t = share × W × (1 − objective) / e, when it is within the long window.
				want := r.BudgetShare * w.Seconds() * budget / d.ErrorRatio
				if fires := want <= r.Long.Seconds(); fires != d.Fires {
					t.Errorf("%v row %d e=%v: fires %v, want %v", objective, i, d.ErrorRatio, d.Fires, fires)
					continue
				}
				if !d.Fires {
					continue
				}
				if math.Abs(d.After.Seconds()-want) > 1e-6 {
					t.Errorf("%v row %d e=%v: detection %v, want %vs", objective, i, d.ErrorRatio, d.After, want)
				}
				if math.Abs(d.BudgetSpent-r.BudgetShare) > 1e-9 {
					t.Errorf("%v row %d e=%v: budget spent %v, want the row's share %v", objective, i, d.ErrorRatio, d.BudgetSpent, r.BudgetShare)
				}
				wantReset := r.Short.Seconds() * (1 - x.ErrorRatio/d.ErrorRatio)
				if math.Abs(d.Reset.Seconds()-wantReset) > 1e-6 {
					t.Errorf("%v row %d e=%v: reset %v, want %vs", objective, i, d.ErrorRatio, d.Reset, wantReset)
				}
			}
		}
	}
}

func TestExplainFullOutageOf999(t *testing.T) {
	x := DefaultPolicy().Explain(30*24*time.Hour, 0.001)
	if got := x[0].Detections[0].After; got != 51840*time.Millisecond {
		t.Errorf("1h page row detects a full outage after %v, want 51.84s", got)
	}
	// A 1% error ratio is a burn of 10: under the 1h row's 14.4, over the 6h row's 6.
	if x[0].Detections[2].Fires || !x[1].Detections[2].Fires {
		t.Errorf("1%% ratio: 1h row fires %v, 6h row fires %v", x[0].Detections[2].Fires, x[1].Detections[2].Fires)
	}
	b, err := json.Marshal(x[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"after_seconds":51.84`) || !strings.Contains(string(b), `"factor":14.4`) {
		t.Errorf("json %s", b)
	}
}

func TestValidate(t *testing.T) {
	p := Policy{Name: "bad", Rows: []Row{
		{Severity: "sms", Long: time.Hour, Short: 2 * time.Hour, BudgetShare: 0},
		{Severity: SeverityPage, Long: 60 * 24 * time.Hour, Short: time.Hour, BudgetShare: 0.1},
	}}
	err := p.Validate(30 * 24 * time.Hour)
	if err == nil {
		t.Fatal("invalid policy accepted")
	}
	for _, want := range []string{`severity "sms"`, "budget share 0", "shorter than the long window", "longer than the SLO window 30d"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := DefaultPolicy().Validate(7 * 24 * time.Hour); err != nil {
		t.Errorf("default policy on a 7d window: %v", err)
	}
	if err := (Policy{Name: "empty"}).Validate(0); err == nil {
		t.Error("a policy without rows is accepted")
	}
}
