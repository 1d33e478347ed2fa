package burnrate

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Tier resolutions and spans. Tier 0 keeps every step for the recent past,
// tier 1 keeps 10-minute buckets for the ticket windows, tier 2 keeps
// buckets of at least an hour for the whole SLO window. docs/evaluator.md
// explains the choice and the quantisation bound it gives.
const (
	fineSpan      = 6 * time.Hour
	midResolution = 10 * time.Minute
	midSpan       = 3 * 24 * time.Hour
	// maxCoarseBuckets caps tier 2 so memory does not grow with W: a 90d
	// window gets 3h buckets instead of 1h ones.
	maxCoarseBuckets = 720
)

// layout returns the tiers for a step and an SLO window, finest first.
func layout(step, window time.Duration) []tierLayout {
	steps := func(d time.Duration) int64 { // d in steps, rounded up
		return int64((d + step - 1) / step)
	}
	ls := []tierLayout{{m: 1, n: steps(fineSpan) + 2}}
	mid := max(int64(1), steps(midResolution))
	ls = append(ls, tierLayout{m: mid, n: (steps(midSpan)+mid-1)/mid + 2})
	coarse := time.Hour
	if per := (window + maxCoarseBuckets - 1) / maxCoarseBuckets; per > coarse {
		coarse = (per + time.Hour - 1) / time.Hour * time.Hour
	}
	cm := max(int64(1), steps(coarse))
	if window > midSpan {
		ls = append(ls, tierLayout{m: cm, n: (steps(window)+cm-1)/cm + 2})
	}
	return ls
}

// Instance holds the tiered ring buffers of one SLO instance (the SLO × one
// label set of its group_by). Steps are numbered by their end time:
// step k is the interval ((k−1)×step, k×step] in Unix time.
type Instance struct {
	labels map[string]string
	key    string
	step   int64 // seconds
	// first and last are the first and the newest step ingested (0: none).
	first, last int64
	// lastKnown is the newest step with data (0: none).
	lastKnown int64
	tiers     []tier // tierBuf[:len(layout)]
	tierBuf   [maxTiers]tier
}

// maxTiers is the most tiers layout returns.
const maxTiers = 3

// blockWidth is the most instances whose rings share one block of storage.
const blockWidth = 64

// allocInstances returns n empty instances (no labels yet) for a step and a
// tier layout. A tick touches the same few slots of every instance (the
// newest bucket of each tier, the left edge of each window), so the rings
// of up to blockWidth instances are interleaved: slot s of every instance
// of a block sits side by side, and a tick reads and writes whole cache
// lines in order instead of one 16-byte pair per line at a random address.
// Blocks are cut to n exactly, so no storage is allocated for instances
// that do not exist: an instance takes the same bytes as with rings of its
// own. The headers are allocated side by side as well.
func allocInstances(n int, step time.Duration, ls []tierLayout) []*Instance {
	hs := make([]Instance, n)
	out := make([]*Instance, n)
	for lo := 0; lo < n; lo += blockWidth {
		w := int64(min(blockWidth, n-lo))
		var nf, nk int64
		for _, l := range ls {
			nf += 2 * l.n * w
			nk += l.n * w
		}
		// One backing array per type keeps the allocation count and the
		// per-slice overhead low.
		fs := make([]float64, nf)
		ks := make([]uint32, nk)
		for j := range w {
			in := &hs[lo+int(j)]
			in.step = int64(step / time.Second)
			in.tiers = in.tierBuf[:len(ls)]
			var of, ok int64
			for i, l := range ls {
				in.tiers[i] = tier{m: l.m, n: l.n, w: w,
					ev:    fs[of+2*j : of+2*l.n*w : of+2*l.n*w],
					known: ks[ok+j : ok+l.n*w : ok+l.n*w]}
				of, ok = of+2*l.n*w, ok+l.n*w
			}
			out[lo+int(j)] = in
		}
	}
	return out
}

