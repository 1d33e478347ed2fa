package burnrate

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// brute is the reference evaluator: one plain array entry per step.
type brute struct {
	first int64
	vals  map[int64]cum // known steps only
}

func (b *brute) set(k int64, errs, total float64) {
	if b.vals == nil {
		b.vals = map[int64]cum{}
		b.first = k
	}
	if v, ok := sanitize(errs, total); ok {
		b.vals[k] = v
	} else {
		delete(b.vals, k)
	}
}

// sum adds the known steps in (l, r].
func (b *brute) sum(l, r int64) cum {
	var c cum
	for k := l + 1; k <= r; k++ {
		if v, ok := b.vals[k]; ok {
			c.errs += v.errs
			c.tots += v.tots
			c.known++
		}
	}
	return c
}

func (b *brute) lastKnown(upTo int64) int64 {
	for k := upTo; k >= b.first; k-- {
		if _, ok := b.vals[k]; ok {
			return k
		}
	}
	return 0
}

// answeringTier mirrors cumAt's choice of tier for a left edge l, so the
// test knows the quantisation bound that applies (half that tier's bucket).
func answeringTier(in *Instance, l int64) (int64, bool) {
	if l < in.first || l >= in.last {
		return 1, true
	}
	for i := range in.tiers {
		t := &in.tiers[i]
		j := floorDiv(l+t.m/2, t.m)
		if j*t.m >= in.last || j*t.m < in.first || t.holds(j-1) {
			return t.m, true
		}
	}
	return 0, false
}

func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return approxEq(a, b)
}

func approxLE(a, b float64) bool { return a <= b+1e-9*math.Max(1, math.Abs(b)) }

func approxEq(a, b float64) bool { return approxLE(a, b) && approxLE(b, a) }

func randomCount(rng *rand.Rand) (float64, float64) {
	total := math.Floor(rng.Float64() * 1000)
	errs := math.Floor(total * rng.Float64() * rng.Float64())
	switch p := rng.Float64(); {
	case p < 0.03:
		return math.NaN(), math.NaN() // no data
	case p < 0.04:
		return errs, math.NaN()
	case p < 0.05:
		return math.NaN(), total
	case p < 0.06:
		return -errs - 1, total // counter reset seen as a negative increase
	case p < 0.07:
		return errs, -total - 1
	case p < 0.08:
		return math.Inf(1), total
	case p < 0.09:
		return errs, math.Inf(-1)
	case p < 0.10:
		return total + 5, total // errors above total are clamped
	case p < 0.12:
		return 0, 0 // known, no traffic
	}
	return errs, total
}

