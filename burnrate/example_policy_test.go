package burnrate_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The default policy's burn-rate factors for a 30-day window, and the error
// ratio each needs on a 99.9% SLO.
func ExampleDefaultPolicy() {
	w := 30 * 24 * time.Hour
	for _, r := range burnrate.DefaultPolicy().Rows {
		fmt.Printf("%-6s %3s/%-3s factor %-4g error ratio %.2f%%\n", r.Severity,
			slo.FormatDuration(r.Long), slo.FormatDuration(r.Short), r.Factor(w), 100*r.ErrorRatio(w, 0.001))
	}
	// Output:
	// page    1h/5m  factor 14.4 error ratio 1.44%
	// page    6h/30m factor 6    error ratio 0.60%
	// ticket  1d/2h  factor 3    error ratio 0.30%
	// ticket  3d/6h  factor 1    error ratio 0.10%
}

// A full outage of a 99.9%/30d SLO pages after 51.84 s (Workbook:
// t = share × W × (1 − objective) / error ratio).
func ExampleRow_DetectionTime() {
	page := burnrate.DefaultPolicy().Rows[0]
	t, ok := page.DetectionTime(30*24*time.Hour, 0.001, 1)
	fmt.Println(t, ok)
	_, ok = page.DetectionTime(30*24*time.Hour, 0.001, 0.01)
	fmt.Println("1% errors fire the 1h row:", ok)
	// Output:
	// 51.84s true
	// 1% errors fire the 1h row: false
}

// Explain works out every row for one SLO: here a 99.5% SLO over 28 days
// facing a 10% error ratio.
func ExamplePolicy_Explain() {
	for _, x := range burnrate.DefaultPolicy().Explain(28*24*time.Hour, 0.005, 0.1) {
		d := x.Detections[0]
		fmt.Printf("%s %s: factor %.4g, fires at %.2f%% errors; 10%% errors fire after %v (%.0f%% of budget), reset %v\n",
			x.Severity, x.Long, x.Factor, 100*x.ErrorRatio, d.After.Round(time.Second), 100*d.BudgetSpent, d.Reset.Round(time.Second))
	}
	// Output:
	// page 1h: factor 13.44, fires at 6.72% errors; 10% errors fire after 40m19s (2% of budget), reset 1m38s
	// page 6h: factor 5.6, fires at 2.80% errors; 10% errors fire after 1h40m48s (5% of budget), reset 21m36s
	// ticket 1d: factor 2.8, fires at 1.40% errors; 10% errors fire after 3h21m36s (10% of budget), reset 1h43m12s
	// ticket 3d: factor 0.9333, fires at 0.47% errors; 10% errors fire after 3h21m36s (10% of budget), reset 5h43m12s
}

// Lint, one of the checks `sloctl lint` runs, reports policy rows that can
// never fire: on a 90% SLO the default 1h page would need 144% errors. The
// 6h row can still page, so the SLO should link a runbook.
func ExampleLint() {
	set, _ := slo.LoadBytes("shop.yaml", []byte(`version: slod/v1
service: shop
slos:
  - name: availability
    objective: 90
    sli:
      events:
        error_query: sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))
`))
	for _, d := range burnrate.Lint(set) {
		fmt.Println(d.Pos, d.Rule, strings.SplitN(d.Message, ";", 2)[0])
	}
	// Output:
	// shop.yaml:5:16 POL003 slo "shop-availability": policy "traffic-aware" row 1 (page 1h/5m, 2% of budget) can never fire: it needs an error ratio of 144%, above 100%, at objective 90% over 30d
	// shop.yaml:4:11 SLO014 slo "shop-availability": pages (policy "traffic-aware") but has no runbook annotation (annotations.runbook or runbook_url)
}

// PolicyFromSpec turns a kind: Policy document into a policy; Policies
// gathers them with the default one.
func ExamplePolicies() {
	set, _ := slo.LoadBytes("policies.yaml", []byte(`version: slod/v1
kind: Policy
name: tickets-only
rows:
  - {severity: ticket, long: 3d, short: 6h, budget_percent: 10}
`))
	ps := burnrate.Policies(set)
	for _, name := range []string{"default", "tickets-only"} {
		p := ps[name]
		fmt.Println(name, len(p.Rows), "rows, factor of the last for 30d:", p.Rows[len(p.Rows)-1].Factor(30*24*time.Hour))
	}
	// Output:
	// default 4 rows, factor of the last for 30d: 1
	// tickets-only 1 rows, factor of the last for 30d: 1
}
