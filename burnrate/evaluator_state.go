package burnrate

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"time"
)

// stateVersion is the first byte of the state WriteTo writes (and
// MarshalBinary returns); bump it when the encoding changes.
const stateVersion byte = 2

// ErrStateMismatch is returned by ReadFrom and UnmarshalBinary when the
// state was written for another step, SLO window or tier layout; the caller
// should start empty and backfill.
var ErrStateMismatch = errors.New("evaluator state was written for another step, window or tier layout")

var errTruncated = errors.New("truncated")

// Bounds on what a state may claim, so that a corrupt one is refused before
// it makes ReadFrom allocate much.
const (
	maxStateLabels    = 1 << 10 // label pairs of one instance
	maxStateStringLen = 1 << 20 // bytes of one label name or value
)

// WriteTo streams the state of every instance — labels, first, newest and
// newest known step, and the rings — behind a version byte, the step, W,
// the tier layout and LastStep, for the daemon's snapshots. It writes
// instances in groups of up to blockWidth, taking the evaluator's lock for
// one group at a time and writing outside it, so an Ingest may run between
// two groups, and it allocates one group's encoding (about 2 MB at W = 30d)
// whatever the number of instances.
//
// The state written is therefore fuzzy: every instance is whole and as of
// some Ingest, but later groups may hold steps newer than earlier ones. The
// LastStep it records is the one at the start of the write, so a reader
// re-reads every step after it (ReadFrom, then a sync from LastStep): Ingest
// sets slots, so the steps a group already holds are set again to the same
// values, and the result is the state a straight run would have. Instances
// are written from the newest to the oldest, so that one Prune moves (the
// newest into a removed one's place, see Prune) never skips an instance
// that lived through the write; an instance created during the write may be
// left out, and its steps, all after LastStep, are read again too. An
// instance may appear twice; ReadFrom keeps the first.
func (e *Evaluator) WriteTo(w io.Writer) (int64, error) {
	var (
		n   int64
		buf []byte
	)
	e.mu.Lock()
	buf = append(buf, stateVersion)
	buf = binary.AppendUvarint(buf, uint64(e.step/time.Second))
	buf = binary.AppendUvarint(buf, uint64(e.spec.Window/time.Second))
	buf = binary.AppendUvarint(buf, uint64(len(e.tiers)))
	for _, l := range e.tiers {
		buf = binary.AppendVarint(buf, l.m)
		buf = binary.AppendVarint(buf, l.n)
	}
	var last int64
	if !e.lastStep.IsZero() {
		last = e.lastStep.UnixNano()
	}
	buf = binary.AppendVarint(buf, last)
	// Instances below c are still to write. Prune moves the newest instance
	// into the place of a removed one: while c ≤ that place the moved one is
	// still to write; otherwise it was written already.
	c := len(e.instances)
	e.mu.Unlock()
	m, err := w.Write(buf)
	n += int64(m)
	group := make([]*Instance, 0, blockWidth)
	for c > 0 && err == nil {
		e.mu.Lock()
		c = min(c, len(e.instances))
		lo := max(0, c-blockWidth)
		group = group[:0]
		for i := c - 1; i >= lo; i-- {
			group = append(group, e.instances[i])
		}
		buf = appendGroup(buf[:0], group)
		e.mu.Unlock()
		clear(group)
		c = lo
		m, err = w.Write(buf)
		n += int64(m)
	}
	if err != nil {
		return n, err
	}
	m, err = w.Write([]byte{0}) // a group of no instances ends the state
	return n + int64(m), err
}

