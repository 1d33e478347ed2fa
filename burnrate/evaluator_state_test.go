package burnrate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

var stateSpec = &slo.Spec{ID: "svc-state", Objective: 99.5, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}

// stateOf renders everything an instance holds, slot by slot, so that two
// instances compare exactly.
func stateOf(in *Instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s first=%d last=%d known=%d\n", in.key, in.first, in.last, in.lastKnown)
	for i := range in.tiers {
		t := &in.tiers[i]
		fmt.Fprintf(&b, "tier %d newest %d:", i, t.newest)
		for s := range t.n {
			c := t.at(s)
			fmt.Fprintf(&b, " %v/%v/%d", c.errs, c.tots, c.known)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// statesOf is every instance's state by key.
func statesOf(e *Evaluator) map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]string, len(e.instances))
	for _, in := range e.instances {
		out[in.key] = stateOf(in)
	}
	return out
}

func sameStates(t *testing.T, got, want *Evaluator) {
	t.Helper()
	g, w := statesOf(got), statesOf(want)
	for k, ws := range w {
		gs, ok := g[k]
		switch {
		case !ok:
			t.Errorf("instance %s missing", k)
		case gs != ws:
			t.Errorf("instance %s differs:\n got %.300s\nwant %.300s", k, gs, ws)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("instance %s should not exist", k)
		}
	}
}

