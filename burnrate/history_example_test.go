package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// A 99.9%/30d SLO with 0.03% errors for a day, then a full outage for two
// minutes, evaluated every minute: the 1h/5m page row fires at the end of
// the outage's first minute, and the onset read back from the rings is the
// start of that minute, with the budget remaining then.
func ExampleEvaluator_Onset() {
	spec := &slo.Spec{ID: "checkout-availability", Objective: 99.9, Window: 30 * 24 * time.Hour}
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	outage := start.Add(24 * time.Hour)
	var steps []burnrate.StepCount
	for t := start.Add(time.Minute); !t.After(outage.Add(2 * time.Minute)); t = t.Add(time.Minute) {
		errs := 0.18 // 0.03% of 600
		if t.After(outage) {
			errs = 600
		}
		steps = append(steps, burnrate.StepCount{End: t, Errors: errs, Total: 600})
	}
	if err := ev.Ingest(burnrate.Batch{From: start, To: outage.Add(2 * time.Minute), Series: []burnrate.Series{{Steps: steps}}}); err != nil {
		panic(err)
	}
	for _, at := range []time.Time{outage, outage.Add(time.Minute)} {
		o, ok := ev.Onset(nil, at)
		if !ok {
			fmt.Println(at.Sub(outage), "nothing fires")
			continue
		}
		fmt.Printf("detected %s after the outage began: onset %s after, budget then %.1f%%\n", at.Sub(outage), o.At.Sub(outage), 100*o.BudgetRemaining)
	}
	c, _ := ev.Counts(nil, []time.Time{outage, outage.Add(time.Minute)}, time.Minute)
	fmt.Printf("errors in the minute before: %.2f, in the first minute: %.0f\n", c[0].Errors, c[1].Errors)
	// Output:
	// 0s nothing fires
	// detected 1m0s after the outage began: onset 0s after, budget then 70.0%
	// errors in the minute before: 0.18, in the first minute: 600
}
