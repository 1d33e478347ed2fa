package burnrate

import (
	"time"

	"github.com/slodhq/slod/slo"
)

// SetExclusions sets the SLO's budget exclusions. From then on Ingest
// stores every step that overlaps one as unknown — in neither errors nor
// events, whatever the source says — and an evaluation whose instant falls
// inside one is marked Excluded (the engine opens no incident then) and
// does not count the excluded time as time without data. Steps already
// stored keep their counts: a changed set of exclusions takes a new
// evaluator and a new read (engine.Apply does that).
func (e *Evaluator) SetExclusions(xs []*slo.Exclusion) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.excl = xs
}

// Exclusions are the SLO's budget exclusions (SetExclusions).
func (e *Evaluator) Exclusions() []*slo.Exclusion {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.excl
}

// stepSpans are runs of excluded steps [lo, hi], sorted and disjoint.
type stepSpans [][2]int64

// overlaps reports whether any step of [lo, hi] is excluded. The spans of
// one batch are few (an exclusion is hours long), so a scan is enough.
func (s stepSpans) overlaps(lo, hi int64) bool {
	for _, sp := range s {
		if sp[0] <= hi && sp[1] >= lo {
			return true
		}
	}
	return false
}

// exclusionScratch holds the buffers the exclusion spans of a batch or an
// evaluation are worked out in, kept between calls so that a tick
// allocates nothing for them once they have grown.
type exclusionScratch struct {
	iv    []slo.Interval
	spans stepSpans
}

// excludedSteps returns the runs of steps in (from, to] (step indexes)
// that overlap an exclusion (callers hold e.mu). Step k is the interval
// ((k−1)×step, k×step]: it is excluded when any part of it is.
func (e *Evaluator) excludedSteps(from, to int64) stepSpans {
	if len(e.excl) == 0 || to <= from {
		return nil
	}
	step := int64(e.step / time.Second)
	lo, hi := time.Unix(from*step, 0), time.Unix(to*step, 0)
	e.xs.iv = slo.ExcludedIntervals(e.xs.iv[:0], e.excl, lo, hi)
	e.xs.spans = e.xs.spans[:0]
	for _, iv := range e.xs.iv {
		// The first step ending after From, the last starting before To.
		a := floorDiv(iv.From.Unix(), step) + 1
		b := ceilDiv(iv.To.Unix(), step)
		a, b = max(a, from+1), min(b, to)
		if a <= b {
			e.xs.spans = append(e.xs.spans, [2]int64{a, b})
		}
	}
	return e.xs.spans
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// planExclusions fills the exclusion part of the plan for p.now: the name
// of the exclusion now falls in, and the excluded intervals of the SLO
// window before now, which noDataFor leaves out of the time without data.
func (e *Evaluator) planExclusions(p *plan) {
	p.excluded, p.xiv = "", p.xiv[:0]
	if len(e.excl) == 0 {
		return
	}
	// now is the end of the newest step: the step ((now−step), now] is
	// the one evaluated, and it is excluded when an exclusion overlaps it.
	for _, x := range e.excl {
		if iv := x.Occurrences(nil, p.now.Add(-e.step), p.now); len(iv) > 0 {
			p.excluded = x.Name
			break
		}
	}
	p.xiv = slo.ExcludedIntervals(p.xiv, e.excl, p.now.Add(-e.spec.Window), p.now)
}

// noDataFor is the instance's time without data at p.now, less the
// excluded time within it: an exclusion is neither data nor its absence.
func (p *plan) noDataFor(in *Instance) time.Duration {
	d := in.NoDataFor(p.now)
	if d <= 0 || len(p.xiv) == 0 {
		return d
	}
	from := p.now.Add(-d)
	for _, iv := range p.xiv {
		d -= iv.Overlap(from, p.now)
	}
	return max(d, 0)
}
