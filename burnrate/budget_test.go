package burnrate

import (
	"math"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// dayNight is the traffic of issue 13: 12h at 10,000 requests a minute
// with 0.05% errors (08:00–20:00 UTC), 12h at 500 a minute with 1% errors:
// 5 errors a minute all day. outages are total outages: every request fails.
func dayNight(outages ...[2]time.Time) func(time.Time) (float64, float64) {
	return func(end time.Time) (float64, float64) {
		total, errs := 500.0, 5.0
		if h := end.Add(-time.Minute).Hour(); h >= 8 && h < 20 {
			total = 10000
		}
		for _, o := range outages {
			if end.After(o[0]) && !end.After(o[1]) {
				errs = total
			}
		}
		return errs, total
	}
}

// pageSpans feeds the evaluator step by step over (from, to], evaluating
// at each newest step as the daemon does, and returns when its page rows
// fired, as [fired, stopped) spans.
func pageSpans(t testing.TB, e *Evaluator, from, to time.Time, count func(time.Time) (float64, float64)) [][2]time.Time {
	var spans [][2]time.Time
	open := false
	for at := from.Add(time.Minute); !at.After(to); at = at.Add(time.Minute) {
		feed(t, e, nil, at.Add(-time.Minute), at, count)
		ev, _ := e.EvaluateInstance(nil, at)
		sev, ok := ev.Severity()
		paging := ok && sev == SeverityPage
		switch {
		case paging && !open:
			spans = append(spans, [2]time.Time{at, to})
		case !paging && open:
			spans[len(spans)-1][1] = at
		}
		open = paging
	}
	return spans
}

func TestBudgetMeasureDayNight(t *testing.T) {
	spec := &slo.Spec{ID: "svc-daynight", Objective: 99.9, Window: 30 * 24 * time.Hour}
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	start := end.Add(-31 * 24 * time.Hour)
	peak := end.Add(-24*time.Hour + 14*time.Hour)   // 20 minutes at 14:00 the day before the end
	night := end.Add(-2*24*time.Hour + 2*time.Hour) // 30 minutes at 02:00 two days before
	count := dayNight([2]time.Time{peak, peak.Add(20 * time.Minute)}, [2]time.Time{night, night.Add(30 * time.Minute)})
	from := end.Add(-7 * 24 * time.Hour)
	spans := map[string][][2]time.Time{}
	for _, p := range []Policy{DefaultPolicy(), TrafficAwarePolicy()} {
		e := mustEvaluator(t, Options{Spec: spec, Policy: p})
		feed(t, e, nil, start, from, count)
		spans[p.Name] = pageSpans(t, e, from, end, count)
	}
	inOutage := func(at time.Time) bool {
		return !at.Before(peak) && at.Before(peak.Add(2*time.Hour)) || !at.Before(night) && at.Before(night.Add(2*time.Hour))
	}
	t.Run("traffic-aware pages only on the outages, within the budget math's time", func(t *testing.T) {
		var atPeak, atNight time.Duration = -1, -1
		for _, s := range spans[TrafficAwarePolicyName] {
			switch {
			case !inOutage(s[0]):
				t.Errorf("page without an incident from %s to %s", s[0], s[1])
			case s[0].Before(night.Add(2 * time.Hour)):
				atNight = s[0].Sub(night)
			default:
				atPeak = s[0].Sub(peak)
			}
		}
		// events(W) = 30 × (720 × 10,000 + 720 × 500) = 226.8M, 2% of the
		// budget 4,536 errors: 27 s of the peak's 10,000 a minute (the
		// first step), 9.07 minutes of the night's 500 (the tenth step).
		if atPeak <= 0 || atPeak > 2*time.Minute {
			t.Errorf("peak outage paged after %s, want within 2m", atPeak)
		}
		if atNight < 9*time.Minute || atNight > 10*time.Minute {
			t.Errorf("night outage paged after %s, want 9m–10m (the budget math says 9m04s)", atNight)
		}
	})
	t.Run("the default policy pages every night of the week", func(t *testing.T) {
		nights := 0
		for _, s := range spans[DefaultPolicyName] {
			if !inOutage(s[0]) {
				nights++
			}
		}
		if nights < 6 {
			t.Errorf("default policy paged %d times without an incident, want every night: %v", nights, spans[DefaultPolicyName])
		}
	})
}

func TestBudgetMeasureProjectsEventsOfAShortHistory(t *testing.T) {
	// One day of history at 1,000 a minute: events(W) is projected to 30
	// days at that rate (43.2M), not read as the 1.44M known, which would
	// make a small burn look 30 times bigger.
	spec := &slo.Spec{ID: "svc-new", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec, Policy: TrafficAwarePolicy()})
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	feed(t, e, nil, end.Add(-24*time.Hour), end, func(time.Time) (float64, float64) { return 1, 1000 })
	ev, _ := e.EvaluateInstance(nil, end)
	if got := float64(ev.WindowEvents); math.Abs(got-43.2e6) > 1 {
		t.Fatalf("events(W) = %v, want 43.2M projected from one day", got)
	}
	// A 0.1% ratio at steady traffic is a burn of 1 in both measures, for
	// every row: the 3d window's errors are projected from its known day
	// as events(W) is, not read as two days without errors.
	for _, r := range ev.Rows {
		if lb := float64(r.LongBurn); math.Abs(lb-1) > 1e-9 {
			t.Errorf("row %s/%s: budget burn %v, want 1", r.Row.Long, r.Row.Short, lb)
		}
	}
}