// filledState is an evaluator whose n instances hold four days of random
// integer counts with gaps, some of them without data for the last day.
func filledState(t testing.TB, n int, seed uint64) *Evaluator {
	t.Helper()
	e := mustEvaluator(t, Options{Spec: stateSpec})
	rng := rand.New(rand.NewPCG(seed, seed))
	from := evalT0.Add(-4 * 24 * time.Hour)
	var series []Series
	for i := range n {
		end := evalT0
		if i%5 == 4 {
			end = evalT0.Add(-24 * time.Hour)
		}
		steps := make([]StepCount, 0, end.Sub(from)/time.Minute)
		for ts := from.Add(time.Minute); !ts.After(end); ts = ts.Add(time.Minute) {
			if rng.IntN(20) == 0 {
				continue
			}
			errs, total := randomCount(rng)
			steps = append(steps, StepCount{End: ts, Errors: errs, Total: total})
		}
		series = append(series, Series{Labels: map[string]string{"route": fmt.Sprintf("/r%d", i), "x": `q"uote`}, Steps: steps})
	}
	if err := e.Ingest(Batch{From: from, To: evalT0, Series: series}); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestStateRoundTripEvaluatesAlike: every window of every instance — each
// policy row's long and short window, W, and windows ending in the past —
// reads the same after WriteTo and ReadFrom, the instances keep their
// order, and the restored evaluator writes the same bytes.
func TestStateRoundTripEvaluatesAlike(t *testing.T) {
	e := filledState(t, 2*blockWidth+7, 1)
	var buf bytes.Buffer
	n, err := e.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || buf.Bytes()[0] != stateVersion {
		t.Fatalf("WriteTo said %d bytes, wrote %d, first byte %d", n, buf.Len(), buf.Bytes()[0])
	}
	r := mustEvaluator(t, Options{Spec: stateSpec})
	read, err := r.ReadFrom(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if read != n || r.LastStep() != e.LastStep() || r.Len() != e.Len() {
		t.Fatalf("read %d of %d bytes; LastStep %s, want %s; %d instances, want %d", read, n, r.LastStep(), e.LastStep(), r.Len(), e.Len())
	}
	sameStates(t, r, e)
	var windows []time.Duration
	for _, row := range e.Policy().Rows {
		windows = append(windows, row.Long, row.Short)
	}
	windows = append(windows, stateSpec.Window, 7*time.Minute, 5*time.Hour, 2*24*time.Hour)
	for _, now := range []time.Time{evalT0, evalT0.Add(-13 * time.Hour), evalT0.Add(-3*24*time.Hour - 7*time.Minute), evalT0.Add(time.Hour)} {
		if a, b := fmt.Sprint(e.Evaluate(now)), fmt.Sprint(r.Evaluate(now)); a != b {
			t.Fatalf("evaluations at %s differ after restore:\n%.500s\n%.500s", now, a, b)
		}
		for _, in := range e.instances {
			rin := r.Instance(in.Labels())
			for _, w := range windows {
				if a, b := in.Window(now, w), rin.Window(now, w); a != b {
					t.Fatalf("%s: window %s at %s: %+v after restore, want %+v", in.Key(), w, now, b, a)
				}
			}
		}
	}
	again, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, buf.Bytes()) {
		t.Fatal("the restored evaluator writes other bytes")
	}
	// Both go on alike.
	for _, x := range []*Evaluator{e, r} {
		feed(t, x, map[string]string{"route": "/r3", "x": `q"uote`}, evalT0, evalT0.Add(10*time.Minute), func(time.Time) (float64, float64) { return 3, 7 })
	}
	sameStates(t, r, e)
}

// TestReadFromRefusesWhatItCannotUse: a state of another layout is
// ErrStateMismatch, every truncation and a corrupt structure are errors,
// and none of them changes the evaluator.
func TestReadFromRefusesWhatItCannotUse(t *testing.T) {
	data, err := filledState(t, 3, 2).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	other := *stateSpec
	other.Window = 28 * 24 * time.Hour
	for name, o := range map[string]Options{
		"another window": {Spec: &other},
		"another step":   {Spec: stateSpec, Step: 30 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			x := mustEvaluator(t, o)
			if _, err := x.ReadFrom(bytes.NewReader(data)); !errors.Is(err, ErrStateMismatch) {
				t.Fatalf("got %v, want ErrStateMismatch", err)
			}
		})
	}
	x := filledState(t, 1, 9)
	before, _ := x.MarshalBinary()
	unchanged := func(t *testing.T) {
		t.Helper()
		if after, _ := x.MarshalBinary(); !bytes.Equal(before, after) {
			t.Fatal("a refused state changed the evaluator")
		}
	}
	t.Run("every truncation", func(t *testing.T) {
		for n := 0; n < len(data); n += 1 + n/5 {
			_, err := x.ReadFrom(bytes.NewReader(data[:n]))
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("truncated to %d of %d bytes: %v, want an unexpected EOF", n, len(data), err)
			}
		}
		unchanged(t)
	})
	// The first group starts after the header: version, step, W, 3 tiers
	// of (m, n), LastStep.
	sr := newStreamReader(bytes.NewReader(data))
	_, _ = sr.ReadByte()
	for range 3 + 2*3 {
		sr.uvarint()
	}
	sr.varint()
	group := int(sr.n)
	for _, tc := range []struct {
		name, want string
		data       func() []byte
	}{
		{"a group wider than a block", "group of 65 instances", func() []byte {
			b := bytes.Clone(data)
			b[group] = blockWidth + 1
			return b
		}},
		{"another version", "version 9", func() []byte {
			b := bytes.Clone(data)
			b[0] = 9
			return b
		}},
		{"a label count beyond reason", "1099511627776 labels", func() []byte {
			return slices.Concat(data[:group+1], binary.AppendUvarint(nil, 1<<40), data[group+2:])
		}},
		{"a tier whose newest bucket is not the newest step's", "tier 2: newest bucket", func() []byte {
			y := filledState(t, 3, 2)
			y.instances[1].tiers[2].newest--
			b, _ := y.MarshalBinary()
			return b
		}},
		{"steps out of order", "out of order", func() []byte {
			y := filledState(t, 3, 2)
			y.instances[2].first = y.instances[2].last + 2
			b, _ := y.MarshalBinary()
			return b
		}},
		{"bytes after the end", "1 trailing bytes", func() []byte { return append(bytes.Clone(data), 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := x.UnmarshalBinary(tc.data())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			unchanged(t)
		})
	}
}