// recycle empties an instance removed from its evaluator so that a new
// label set can take its storage.
func (in *Instance) recycle() {
	for i := range in.tiers {
		in.tiers[i].clear()
		in.tiers[i].newest = 0
	}
	in.labels, in.key = nil, ""
	in.first, in.last, in.lastKnown = 0, 0, 0
}

// Labels returns the instance's group_by label set (empty for an SLO without group_by).
// The map must not be modified.
func (in *Instance) Labels() map[string]string { return in.labels }

// Key is the canonical text of the label set: {a="x",b="y"} with sorted names.
func (in *Instance) Key() string { return in.key }

// LastStep is the end of the newest step ingested, zero when none was.
func (in *Instance) LastStep() time.Time {
	if in.last == 0 {
		return time.Time{}
	}
	return time.Unix(in.last*in.step, 0).UTC()
}

// LabelsKey renders a label set canonically: {a="x",b="y"}, names sorted,
// values quoted, so that it can key maps and appear in messages.
func LabelsKey(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[n]))
	}
	b.WriteByte('}')
	return b.String()
}

// sanitize turns a raw step count into what the ring stores. A step is
// unknown (no data: neither good nor bad) when its total is NaN, ±Inf or
// negative, or its errors are NaN, ±Inf or negative — negative increases
// come from counter resets that the query did not absorb. Errors above the
// total (rate extrapolation noise) are clamped to the total.
func sanitize(errs, total float64) (cum, bool) {
	if math.IsNaN(total) || math.IsInf(total, 0) || total < 0 ||
		math.IsNaN(errs) || math.IsInf(errs, 0) || errs < 0 {
		return cum{}, false
	}
	if errs > total {
		errs = total
	}
	return cum{errs: errs, tots: total, known: 1}, true
}

// setResult says what set did with a step.
type setResult int

const (
	setOK     setResult = iota
	setTooOld           // before the first step or older than the fine tier holds
)

// set stores step k's counts, replacing whatever it held: re-reading a step
// is idempotent. Steps between the newest and k stay unknown.
func (in *Instance) set(k int64, errs, total float64) setResult {
	v, known := sanitize(errs, total)
	if in.last == 0 || k > in.last {
		in.append(k, k, v, known)
		return setOK
	}
	if k < in.first {
		return setTooOld
	}
	// Re-setting a step: its old value comes from the fine tier, the only
	// one that still has it alone; the difference goes into every tier.
	old, ok := in.stepValue(k)
	if !ok {
		return setTooOld
	}
	d := v.sub(old)
	if d != (cum{}) {
		for i := range in.tiers {
			t := &in.tiers[i]
			t.add(t.bucket(k), d)
		}
	}
	switch {
	case known && k > in.lastKnown:
		in.lastKnown = k
	case !known && k == in.lastKnown:
		in.lastKnown = in.previousKnown(k)
	}
	return setOK
}

// appendInterval sets the per steps ending at step k, all newer than the
// newest set so far, as one coarse interval read at per steps (or all
// unknown). A tier as coarse as the interval or coarser adds its counts to
// one bucket: what setting each step would store, in one advance and one
// add. A finer tier — the backfill of a cold start reads the older part of
// the fine tier's span at 10 minutes, and of the 10-minute tier's at an
// hour (source.Plan) — gets them spread evenly over the interval's
// buckets, so a window whose edge falls inside the interval counts its
// share of it: the edge errs by at most the interval's deviation from an
// even spread, as a coarse tier's edge does, until those buckets age out.
// Where an interval has more than maxSpread buckets of a tier, that tier
// holds its counts on its last step instead (the backfill reads such
// intervals only where that tier will not keep them). It reports false,
// storing nothing, when a step of the interval is not newer than the
// newest one set.
func (in *Instance) appendInterval(k, per int64, errs, total float64) bool {
	lo := k - per + 1
	if in.last != 0 && lo <= in.last {
		return false
	}
	v, known := sanitize(errs, total)
	v.known = uint32(per)
	in.append(lo, k, v, known)
	return true
}

