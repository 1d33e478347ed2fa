package burnrate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// measureScenario is one history of the suite that decides the native
// default policy: per-minute counts and the stretches that are real
// incidents (a page outside them, or an hour after, is unwarranted).
type measureScenario struct {
	name string
	// count gives the errors and events of the step ending at t.
	count func(t time.Time) (float64, float64)
	// incidents are [from, to) of the real burns; normal says whether
	// traffic during them is at or above its mean over W.
	incidents [][2]time.Time
	normal    bool
	// page says whether the Workbook expects a page.
	page bool
}

// steady is 1,000 requests a minute with errors at ratio e in [from, to)
// (from + d) and 0.01% otherwise.
func steady(rate float64, bursts ...[3]float64) func(time.Time) (float64, float64) {
	return func(t time.Time) (float64, float64) {
		errs := rate * 0.0001
		for _, b := range bursts { // {from minute of day, minutes, ratio} on suiteDay
			from := suiteDay.Add(time.Duration(b[0]) * time.Minute)
			if t.After(from) && !t.After(from.Add(time.Duration(b[1])*time.Minute)) {
				errs = rate * b[2]
			}
		}
		return errs, rate
	}
}

// suiteEnd is the end of every history; suiteDay the day of its incidents.
var (
	suiteEnd = time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	suiteDay = suiteEnd.Add(-4 * 24 * time.Hour)
)

func span(fromMin, minutes float64) [2]time.Time {
	from := suiteDay.Add(time.Duration(fromMin) * time.Minute)
	return [2]time.Time{from, from.Add(time.Duration(minutes) * time.Minute)}
}

func measureScenarios() []measureScenario {
	flaps := [][3]float64{}
	for i := range 6 {
		flaps = append(flaps, [3]float64{600 + 20*float64(i), 5, 1})
	}
	return []measureScenario{
		{name: "outage at peak (day/night, 14:00, 20m)", count: dayNight(span(14*60, 20)), incidents: [][2]time.Time{span(14*60, 20)}, normal: true, page: true},
		{name: "outage at night (day/night, 02:00, 30m)", count: dayNight(span(2*60, 30)), incidents: [][2]time.Time{span(2*60, 30)}, page: true},
		{name: "outage at steady traffic (30m)", count: steady(1000, [3]float64{600, 30, 1}), incidents: [][2]time.Time{span(600, 30)}, normal: true, page: true},
		{name: "fast burn (2% errors, 20x, for 2h)", count: steady(1000, [3]float64{600, 120, 0.02}), incidents: [][2]time.Time{span(600, 120)}, normal: true, page: true},
		{name: "slow burn (0.2%, 2x, for 3d)", count: steady(1000, [3]float64{-2 * 24 * 60, 3 * 24 * 60, 0.002}), incidents: [][2]time.Time{span(-2*24*60, 3*24*60)}, normal: true},
		{name: "spike (2%, 20x, for 5m)", count: steady(1000, [3]float64{600, 5, 0.02}), incidents: [][2]time.Time{span(600, 5)}, normal: true},
		{name: "flapping (5m outages every 20m for 2h)", count: steady(1000, flaps...), incidents: [][2]time.Time{span(600, 105)}, normal: true, page: true},
		{name: "low traffic (20 a minute, 10% errors for 30m)", count: steady(20, [3]float64{600, 30, 0.1}), incidents: [][2]time.Time{span(600, 30)}, normal: true, page: true},
		{name: "day/night without incidents", count: dayNight()},
	}
}

// measureOutcome is what one policy did in one scenario over the last
// six days of its history.
type measureOutcome struct {
	pages, unwarranted int
	detect             time.Duration // first page open after the first incident began (0: one was open already); -1: none
}

func runMeasureScenario(t testing.TB, sc measureScenario, p Policy) measureOutcome {
	spec := &slo.Spec{ID: "svc-suite", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec, Policy: p})
	from := suiteEnd.Add(-6 * 24 * time.Hour)
	feed(t, e, nil, suiteEnd.Add(-31*24*time.Hour), from, sc.count)
	spans := pageSpans(t, e, from, suiteEnd, sc.count)
	out := measureOutcome{pages: len(spans), detect: -1}
	for _, s := range spans {
		warranted := false
		for _, inc := range sc.incidents {
			if s[0].Before(inc[1].Add(time.Hour)) && s[1].After(inc[0]) {
				warranted = true
			}
		}
		if !warranted {
			out.unwarranted++
		}
	}
	if len(sc.incidents) > 0 {
		for _, s := range spans {
			if s[1].After(sc.incidents[0][0]) {
				// A page already open when the incident began detects it at once.
				out.detect = max(s[0].Sub(sc.incidents[0][0]), 0)
				break
			}
		}
	}
	return out
}

// TestMeasureScenarioSuite runs the scenario suite through the default
// (ratio) and traffic-aware (budget) policies and holds the evidence the
// native default rests on (docs/policies.md): traffic-aware pages no later
// on every outage at normal traffic, and raises fewer unwarranted pages.
// Its table is printed with -v.
func TestMeasureScenarioSuite(t *testing.T) {
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "| scenario | Workbook | default: pages (unwarranted), detection | traffic-aware: pages (unwarranted), detection |\n|---|---|---|---|\n")
	var unwarranted [2]int
	for _, sc := range measureScenarios() {
		var res [2]measureOutcome
		for i, p := range []Policy{DefaultPolicy(), TrafficAwarePolicy()} {
			res[i] = runMeasureScenario(t, sc, p)
			unwarranted[i] += res[i].unwarranted
		}
		cell := func(o measureOutcome) string {
			d := "-"
			if o.detect >= 0 {
				d = slo.FormatDuration(o.detect)
			}
			return fmt.Sprintf("%d (%d), %s", o.pages, o.unwarranted, d)
		}
		want := "no page"
		if sc.page {
			want = "page"
		}
		fmt.Fprintf(&tbl, "| %s | %s | %s | %s |\n", sc.name, want, cell(res[0]), cell(res[1]))
		def, ta := res[0], res[1]
		if sc.page && sc.normal {
			if ta.detect < 0 || def.detect >= 0 && ta.detect > def.detect {
				t.Errorf("%s: traffic-aware detects after %s, default after %s", sc.name, ta.detect, def.detect)
			}
		}
		if sc.page && (def.detect < 0 || ta.detect < 0) {
			t.Errorf("%s: a page was expected: default %+v, traffic-aware %+v", sc.name, def, ta)
		}
		if !sc.page && len(sc.incidents) > 0 && ta.pages > 0 {
			t.Errorf("%s: traffic-aware paged %d times, the Workbook expects none", sc.name, ta.pages)
		}
	}
	if unwarranted[1] >= unwarranted[0] {
		t.Errorf("unwarranted pages: default %d, traffic-aware %d; want fewer with traffic-aware", unwarranted[0], unwarranted[1])
	}
	fmt.Fprintf(&tbl, "| **unwarranted pages in all** | | **%d** | **%d** |\n", unwarranted[0], unwarranted[1])
	t.Log("\n" + tbl.String())
}