// marshalV1 is the encoding MarshalBinary wrote before WriteTo (version 1),
// kept to test that UnmarshalBinary still reads it.
func marshalV1(e *Evaluator) []byte {
	var b []byte
	b = append(b, stateVersionV1)
	b = binary.AppendUvarint(b, uint64(e.step/time.Second))
	b = binary.AppendUvarint(b, uint64(e.spec.Window/time.Second))
	b = binary.AppendUvarint(b, uint64(len(e.tiers)))
	for _, l := range e.tiers {
		b = binary.AppendVarint(b, l.m)
		b = binary.AppendVarint(b, l.n)
	}
	b = binary.AppendVarint(b, e.lastStep.UnixNano())
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
	return b
}

// TestVersion1StateStillReads: the rings of a snapshot from before the
// streamed format restore, and are written again in the new one.
func TestVersion1StateStillReads(t *testing.T) {
	e := filledState(t, blockWidth+3, 4)
	r := mustEvaluator(t, Options{Spec: stateSpec})
	if err := r.UnmarshalBinary(marshalV1(e)); err != nil {
		t.Fatal(err)
	}
	sameStates(t, r, e)
	a, _ := e.MarshalBinary()
	b, _ := r.MarshalBinary()
	if !bytes.Equal(a, b) || b[0] != stateVersion {
		t.Fatal("a version 1 state restored writes other bytes than the original")
	}
}

// TestRestoreKeepsTheOldestInstancesUnderTheCap: a state with more
// instances than MaxInstances keeps those that appeared first.
func TestRestoreKeepsTheOldestInstancesUnderTheCap(t *testing.T) {
	e := filledState(t, blockWidth+10, 5)
	data, _ := e.MarshalBinary()
	r := mustEvaluator(t, Options{Spec: stateSpec, MaxInstances: 20})
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	got := r.Evaluate(evalT0)
	if len(got) != 20 {
		t.Fatalf("%d instances restored, want 20", len(got))
	}
	for i, ie := range got {
		if want := e.instances[i].key; ie.Key != want {
			t.Fatalf("instance %d is %s, want %s", i, ie.Key, want)
		}
	}
}

// churn is a fleet of label sets that come and go: instance i has data
// from its birth to its death (steps in minutes after evalT0; the first
// ones have four days of history), with deterministic integer counts and
// a missing step now and then.
type churn struct{ born, died []int64 }

func newChurn(n int, writeAt int64) *churn {
	c := &churn{born: make([]int64, n), died: make([]int64, n)}
	for i := range n {
		c.born[i], c.died[i] = -4*24*60, math.MaxInt64
		switch {
		case i >= n-40:
			c.born[i] = writeAt - 20 + int64(i%40) // some born during the write
		case i%11 == 0:
			c.died[i] = writeAt - 4 + int64(i%5) // pruned around the write
		case i%13 == 0:
			c.died[i] = 30
		}
	}
	return c
}

// mix is splitmix64's finaliser: a cheap, well-spread hash of one word, so
// that the churn's counts look random without costing a formatted print
// per step (millions of them under -race).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *churn) count(i int, k int64) (float64, float64, bool) {
	if k <= c.born[i] || k > c.died[i] {
		return 0, 0, false
	}
	x := mix(uint64(i)<<32 ^ uint64(k))
	if x%17 == 0 {
		return 0, 0, false
	}
	total := float64(x % 1000)
	return math.Floor(total * float64(x%7) / 10), total, true
}