// appendGroup encodes a group of instances (callers hold e.mu): the
// group's size, each instance's labels and steps, then, tier by tier, slot
// s of every instance of the group side by side, as allocInstances lays
// them out, so that both ends walk memory in order.
func appendGroup(b []byte, group []*Instance) []byte {
	if len(group) == 0 {
		return b
	}
	// One allocation for the group: its rings and headers of a few labels.
	size := 0
	for i := range group[0].tiers {
		size += int(group[0].tiers[i].n) * 20 * len(group)
	}
	b = slices.Grow(b, size+len(group)*256)
	b = binary.AppendUvarint(b, uint64(len(group)))
	var names []string
	for _, in := range group {
		names = names[:0]
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
			b = binary.AppendVarint(b, in.tiers[i].newest)
		}
	}
	w := int64(len(group))
	b = slices.Grow(b, size)
	for ti := range group[0].tiers {
		n := group[0].tiers[ti].n
		at := len(b)
		b = b[:at+int(n*w*20)]
		p := b[at:]
		for s := range n {
			for _, in := range group {
				errs, tots := in.tiers[ti].sums(s)
				binary.LittleEndian.PutUint64(p, math.Float64bits(errs))
				binary.LittleEndian.PutUint64(p[8:], math.Float64bits(tots))
				p = p[16:]
			}
		}
		for s := range n {
			for _, in := range group {
				t := &in.tiers[ti]
				binary.LittleEndian.PutUint32(p, t.known[s*t.w])
				p = p[4:]
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// ReadFrom replaces the evaluator's instances and LastStep with a state
// written by WriteTo for the same step, SLO window and tier layout, reading
// it as a stream: it allocates the restored rings and a buffer, never a
// copy of the state. It reads exactly what WriteTo wrote when r is an
// io.ByteReader (a bufio.Reader, a bytes.Reader), and buffers r otherwise.
// It returns ErrStateMismatch (wrapped) when the layout differs, and an
// error for a truncated or corrupt state; on any error the evaluator is
// left as it was. Instances beyond MaxInstances are dropped, the oldest
// kept.
func (e *Evaluator) ReadFrom(r io.Reader) (int64, error) {
	sr := newStreamReader(r)
	st, err := e.readState(sr)
	if err != nil {
		return sr.n, fmt.Errorf("evaluator state: %w", err)
	}
	e.install(st)
	return sr.n, nil
}

// readState is a state read, not yet installed.
type readState struct {
	instances []*Instance
	index     map[string]int
	lastStep  time.Time
	// spare are instances read and dropped (duplicates, over the cap),
	// whose storage new label sets take first.
	spare []*Instance
}

func (e *Evaluator) install(st *readState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.instances, e.index, e.lastStep = st.instances, st.index, st.lastStep
	e.free = st.spare // the old instances' storage goes with them
}

func (e *Evaluator) readState(sr *streamReader) (*readState, error) {
	v, err := sr.ReadByte()
	if err != nil {
		return nil, sr.fail(err)
	}
	if v != stateVersion {
		return nil, fmt.Errorf("version %d, want %d", v, stateVersion)
	}
	step, window, ntiers := sr.uvarint(), sr.uvarint(), sr.uvarint()
	if sr.err != nil {
		return nil, sr.err
	}
	if time.Duration(step)*time.Second != e.step || time.Duration(window)*time.Second != e.spec.Window || ntiers != uint64(len(e.tiers)) {
		return nil, fmt.Errorf("slo %q: %w", e.spec.ID, ErrStateMismatch)
	}
	for _, l := range e.tiers {
		if m, n := sr.varint(), sr.varint(); sr.err == nil && (m != l.m || n != l.n) {
			return nil, fmt.Errorf("slo %q: %w", e.spec.ID, ErrStateMismatch)
		}
	}
	st := &readState{index: make(map[string]int)}
	if ns := sr.varint(); ns != 0 {
		st.lastStep = time.Unix(0, ns).UTC()
	}
	var scratch []byte
	for sr.err == nil {
		w := sr.uvarint()
		if sr.err != nil || w == 0 {
			break
		}
		if w > blockWidth {
			return nil, fmt.Errorf("group of %d instances, at most %d", w, blockWidth)
		}
		group := allocInstances(int(w), e.step, e.tiers)
		for _, in := range group {
			nl := sr.uvarint()
			if nl > maxStateLabels {
				return nil, fmt.Errorf("%d labels", nl)
			}
			in.labels = make(map[string]string, nl)
			for range nl {
				name := sr.string()
				in.labels[name] = sr.string()
			}
			in.first, in.last, in.lastKnown = sr.varint(), sr.varint(), sr.varint()
			for i := range in.tiers {
				in.tiers[i].newest = sr.varint()
			}
		}
		// The rings, slot-major, straight into the group's shared storage
		// (the first instance's slices span the whole block).
		for ti := range e.tiers {
			t0 := &group[0].tiers[ti]
			scratch = sr.floats(scratch, t0.ev)
			scratch = sr.uint32s(scratch, t0.known)
		}
		if sr.err != nil {
			break
		}
		for _, in := range group {
			in.key = LabelsKey(in.labels)
			if err := in.check(); err != nil {
				return nil, fmt.Errorf("instance %s: %w", in.key, err)
			}
			if _, dup := st.index[in.key]; dup {
				// Written twice by a fuzzy write: keep the first.
				in.recycle()
				st.spare = append(st.spare, in)
				continue
			}
			st.index[in.key] = len(st.instances)
			st.instances = append(st.instances, in)
		}
	}
	if sr.err != nil {
		return nil, sr.err
	}
	// Written newest first: back to the order the instances appeared in,
	// keeping the oldest when there are more than the cap.
	slices.Reverse(st.instances)
	if len(st.instances) > e.max {
		for _, in := range st.instances[e.max:] {
			delete(st.index, in.key)
			in.recycle()
			st.spare = append(st.spare, in)
		}
		clear(st.instances[e.max:])
		st.instances = st.instances[:e.max]
	}
	for i, in := range st.instances {
		st.index[in.key] = i
	}
	return st, nil
}

// MarshalBinary returns what WriteTo writes. It holds the whole state in
// memory: use WriteTo for snapshots of large evaluators.
func (e *Evaluator) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	if _, err := e.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalBinary is ReadFrom for a state held in memory, which must hold
// nothing after it. It also reads version 1, which MarshalBinary wrote
// before WriteTo existed.
func (e *Evaluator) UnmarshalBinary(data []byte) error {
	if len(data) > 0 && data[0] == stateVersionV1 {
		return e.unmarshalV1(data)
	}
	r := bytes.NewReader(data)
	st, err := e.readState(newStreamReader(r))
	if err != nil {
		return fmt.Errorf("evaluator state: %w", err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("evaluator state: %d trailing bytes", r.Len())
	}
	e.install(st)
	return nil
}

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

// byteReader is what streamReader reads from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// streamReader reads WriteTo's encoding from a stream, counting bytes and
// remembering the first error. End of input inside the state is
// errTruncated (wrapping io.ErrUnexpectedEOF); other read errors are
// wrapped as they are, so a caller can tell its own (a checksum) apart.
type streamReader struct {
	r   byteReader
	n   int64
	err error
}

func newStreamReader(r io.Reader) *streamReader {
	br, ok := r.(byteReader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	return &streamReader{r: br}
}

func (s *streamReader) fail(err error) error {
	if s.err == nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w (%w)", errTruncated, io.ErrUnexpectedEOF)
		}
		s.err = err
	}
	return s.err
}

func (s *streamReader) ReadByte() (byte, error) {
	c, err := s.r.ReadByte()
	if err == nil {
		s.n++
	}
	return c, err
}

func (s *streamReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(s)
	if err != nil {
		s.fail(err)
	}
	return v
}

func (s *streamReader) varint() int64 {
	if s.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(s)
	if err != nil {
		s.fail(err)
	}
	return v
}

func (s *streamReader) full(p []byte) {
	if s.err != nil {
		return
	}
	n, err := io.ReadFull(s.r, p)
	s.n += int64(n)
	if err != nil {
		s.fail(err)
	}
}

func (s *streamReader) string() string {
	n := s.uvarint()
	if s.err != nil {
		return ""
	}
	if n > maxStateStringLen {
		s.fail(fmt.Errorf("string of %d bytes", n))
		return ""
	}
	b := make([]byte, n)
	s.full(b)
	return string(b)
}

// chunk is how many bytes of rings read and decode at once.
const chunk = 32 << 10

// floats fills dst with little-endian float64s, through scratch.
func (s *streamReader) floats(scratch []byte, dst []float64) []byte {
	if cap(scratch) < chunk {
		scratch = make([]byte, chunk)
	}
	for len(dst) > 0 && s.err == nil {
		k := min(len(dst), chunk/8)
		p := scratch[:8*k]
		s.full(p)
		for i := range k {
			dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:]))
		}
		dst = dst[k:]
	}
	return scratch
}