func TestBudgetMeasureUnknownEventsNeverReadAsGood(t *testing.T) {
	// A W without a known step has unknown events(W): budget rows are
	// unknown (they neither fire nor show the burn has stopped), their
	// burns unknown, not zero.
	spec := &slo.Spec{ID: "svc-gap", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec, Policy: TrafficAwarePolicy()})
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	feed(t, e, nil, end.Add(-time.Hour), end, func(time.Time) (float64, float64) { return math.NaN(), math.NaN() })
	ev, _ := e.EvaluateInstance(nil, end)
	if ev.WindowEvents.Known() || ev.Known() {
		t.Fatalf("events(W) %v, evaluation known %v: want both unknown", ev.WindowEvents, ev.Known())
	}
	for _, r := range ev.Rows {
		if r.Fires || r.LongBurn.Known() {
			t.Errorf("row %+v fires or has a known burn without data", r)
		}
	}
}

func TestBudgetMeasureGapNeverReadsAsGood(t *testing.T) {
	// Six hours without data inside the 1d window: the window's errors
	// are those of its known 18 hours projected to the day, so a steady
	// 0.1% ratio still reads as a burn of 1, not three quarters of it.
	spec := &slo.Spec{ID: "svc-gap", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec, Policy: TrafficAwarePolicy()})
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	gapFrom, gapTo := end.Add(-12*time.Hour), end.Add(-6*time.Hour)
	feed(t, e, nil, end.Add(-31*24*time.Hour), end, func(t time.Time) (float64, float64) {
		if t.After(gapFrom) && !t.After(gapTo) {
			return math.NaN(), math.NaN()
		}
		return 1, 1000
	})
	ev, _ := e.EvaluateInstance(nil, end)
	if lb := float64(ev.Rows[2].LongBurn); math.Abs(lb-1) > 1e-6 {
		t.Fatalf("1d budget burn across a 6h gap %v, want 1", lb)
	}
}