// batch is what a source returns at minute k: the steps (k−3, k], so the
// two before k are re-read, of every label set with data in them.
func (c *churn) batch(from, k int64) Batch {
	b := Batch{From: evalT0.Add(time.Duration(from) * time.Minute), To: evalT0.Add(time.Duration(k) * time.Minute)}
	for i := range c.born {
		var steps []StepCount
		for j := from + 1; j <= k; j++ {
			if steps == nil {
				steps = make([]StepCount, 0, k-j+1)
			}
			if errs, total, ok := c.count(i, j); ok {
				steps = append(steps, StepCount{End: evalT0.Add(time.Duration(j) * time.Minute), Errors: errs, Total: total})
			}
		}
		if len(steps) > 0 {
			b.Series = append(b.Series, Series{Labels: map[string]string{"route": fmt.Sprint("/r", i)}, Steps: steps})
		}
	}
	return b
}

// tick reads minute k as a daemon does (re-reading two steps) and prunes
// label sets without data for 3 minutes.
func (c *churn) tick(t testing.TB, e *Evaluator, k int64) {
	t.Helper()
	if err := e.Ingest(c.batch(k-3, k)); err != nil {
		t.Fatal(err)
	}
	e.Prune(evalT0.Add(time.Duration(k)*time.Minute), 3*time.Minute)
}

// TestWriteDuringTicksRestoresToAStraightRun: ticks run while WriteTo
// writes (one between every two groups), label sets appear and are pruned
// meanwhile. The state restored and synced from its LastStep is, slot by
// slot, the state of a run that never stopped.
func TestWriteDuringTicksRestoresToAStraightRun(t *testing.T) {
	const n, writeAt, end = 5*blockWidth + 9, 60, 80
	c := newChurn(n, writeAt)
	run := func(e *Evaluator, to int64) {
		if err := e.Ingest(c.batch(-4*24*60, 0)); err != nil {
			t.Fatal(err)
		}
		for k := int64(1); k <= to; k++ {
			c.tick(t, e, k)
		}
	}
	straight := mustEvaluator(t, Options{Spec: stateSpec})
	run(straight, end)

	live := mustEvaluator(t, Options{Spec: stateSpec})
	run(live, writeAt)
	start := live.LastStep()
	before := live.Len()
	k := int64(writeAt)
	var file bytes.Buffer
	w := &hookWriter{w: &file, hook: func() { k++; c.tick(t, live, k) }}
	if _, err := live.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if k < writeAt+5 {
		t.Fatalf("only %d ticks ran during the write", k-writeAt)
	}
	t.Logf("%d ticks during the write; %d instances before, %d after", k-writeAt, before, live.Len())

	restored := mustEvaluator(t, Options{Spec: stateSpec})
	if _, err := restored.ReadFrom(&file); err != nil {
		t.Fatal(err)
	}
	if !restored.LastStep().Equal(start) {
		t.Fatalf("restored LastStep %s, want %s, the value when the write started", restored.LastStep(), start)
	}
	for k := int64(writeAt + 1); k <= end; k++ {
		c.tick(t, restored, k)
	}
	sameStates(t, restored, straight)
	if a, b := fmt.Sprint(sortedEvaluations(straight, evalT0.Add(end*time.Minute))), fmt.Sprint(sortedEvaluations(restored, evalT0.Add(end*time.Minute))); a != b {
		t.Fatal("the restored run evaluates differently")
	}
}

func sortedEvaluations(e *Evaluator, now time.Time) []InstanceEvaluation {
	evs := e.Evaluate(now)
	sort.Slice(evs, func(i, j int) bool { return evs[i].Key < evs[j].Key })
	return evs
}

// hookWriter calls hook before every write but the first (the header).
type hookWriter struct {
	w      io.Writer
	hook   func()
	writes int
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if h.writes > 0 {
		h.hook()
	}
	h.writes++
	return h.w.Write(p)
}

// TestWriteToAllocatesAGroupNotTheState: writing 400 instances (12 MB
// of rings) allocates about one group's encoding (a group is 64 of them;
// the race detector's instrumentation about doubles it), never the state.
func TestWriteToAllocatesAGroupNotTheState(t *testing.T) {
	e := filledState(t, 400, 6)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := e.WriteTo(io.Discard)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	group := uint64(n) / 400 * blockWidth
	if alloc > 3*group {
		t.Fatalf("WriteTo of %d bytes allocated %d bytes, want about one group (%d)", n, alloc, group)
	}
	t.Logf("wrote %d bytes, allocated %d", n, alloc)
}

