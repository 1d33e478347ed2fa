package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// The default policy's burn-rate factors for a 30-day window, and the error
// ratio each needs on a 99.9% SLO.
func ExampleDefaultPolicy() {
	w := 30 * 24 * time.Hour
	for _, r := range burnrate.DefaultPolicy().Rows {
		fmt.Printf("%-6s %3s/%-3s factor %-4g error ratio %.2f%%\n", r.Severity,
			burnrate.FormatDuration(r.Long), burnrate.FormatDuration(r.Short), r.Factor(w), 100*r.ErrorRatio(w, 0.001))
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
