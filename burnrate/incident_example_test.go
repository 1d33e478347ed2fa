package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// A full outage of a 99.9%/30d SLO: the tracker opens one page incident,
// reports how long the budget lasts, and resolves it once no row has fired
// for the 5m short window of the 1h row.
func ExampleTracker() {
	start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	window := 30 * 24 * time.Hour
	policy := burnrate.DefaultPolicy()
	evaluate := func(at time.Duration, burn, remaining float64) burnrate.Evaluation {
		ev := burnrate.Evaluation{At: start.Add(at), BudgetRemaining: burnrate.Figure(remaining)}
		for _, r := range policy.Rows {
			f := r.Factor(window)
			ev.Rows = append(ev.Rows, burnrate.RowResult{
				Row: r, Factor: f, LongBurn: burnrate.Figure(burn), ShortBurn: burnrate.Figure(burn), Fires: burn >= f,
			})
		}
		return ev
	}
	tr := burnrate.NewTracker(burnrate.TrackerOptions{})
	subject := burnrate.Subject{Key: "checkout-availability", SLO: "checkout-availability", Window: window}

	for _, c := range tr.Observe(subject, evaluate(0, 1000, 0.75)) {
		fmt.Println(c.Kind, c.Incident.Severity, "exhausted in", burnrate.FormatTimeToExhaustion(c.Incident.TimeToExhaustion))
	}
	tr.Observe(subject, evaluate(2*time.Minute, 0, 0.7))
	for _, c := range tr.Observe(subject, evaluate(7*time.Minute, 0, 0.7)) {
		fmt.Printf("%s after %v, %.0f%% of the budget spent\n", c.Kind, c.Incident.Resolved.Sub(c.Incident.Start), 100*c.Incident.BudgetSpent)
	}
	// Output:
	// opened page exhausted in 32m24s
	// resolved after 7m0s, 5% of the budget spent
}
