package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestExplainJSONMatchesTheFormula(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"explain", "--format", "json", "../../examples/slos"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got []struct {
		SLO         string  `json:"slo"`
		Objective   float64 `json:"objective"`
		Window      string  `json:"window"`
		ErrorBudget float64 `json:"error_budget"`
		Rows        []struct {
			Severity    string  `json:"severity"`
			Long        string  `json:"long"`
			BudgetShare float64 `json:"budget_share"`
			Factor      float64 `json:"factor"`
			ErrorRatio  float64 `json:"error_ratio"`
			Detections  []struct {
				ErrorRatio   float64 `json:"error_ratio"`
				Fires        bool    `json:"fires"`
				AfterSeconds float64 `json:"after_seconds"`
				BudgetSpent  float64 `json:"budget_spent"`
			} `json:"detections"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(got) < 6 {
		t.Fatalf("%d SLOs explained", len(got))
	}
	days := map[string]float64{"30d": 30, "28d": 28, "7d": 7}
	hours := map[string]float64{"1h": 1, "6h": 6, "1d": 24, "3d": 72}
	found := false
	for _, s := range got {
		w := days[s.Window] * 86400
		if w == 0 {
			t.Fatalf("%s: unexpected window %s", s.SLO, s.Window)
		}
		if math.Abs(s.ErrorBudget-(1-s.Objective/100)) > 1e-12 {
			t.Errorf("%s: error budget %v", s.SLO, s.ErrorBudget)
		}
		for _, r := range s.Rows {
			long := hours[r.Long] * 3600
			if math.Abs(r.Factor-r.BudgetShare*w/long) > 1e-9 || math.Abs(r.ErrorRatio-r.Factor*s.ErrorBudget) > 1e-12 {
				t.Errorf("%s %s: factor %v ratio %v", s.SLO, r.Long, r.Factor, r.ErrorRatio)
			}
			for _, d := range r.Detections {
				want := r.BudgetShare * w * s.ErrorBudget / d.ErrorRatio
				if d.Fires != (want <= long) || d.Fires && math.Abs(d.AfterSeconds-want) > 1e-6 {
					t.Errorf("%s %s e=%v: fires %v after %v, want %vs", s.SLO, r.Long, d.ErrorRatio, d.Fires, d.AfterSeconds, want)
				}
				if s.Objective == 99.9 && s.Window == "30d" && r.Long == "1h" && d.ErrorRatio == 1 {
					found = true
					if math.Abs(d.AfterSeconds-51.84) > 1e-9 {
						t.Errorf("%s: full outage pages after %vs, want 51.84", s.SLO, d.AfterSeconds)
					}
				}
			}
		}
	}
	if !found {
		t.Error("no 99.9%/30d SLO among the examples")
	}
}

func TestExplainTable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"explain", "../../examples/slos/checkout-availability.yaml"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("want header, column names and 4 rows:\n%s", out.String())
	}
	want := []string{"page", "1h", "5m", "2%", "14.4", "1.44%", "51.8s", "8m38s", "never", "2%", "4m56s"}
	if got := strings.Fields(lines[2]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("1h row %q, want %q", got, want)
	}
}

// A 90% SLO fails lint (POL003), and explain shows why: the 1h page needs
// a 144% error ratio and never fires.
func TestExplainShowsRowsThatCanNeverFire(t *testing.T) {
	const path = ninetyPercentSLO
	var out, errb bytes.Buffer
	if code := Main([]string{"explain", path}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "POL003") {
		t.Errorf("stderr lacks the lint finding: %s", errb.String())
	}
	lines := strings.Split(out.String(), "\n")
	if got := strings.Fields(lines[2]); len(got) < 9 || got[5] != "144%" || got[6] != "never" || got[7] != "never" || got[8] != "never" {
		t.Errorf("1h row %q: want trigger 144%% and never at 100%%, 10%%, 1%%", got)
	}
}
