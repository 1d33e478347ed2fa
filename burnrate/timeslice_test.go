package burnrate

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

func TestTimeSlicesCountGoodSlices(t *testing.T) {
	spec := &slo.Spec{ID: "svc-ts", Objective: 99, Window: 7 * 24 * time.Hour,
		TimeSlices: &slo.TimeSlices{Length: time.Minute, Target: 0.95}}
	e := mustEvaluator(t, Options{Spec: spec})
	from := evalT0.Add(-2 * time.Hour)
	// 120 minutes: 7 with 10% errors (bad), 3 without data, 2 without
	// traffic (neither), one at exactly 5% errors (good: the target is
	// reached), the rest with 1% (good).
	feed(t, e, nil, from, evalT0, func(ts time.Time) (float64, float64) {
		m := int(ts.Sub(from) / time.Minute)
		switch {
		case m >= 10 && m < 17:
			return 10, 100
		case m >= 30 && m < 33:
			return math.NaN(), math.NaN()
		case m >= 50 && m < 52:
			return 0, 0
		case m == 60:
			return 5, 100
		}
		return 1, 100
	})
	w := e.Instance(nil).Window(evalT0, 2*time.Hour)
	if w.Errors != 7 || w.Total != 115 || w.Known != 115 {
		t.Errorf("window %+v, want 7 bad slices among 115 known", w)
	}
	ev, _ := e.EvaluateInstance(nil, evalT0)
	if want := (7.0 / 115) / 0.01; math.Abs(float64(ev.Rows[1].LongBurn)-want) > 1e-9 {
		t.Errorf("6h burn %v, want the bad-slice share over the budget %v", ev.Rows[1].LongBurn, want)
	}
}

func TestTimeSlicesNeedTheStep(t *testing.T) {
	spec := &slo.Spec{ID: "svc-ts", Objective: 99, Window: 7 * 24 * time.Hour,
		TimeSlices: &slo.TimeSlices{Length: 5 * time.Minute, Target: 0.95}}
	if _, err := NewEvaluator(Options{Spec: spec, Step: time.Minute}); err == nil || !strings.Contains(err.Error(), "need the evaluator step") {
		t.Errorf("err %v", err)
	}
	if _, err := NewEvaluator(Options{Spec: spec, Step: 5 * time.Minute}); err != nil {
		t.Error(err)
	}
}

func TestTimeSlicesCoarseIntervalsAreUnknown(t *testing.T) {
	spec := &slo.Spec{ID: "svc-ts", Objective: 99, Window: 7 * 24 * time.Hour,
		TimeSlices: &slo.TimeSlices{Length: time.Minute, Target: 0.95}}
	e := mustEvaluator(t, Options{Spec: spec})
	from := evalT0.Add(-2 * time.Hour)
	if err := e.Ingest(Batch{From: from, To: evalT0, Resolution: time.Hour, Series: []Series{{Steps: []StepCount{
		{End: from.Add(time.Hour), Errors: 0, Total: 6000}, {End: evalT0, Errors: 0, Total: 6000}}}}}); err != nil {
		t.Fatal(err)
	}
	if w := e.Instance(nil).Window(evalT0, 2*time.Hour); w.Known != 0 {
		t.Errorf("window %+v: an hour read at once cannot be judged slice by slice", w)
	}
}
