package burnrate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// stateVersionV1 is the first byte of the encoding MarshalBinary wrote
// before the streamed format: every instance's rings instance by instance,
// behind an instance count. Snapshots of that format (the daemon's JSON
// state, format 1) are still read, once, and written again in the new one.
const stateVersionV1 byte = 1

// unmarshalV1 is UnmarshalBinary for the version 1 encoding.
func (e *Evaluator) unmarshalV1(data []byte) error {
	r := &stateReader{r: bytes.NewReader(data)}
	if v := r.byte(); r.err == nil && v != stateVersionV1 {
		return fmt.Errorf("evaluator state version %d, want %d", v, stateVersionV1)
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

// stateReader reads the version 1 encoding, remembering the first error.
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
