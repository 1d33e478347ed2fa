package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/slo"
)

func budgetSpec() *slo.Spec {
	return &slo.Spec{ID: "shop-checkout", Name: "checkout", Service: "shop", Objective: 99.9, Window: 30 * 24 * time.Hour,
		Policy: burnrate.TrafficAwarePolicyName, Format: slo.FormatNative,
		SLI: slo.SLI{Events: &slo.EventsSLI{ErrorQuery: `sum(rate(slo_errors_total[{{.window}}]))`, TotalQuery: `sum(rate(slo_requests_total[{{.window}}]))`}}}
}

func TestBudgetRowsReadErrorsOverTheMeanRateOfW(t *testing.T) {
	f, err := Generate([]*slo.Spec{budgetSpec()}, burnrate.Policies(nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := map[string]string{}
	var page string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				rec[r.Record] = r.Expr
			}
			if r.Alert != "" && r.Labels["severity"] == "page" {
				page = r.Expr
			}
		}
	}
	for name, want := range map[string]string{
		ErrorsWindowRate + "5m": `slod:sli_errors:rate5m{slo="shop-checkout"}`,
		ErrorsWindowRate + "1h": `sum(rate(slo_errors_total[1h]))`,
		ErrorsWindowRate + "3d": `avg_over_time(slod:sli_errors:rate5m{slo="shop-checkout"}[3d])`,
		TotalMeanRate + "30d":   `avg_over_time(slod:sli_total:rate1h{slo="shop-checkout"}[30d])`,
	} {
		if rec[name] != want {
			t.Errorf("%s = %q, want %q", name, rec[name], want)
		}
	}
	// factor 14.4 × budget 0.001 for the 1h/5m row.
	if want := `slod:sli_errors:window_rate1h{slo="shop-checkout"} / slod:sli_total:mean_rate30d{slo="shop-checkout"} >= 0.0144`; !strings.Contains(page, want) {
		t.Errorf("page alert lacks %q:\n%s", want, page)
	}
}

// TestBudgetRowsScenario runs the generated traffic-aware rules in
// promtool on two days of the day/night history (promtool's unit tester
// loads at most 10,000 samples a query and evaluates every group every
// minute, so a 30d window fits only a week of 1m history: events(W) here
// is projected from the 26 hours recorded). The night without incident
// does not page — the ratio measure's 6h/30m row would from 01:48 — and a
// total outage at 02:00 the second night pages once 2% of the projected
// budget is spent: 4,220 errors, 8.4 minutes of 500 a minute.
func TestBudgetRowsScenario(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	start := end.Add(-2 * 24 * time.Hour)
	outage := start.Add(26 * time.Hour)
	d := promtest.DayNight{End: end, Length: 2 * 24 * time.Hour, Outages: []promtest.Burn{{From: outage, To: outage.Add(30 * time.Minute)}}}
	req, errs := d.SeriesValues()
	f, err := Generate([]*slo.Spec{budgetSpec()}, burnrate.Policies(nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var page string
	for _, r := range f.Groups[0].Rules {
		if r.Alert != "" && r.Labels["severity"] == "page" {
			page = r.Expr
		}
	}
	// The page alert's condition, evaluated by promtool after its rules
	// ran. The tickets are left out: over the 26 hours recorded, more
	// night than day, the projected mean traffic is low and the 3d/6h row
	// reads about 1.02, on its threshold of 1.
	alert := func(m int, fires bool) string {
		want := "[]"
		if fires {
			want = "\n          - labels: '{}'\n            value: 1"
		}
		return fmt.Sprintf("      - expr: |\n          count(\n%s\n          )\n        eval_time: %dm\n        exp_samples: %s\n",
			indentLines(page, "            "), m, want)
	}
	at := func(t time.Time) int { return int(t.Sub(start) / time.Minute) }
	var checks strings.Builder
	checks.WriteString(alert(at(start.Add(25*time.Hour+55*time.Minute)), false)) // 01:55, the quiet night
	checks.WriteString(alert(at(outage.Add(6*time.Minute)), false))
	checks.WriteString(alert(at(outage.Add(12*time.Minute)), true))
	test := fmt.Sprintf("evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n"+
		"      - series: 'slo_requests_total'\n        values: '%s'\n      - series: 'slo_errors_total'\n        values: '%s'\n"+
		"    promql_expr_test:\n%s", req, errs, checks.String())
	spec := budgetSpec()
	runPromtoolTestWith(t, []*slo.Spec{spec}, burnrate.Policies(nil), Options{}, test)
}

func indentLines(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// A traffic-aware SLO's page alert compares the errors rate over each
// window with the mean event rate over W.
func ExampleGenerate_budgetMeasure() {
	f, _ := Generate([]*slo.Spec{budgetSpec()}, burnrate.Policies(nil), Options{})
	for _, r := range f.Groups[0].Rules {
		if r.Alert != "" && r.Labels["severity"] == "page" {
			fmt.Println(strings.Split(r.Expr, "\n")[1])
		}
	}
	// Output:
	//   slod:sli_errors:window_rate1h{slo="shop-checkout"} / slod:sli_total:mean_rate30d{slo="shop-checkout"} >= 0.0144
}
