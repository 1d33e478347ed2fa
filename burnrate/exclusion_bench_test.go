package burnrate

import (
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// BenchmarkTick100kReuseExcludedCalendar is BenchmarkTick100kReuse for an
// SLO with a weekly exclusion in Europe/Berlin and a calendar month: the
// exclusions and the period start are worked out once per batch and
// evaluation, so the allocations per tick stay those of the SLO alone
// (none per instance).
func BenchmarkTick100kReuseExcludedCalendar(b *testing.B) {
	const n = 100_000
	e, series, now := filled(b, n)
	rule, err := slo.ParseRRule("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2")
	if err != nil {
		b.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	e.SetExclusions([]*slo.Exclusion{{Name: "sunday", Rule: rule, Duration: 2 * time.Hour, Location: loc}})
	spec := *e.spec
	spec.Calendar = &slo.Calendar{Unit: slo.CalendarMonth, Location: loc}
	e.spec = &spec
	one := make([]StepCount, 1)
	for i := range series {
		series[i].Steps = one
	}
	buf := e.EvaluateInto(nil, now)
	b.ResetTimer()
	for b.Loop() {
		prev := now
		now = now.Add(time.Minute)
		one[0] = StepCount{End: now, Errors: 2, Total: 1000}
		if err := e.Ingest(Batch{From: prev, To: now, Series: series}); err != nil {
			b.Fatal(err)
		}
		buf = e.EvaluateInto(buf, now)
	}
}