// maxSpread is the most buckets of one tier that an interval is spread
// over (appendInterval): 10 one-step buckets for a 10-minute interval, 6
// ten-minute buckets for an hour.
const maxSpread = 12

// append stores v over the steps lo..k, all newer than the newest one set:
// every tier advances to k's bucket and, when v is known, adds it there
// (or spreads it over the interval's buckets, see appendInterval). A new
// instance starts at lo.
func (in *Instance) append(lo, k int64, v cum, known bool) {
	if in.last == 0 {
		in.first, in.last = lo, lo-1
		for i := range in.tiers {
			// A new instance's rings are already zero.
			in.tiers[i].newest = in.tiers[i].bucket(lo) - 1
		}
	}
	per := k - lo + 1
	for i := range in.tiers {
		t := &in.tiers[i]
		sub := per / t.m
		if !known || sub <= 1 || sub > maxSpread || per%t.m != 0 || k%t.m != 0 {
			b := t.bucket(k)
			t.advance(b)
			if known {
				t.add(b, v)
			}
			continue
		}
		d := cum{errs: v.errs / float64(sub), tots: v.tots / float64(sub), known: uint32(t.m)}
		for j := int64(1); j <= sub; j++ {
			b := t.bucket(lo - 1 + j*t.m)
			t.advance(b)
			t.add(b, d)
		}
	}
	in.last = k
	if known {
		in.lastKnown = k
	}
}

// stepValue is the stored value of step k, from the fine tier.
func (in *Instance) stepValue(k int64) (cum, bool) {
	hi, ok := in.fineCum(k)
	if !ok {
		return cum{}, false
	}
	lo, ok := in.fineCum(k - 1)
	if !ok {
		return cum{}, false
	}
	return hi.sub(lo), true
}

// fineCum is the cumulative sum through step k from the fine tier.
func (in *Instance) fineCum(k int64) (cum, bool) {
	if k < in.first {
		return cum{}, true
	}
	t := &in.tiers[0]
	b := t.bucket(k)
	if !t.holds(b) {
		return cum{}, false
	}
	return t.at(b), true
}

// previousKnown finds the newest known step before k in the fine tier; when
// none is held there it returns the oldest step the tier could tell about
// minus one (the SLI has had no data for at least the fine span), or 0.
func (in *Instance) previousKnown(k int64) int64 {
	for j := k - 1; j >= in.first; j-- {
		v, ok := in.stepValue(j)
		if !ok {
			return j
		}
		if v.known > 0 {
			return j
		}
	}
	return 0
}

// cumAt is the cumulative sum through boundary step b, answered from the
// finest tier that holds it. Inside a coarse tier the boundary rounds to
// the nearest bucket boundary (a multiple of the tier's resolution): this is
// the window-edge quantisation, at most half a bucket.
func (in *Instance) cumAt(b int64) cum {
	if b < in.first {
		return cum{}
	}
	if b >= in.last {
		t := &in.tiers[0]
		return t.at(t.newest)
	}
	for i := range in.tiers {
		t := &in.tiers[i]
		j := floorDiv(b+t.m/2, t.m) // nearest boundary, in buckets
		if j*t.m >= in.last {
			return t.at(t.newest)
		}
		if j*t.m < in.first {
			return cum{}
		}
		if t.holds(j - 1) {
			return t.at(j - 1)
		}
	}
	// Older than every tier holds: clamp to the oldest boundary held.
	t := &in.tiers[len(in.tiers)-1]
	return t.at(t.newest - t.n + 1)
}

// leftEdge is the left edge of a window, worked out once per evaluation
// for every instance: the boundary step b and, per tier, the nearest bucket
// boundary j (in buckets) and the slot of bucket j−1. They depend only on
// b and the tier layout, so the lookups of each instance (evAt) divide
// nothing.
type leftEdge struct {
	b    int64
	j, s [maxTiers]int64
}

