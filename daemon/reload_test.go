package daemon

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReloadSkipsBadFilesAndKeepsTheOldSet(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "examples", "slos")
	for _, f := range []string{"checkout-availability.yaml", "policies.yaml"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.SLODir = dir }, nil)
	h.runTo(demoStart)
	if len(h.d.eng.SLOs()) != 1 {
		t.Fatalf("%d slos", len(h.d.eng.SLOs()))
	}
	// A bad file next to a good one: reported, skipped, the rest runs.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: slod/v1\nservice: x\nslos:\n  - name: y\n    objective: 100\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.d.load(); err != nil {
		t.Fatal(err)
	}
	if len(h.d.eng.SLOs()) != 1 || h.d.eng.SLO("checkout-availability") == nil {
		t.Fatalf("slos after a bad file: %v", sloIDs(h.d))
	}
	h.d.publish(h.clock.Now())
	if p := h.d.Snapshot().Problems; len(p) == 0 || !strings.Contains(p[0].Where, "bad.yaml") {
		t.Errorf("problems %+v do not name bad.yaml", p)
	}
	if got := metricValue(t, h.d.m.sloFilesBad); got != 1 {
		t.Errorf("slod_slo_files_invalid %v", got)
	}
	// The ring buffers survived the reload.
	if h.d.eng.SLO("checkout-availability").Evaluator().LastStep().IsZero() {
		t.Error("reload dropped the ingested history")
	}
	// Nothing valid left: the old set stays.
	if err := os.WriteFile(filepath.Join(dir, "checkout-availability.yaml"), []byte("not: [valid"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.d.load(); err != nil {
		t.Fatal(err)
	}
	if h.d.eng.SLO("checkout-availability") == nil {
		t.Fatal("the old set was dropped although nothing valid replaced it")
	}
	if got := metricValue(t, h.d.m.reloads.WithLabelValues("failed")); got != 1 {
		t.Errorf("failed reloads %v", got)
	}
}

// TestATypoDuringAnIncidentKeepsTheSLOAndItsPage: an existing SLO file
// that stops loading (a typo) while its SLO has an open incident does not
// count as a deletion: no resolve is queued, the SLO keeps being evaluated
// on its previous version, and once the file is fixed the same incident
// carries on.
func TestATypoDuringAnIncidentKeepsTheSLOAndItsPage(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "examples", "slos")
	good, err := os.ReadFile(filepath.Join(src, "checkout-availability.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "checkout-availability.yaml")
	if err := os.WriteFile(file, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// A second file that stays good, so the reload is not a failed one.
	other, err := os.ReadFile(filepath.Join(src, "checkout-latency.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "checkout-latency.yaml"), other, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.SLODir = dir }, nil)
	h.runTo(demoStart.Add(2*time.Minute + 20*time.Second))
	if len(h.d.eng.SLOs()) != 2 {
		t.Fatalf("slos %v, want checkout availability and latency", sloIDs(h.d))
	}
	inc, ok := findIncident(h.d.eng.Open(), "checkout-availability")
	if !ok {
		t.Fatal("no checkout incident before the typo")
	}
	opened := metricValue(t, h.d.m.changes.WithLabelValues("opened"))
	resolves := metricValue(t, h.d.m.pages.WithLabelValues("resolve"))

	typo := strings.Replace(string(good), "objective:", "objectve:", 1)
	if typo == string(good) {
		t.Fatal("the example has no objective to misspell")
	}
	if err := os.WriteFile(file, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.d.load(); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, h.d.m.pages.WithLabelValues("resolve")); got != resolves || len(h.d.pending) != 0 {
		t.Fatalf("the typo queued a resolve (%v resolves, %d pending)", got-resolves, len(h.d.pending))
	}
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); !ok {
		t.Fatal("the typo closed the open incident")
	}
	r := h.d.eng.SLO("checkout-availability")
	if r == nil {
		t.Fatal("the typo removed the SLO")
	}
	h.d.publish(h.clock.Now())
	if p := h.d.Snapshot().Problems; len(p) == 0 || !strings.Contains(p[0].Where, "checkout-availability.yaml") {
		t.Errorf("problems %+v do not name the broken file", p)
	}
	last := r.Evaluator().LastStep()
	h.runTo(demoStart.Add(3 * time.Minute))
	if !h.d.eng.SLO("checkout-availability").Evaluator().LastStep().After(last) {
		t.Error("the SLO of the broken file is no longer evaluated")
	}
	if got := metricValue(t, h.d.m.pages.WithLabelValues("resolve")); got != resolves {
		t.Errorf("%v resolves queued while the file was broken", got-resolves)
	}

	// Fixed: the same incident goes on, nothing opens or pages again.
	if err := os.WriteFile(file, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.d.load(); err != nil {
		t.Fatal(err)
	}
	h.runTo(demoStart.Add(3*time.Minute + 30*time.Second))
	now, ok := findIncident(h.d.eng.Open(), "checkout-availability")
	if !ok || !now.Start.Equal(inc.Start) {
		t.Fatalf("incident after the fix %+v, want the one opened at %v", now, inc.Start)
	}
	if got := metricValue(t, h.d.m.changes.WithLabelValues("opened")); got != opened {
		t.Errorf("%v incidents opened again after the fix", got-opened)
	}
	if got := metricValue(t, h.d.m.pages.WithLabelValues("resolve")); got != resolves {
		t.Errorf("%v resolves queued around the typo", got-resolves)
	}
}

// TestRunServesReloadsAndShutsDownCleanly runs the whole run group on the
// wall clock: ready after the first tick, a file change reloads (the bad
// file is reported, the rest keeps running), cancelling stops every actor
// (goleak checks) and writes the final state snapshot.
func TestRunServesReloadsAndShutsDownCleanly(t *testing.T) {
	dm, err := NewDemo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slos := t.TempDir()
	data, err := os.ReadFile(filepath.Join("..", "examples", "slos", "checkout-availability.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(slos, "checkout.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig
	cfg.SLODir, cfg.StateDir = slos, t.TempDir()
	cfg.Step, cfg.Interval, cfg.QueryDelay = DemoStep, DemoStep, 0
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	d, err := New(Options{Config: cfg, Querier: dm.Engine, Listener: ln, Stdout: io.Discard,
		BeforeTick: func(now time.Time) { mu.Lock(); defer mu.Unlock(); _ = dm.Advance(now) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	url := "http://" + ln.Addr().String()
	waitFor(t, "ready", 30*time.Second, func() bool { return ready(url) })
	if err := os.WriteFile(filepath.Join(slos, "broken.yaml"), []byte("version: slod/v1\nservice: x\nslos: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload to report broken.yaml", 30*time.Second, func() bool {
		return strings.Contains(httpBody(t, url+"/api/v1/slos"), "broken.yaml")
	})
	if !strings.Contains(httpBody(t, url+"/api/v1/slos"), `"checkout-availability"`) {
		t.Error("the good SLO stopped running after the reload")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, StateFile)); err != nil {
		t.Errorf("no state snapshot after shutdown: %v", err)
	}
}