// FuzzReadFrom: no input panics; a refused one leaves the evaluator as it
// was; an accepted one writes what it read, evaluates and keeps ingesting.
func FuzzReadFrom(f *testing.F) {
	// A 6h step keeps rings, and so the seeds, small.
	spec := &slo.Spec{ID: "svc-fuzz", Objective: 99, Window: 7 * 24 * time.Hour, GroupBy: []string{"route"}}
	o := Options{Spec: spec, Step: 6 * time.Hour, MaxInstances: 4}
	seed := mustEvaluator(f, o)
	var steps []StepCount
	for k := 1; k <= 40; k++ {
		steps = append(steps, StepCount{End: evalT0.Add(time.Duration(k) * 6 * time.Hour), Errors: float64(k % 3), Total: 10})
	}
	to := evalT0.Add(40 * 6 * time.Hour)
	if err := seed.Ingest(Batch{From: evalT0, To: to, Series: []Series{
		{Labels: map[string]string{"route": "/a"}, Steps: steps},
		{Labels: map[string]string{"route": "/b"}, Steps: steps[30:]},
	}}); err != nil {
		f.Fatal(err)
	}
	data, _ := seed.MarshalBinary()
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := mustEvaluator(t, o)
		if err := e.Ingest(Batch{From: evalT0, To: evalT0.Add(6 * time.Hour), Series: []Series{{Labels: map[string]string{"route": "/z"},
			Steps: []StepCount{{End: evalT0.Add(6 * time.Hour), Errors: 1, Total: 2}}}}}); err != nil {
			t.Fatal(err)
		}
		before, _ := e.MarshalBinary()
		if _, err := e.ReadFrom(bytes.NewReader(data)); err != nil {
			if after, _ := e.MarshalBinary(); !bytes.Equal(before, after) {
				t.Fatalf("refused state (%v) changed the evaluator", err)
			}
			return
		}
		again, _ := e.MarshalBinary()
		back := mustEvaluator(t, o)
		if err := back.UnmarshalBinary(again); err != nil {
			t.Fatalf("an accepted state does not read back: %v", err)
		}
		e.Evaluate(to)
		_ = e.Ingest(Batch{From: to, To: to.Add(6 * time.Hour), Series: []Series{{Labels: map[string]string{"route": "/a"},
			Steps: []StepCount{{End: to.Add(6 * time.Hour), Errors: 1, Total: 2}}}}})
		e.Evaluate(to.Add(6 * time.Hour))
	})
}

// TestCopyFromCopiesTheState: a copy holds every instance slot for slot,
// in order, and the two go on independently; another layout is refused.
func TestCopyFromCopiesTheState(t *testing.T) {
	e := filledState(t, blockWidth+5, 7)
	c := mustEvaluator(t, Options{Spec: stateSpec})
	if err := c.CopyFrom(e); err != nil {
		t.Fatal(err)
	}
	sameStates(t, c, e)
	a, _ := e.MarshalBinary()
	if b, _ := c.MarshalBinary(); !bytes.Equal(a, b) {
		t.Fatal("the copy writes other bytes")
	}
	feed(t, c, map[string]string{"route": "/r1", "x": `q"uote`}, evalT0, evalT0.Add(10*time.Minute), func(time.Time) (float64, float64) { return 3, 7 })
	if again, _ := e.MarshalBinary(); !bytes.Equal(a, again) {
		t.Fatal("ingesting into the copy changed the original")
	}
	other := *stateSpec
	other.Window = 7 * 24 * time.Hour
	if err := mustEvaluator(t, Options{Spec: &other}).CopyFrom(e); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("got %v, want ErrStateMismatch", err)
	}
}