// uint32s fills dst with little-endian uint32s, through scratch.
func (s *streamReader) uint32s(scratch []byte, dst []uint32) []byte {
	if cap(scratch) < chunk {
		scratch = make([]byte, chunk)
	}
	for len(dst) > 0 && s.err == nil {
		k := min(len(dst), chunk/4)
		p := scratch[:4*k]
		s.full(p)
		for i := range k {
			dst[i] = binary.LittleEndian.Uint32(p[4*i:])
		}
		dst = dst[k:]
	}
	return scratch
}

// CopyFrom replaces e's instances and LastStep with a copy of src's, for
// an evaluator rebuilt with the same step and W (a reload that keeps the
// counts): the rings are copied slot by slot into new shared blocks, with
// no encoding in between, under src's lock. It returns ErrStateMismatch
// (wrapped) when the layouts differ. Instances beyond e's MaxInstances are
// left out, the oldest kept.
func (e *Evaluator) CopyFrom(src *Evaluator) error {
	if src.step != e.step || src.spec.Window != e.spec.Window || !slices.Equal(src.tiers, e.tiers) {
		return fmt.Errorf("slo %q: %w", e.spec.ID, ErrStateMismatch)
	}
	src.mu.Lock()
	n := min(len(src.instances), e.max)
	st := &readState{instances: allocInstances(n, e.step, e.tiers), index: make(map[string]int, n), lastStep: src.lastStep}
	for i, in := range src.instances[:n] {
		to := st.instances[i]
		// Labels are never modified: the copy shares the map.
		to.labels, to.key = in.labels, in.key
		to.first, to.last, to.lastKnown = in.first, in.last, in.lastKnown
		for ti := range in.tiers {
			from, dst := &in.tiers[ti], &to.tiers[ti]
			dst.newest = from.newest
			for s := range from.n {
				dst.put(s, from.at(s))
			}
		}
		st.index[in.key] = i
	}
	src.mu.Unlock()
	e.install(st)
	return nil
}