// TestRingMatchesBruteForce replays random histories with gaps, re-reads,
// resets (negative increases), NaN and ±Inf through the evaluator and
// checks every window against plain per-step sums: exact in the fine tier
// and wherever the left edge falls on a boundary of the tier answering it,
// otherwise between the sums of the windows half a bucket shorter and
// longer (the documented quantisation bound).
func TestRingMatchesBruteForce(t *testing.T) {
	const step = time.Minute
	spec := &slo.Spec{ID: "svc-prop", Objective: 99, Window: 7 * 24 * time.Hour}
	for seed := uint64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		e, err := NewEvaluator(Options{Spec: spec, Step: step})
		if err != nil {
			t.Fatal(err)
		}
		var ref brute
		labels := map[string]string{}
		// Start at an arbitrary minute, not aligned to hours.
		k := int64(29_000_000 + rng.IntN(1000))
		end := k + 9*24*60 // nine days of steps
		checks, exact := 0, 0
		for k < end {
			// A gap: steps never read at all.
			if rng.Float64() < 0.03 {
				k += int64(1 + rng.IntN(400))
			}
			// A batch (from, to], sometimes re-reading recent steps.
			n := int64(1 + rng.IntN(240))
			from := k
			if rng.Float64() < 0.3 {
				from -= int64(rng.IntN(20))
			}
			to := k + n
			var steps []StepCount
			for s := from + 1; s <= to; s++ {
				if rng.Float64() < 0.02 {
					ref.set(s, math.NaN(), math.NaN()) // left out of the batch: unknown
					continue
				}
				errs, total := randomCount(rng)
				steps = append(steps, StepCount{End: time.Unix(s*60, 0), Errors: errs, Total: total})
				ref.set(s, errs, total)
			}
			if err := e.Ingest(Batch{From: time.Unix(from*60, 0), To: time.Unix(to*60, 0), Series: []Series{{Labels: labels, Steps: steps}}}); err != nil {
				t.Fatalf("seed %d: ingest: %v", seed, err)
			}
			k = to
			in := e.Instance(labels)
			for range 12 {
				r := k + int64(rng.IntN(3)) // sometimes evaluate after the newest step
				var w int64
				switch rng.IntN(4) {
				case 0:
					w = int64(1 + rng.IntN(360))
				case 1:
					w = int64(1+rng.IntN(3*24*6)) * 10
				case 2:
					w = int64(1+rng.IntN(7*24)) * 60
				default:
					w = int64(1 + rng.IntN(7*24*60))
				}
				l := r - w
				got := in.Window(time.Unix(r*60, 0), time.Duration(w)*step)
				m, ok := answeringTier(in, l)
				if !ok {
					continue
				}
				checks++
				h := m / 2
				if floorDiv(l+m/2, m)*m == l {
					h = 0
					exact++
				}
				lo, hi := ref.sum(l+h, r), ref.sum(l-h, r)
				if !approxLE(lo.errs, got.Errors) || !approxLE(got.Errors, hi.errs) ||
					!approxLE(lo.tots, got.Total) || !approxLE(got.Total, hi.tots) ||
					int(lo.known) > got.Known || got.Known > int(hi.known) {
					t.Fatalf("seed %d: window %d steps ending at %d (tier bucket %d): got %+v, want between %+v and %+v",
						seed, w, r, m, got, lo, hi)
				}
			}
			// Evaluate's fast path (no known-count reads) gives the burns
			// Window gives, NaN for windows without a known step included.
			for _, lag := range []int64{0, 3, 400} {
				now := time.Unix((k+lag)*60, 0)
				ev, _ := e.EvaluateInstance(labels, now)
				burnOf := func(w time.Duration) float64 { return Burn(in.Window(now, w).ErrorRatio(), spec.ErrorBudget()) }
				for _, r := range ev.Rows {
					if !sameFloat(float64(r.LongBurn), burnOf(r.Row.Long)) || !sameFloat(float64(r.ShortBurn), burnOf(r.Row.Short)) {
						t.Fatalf("seed %d at %d+%d: row %s/%s burns %v/%v, Window gives %v/%v", seed, k, lag,
							r.Row.Long, r.Row.Short, r.LongBurn, r.ShortBurn, burnOf(r.Row.Long), burnOf(r.Row.Short))
					}
				}
				if !sameFloat(float64(ev.WindowBurn), burnOf(spec.Window)) {
					t.Fatalf("seed %d: window burn %v, Window gives %v", seed, ev.WindowBurn, burnOf(spec.Window))
				}
			}
			// No-data time follows the newest known step.
			now := time.Unix(k*60, 0)
			lk := ref.lastKnown(k)
			want := now.Sub(time.Unix(lk*60, 0))
			if lk == 0 {
				want = now.Sub(time.Unix((ref.first-1)*60, 0))
			}
			if got := in.NoDataFor(now); got != want && k-lk < 300 {
				t.Fatalf("seed %d: NoDataFor at %d = %s, want %s", seed, k, got, want)
			}
		}
		if checks < 1000 || exact < 100 {
			t.Fatalf("seed %d: only %d windows checked (%d exact)", seed, checks, exact)
		}
	}
}

// TestWindowFineTierIsExact checks the fine tier without quantisation on a
// history with re-reads that change earlier values.
func TestWindowFineTierIsExact(t *testing.T) {
	spec := &slo.Spec{ID: "svc-exact", Objective: 99.9, Window: 30 * 24 * time.Hour}
	e, err := NewEvaluator(Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	var ref brute
	base := int64(28_000_000)
	rng := rand.New(rand.NewPCG(7, 7))
	for k := base + 1; k <= base+600; k++ {
		errs, total := randomCount(rng)
		ref.set(k, errs, total)
		if err := e.Ingest(Batch{From: time.Unix((k-1)*60, 0), To: time.Unix(k*60, 0),
			Series: []Series{{Steps: []StepCount{{End: time.Unix(k*60, 0), Errors: errs, Total: total}}}}}); err != nil {
			t.Fatal(err)
		}
		if k == base+1 {
			continue
		}
		// Re-read the previous step with a different value.
		errs, total = randomCount(rng)
		ref.set(k-1, errs, total)
		if err := e.Ingest(Batch{From: time.Unix((k-2)*60, 0), To: time.Unix((k-1)*60, 0),
			Series: []Series{{Steps: []StepCount{{End: time.Unix((k-1)*60, 0), Errors: errs, Total: total}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	in := e.Instance(nil)
	now := time.Unix((base+600)*60, 0)
	for w := int64(1); w <= 360; w++ {
		got := in.Window(now, time.Duration(w)*time.Minute)
		want := ref.sum(base+600-w, base+600)
		if !approxEq(got.Errors, want.errs) || !approxEq(got.Total, want.tots) || got.Known != int(want.known) {
			t.Fatalf("window %dm: got %+v, want %+v", w, got, want)
		}
	}
}
