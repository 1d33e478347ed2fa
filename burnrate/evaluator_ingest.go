package burnrate

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stepIndex is the number of the step that ends at t.
func (e *Evaluator) stepIndex(t time.Time) int64 {
	return floorDiv(t.Unix(), int64(e.step/time.Second))
}

// lookup resolves the instances of series[lo:hi] that exist into ins,
// leaving nil for new label sets. It only reads the index, so goroutines
// may run it side by side while no instance is created.
func (e *Evaluator) lookup(series []Series, ins []*Instance, lo, hi int) {
	for i := lo; i < hi; i++ {
		key := series[i].Key
		if key == "" {
			key = LabelsKey(series[i].Labels)
		}
		// A source that lists the same label sets in the same order every
		// tick finds each one at its own position: no hashing.
		if i < len(e.instances) && e.instances[i].key == key {
			ins[i] = e.instances[i]
			continue
		}
		if j, ok := e.index[key]; ok {
			ins[i] = e.instances[j]
		}
	}
}

// create adds the instance of a label set that lookup did not find, taking
// storage from e.free, or returns the existing one when an earlier series
// of the batch created it; false when the cap refuses it.
func (e *Evaluator) create(labels map[string]string, key string) (*Instance, bool) {
	if key == "" {
		key = LabelsKey(labels)
	}
	if i, ok := e.index[key]; ok {
		return e.instances[i], true
	}
	if len(e.instances) >= e.max {
		return nil, false
	}
	cp := make(map[string]string, len(labels))
	for k, v := range labels {
		cp[k] = v
	}
	if len(e.free) == 0 {
		e.free = allocInstances(1, e.step, e.tiers)
	}
	in := e.free[len(e.free)-1]
	e.free[len(e.free)-1] = nil
	e.free = e.free[:len(e.free)-1]
	in.labels, in.key = cp, key
	e.index[key] = len(e.instances)
	e.instances = append(e.instances, in)
	return in, true
}

// Ingest stores a batch. Steps are set, not added, so reading the newest
// steps again (late samples) is idempotent. An SLO without group_by whose
// batch holds no series gets unknown steps through To, so that its no-data
// time grows. It returns a *CardinalityError when label sets were refused
// and an error wrapping ErrStepTooOld when steps could not be set; the
// rest of the batch is stored either way.
func (e *Evaluator) Ingest(b Batch) error {
	res := b.Resolution
	if res == 0 {
		res = e.step
	}
	if res < e.step || res%e.step != 0 {
		return fmt.Errorf("slo %q: batch resolution %s is not a multiple of the step %s", e.spec.ID, res, e.step)
	}
	per := int64(res / e.step)
	from, to := e.stepIndex(b.From), e.stepIndex(b.To)

	e.mu.Lock()
	defer e.mu.Unlock()
	var (
		errs    []error
		card    *CardinalityError
		series  = b.Series
		grouped = len(e.spec.GroupBy) > 0
	)
	if !grouped && len(series) == 0 && to > from {
		series = []Series{{Labels: map[string]string{}}}
	}
	// Resolve every instance first, in parallel (the index is only read),
	// then create the new ones; the sets below touch only their own
	// instance and run in parallel too.
	if cap(e.ins) < len(series) {
		e.ins = make([]*Instance, len(series))
	}
	ins := e.ins[:len(series)]
	defer clear(ins) // hold no removed instance between ticks
	parallel(len(series), func(lo, hi int) { e.lookup(series, ins, lo, hi) })
	missing := 0
	for _, in := range ins {
		if in == nil {
			missing++
		}
	}
	if missing > 0 {
		// The new label sets' rings share blocks (allocInstances): one
		// allocation for all of them, cut to what the cap admits.
		if n := min(missing, e.max-len(e.instances)) - len(e.free); n > 0 {
			e.free = append(allocInstances(n, e.step, e.tiers), e.free...)
			slices.Reverse(e.free[:n]) // create pops from the end: keep block order
		}
		for i, s := range series {
			if ins[i] != nil {
				continue
			}
			in, ok := e.create(s.Labels, s.Key)
			if !ok {
				if card == nil {
					card = &CardinalityError{SLO: e.spec.ID, Max: e.max, Example: LabelsKey(s.Labels)}
				}
				card.Dropped++
				e.dropped++
				continue
			}
			ins[i] = in
		}
	}
	var tooOld atomic.Int64
	start := floorDiv(from, per)*per + per // first interval end after from
	xs := e.excludedSteps(start-per, to)
	parallel(len(series), func(lo, hi int) {
		old := 0
		for i := lo; i < hi; i++ {
			if ins[i] != nil {
				old += e.setSeries(ins[i], series[i].Steps, start, to, per, xs)
			}
		}
		tooOld.Add(int64(old))
	})
	if b.To.After(e.lastStep) {
		e.lastStep = b.To
	}
	if card != nil {
		errs = append(errs, card)
	}
	if n := tooOld.Load(); n > 0 {
		errs = append(errs, fmt.Errorf("slo %q: %d steps: %w", e.spec.ID, n, ErrStepTooOld))
	}
	return errors.Join(errs...)
}

// setSeries walks the batch's range at its resolution and sets every
// interval end from the series; a step the series does not list is
// unknown. It returns how many steps were too old to set.
func (e *Evaluator) setSeries(in *Instance, steps []StepCount, start, to, per int64, xs stepSpans) int {
	tooOld, next := 0, 0
	for k := start; k <= to; k += per {
		errs, total := math.NaN(), math.NaN()
		for next < len(steps) && e.stepIndex(steps[next].End) < k {
			next++
		}
		if next < len(steps) && e.stepIndex(steps[next].End) == k && !xs.overlaps(k-per+1, k) {
			errs, total = steps[next].Errors, steps[next].Total
		}
		errs, total = e.slice(errs, total, per)
		if per > 1 && in.appendInterval(k, per, errs, total) {
			continue // a backfill's coarse interval, newer than anything set
		}
		if per > 1 {
			// The interval's leading steps: known and empty when the
			// interval is known, unknown otherwise.
			z := math.NaN()
			if _, known := sanitize(errs, total); known {
				z = 0
			}
			for j := k - per + 1; j < k; j++ {
				if in.set(j, z, z) == setTooOld {
					tooOld++
				}
			}
		}
		if in.set(k, errs, total) == setTooOld {
			tooOld++
		}
	}
	return tooOld
}

// parallelMin is the number of instances below which work stays on one goroutine.
const parallelMin = 2048

// parallel runs fn over [0, n) split across GOMAXPROCS goroutines.
// Instances are independent, so ingest and evaluation scale with cores.
func parallel(n int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
