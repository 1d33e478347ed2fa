package burnrate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/slodhq/slod/slo"
)

var evalT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func mustEvaluator(t testing.TB, o Options) *Evaluator {
	t.Helper()
	e, err := NewEvaluator(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// feed ingests one series from..to (step ends) at 1m with a count per step.
func feed(t testing.TB, e *Evaluator, labels map[string]string, from, to time.Time, count func(time.Time) (float64, float64)) {
	t.Helper()
	var steps []StepCount
	for ts := from.Add(time.Minute); !ts.After(to); ts = ts.Add(time.Minute) {
		errs, total := count(ts)
		steps = append(steps, StepCount{End: ts, Errors: errs, Total: total})
	}
	if err := e.Ingest(Batch{From: from, To: to, Series: []Series{{Labels: labels, Steps: steps}}}); err != nil {
		t.Fatal(err)
	}
}

func TestOutageFiresPageAtWorkbookTime(t *testing.T) {
	// 99.9%/30d, 100% errors from the start of a clean history: the 1h row
	// (factor 14.4) fires when errors over 1h reach 14.4 × 0.001 of the
	// hour's events: after 51.84 s — within the first 1m step.
	spec := &slo.Spec{ID: "svc-outage", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	start := evalT0.Add(-30 * 24 * time.Hour)
	feed(t, e, nil, start, evalT0, func(time.Time) (float64, float64) { return 0, 100 })
	if ev, _ := e.EvaluateInstance(nil, evalT0); anyFires(ev) {
		t.Fatalf("clean history fires: %+v", ev.Rows)
	}
	feed(t, e, nil, evalT0, evalT0.Add(time.Minute), func(time.Time) (float64, float64) { return 100, 100 })
	ev, ok := e.EvaluateInstance(nil, evalT0.Add(time.Minute))
	if !ok {
		t.Fatal("no instance")
	}
	if !ev.Rows[0].Fires {
		t.Fatalf("page 1h/5m row does not fire one step into a full outage: %+v", ev.Rows[0])
	}
	for _, r := range ev.Rows[1:] {
		if r.Fires {
			t.Errorf("row %s/%s fires one minute in: %+v", r.Row.Long, r.Row.Short, r)
		}
	}
	if sev, _ := ev.Severity(); sev != SeverityPage {
		t.Errorf("severity %q, want page", sev)
	}
	// 100 errors among 43,200 steps of 100 events, give or take the
	// half-hour quantisation of W's left edge in the 1h tier.
	if ev.WindowErrors != 100 || math.Abs(ev.WindowTotal-4320000) > 30*100 {
		t.Errorf("window counts %v errors of %v", ev.WindowErrors, ev.WindowTotal)
	}
	if want := (100 / ev.WindowTotal) / 0.001; math.Abs(float64(ev.WindowBurn)-want) > 1e-12 {
		t.Errorf("window burn %v, want %v", ev.WindowBurn, want)
	}
	if math.Abs(float64(ev.BudgetRemaining-(1-ev.WindowBurn))) > 1e-12 {
		t.Errorf("budget remaining %v with window burn %v", ev.BudgetRemaining, ev.WindowBurn)
	}
}

func anyFires(ev Evaluation) bool {
	_, ok := ev.Severity()
	return ok
}

func TestMinEventsGuardsLowTraffic(t *testing.T) {
	spec := &slo.Spec{ID: "svc-low", Objective: 99, Window: 30 * 24 * time.Hour, MinEvents: 100}
	e := mustEvaluator(t, Options{Spec: spec})
	// Every request fails, but only one request per 10 minutes.
	feed(t, e, nil, evalT0.Add(-2*time.Hour), evalT0, func(ts time.Time) (float64, float64) {
		if ts.Minute()%10 == 0 {
			return 1, 1
		}
		return 0, 0
	})
	ev, _ := e.EvaluateInstance(nil, evalT0)
	if float64(ev.Rows[0].LongBurn) < ev.Rows[0].Factor {
		t.Fatalf("burn %v below factor %v: the guard is not what stops it", ev.Rows[0].LongBurn, ev.Rows[0].Factor)
	}
	if anyFires(ev) {
		t.Fatalf("fires on 6 events an hour with min_events 100: %+v", ev.Rows)
	}
}

func TestNoDataIsNotGood(t *testing.T) {
	spec := &slo.Spec{ID: "svc-nodata", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	feed(t, e, nil, evalT0.Add(-time.Hour), evalT0, func(time.Time) (float64, float64) { return 0, 10 })
	// The source returns nothing for 20 minutes.
	if err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(20 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	now := evalT0.Add(20 * time.Minute)
	ev, _ := e.EvaluateInstance(nil, now)
	if ev.NoDataFor != 20*time.Minute {
		t.Errorf("NoDataFor %s, want 20m", ev.NoDataFor)
	}
	if ev.Rows[0].ShortBurn.Known() {
		t.Errorf("5m burn over steps without data = %v, want unknown", ev.Rows[0].ShortBurn)
	}
	if e.LastStep() != now {
		t.Errorf("LastStep %s, want %s", e.LastStep(), now)
	}
	in := e.Instance(nil)
	if c := in.Window(now, time.Hour); c.Known != 40 || c.Total != 400 {
		t.Errorf("1h window %+v, want 40 known steps and 400 events", c)
	}
}

func TestInvalidValuesAreUnknown(t *testing.T) {
	spec := &slo.Spec{ID: "svc-nan", Objective: 99, Window: 30 * 24 * time.Hour}
	tests := []struct {
		name         string
		errs, total  float64
		known        int
		wantErrTotal [2]float64
	}{
		{"a NaN total is unknown", 0, math.NaN(), 0, [2]float64{0, 0}},
		{"NaN errors are unknown", math.NaN(), 5, 0, [2]float64{0, 0}},
		{"+Inf total is unknown", 1, math.Inf(1), 0, [2]float64{0, 0}},
		{"-Inf errors are unknown", math.Inf(-1), 3, 0, [2]float64{0, 0}},
		{"a negative total (counter reset) is unknown", 0, -4, 0, [2]float64{0, 0}},
		{"negative errors are unknown", -1, 4, 0, [2]float64{0, 0}},
		{"errors above the total are clamped", 9, 4, 1, [2]float64{4, 4}},
		{"zero traffic is known and good", 0, 0, 1, [2]float64{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := mustEvaluator(t, Options{Spec: spec})
			feed(t, e, nil, evalT0, evalT0.Add(time.Minute), func(time.Time) (float64, float64) { return tc.errs, tc.total })
			c := e.Instance(nil).Window(evalT0.Add(time.Minute), 5*time.Minute)
			if c.Known != tc.known || c.Errors != tc.wantErrTotal[0] || c.Total != tc.wantErrTotal[1] {
				t.Fatalf("window %+v, want %d known, errors/total %v", c, tc.known, tc.wantErrTotal)
			}
		})
	}
}

func TestRereadIsIdempotent(t *testing.T) {
	spec := &slo.Spec{ID: "svc-reread", Objective: 99, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	feed(t, e, nil, evalT0, evalT0.Add(time.Hour), func(time.Time) (float64, float64) { return 1, 10 })
	for range 3 { // the same last 5 steps read again, with a late sample in the last one
		feed(t, e, nil, evalT0.Add(55*time.Minute), evalT0.Add(time.Hour), func(ts time.Time) (float64, float64) {
			if ts.Equal(evalT0.Add(time.Hour)) {
				return 2, 20
			}
			return 1, 10
		})
	}
	c := e.Instance(nil).Window(evalT0.Add(time.Hour), time.Hour)
	if c.Errors != 61 || c.Total != 610 || c.Known != 60 {
		t.Fatalf("after re-reads: %+v, want 61 errors of 610 in 60 steps", c)
	}
}

func TestCardinalityCap(t *testing.T) {
	spec := &slo.Spec{ID: "svc-routes", Objective: 99, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}
	e := mustEvaluator(t, Options{Spec: spec, MaxInstances: 3})
	var series []Series
	for i := range 5 {
		series = append(series, Series{Labels: map[string]string{"route": fmt.Sprintf("/r%d", i)},
			Steps: []StepCount{{End: evalT0.Add(time.Minute), Errors: 0, Total: 1}}})
	}
	err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(time.Minute), Series: series})
	var ce *CardinalityError
	if !errors.As(err, &ce) {
		t.Fatalf("want a CardinalityError, got %v", err)
	}
	if ce.Dropped != 2 || ce.Max != 3 || ce.Example != `{route="/r3"}` || e.Len() != 3 || e.Dropped() != 2 {
		t.Fatalf("cap: %+v, %d instances, %d dropped", ce, e.Len(), e.Dropped())
	}
	// Known instances still ingest; instances without data for W vanish.
	later := evalT0.Add(31 * 24 * time.Hour)
	err = e.Ingest(Batch{From: later.Add(-time.Minute), To: later, Series: []Series{{Labels: series[0].Labels,
		Steps: []StepCount{{End: later, Errors: 0, Total: 1}}}}})
	if err != nil {
		t.Fatal(err)
	}
	gone := e.Prune(later, 0)
	if len(gone) != 2 || e.Len() != 1 {
		t.Fatalf("pruned %v, %d left", gone, e.Len())
	}
	if got := e.Evaluate(later); len(got) != 1 || got[0].Labels["route"] != "/r0" {
		t.Fatalf("evaluations after prune: %+v", got)
	}
}

func TestStateRoundTrip(t *testing.T) {
	spec := &slo.Spec{ID: "svc-state", Objective: 99.5, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}
	e := mustEvaluator(t, Options{Spec: spec})
	rng := rand.New(rand.NewPCG(3, 3))
	for _, route := range []string{"/a", "/b", `/q"uote`} {
		feed(t, e, map[string]string{"route": route}, evalT0.Add(-4*24*time.Hour), evalT0, func(time.Time) (float64, float64) {
			return randomCount(rng)
		})
	}
	data, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != stateVersion {
		t.Fatalf("first byte %d, want version %d", data[0], stateVersion)
	}
	r := mustEvaluator(t, Options{Spec: spec})
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if r.LastStep() != e.LastStep() || r.Len() != 3 {
		t.Fatalf("restored LastStep %s (want %s), %d instances", r.LastStep(), e.LastStep(), r.Len())
	}
	for _, now := range []time.Time{evalT0, evalT0.Add(5 * time.Minute)} {
		a, b := e.Evaluate(now), r.Evaluate(now)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("evaluations differ after restore:\n%v\n%v", a, b)
		}
	}
	// Both continue identically.
	for _, x := range []*Evaluator{e, r} {
		feed(t, x, map[string]string{"route": "/a"}, evalT0, evalT0.Add(10*time.Minute), func(time.Time) (float64, float64) { return 3, 7 })
	}
	if a, b := e.Evaluate(evalT0.Add(10*time.Minute)), r.Evaluate(evalT0.Add(10*time.Minute)); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("evaluations differ after more steps:\n%v\n%v", a, b)
	}
	again, _ := r.MarshalBinary()
	if e2, _ := e.MarshalBinary(); string(again) != string(e2) {
		t.Fatal("re-encoding the restored state differs")
	}

	t.Run("another window is a mismatch", func(t *testing.T) {
		other := *spec
		other.Window = 28 * 24 * time.Hour
		x := mustEvaluator(t, Options{Spec: &other})
		if err := x.UnmarshalBinary(data); !errors.Is(err, ErrStateMismatch) {
			t.Fatalf("got %v, want ErrStateMismatch", err)
		}
	})
	t.Run("every truncation is an error and changes nothing", func(t *testing.T) {
		x := mustEvaluator(t, Options{Spec: spec})
		for n := 0; n < len(data); n += 1 + n/7 {
			if err := x.UnmarshalBinary(data[:n]); err == nil {
				t.Fatalf("truncated to %d bytes: no error", n)
			}
		}
		if x.Len() != 0 {
			t.Fatalf("failed restores left %d instances", x.Len())
		}
	})
}

func TestCoarseBatchesFillOldHistory(t *testing.T) {
	spec := &slo.Spec{ID: "svc-coarse", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e := mustEvaluator(t, Options{Spec: spec})
	start := evalT0.Add(-30 * 24 * time.Hour)
	var hours []StepCount
	for ts := start.Add(time.Hour); !ts.After(evalT0.Add(-6 * time.Hour)); ts = ts.Add(time.Hour) {
		hours = append(hours, StepCount{End: ts, Errors: 6, Total: 600})
	}
	if err := e.Ingest(Batch{From: start, To: evalT0.Add(-6 * time.Hour), Resolution: time.Hour, Series: []Series{{Steps: hours}}}); err != nil {
		t.Fatal(err)
	}
	feed(t, e, nil, evalT0.Add(-6*time.Hour), evalT0, func(time.Time) (float64, float64) { return 0.1, 10 })
	in := e.Instance(nil)
	w := in.Window(evalT0, 30*24*time.Hour)
	if w.Total != 30*24*600 || math.Abs(w.Errors-30*24*6) > 1e-6 || w.Known != 30*24*60 {
		t.Fatalf("30d window %+v, want %d events, %d errors, %d known steps", w, 30*24*600, 30*24*6, 30*24*60)
	}
	if d := in.Window(evalT0, 24*time.Hour); d.Total != 24*600 {
		t.Fatalf("1d window total %v, want %d", d.Total, 24*600)
	}
}

func TestParallelMatchesSequential(t *testing.T) {
	defer goleak.VerifyNone(t)
	spec := &slo.Spec{ID: "svc-par", Objective: 99, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}
	n := parallelMin + 500
	rng := rand.New(rand.NewPCG(9, 9))
	var series []Series
	for i := range n {
		var steps []StepCount
		for k := 1; k <= 30; k++ {
			errs, total := randomCount(rng)
			steps = append(steps, StepCount{End: evalT0.Add(time.Duration(k) * time.Minute), Errors: errs, Total: total})
		}
		series = append(series, Series{Labels: map[string]string{"route": fmt.Sprint("/r", i)}, Steps: steps})
	}
	batch := Batch{From: evalT0, To: evalT0.Add(30 * time.Minute), Series: series}
	par := mustEvaluator(t, Options{Spec: spec, MaxInstances: n})
	if err := par.Ingest(batch); err != nil {
		t.Fatal(err)
	}
	got := par.Evaluate(batch.To)
	// One instance at a time, below the parallel threshold.
	for i, s := range series {
		seq := mustEvaluator(t, Options{Spec: spec})
		if err := seq.Ingest(Batch{From: batch.From, To: batch.To, Series: []Series{s}}); err != nil {
			t.Fatal(err)
		}
		want := seq.Evaluate(batch.To)
		if fmt.Sprint(want[0]) != fmt.Sprint(got[i]) {
			t.Fatalf("instance %d:\n got %v\nwant %v", i, got[i], want[0])
		}
	}
}

// FuzzUnmarshalBinary: arbitrary snapshots never panic; an accepted one
// evaluates and keeps ingesting.
func FuzzUnmarshalBinary(f *testing.F) {
	spec := &slo.Spec{ID: "svc-fuzz", Objective: 99, Window: 7 * 24 * time.Hour, GroupBy: []string{"route"}}
	seed := mustEvaluator(f, Options{Spec: spec})
	feed(f, seed, map[string]string{"route": "/a"}, evalT0.Add(-time.Hour), evalT0, func(time.Time) (float64, float64) { return 1, 10 })
	data, _ := seed.MarshalBinary()
	f.Add(data)
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := mustEvaluator(t, Options{Spec: spec, MaxInstances: 4})
		if err := e.UnmarshalBinary(data); err != nil {
			return
		}
		e.Evaluate(evalT0)
		_ = e.Ingest(Batch{From: evalT0, To: evalT0.Add(time.Minute), Series: []Series{{Labels: map[string]string{"route": "/a"},
			Steps: []StepCount{{End: evalT0.Add(time.Minute), Errors: 1, Total: 2}}}}})
		e.Evaluate(evalT0.Add(time.Minute))
	})
}
