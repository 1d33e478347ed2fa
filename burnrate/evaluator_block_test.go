package burnrate

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// blockSeries is n label sets with 90 minutes of random counts (gaps,
// NaN, negative increases, errors above the total included).
func blockSeries(n int, seed uint64) []Series {
	rng := rand.New(rand.NewPCG(seed, seed))
	var series []Series
	for i := range n {
		var steps []StepCount
		for k := 1; k <= 90; k++ {
			if rng.IntN(10) == 0 {
				continue // a missing step: unknown
			}
			errs, total := randomCount(rng)
			steps = append(steps, StepCount{End: evalT0.Add(time.Duration(k) * time.Minute), Errors: errs, Total: total})
		}
		series = append(series, Series{Labels: map[string]string{"route": fmt.Sprint("/r", i)}, Steps: steps})
	}
	return series
}

var blockSpec = &slo.Spec{ID: "svc-blocks", Objective: 99, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}

// Instances created together share interleaved storage; instances created
// one by one have storage of their own. Both hold the same state, to the
// byte, and evaluate alike.
func TestSharedStorageMatchesOwnStorage(t *testing.T) {
	series := blockSeries(2*blockWidth+7, 3)
	batch := Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series}
	shared := mustEvaluator(t, Options{Spec: blockSpec})
	if err := shared.Ingest(batch); err != nil {
		t.Fatal(err)
	}
	own := mustEvaluator(t, Options{Spec: blockSpec})
	for _, s := range series {
		if err := own.Ingest(Batch{From: batch.From, To: batch.To, Series: []Series{s}}); err != nil {
			t.Fatal(err)
		}
	}
	// Re-read the newest steps of every series, as a tick does.
	reread := Batch{From: evalT0.Add(85 * time.Minute), To: batch.To, Series: blockSeries(len(series), 4)}
	for i := range reread.Series {
		reread.Series[i].Steps = trimBefore(reread.Series[i].Steps, reread.From)
	}
	for _, e := range []*Evaluator{shared, own} {
		if err := e.Ingest(reread); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := shared.MarshalBinary()
	b, _ := own.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Fatal("snapshots of shared and own storage differ")
	}
	for _, at := range []time.Time{batch.To, evalT0.Add(60 * time.Minute), batch.To.Add(time.Hour)} {
		if x, y := fmt.Sprint(shared.Evaluate(at)), fmt.Sprint(own.Evaluate(at)); x != y {
			t.Fatalf("at %s:\n got %s\nwant %s", at, x, y)
		}
	}
	// A restored snapshot shares storage too and writes the same bytes.
	restored := mustEvaluator(t, Options{Spec: blockSpec})
	if err := restored.UnmarshalBinary(a); err != nil {
		t.Fatal(err)
	}
	if c, _ := restored.MarshalBinary(); !bytes.Equal(a, c) {
		t.Fatal("restored snapshot differs")
	}
}

func trimBefore(steps []StepCount, from time.Time) []StepCount {
	for i, s := range steps {
		if s.End.After(from) {
			return steps[i:]
		}
	}
	return nil
}

// Pruned instances give their storage to new label sets, which start
// empty, and the instances sharing the block keep their state.
func TestPruneRecyclesStorage(t *testing.T) {
	series := blockSeries(10, 5)
	e := mustEvaluator(t, Options{Spec: blockSpec})
	if err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series}); err != nil {
		t.Fatal(err)
	}
	// Half of them go quiet for a day and are pruned.
	later := evalT0.Add(90*time.Minute + 24*time.Hour)
	var live []Series
	for i, s := range series {
		if i%2 == 0 {
			live = append(live, Series{Labels: s.Labels, Steps: []StepCount{{End: later, Errors: 1, Total: 10}}})
		}
	}
	if err := e.Ingest(Batch{From: later.Add(-time.Minute), To: later, Series: live}); err != nil {
		t.Fatal(err)
	}
	if gone := e.Prune(later, time.Hour); len(gone) != 5 {
		t.Fatalf("pruned %v", gone)
	}
	// New label sets take the freed storage and hold only their own steps.
	fresh := blockSeries(3, 6)
	for i := range fresh {
		fresh[i].Labels = map[string]string{"route": fmt.Sprint("/new", i)}
		fresh[i].Steps = []StepCount{{End: later.Add(time.Minute), Errors: float64(i), Total: 100}}
	}
	if err := e.Ingest(Batch{From: later, To: later.Add(time.Minute), Series: fresh}); err != nil {
		t.Fatal(err)
	}
	if len(e.free) != 2 {
		t.Fatalf("%d free instances, want 2", len(e.free))
	}
	for i := range fresh {
		in := e.Instance(fresh[i].Labels)
		w := in.Window(later.Add(time.Minute), 30*24*time.Hour)
		if w.Total != 100 || w.Errors != float64(i) || w.Known != 1 {
			t.Fatalf("new instance %d: W holds %+v", i, w)
		}
	}
	// The survivors match an evaluator that never pruned anything.
	ref := mustEvaluator(t, Options{Spec: blockSpec})
	if err := ref.Ingest(Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series}); err != nil {
		t.Fatal(err)
	}
	if err := ref.Ingest(Batch{From: later.Add(-time.Minute), To: later, Series: live}); err != nil {
		t.Fatal(err)
	}
	for _, s := range live {
		got, _ := e.EvaluateInstance(s.Labels, later)
		want, _ := ref.EvaluateInstance(s.Labels, later)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%v:\n got %v\nwant %v", s.Labels, got, want)
		}
	}
}

