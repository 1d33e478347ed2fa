package burnrate

import (
	"math"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

func berlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestCalendarMonthResetsAtLocalMidnightAcrossDST: a month in
// Europe/Berlin. October 2026 runs from Oct 1 00:00 CEST (Sep 30 22:00
// UTC) to Nov 1 00:00 CET (Oct 31 23:00 UTC): the clocks go back on Oct
// 25, so the budget resets at 23:00 UTC, not at 22:00 as October's start
// offset would say.
func TestCalendarMonthResetsAtLocalMidnightAcrossDST(t *testing.T) {
	spec := &slo.Spec{ID: "svc-cal", Objective: 99, Window: 30 * 24 * time.Hour,
		Calendar: &slo.Calendar{Unit: slo.CalendarMonth, Location: berlin(t), WeekStart: time.Monday}}
	e := mustEvaluator(t, Options{Spec: spec})
	start := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	feed(t, e, nil, start, end, func(time.Time) (float64, float64) { return 1, 100 })
	resetUTC := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)
	octStart := time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		at        time.Time
		wantSteps float64
		tolerance float64
	}{
		{"one minute into November (00:01 CET) the budget holds one step", resetUTC.Add(time.Minute), 1, 0},
		{"half an hour into November it holds thirty", resetUTC.Add(30 * time.Minute), 30, 0},
		{"the last step of October still counts the whole month", resetUTC, resetUTC.Sub(octStart).Minutes(), 60},
		{"at 23:00 CET on Oct 31 (22:00 UTC) it is still October", resetUTC.Add(-time.Hour), resetUTC.Add(-time.Hour).Sub(octStart).Minutes(), 60},
		{"two hours into October (CEST) it holds 120 steps", octStart.Add(2 * time.Hour), 120, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, ok := e.EvaluateInstance(nil, c.at)
			if !ok {
				t.Fatal("no instance")
			}
			steps := ev.WindowTotal / 100
			if math.Abs(steps-c.wantSteps) > c.tolerance {
				t.Errorf("budget window holds %v steps, want %v ± %v", steps, c.wantSteps, c.tolerance)
			}
			// 1% errors against a 1% budget: burn 1, nothing left, at any point.
			if math.Abs(float64(ev.WindowBurn)-1) > 1e-9 {
				t.Errorf("window burn %v, want 1", ev.WindowBurn)
			}
		})
	}
}

// TestCalendarQuarterFitsTheMemoryGoal: the rings of a quarter with the
// default 1m step take at most 32 KiB per instance.
func TestCalendarQuarterFitsTheMemoryGoal(t *testing.T) {
	for _, unit := range []string{slo.CalendarWeek, slo.CalendarMonth, slo.CalendarQuarter} {
		spec := &slo.Spec{ID: "svc-q", Objective: 99.9, Calendar: &slo.Calendar{Unit: unit, Location: time.UTC}}
		spec.Window = spec.Calendar.NominalLength()
		var slots int64
		for _, l := range layout(DefaultStep, spec.History()) {
			slots += l.n
		}
		// Each slot holds two float64 sums and a uint32 known count.
		bytes := slots * (8 + 8 + 4)
		t.Logf("%s: %d slots, %d bytes per instance", unit, slots, bytes)
		if bytes > 32<<10 {
			t.Errorf("%s: %d bytes per instance, over 32 KiB", unit, bytes)
		}
	}
}

// TestSundayExclusionAcrossDST: a weekly Sunday 02:00–04:00 local window
// in Europe/Berlin, with errors only inside it, on the Sundays before, of
// and after the October change: no error is counted, and exactly the
// excluded steps are unknown.
func TestSundayExclusionAcrossDST(t *testing.T) {
	rule, err := slo.ParseRRule("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2")
	if err != nil {
		t.Fatal(err)
	}
	x := &slo.Exclusion{Name: "sunday", Reason: "weekly maintenance", Rule: rule, Duration: 2 * time.Hour, Location: berlin(t)}
	spec := &slo.Spec{ID: "svc-x", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	e.SetExclusions([]*slo.Exclusion{x})
	windows := [][2]time.Time{
		{time.Date(2026, 10, 18, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 18, 2, 0, 0, 0, time.UTC)}, // 02:00–04:00 CEST
		{time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)}, // 02:00 CEST + 2h
		{time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)},   // 02:00–04:00 CET
	}
	start, end := time.Date(2026, 10, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	feed(t, e, nil, start, end, func(ts time.Time) (float64, float64) {
		for _, w := range windows {
			if ts.After(w[0]) && !ts.After(w[1]) {
				return 100, 100
			}
		}
		return 0, 100
	})
	for _, w := range windows {
		// Whole hours in UTC: the hourly tier answers them exactly.
		in, after := e.Instance(nil).Window(w[1], 2*time.Hour), e.Instance(nil).Window(w[1].Add(time.Hour), time.Hour)
		if in.Known != 0 || in.Errors != 0 || after.Known != 60 || after.Errors != 0 {
			t.Errorf("%s: inside %+v, the hour after %+v; want nothing known inside, 60 good steps after", w[0], in, after)
		}
	}
	// Over the whole range, every error fell in a window: none counts.
	w := e.Instance(nil).Window(end, end.Sub(start))
	if w.Errors != 0 || w.Known != int(end.Sub(start)/time.Minute)-3*120 {
		t.Errorf("range: %v errors, %d known steps; want 0 and %d", w.Errors, w.Known, int(end.Sub(start)/time.Minute)-3*120)
	}
}
