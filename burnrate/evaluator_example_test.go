package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// A 99.9%/30d SLO receives one hour of clean traffic, then one minute in
// which every request fails: the 1h/5m page row fires at once (a full
// outage spends 2% of the budget in 51.8 s). W holds only the 61 minutes
// of history there is, so its burn is theirs and the budget shows as
// overspent: backfill W before trusting BudgetRemaining.
func ExampleEvaluator() {
	spec := &slo.Spec{ID: "checkout-availability", Objective: 99.9, Window: 30 * 24 * time.Hour}
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec}) // default policy, 1m steps
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var steps []burnrate.StepCount
	for i := 1; i <= 61; i++ {
		errs := 0.0
		if i == 61 {
			errs = 600
		}
		steps = append(steps, burnrate.StepCount{End: start.Add(time.Duration(i) * time.Minute), Errors: errs, Total: 600})
	}
	now := start.Add(61 * time.Minute)
	if err := ev.Ingest(burnrate.Batch{From: start, To: now, Series: []burnrate.Series{{Steps: steps}}}); err != nil {
		panic(err)
	}
	for _, ie := range ev.Evaluate(ev.LastStep()) {
		for _, r := range ie.Rows {
			fmt.Printf("%-6s %s/%s factor %4.1f: long burn %6.1f short burn %6.1f fires %v\n",
				r.Row.Severity, slo.FormatDuration(r.Row.Long), slo.FormatDuration(r.Row.Short), r.Factor, r.LongBurn, r.ShortBurn, r.Fires)
		}
		fmt.Printf("budget remaining %.4f, no data for %s\n", ie.BudgetRemaining, ie.NoDataFor)
	}
	// Output:
	// page   1h/5m factor 14.4: long burn   16.7 short burn  200.0 fires true
	// page   6h/30m factor  6.0: long burn   16.4 short burn   33.3 fires true
	// ticket 1d/2h factor  3.0: long burn   16.4 short burn   16.4 fires true
	// ticket 3d/6h factor  1.0: long burn   16.4 short burn   16.4 fires true
	// budget remaining -15.3934, no data for 0s
}

// A loop that evaluates every step and keeps nothing from one step to the
// next (a backtest) evaluates into one buffer: after the first step it
// allocates no result.
func ExampleEvaluator_EvaluateInto() {
	spec := &slo.Spec{ID: "search-latency", Objective: 99, Window: 7 * 24 * time.Hour, GroupBy: []string{"route"}}
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var buf []burnrate.InstanceEvaluation
	for i := 1; i <= 3; i++ {
		now := start.Add(time.Duration(i) * time.Minute)
		b := burnrate.Batch{From: now.Add(-time.Minute), To: now, Series: []burnrate.Series{
			{Labels: map[string]string{"route": "/a"}, Steps: []burnrate.StepCount{{End: now, Errors: 0, Total: 100}}},
			{Labels: map[string]string{"route": "/b"}, Steps: []burnrate.StepCount{{End: now, Errors: float64(10 * i), Total: 100}}},
		}}
		if err := ev.Ingest(b); err != nil {
			panic(err)
		}
		buf = ev.EvaluateInto(buf, now) // valid until the next call
		for _, ie := range buf {
			sev, ok := ie.Severity()
			if !ok {
				sev = "none"
			}
			fmt.Printf("%s %s burn(5m) %.0f %s\n", now.Format("15:04"), ie.Key, ie.Rows[0].ShortBurn, sev)
		}
	}
	// Output:
	// 00:01 {route="/a"} burn(5m) 0 none
	// 00:01 {route="/b"} burn(5m) 10 page
	// 00:02 {route="/a"} burn(5m) 0 none
	// 00:02 {route="/b"} burn(5m) 15 page
	// 00:03 {route="/a"} burn(5m) 0 none
	// 00:03 {route="/b"} burn(5m) 20 page
}