func TestEvaluateIntoReusesTheBuffer(t *testing.T) {
	series := blockSeries(40, 7)
	e := mustEvaluator(t, Options{Spec: blockSpec})
	if err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series[:30]}); err != nil {
		t.Fatal(err)
	}
	at := evalT0.Add(90 * time.Minute)
	buf := e.EvaluateInto(nil, at)
	if fmt.Sprint(buf) != fmt.Sprint(e.Evaluate(at)) {
		t.Fatal("EvaluateInto differs from Evaluate")
	}
	// One allocation is left: the closure that the parallel split runs.
	if n := testing.AllocsPerRun(10, func() { buf = e.EvaluateInto(buf, at) }); n > 1 {
		t.Fatalf("%v allocations per reuse", n)
	}
	// More instances: the buffer grows, and still matches.
	if err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series}); err != nil {
		t.Fatal(err)
	}
	buf = e.EvaluateInto(buf[:5], at.Add(time.Minute))
	if fmt.Sprint(buf) != fmt.Sprint(e.Evaluate(at.Add(time.Minute))) || len(buf) != 40 {
		t.Fatal("grown EvaluateInto differs from Evaluate")
	}
}

// Evaluate's lookups (left edges worked out once for all instances) give
// the burns that Window gives for each instance, at the newest step and
// after it, with histories that reach every tier.
func TestEvaluateMatchesWindow(t *testing.T) {
	e := mustEvaluator(t, Options{Spec: blockSpec})
	rng := rand.New(rand.NewPCG(11, 11))
	end := evalT0.Add(35 * 24 * time.Hour)
	for i, days := range []int{0, 1, 4, 31} {
		from := end.Add(-time.Duration(days)*24*time.Hour - time.Duration(rng.IntN(500))*time.Minute)
		feed(t, e, map[string]string{"route": fmt.Sprint("/r", i)}, from, end.Add(-time.Duration(i)*7*time.Minute), func(time.Time) (float64, float64) {
			if rng.IntN(7) == 0 {
				return 0, -1 // unknown
			}
			return randomCount(rng)
		})
	}
	budget := blockSpec.ErrorBudget()
	for _, at := range []time.Time{end, end.Add(time.Minute), end.Add(37 * time.Minute), end.Add(7 * time.Hour), end.Add(-13 * time.Minute)} {
		for _, ie := range e.Evaluate(at) {
			in := e.Instance(ie.Labels)
			for _, r := range ie.Rows {
				lb := Burn(in.Window(at, r.Row.Long).ErrorRatio(), budget)
				sb := Burn(in.Window(at, r.Row.Short).ErrorRatio(), budget)
				if !sameBurn(lb, float64(r.LongBurn)) || !sameBurn(sb, float64(r.ShortBurn)) {
					t.Fatalf("%s at %s row %s/%s: burns %v/%v, Window gives %v/%v", ie.Key, at, r.Row.Long, r.Row.Short, r.LongBurn, r.ShortBurn, lb, sb)
				}
			}
			if w := Burn(in.Window(at, blockSpec.Window).ErrorRatio(), budget); !sameBurn(w, float64(ie.WindowBurn)) {
				t.Fatalf("%s at %s: W burn %v, Window gives %v", ie.Key, at, ie.WindowBurn, w)
			}
		}
	}
}

func sameBurn(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return approxEq(a, b)
}

// When most label sets are gone, Prune moves the survivors to new blocks
// and lets the old storage go; the survivors keep their state.
func TestPruneCompactsAfterAFall(t *testing.T) {
	series := blockSeries(200, 8)
	e := mustEvaluator(t, Options{Spec: blockSpec})
	ref := mustEvaluator(t, Options{Spec: blockSpec})
	first := Batch{From: evalT0, To: evalT0.Add(90 * time.Minute), Series: series}
	later := evalT0.Add(90*time.Minute + 24*time.Hour)
	var live []Series
	for i, s := range series {
		if i%4 == 0 {
			live = append(live, Series{Labels: s.Labels, Steps: []StepCount{{End: later, Errors: 1, Total: 10}}})
		}
	}
	second := Batch{From: later.Add(-time.Minute), To: later, Series: live}
	for _, ev := range []*Evaluator{e, ref} {
		if err := ev.Ingest(first); err != nil {
			t.Fatal(err)
		}
		if err := ev.Ingest(second); err != nil {
			t.Fatal(err)
		}
	}
	if gone := e.Prune(later, time.Hour); len(gone) != 150 {
		t.Fatalf("pruned %d", len(gone))
	}
	if len(e.free) != 0 {
		t.Fatalf("%d free instances after compaction", len(e.free))
	}
	for _, s := range live {
		in := e.Instance(s.Labels)
		if in.tiers[0].w != int64(len(live)) {
			t.Fatalf("%v: block of %d, want %d", s.Labels, in.tiers[0].w, len(live))
		}
		for _, at := range []time.Time{later, later.Add(-23 * time.Hour)} {
			got, _ := e.EvaluateInstance(s.Labels, at)
			want, _ := ref.EvaluateInstance(s.Labels, at)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%v at %s:\n got %v\nwant %v", s.Labels, at, got, want)
			}
		}
	}
	// New label sets still come in.
	if err := e.Ingest(Batch{From: later, To: later.Add(time.Minute), Series: []Series{{Labels: map[string]string{"route": "/new"},
		Steps: []StepCount{{End: later.Add(time.Minute), Errors: 0, Total: 5}}}}}); err != nil {
		t.Fatal(err)
	}
	if w := e.Instance(map[string]string{"route": "/new"}).Window(later.Add(time.Minute), time.Hour); w.Total != 5 {
		t.Fatalf("new instance window %+v", w)
	}
}
