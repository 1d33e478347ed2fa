package burnrate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// stateVersion is the first byte of MarshalBinary's output; bump it when
// the encoding changes.
const stateVersion byte = 1

// ErrStateMismatch is returned by UnmarshalBinary when the snapshot was
// written for another step, SLO window or tier layout; the caller should
// start empty and backfill.
var ErrStateMismatch = errors.New("evaluator state was written for another step, window or tier layout")

// MarshalBinary encodes every instance's ring buffers, first, newest and
// newest known step, and LastStep, behind a version byte, for the daemon's
// snapshots.
func (e *Evaluator) MarshalBinary() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b []byte
	b = append(b, stateVersion)
	b = binary.AppendUvarint(b, uint64(e.step/time.Second))
	b = binary.AppendUvarint(b, uint64(e.spec.Window/time.Second))
	b = binary.AppendUvarint(b, uint64(len(e.tiers)))
	for _, l := range e.tiers {
		b = binary.AppendVarint(b, l.m)
		b = binary.AppendVarint(b, l.n)
	}
	var last int64
	if !e.lastStep.IsZero() {
		last = e.lastStep.UnixNano()
	}
	b = binary.AppendVarint(b, last)
	b = binary.AppendUvarint(b, uint64(len(e.instances)))
	for _, in := range e.instances {
		names := make([]string, 0, len(in.labels))
		for n := range in.labels {
			names = append(names, n)
		}
		sort.Strings(names)
		b = binary.AppendUvarint(b, uint64(len(names)))
		for _, n := range names {
			b = appendString(b, n)
			b = appendString(b, in.labels[n])
		}
		b = binary.AppendVarint(b, in.first)
		b = binary.AppendVarint(b, in.last)
		b = binary.AppendVarint(b, in.lastKnown)
		for i := range in.tiers {
			t := &in.tiers[i]
			b = binary.AppendVarint(b, t.newest)
			for s := range t.n {
				errs, tots := t.sums(s)
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(errs))
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(tots))
			}
			for s := range t.n {
				b = binary.LittleEndian.AppendUint32(b, t.known[s*t.w])
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// UnmarshalBinary replaces the evaluator's instances with those of a
// snapshot written by MarshalBinary for the same step and SLO window. It
// returns ErrStateMismatch (wrapped) when the layout differs, and leaves the
// evaluator unchanged on any error. Instances beyond MaxInstances are dropped.
func (e *Evaluator) UnmarshalBinary(data []byte) error {
	r := &stateReader{r: bytes.NewReader(data)}
	if v := r.byte(); r.err == nil && v != stateVersion {
		return fmt.Errorf("evaluator state version %d, want %d", v, stateVersion)
	}
	step, window, ntiers := r.uvarint(), r.uvarint(), r.uvarint()
	if r.err != nil {
		return fmt.Errorf("evaluator state: %w", r.err)
	}
	if time.Duration(step)*time.Second != e.step || time.Duration(window)*time.Second != e.spec.Window || int(ntiers) != len(e.tiers) {
		return fmt.Errorf("slo %q: %w", e.spec.ID, ErrStateMismatch)
	}
	for _, l := range e.tiers {
		if m, n := r.varint(), r.varint(); m != l.m || n != l.n {
			return fmt.Errorf("slo %q: %w", e.spec.ID, ErrStateMismatch)
		}
	}
	var lastStep time.Time
	if ns := r.varint(); ns != 0 {
		lastStep = time.Unix(0, ns).UTC()
	}
	count := r.uvarint()
	// Every instance carries its rings: refuse a count the data cannot
	// hold before allocating anything for it.
	ringBytes := 0
	for _, l := range e.tiers {
		ringBytes += int(l.n) * (8 + 8 + 4)
	}
	if r.err != nil || count > uint64(r.r.Len()/ringBytes) {
		return fmt.Errorf("evaluator state: bad instance count: %w", errors.Join(r.err, errTruncated))
	}
	var (
		instances []*Instance
		index     = make(map[string]int)
		// Storage for the instances the cap admits, in shared blocks.
		fresh = allocInstances(int(min(count, uint64(e.max))), e.step, e.tiers)
	)
	for i := uint64(0); i < count && r.err == nil; i++ {
		nl := r.uvarint()
		if nl > uint64(r.r.Len()) {
			r.err = errTruncated
			break
		}
		labels := make(map[string]string, nl)
		for j := uint64(0); j < nl; j++ {
			n := r.string()
			labels[n] = r.string()
		}
		key := LabelsKey(labels)
		// A duplicate or an instance over the cap is read and dropped:
		// the next one overwrites it (every field and slot is read).
		var in *Instance
		if len(instances) < len(fresh) {
			in = fresh[len(instances)]
		} else {
			in = allocInstances(1, e.step, e.tiers)[0]
		}
		in.labels, in.key = labels, key
		in.first, in.last, in.lastKnown = r.varint(), r.varint(), r.varint()
		for ti := range in.tiers {
			t := &in.tiers[ti]
			t.newest = r.varint()
			for s := range t.n {
				j := 2 * s * t.w
				t.ev[j] = math.Float64frombits(r.uint64())
				t.ev[j+1] = math.Float64frombits(r.uint64())
			}
			for s := range t.n {
				t.known[s*t.w] = r.uint32()
			}
		}
		if r.err == nil {
			if err := in.check(); err != nil {
				r.fail(fmt.Errorf("instance %s: %w", key, err))
			}
		}
		if _, dup := index[key]; dup || len(instances) >= e.max {
			continue
		}
		index[key] = len(instances)
		instances = append(instances, in)
	}
	if r.err != nil {
		return fmt.Errorf("evaluator state: %w", r.err)
	}
	if r.r.Len() != 0 {
		return fmt.Errorf("evaluator state: %d trailing bytes", r.r.Len())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.instances, e.index, e.lastStep = instances, index, lastStep
	e.free = nil // the old instances' storage goes with them
	return nil
}

var errTruncated = errors.New("truncated")

// maxStep bounds step numbers in a snapshot: Unix seconds of the year 10000
// at a 1s step. Anything beyond is corruption, not history.
const maxStep = 253402300800

// check verifies the invariants a restored instance must hold, so that a
// corrupt snapshot is refused instead of making later ingests misbehave.
func (in *Instance) check() error {
	if in.last == 0 {
		if in.first != 0 || in.lastKnown != 0 {
			return errors.New("empty instance with steps")
		}
		return nil
	}
	if in.first <= 0 || in.first > in.last+1 || in.last > maxStep {
		return fmt.Errorf("steps %d..%d out of order or range", in.first, in.last)
	}
	if in.lastKnown != 0 && (in.lastKnown > in.last || in.lastKnown < in.first-1) {
		return fmt.Errorf("newest known step %d outside %d..%d", in.lastKnown, in.first, in.last)
	}
	for i := range in.tiers {
		t := &in.tiers[i]
		if t.newest != t.bucket(in.last) {
			return fmt.Errorf("tier %d: newest bucket %d, want %d", i, t.newest, t.bucket(in.last))
		}
	}
	return nil
}

// stateReader reads the encoding, remembering the first error.
type stateReader struct {
	r   *bytes.Reader
	err error
}

func (s *stateReader) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

func (s *stateReader) byte() byte {
	if s.err != nil {
		return 0
	}
	c, err := s.r.ReadByte()
	if err != nil {
		s.fail(errTruncated)
	}
	return c
}

func (s *stateReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(s.r)
	if err != nil {
		s.fail(errTruncated)
	}
	return v
}

func (s *stateReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(s.r)
	if err != nil {
		s.fail(errTruncated)
	}
	return v
}

func (s *stateReader) uint64() uint64 {
	var b [8]byte
	if s.err != nil {
		return 0
	}
	if n, err := s.r.Read(b[:]); err != nil || n != 8 {
		s.fail(errTruncated)
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (s *stateReader) uint32() uint32 {
	var b [4]byte
	if s.err != nil {
		return 0
	}
	if n, err := s.r.Read(b[:]); err != nil || n != 4 {
		s.fail(errTruncated)
		return 0
	}
	return binary.LittleEndian.Uint32(b[:])
}

func (s *stateReader) string() string {
	n := s.uvarint()
	if s.err != nil {
		return ""
	}
	if n > uint64(s.r.Len()) {
		s.fail(errTruncated)
		return ""
	}
	b := make([]byte, n)
	_, _ = s.r.Read(b)
	return string(b)
}
