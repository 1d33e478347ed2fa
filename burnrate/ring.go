package burnrate

// A tier is one ring of cumulative sums at a resolution of m steps per
// bucket. Bucket b holds the steps b×m+1 … b×m+m (step k is the interval
// that ends at k × step), so bucket boundaries fall on wall-clock multiples
// of the tier's resolution.
//
// Slot b mod n stores, for bucket b, the errors, events and known steps
// summed over every step from the instance's first step up to the end of
// bucket b — or up to the newest step for the newest, partial bucket. A sum
// over the steps (L, R] is then cum(R) − cum(L): O(1) for any window, as
// long as both boundaries are held. The ring holds buckets
// newest−n+1 … newest.
type tier struct {
	m      int64 // steps per bucket
	n      int64 // buckets held
	newest int64 // newest bucket held
	// w is how many instances share the tier's storage (see allocInstances):
	// slot s of this instance is known[s×w], and its errors and events sit
	// side by side at ev[2s×w] and ev[2s×w+1], so that reading a boundary
	// touches one cache line for both, and the same slot of the next
	// instances of the block follows in the same line.
	w     int64
	ev    []float64
	known []uint32
}

// cum is a cumulative (errors, events, known steps) triple.
type cum struct {
	errs, tots float64
	known      uint32
}

func (c cum) sub(o cum) cum {
	return cum{errs: c.errs - o.errs, tots: c.tots - o.tots, known: c.known - o.known}
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// bucket is the bucket that holds step k.
func (t *tier) bucket(k int64) int64 { return floorDiv(k-1, t.m) }

func (t *tier) slot(b int64) int64 {
	s := b % t.n
	if s < 0 {
		s += t.n
	}
	return s
}

// sums is the errors and events of slot s.
func (t *tier) sums(s int64) (errs, tots float64) {
	i := 2 * s * t.w
	return t.ev[i], t.ev[i+1]
}

func (t *tier) at(b int64) cum {
	s := t.slot(b)
	errs, tots := t.sums(s)
	return cum{errs: errs, tots: tots, known: t.known[s*t.w]}
}

// put overwrites slot s.
func (t *tier) put(s int64, c cum) {
	i := s * t.w
	t.ev[2*i], t.ev[2*i+1], t.known[i] = c.errs, c.tots, c.known
}

// clear zeroes every slot of this instance (not of the others sharing the storage).
func (t *tier) clear() {
	for s := range t.n {
		t.put(s, cum{})
	}
}

func (t *tier) holds(b int64) bool { return b <= t.newest && b > t.newest-t.n }

// advance makes bucket b the newest, carrying the newest sums forward over
// the buckets in between (steps that were never ingested add nothing).
func (t *tier) advance(b int64) {
	if b <= t.newest {
		return
	}
	c := t.at(t.newest)
	from := t.newest + 1
	if b-t.newest > t.n {
		from = b - t.n + 1
	}
	for i := from; i <= b; i++ {
		t.put(t.slot(i), c)
	}
	t.newest = b
}

// add adds d to the cumulative sums of bucket b and of every newer bucket.
func (t *tier) add(b int64, d cum) {
	if lo := t.newest - t.n + 1; b < lo {
		b = lo
	}
	for i := b; i <= t.newest; i++ {
		j := t.slot(i) * t.w
		t.ev[2*j] += d.errs
		t.ev[2*j+1] += d.tots
		t.known[j] += d.known
	}
}

// tierLayout describes one tier: its resolution in steps and the buckets it holds.
type tierLayout struct {
	m, n int64
}