func newLeftEdge(b int64, ls []tierLayout) leftEdge {
	p := leftEdge{b: b}
	for i, l := range ls {
		t := tier{m: l.m, n: l.n}
		p.j[i] = floorDiv(b+t.m/2, t.m) // nearest boundary, in buckets
		p.s[i] = t.slot(p.j[i] - 1)
	}
	return p
}

// evAt is cumAt without the known-step counts (one cache line per
// boundary instead of two), for the newest step's sums (newErrs, newTots)
// as the right edge: the errors and events summed through the boundary
// actually used, and that boundary's step (the edge after quantisation).
// Evaluate uses it when a window ends at the newest step, where "the
// window has a known step" is "the newest known step is after the edge".
func (in *Instance) evAt(p *leftEdge, newErrs, newTots float64) (errs, tots float64, edge int64) {
	if p.b < in.first {
		return 0, 0, in.first - 1
	}
	if p.b >= in.last {
		return newErrs, newTots, in.last
	}
	for i := range in.tiers {
		t := &in.tiers[i]
		j := p.j[i]
		if j*t.m >= in.last {
			return newErrs, newTots, in.last
		}
		if j*t.m < in.first {
			return 0, 0, in.first - 1
		}
		if t.holds(j - 1) {
			errs, tots = t.sums(p.s[i])
			return errs, tots, j * t.m
		}
	}
	t := &in.tiers[len(in.tiers)-1]
	errs, tots = t.sums(t.slot(t.newest - t.n + 1))
	return errs, tots, (t.newest - t.n + 2) * t.m
}

// knownAt is evAt's count of known steps through the same boundary (the
// newest step's count, newKnown, when the boundary is at or after it): the
// budget measure needs how much of a window is known, the ratio measure
// only whether any of it is.
func (in *Instance) knownAt(p *leftEdge, newKnown uint32) uint32 {
	if p.b < in.first {
		return 0
	}
	if p.b >= in.last {
		return newKnown
	}
	for i := range in.tiers {
		t := &in.tiers[i]
		j := p.j[i]
		if j*t.m >= in.last {
			return newKnown
		}
		if j*t.m < in.first {
			return 0
		}
		if t.holds(j - 1) {
			return t.known[p.s[i]*t.w]
		}
	}
	t := &in.tiers[len(in.tiers)-1]
	return t.known[t.slot(t.newest-t.n+1)*t.w]
}

// WindowCount is what a window holds: errors and events summed over its
// steps, and how many of its steps were known.
type WindowCount struct {
	Errors, Total float64
	Known         int
}

// ErrorRatio is errors over events; 0 for known steps without traffic and
// NaN when no step of the window is known.
func (c WindowCount) ErrorRatio() float64 {
	switch {
	case c.Known == 0:
		return math.NaN()
	case c.Total <= 0:
		return 0
	}
	return c.Errors / c.Total
}

// Window sums the steps in the window of length w that ends at now
// (rounded down to a step boundary). Steps after the newest ingested one
// are unknown. Edges inside a coarse tier are quantised (see cumAt).
func (in *Instance) Window(now time.Time, w time.Duration) WindowCount {
	if in.last == 0 {
		return WindowCount{}
	}
	r := floorDiv(now.Unix(), in.step)
	return in.window(r, in.cumAt(r), w)
}

// window is Window for a right edge r whose cumulative sum is already known.
func (in *Instance) window(r int64, right cum, w time.Duration) WindowCount {
	l := r - int64(w/time.Second)/in.step
	c := right.sub(in.cumAt(l))
	// Float round-off across the prefix sums can leave tiny negatives.
	return WindowCount{Errors: max(c.errs, 0), Total: max(c.tots, 0), Known: int(int32(c.known))}
}

// NoDataFor is how long before now the newest known step ended (the time
// since the instance's first step when no step was ever known).
func (in *Instance) NoDataFor(now time.Time) time.Duration {
	if in.last == 0 {
		return 0
	}
	end := in.lastKnown
	if end == 0 {
		end = in.first - 1
	}
	d := now.Sub(time.Unix(end*in.step, 0))
	if d < 0 {
		return 0
	}
	return d
}
