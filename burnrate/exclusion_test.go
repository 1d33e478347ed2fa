package burnrate

import (
	"math"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

func oneOff(name string, from, to time.Time) *slo.Exclusion {
	return &slo.Exclusion{Name: name, Reason: "test", Match: slo.ExclusionMatch{SLO: "svc-x"}, From: from, To: to}
}

func TestExcludedStepsCountInNeitherErrorsNorEvents(t *testing.T) {
	spec := &slo.Spec{ID: "svc-x", Objective: 99.9, Window: 30 * 24 * time.Hour}
	start := evalT0.Add(-2 * time.Hour)
	xFrom, xTo := evalT0.Add(-90*time.Minute), evalT0.Add(-60*time.Minute) // 30 steps
	cases := []struct {
		name       string
		exclusions []*slo.Exclusion
		wantErrs   float64
		wantTotal  float64
		wantKnown  int
	}{
		{"without exclusions every step counts", nil, 30*100 + 90*1, 120 * 100, 120},
		{"an exclusion removes its 30 steps, errors and events", []*slo.Exclusion{oneOff("m", xFrom, xTo)}, 90 * 1, 90 * 100, 90},
		{"an exclusion for another time removes nothing", []*slo.Exclusion{oneOff("m", evalT0.Add(time.Hour), evalT0.Add(2*time.Hour))}, 30*100 + 90*1, 120 * 100, 120},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := mustEvaluator(t, Options{Spec: spec})
			e.SetExclusions(c.exclusions)
			feed(t, e, nil, start, evalT0, func(ts time.Time) (float64, float64) {
				if ts.After(xFrom) && !ts.After(xTo) {
					return 100, 100 // a full outage inside the maintenance
				}
				return 1, 100
			})
			w := e.Instance(nil).Window(evalT0, 2*time.Hour)
			if w.Errors != c.wantErrs || w.Total != c.wantTotal || w.Known != c.wantKnown {
				t.Errorf("window = %+v, want %v errors of %v in %d known steps", w, c.wantErrs, c.wantTotal, c.wantKnown)
			}
		})
	}
}

func TestExcludedCoarseIntervalIsUnknown(t *testing.T) {
	// A backfill's hour-long interval that overlaps an exclusion cannot be
	// split: it is unknown, never counted as good.
	spec := &slo.Spec{ID: "svc-x", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	e.SetExclusions([]*slo.Exclusion{oneOff("m", evalT0.Add(-150*time.Minute), evalT0.Add(-140*time.Minute))})
	from := evalT0.Add(-4 * time.Hour)
	var steps []StepCount
	for ts := from.Add(time.Hour); !ts.After(evalT0); ts = ts.Add(time.Hour) {
		steps = append(steps, StepCount{End: ts, Errors: 60, Total: 6000})
	}
	if err := e.Ingest(Batch{From: from, To: evalT0, Resolution: time.Hour, Series: []Series{{Steps: steps}}}); err != nil {
		t.Fatal(err)
	}
	w := e.Instance(nil).Window(evalT0, 4*time.Hour)
	if w.Errors != 3*60 || w.Total != 3*6000 || w.Known != 3*60 {
		t.Errorf("window = %+v, want three known hours", w)
	}
}

func TestEvaluationInsideExclusion(t *testing.T) {
	spec := &slo.Spec{ID: "svc-x", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	xFrom, xTo := evalT0.Add(-3*time.Hour), evalT0.Add(-time.Hour)
	e.SetExclusions([]*slo.Exclusion{oneOff("db-upgrade", xFrom, xTo)})
	feed(t, e, nil, evalT0.Add(-6*time.Hour), evalT0, func(ts time.Time) (float64, float64) {
		if !ts.After(xFrom) {
			return 0, 100
		}
		return math.NaN(), math.NaN() // the source is down in and after the maintenance
	})
	cases := []struct {
		name         string
		at           time.Time
		wantExcluded string
		wantNoData   time.Duration
	}{
		{"the step that ends at the exclusion's start is not excluded", xFrom, "", 0},
		{"the first step inside is excluded", xFrom.Add(time.Minute), "db-upgrade", 0},
		{"the last step inside is excluded", xTo, "db-upgrade", 0},
		{"after it, the time without data leaves the excluded two hours out", evalT0, "", time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, _ := e.EvaluateInstance(nil, c.at)
			if ev.Excluded != c.wantExcluded || ev.NoDataFor != c.wantNoData {
				t.Errorf("excluded %q, no data for %s; want %q, %s", ev.Excluded, ev.NoDataFor, c.wantExcluded, c.wantNoData)
			}
		})
	}
}