func TestBudgetMeasureReplayAgreesWithTheNewestStep(t *testing.T) {
	// Evaluating the past (the full-lookup path) and the newest step (the
	// fast path) give the same budget burns on the same windows.
	spec := &slo.Spec{ID: "svc-replay", Objective: 99.9, Window: 30 * 24 * time.Hour}
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	count := dayNight([2]time.Time{end.Add(-90 * time.Minute), end.Add(-80 * time.Minute)})
	a := mustEvaluator(t, Options{Spec: spec, Policy: TrafficAwarePolicy()})
	feed(t, a, nil, end.Add(-31*24*time.Hour), end.Add(-time.Hour), count)
	fast, _ := a.EvaluateInstance(nil, end.Add(-time.Hour))
	feed(t, a, nil, end.Add(-time.Hour), end, count)
	slow, _ := a.EvaluateInstance(nil, end.Add(-time.Hour))
	for i := range fast.Rows {
		f, s := fast.Rows[i], slow.Rows[i]
		if math.Abs(float64(f.LongBurn-s.LongBurn)) > 1e-9*float64(f.LongBurn) || math.Abs(float64(f.ShortBurn-s.ShortBurn)) > 1e-9*float64(f.ShortBurn) || f.Fires != s.Fires {
			t.Errorf("row %d: newest-step %+v, replay %+v", i, f, s)
		}
	}
	if math.Abs(float64(fast.WindowEvents-slow.WindowEvents)) > 1 {
		t.Errorf("events(W): newest-step %v, replay %v", fast.WindowEvents, slow.WindowEvents)
	}
}

func TestFloorRowPagesAtItsRatioWhateverTheTraffic(t *testing.T) {
	// A floor row at 50% over 5m/1m pages a night outage of a quiet
	// service within a step or three, where the budget rows need 9 minutes.
	spec := &slo.Spec{ID: "svc-floor", Objective: 99.9, Window: 30 * 24 * time.Hour}
	p := TrafficAwarePolicy()
	p.Rows = append(p.Rows, Row{Severity: SeverityPage, Long: 5 * time.Minute, Short: time.Minute, FloorRatio: 0.5})
	if err := p.Validate(spec.Window); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 9, 30, 3, 0, 0, 0, time.UTC)
	outage := end.Add(-time.Hour)
	e := mustEvaluator(t, Options{Spec: spec, Policy: p})
	count := dayNight([2]time.Time{outage, outage.Add(30 * time.Minute)})
	feed(t, e, nil, end.Add(-31*24*time.Hour), outage, count)
	spans := pageSpans(t, e, outage, outage.Add(30*time.Minute), count)
	// 50% of 5 minutes is 2.5 minutes of a full outage: the third step.
	if len(spans) == 0 || spans[0][0].Sub(outage) != 3*time.Minute {
		t.Fatalf("floor row paged %v, want 3m after the outage began", spans)
	}
	if d, ok := p.Rows[4].DetectionTime(spec.Window, spec.ErrorBudget(), 1); !ok || d != 150*time.Second {
		t.Errorf("floor detection time %s, %v; want 2m30s", d, ok)
	}
}

func TestPolicyFromSpecReadsMeasures(t *testing.T) {
	p := PolicyFromSpec(&slo.PolicySpec{Name: "p", Measure: "budget", Rows: []slo.PolicyRowSpec{
		{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 2},
		{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetPercent: 5, Measure: "ratio"},
		{Severity: "page", Long: 5 * time.Minute, Short: time.Minute, FloorPercent: 50},
	}})
	if !p.Rows[0].Budget() || p.Rows[1].Budget() || p.Rows[1].Measure != "" || !p.Rows[2].Floor() || p.Rows[2].Budget() {
		t.Fatalf("rows %+v", p.Rows)
	}
	if err := p.Validate(30 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := p.Rows[2].Threshold(30*24*time.Hour, 0.001); math.Abs(got-500) > 1e-9 {
		t.Errorf("floor threshold %v, want a burn of 500 (50%% / 0.1%%)", got)
	}
	if _, ok := Policies(nil)[TrafficAwarePolicyName]; !ok {
		t.Error("traffic-aware is not a built-in policy")
	}
}
