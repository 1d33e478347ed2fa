package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLegacySnapshotIsReadOnceAndConverted: a state directory left by slod
// before format 2 (testdata/legacy-state: a JSON snapshot that version
// wrote during the checkout outage) restores its rings and its open
// incident, is written again as the two new files and removed; the next
// start reads the new files (and removes, unread, a legacy file beside them).
func TestLegacySnapshotIsReadOnceAndConverted(t *testing.T) {
	const id = "checkout-availability"
	state := t.TempDir()
	gz, err := os.Open(filepath.Join("testdata", "legacy-state", "slod-state.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, LegacyStateFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	slos := filepath.Join("testdata", "legacy-state", "slos")
	at := demoStart.Add(2*time.Minute + 30*time.Second) // when the old slod stopped
	for run := range 2 {
		if run == 1 {
			// A legacy file beside format 2 files is what a conversion
			// that stopped before removing it leaves: it is older than
			// them, so it is removed unread (a damaged one would show).
			if err := os.WriteFile(filepath.Join(state, LegacyStateFile), data[:len(data)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		h := newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos }, nil)
		if _, err := os.Stat(filepath.Join(state, LegacyStateFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run %d: the legacy snapshot is still there (%v)", run, err)
		}
		if run == 0 {
			for _, f := range []string{StateFile, IncidentsFile} {
				if _, err := os.Stat(filepath.Join(state, f)); err != nil {
					t.Errorf("conversion wrote no %s: %v", f, err)
				}
			}
		}
		inc, ok := findIncident(h.d.eng.Open(), id)
		if !ok || !inc.Start.Equal(demoStart.Add(110*time.Second)) {
			t.Fatalf("run %d: open incident %+v (found %v), want the one opened at +1m50s", run, inc, ok)
		}
		if h.d.stateDamage != "" {
			t.Fatalf("run %d: %s", run, h.d.stateDamage)
		}
		at = at.Add(10 * time.Second)
		h.clock.Set(at)
		h.runTo(at)
		// Restored rings: the tick reads the gap, not 30 days.
		if steps := h.d.eng.Stats().Steps; steps > 2*(20+3) {
			t.Fatalf("run %d read %d steps: the rings were not restored", run, steps)
		}
		if got := metricValue(t, h.d.m.changes.WithLabelValues("opened")); got != 0 {
			t.Errorf("run %d opened %v incidents again", run, got)
		}
		if err := h.d.saveState(h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		_ = h.d.dispatcher.Close()
	}
}

// checkpointBytes is the ring checkpoint of the demo after its first tick.
func checkpointBytes(t *testing.T) (*harness, []byte) {
	t.Helper()
	dir := t.TempDir()
	h := newDemoDaemon(t, dir, nil, nil)
	h.runTo(demoStart)
	if err := h.d.saveState(demoStart); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	return h, data
}

// frames returns the offsets where the frames of a ring checkpoint start,
// and the end of the file.
func frames(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := len(stateMagic); off < len(data); {
		offs = append(offs, off)
		n, k := binary.Uvarint(data[off+1:])
		if k <= 0 {
			t.Fatalf("no frame length at %d", off)
		}
		off += 1 + k + int(n) + 4
	}
	return append(offs, len(data))
}

// TestDamageAnywhereInTheRingsIsAnError: a ring checkpoint cut anywhere,
// with a byte changed anywhere, or with a frame lost, repeated or swapped
// is refused with an error wrapping errDamaged — never a panic, never rings
// read as if nothing happened.
func TestDamageAnywhereInTheRingsIsAnError(t *testing.T) {
	h, data := checkpointBytes(t)
	offs := frames(t, data)
	if len(offs) < 20 {
		t.Fatalf("only %d frames", len(offs))
	}
	var kinds []byte
	for _, o := range offs[:len(offs)-1] {
		kinds = append(kinds, data[o])
	}
	dataFrame := bytes.IndexByte(kinds, frameData)
	cut := func(b []byte, i int) []byte { return slices.Concat(b[:offs[i]], b[offs[i+1]:]) }
	cases := map[string][]byte{
		"empty":                                 {},
		"a data frame lost":                     cut(data, dataFrame),
		"a data frame repeated":                 slices.Concat(data[:offs[dataFrame+1]], data[offs[dataFrame]:]),
		"two data frames swapped":               slices.Concat(data[:offs[dataFrame]], data[offs[dataFrame+1]:offs[dataFrame+2]], data[offs[dataFrame]:offs[dataFrame+1]], data[offs[dataFrame+2]:]),
		"the end frame lost":                    data[:offs[len(offs)-2]],
		"a byte after the end":                  slices.Concat(data, []byte{0}),
		"another format's magic":                slices.Concat([]byte("slod state v3\n"), data[len(stateMagic):]),
		"an slo's end frame where data belongs": cut(data, bytes.IndexByte(kinds, frameEnd)-1),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 150 {
		n := rng.IntN(len(data))
		cases[fmt.Sprintf("cut to %d bytes", n)] = data[:n]
		i := rng.IntN(len(data))
		b := bytes.Clone(data)
		b[i] ^= byte(1 + rng.IntN(255))
		cases[fmt.Sprintf("byte %d changed", i)] = b
	}
	for _, o := range offs[:len(offs)-1] {
		// Every frame's kind, length and checksum.
		for _, i := range []int{o, o + 1} {
			b := bytes.Clone(data)
			b[i]++
			cases[fmt.Sprintf("frame header byte %d changed", i)] = b
		}
		cases[fmt.Sprintf("cut at the frame at %d", o)] = data[:o]
	}
	dir := h.d.cfg.StateDir
	for name, b := range cases {
		if err := os.WriteFile(filepath.Join(dir, StateFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := h.d.restoreRings(map[string]string{})
		if !errors.Is(err, errDamaged) {
			t.Errorf("%s: %v, want an error saying the file is damaged", name, err)
		}
	}
	// The intact file reads.
	if err := os.WriteFile(filepath.Join(dir, StateFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, n, err := h.d.restoreRings(map[string]string{}); err != nil || n != len(h.d.eng.SLOs()) {
		t.Fatalf("the intact file: %d slos restored, %v", n, err)
	}
}

// TestADamagedStateFileIsMovedAsideAndTheOtherStillRestores: the two state
// files fail apart. A ring checkpoint cut short is moved aside (banner,
// metric, ERROR), and the incidents still restore; an incidents file that
// is not JSON is moved aside, and the rings still restore.
func TestADamagedStateFileIsMovedAsideAndTheOtherStillRestores(t *testing.T) {
	const id = "checkout-availability"
	for _, tc := range []struct {
		file     string
		damage   func(t *testing.T, path string)
		incident bool // the incident is restored
		maxSteps int64
	}{
		{StateFile, func(t *testing.T, path string) { truncate(t, path, size(t, path)/2) }, true, 1 << 40},
		{IncidentsFile, func(t *testing.T, path string) { overwrite(t, path, size(t, path)/3, 64) }, false, 2 * (10 + 3)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			slos, state, inc := crashedDuringCheckoutIncident(t)
			tc.damage(t, filepath.Join(state, tc.file))
			b := newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos }, nil)
			moved, _ := filepath.Glob(filepath.Join(state, tc.file+".damaged-*"))
			if len(moved) != 1 {
				t.Fatalf("%s not moved aside: %v", tc.file, moved)
			}
			if !strings.Contains(b.d.stateDamage, filepath.Base(moved[0])) {
				t.Errorf("banner %q does not name %s", b.d.stateDamage, filepath.Base(moved[0]))
			}
			if got := metricValue(t, b.d.m.stateDamaged); got != 1 {
				t.Errorf("slod_state_damaged_total %v, want 1", got)
			}
			got, ok := findIncident(b.d.eng.Open(), id)
			if ok != tc.incident || (ok && !got.Start.Equal(inc.Start)) {
				t.Errorf("restored incident %+v (found %v), want found %v", got, ok, tc.incident)
			}
			at := demoStart.Add(2*time.Minute + 40*time.Second)
			b.clock.Set(at)
			b.runTo(at)
			if steps := b.d.eng.Stats().Steps; steps > tc.maxSteps {
				t.Errorf("read %d steps after the restart, want at most %d", steps, tc.maxSteps)
			}
			if !b.d.Snapshot().Ready {
				t.Error("not ready")
			}
		})
	}
}

// TestRingsOlderThanTheIncidentsReplayWithoutPagingAgain: the rings are
// checkpointed only at the first tick; the checkout incident opens and
// resolves after it, and slod dies. The restarted daemon restores rings
// from before the incident and incidents from after it: its replay of the
// ticks in between must not open (and page) the resolved incident again,
// and it must then evaluate exactly as a daemon that never stopped.
func TestRingsOlderThanTheIncidentsReplayWithoutPagingAgain(t *testing.T) {
	const id = "checkout-availability"
	hour := func(c *Config) { c.SnapshotInterval = time.Hour }
	crash := demoStart.Add(14 * time.Minute)
	a := newDemoDaemon(t, t.TempDir(), hour, nil)
	a.runTo(demoStart)
	a.d.collectCheckpoint(true)
	a.runTo(crash)
	res, ok := findIncident(a.d.eng.Recent(), id)
	if !ok {
		t.Fatal("the checkout incident did not resolve before the crash")
	}
	if got := metricValue(t, a.d.m.snapshots.WithLabelValues("ok")); got != 1 {
		t.Fatalf("%v ring checkpoints, want the first tick's only", got)
	}
	a.d.stopCheckpoint() // SIGKILL: nothing more is written
	_ = a.d.dispatcher.Close()

	b := newDemoDaemon(t, a.d.cfg.StateDir, hour, nil)
	end := crash.Add(30 * time.Second)
	b.clock.Set(crash.Add(10 * time.Second))
	b.runTo(end)
	for _, kind := range []string{"opened", "resolved"} {
		if got := metricValue(t, b.d.m.changes.WithLabelValues(kind)); got != 0 {
			t.Errorf("the restarted daemon's replay: %v incidents %s", got, kind)
		}
	}
	if got, ok := findIncident(b.d.eng.Recent(), id); !ok || !got.Start.Equal(res.Start) || !got.Resolved.Equal(res.Resolved) {
		t.Errorf("resolved incident after the restart %+v, want %+v", got, res)
	}

	straight := newDemoDaemon(t, t.TempDir(), hour, nil)
	straight.runTo(end)
	want, got := straight.d.eng.Latest(), b.d.eng.Latest()
	if len(got) != len(want) {
		t.Fatalf("%d instances evaluated, want %d", len(got), len(want))
	}
	for key, w := range want {
		if g := got[key]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s after the restart:\n got %v\nwant %v", key, g, w)
		}
	}
}

// TestCheckpointsWhileTicking: with a checkpoint due at every tick, one
// runs in the background at almost every tick (never two at once) while
// the ticks ingest into the same rings (go test -race checks the locking);
// slod killed at any point restarts from what they left.
func TestCheckpointsWhileTicking(t *testing.T) {
	every := func(c *Config) { c.SnapshotInterval = time.Nanosecond }
	a := newDemoDaemon(t, t.TempDir(), every, nil)
	for i, at := 0, demoStart; !at.After(demoStart.Add(3 * time.Minute)); i, at = i+1, at.Add(DemoStep) {
		a.clock.Set(at)
		a.d.tick(context.Background(), at)
		if i%3 == 2 {
			a.d.collectCheckpoint(true) // the next one starts at the next tick
		}
	}
	a.d.stopCheckpoint()
	if got := metricValue(t, a.d.m.snapshots.WithLabelValues("ok")); got < 5 {
		t.Fatalf("%v checkpoints written", got)
	}
	if got := metricValue(t, a.d.m.snapshots.WithLabelValues("error")); got != 0 {
		t.Fatalf("%v checkpoints failed", got)
	}
	_ = a.d.dispatcher.Close()
	b := newDemoDaemon(t, a.d.cfg.StateDir, every, nil)
	if b.d.stateDamage != "" {
		t.Fatal(b.d.stateDamage)
	}
	at := demoStart.Add(3*time.Minute + 10*time.Second)
	b.clock.Set(at)
	b.runTo(at)
	if steps := b.d.eng.Stats().Steps; steps > 7*(6+3) {
		t.Errorf("the restarted daemon read %d steps", steps)
	}
}

// TestADamagedLegacySnapshotIsMovedAside: a format 1 snapshot cut short
// (no format 2 files beside it) is moved aside as it always was.
func TestADamagedLegacySnapshotIsMovedAside(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, LegacyStateFile), []byte(`{"format":1,"written_at":"2026-11-01T12:02:30Z","slos":{"x":{"fingerp`), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newDemoDaemon(t, state, nil, nil)
	moved, _ := filepath.Glob(filepath.Join(state, LegacyStateFile+".damaged-*"))
	if len(moved) != 1 || !strings.Contains(h.d.stateDamage, filepath.Base(moved[0])) {
		t.Fatalf("moved aside: %v; banner %q", moved, h.d.stateDamage)
	}
	if got := metricValue(t, h.d.m.stateDamaged); got != 1 {
		t.Errorf("slod_state_damaged_total %v, want 1", got)
	}
	h.runTo(demoStart)
	if !h.d.Snapshot().Ready {
		t.Error("not ready")
	}
}
