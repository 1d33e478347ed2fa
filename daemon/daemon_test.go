package daemon

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// demoStart is a fixed start for the demo script in tests.
var demoStart = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// lockedBuffer collects what the log receiver writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clock is a settable clock for a daemon driven tick by tick.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// failingQuerier fails while fail is set, to stand for a source outage.
type failingQuerier struct {
	source.Querier
	mu   sync.Mutex
	fail bool
}

func (f *failingQuerier) set(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }

func (f *failingQuerier) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection refused")
	}
	return f.Querier.QueryRange(ctx, q, start, end, step)
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}

type harness struct {
	d     *Daemon
	clock *clock
	out   *lockedBuffer
	reg   *prometheus.Registry
}

// sharedDemo builds the 30-day demo history once for all tests that only read it.
var (
	demoOnce sync.Once
	demo     *Demo
	demoErr  error
	demoMu   sync.Mutex
)

func demoEngine(t testing.TB) *Demo {
	t.Helper()
	demoOnce.Do(func() { demo, demoErr = NewDemo(demoStart) })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demo
}

// newDemoDaemon is a daemon over the demo traffic, driven tick by tick.
// A test that wraps the reader passes wrap.
func newDemoDaemon(t testing.TB, stateDir string, mod func(*Config), wrap func(source.Querier) source.Querier) *harness {
	t.Helper()
	dm := demoEngine(t)
	cfg := DefaultConfig
	cfg.SLODir = filepath.Join("..", "examples", "slos")
	cfg.StateDir = stateDir
	cfg.Step, cfg.Interval, cfg.QueryDelay = DemoStep, DemoStep, 0
	cfg.Demo = true
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{clock: &clock{t: demoStart}, out: &lockedBuffer{}, reg: prometheus.NewRegistry()}
	var q source.Querier = dm.Engine
	if wrap != nil {
		q = wrap(q)
	}
	d, err := New(Options{Config: cfg, Querier: q, Logger: slog.New(slog.DiscardHandler), Registry: h.reg,
		Now: h.clock.Now, Stdout: h.out, SourceName: "embedded",
		BeforeTick: func(now time.Time) {
			demoMu.Lock()
			defer demoMu.Unlock()
			if err := dm.Advance(now); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { _ = d.dispatcher.Close() })
	return h
}

// runTo ticks every interval from the clock's time through end.
func (h *harness) runTo(end time.Time) {
	for t := h.clock.Now(); !t.After(end); t = t.Add(h.d.cfg.Interval) {
		h.clock.Set(t)
		h.d.tick(context.Background(), t)
	}
	h.clock.Set(end.Add(h.d.cfg.Interval))
}

func findIncident(incs []burnrate.Incident, slo string) (burnrate.Incident, bool) {
	for _, inc := range incs {
		if inc.SLO == slo && inc.Class == burnrate.ClassBurn {
			return inc, true
		}
	}
	return burnrate.Incident{}, false
}

func TestDemoPagesAndResolvesTheScriptedIncident(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	h.runTo(demoStart)
	if !h.d.Snapshot().Ready {
		t.Fatal("not ready after the first tick")
	}
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); ok {
		t.Fatal("checkout pages before its scripted outage")
	}
	if inc, ok := findIncident(h.d.eng.Open(), "catalog-availability"); !ok || inc.Severity != burnrate.SeverityTicket {
		t.Fatalf("the catalog's two-day slow burn raises no ticket: %+v", inc)
	}
	// The full outage starts at +1m: the 1h row reaches 14.4 after 51.8 s
	// (Workbook), so the page must come within two ticks of that.
	detect := demoStart.Add(time.Minute + 51840*time.Millisecond)
	h.runTo(detect.Add(-DemoStep))
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); ok {
		t.Fatal("checkout paged before the Workbook detection time")
	}
	h.runTo(detect.Add(2 * DemoStep))
	inc, ok := findIncident(h.d.eng.Open(), "checkout-availability")
	if !ok || inc.Severity != burnrate.SeverityPage {
		t.Fatalf("no checkout page two ticks after the detection time; open: %+v", h.d.eng.Open())
	}
	// The outage ends at +3m; the 1h/5m row's 5m window clears by +8m and
	// the 5m hold-down follows.
	h.runTo(demoStart.Add(12*time.Minute + DemoStep))
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); !ok {
		t.Fatal("checkout incident resolved before its window and hold-down passed")
	}
	h.runTo(demoStart.Add(14 * time.Minute))
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); ok {
		t.Fatal("checkout incident still open 11 minutes after the outage")
	}
	res, ok := findIncident(h.d.eng.Recent(), "checkout-availability")
	if !ok || !res.Start.Equal(inc.Start) {
		t.Fatalf("resolved incident %+v, want the one opened at %v", res, inc.Start)
	}
	// The route SLO pages for /v1/orders only.
	var orders int
	for _, r := range append(h.d.eng.Recent(), h.d.eng.Open()...) {
		if r.SLO == "api-gateway-route-availability" {
			if r.Labels["route"] != "/v1/orders" {
				t.Errorf("route %q paged", r.Labels["route"])
			}
			orders++
		}
	}
	if orders != 1 {
		t.Errorf("%d /v1/orders incidents, want 1", orders)
	}
	// Pages were committed: triggers and resolves, the same dedup key.
	if got := metricValue(t, h.d.m.pages.WithLabelValues("trigger")); got < 3 {
		t.Errorf("%v triggers queued, want at least 3 (catalog, checkout, orders)", got)
	}
	if got := metricValue(t, h.d.m.pages.WithLabelValues("resolve")); got != 1 {
		t.Errorf("%v resolves queued, want 1 (checkout)", got)
	}
}

func TestRestartRestoresStateAndReadsOnlyTheGap(t *testing.T) {
	dir := t.TempDir()
	a := newDemoDaemon(t, dir, nil, nil)
	a.runTo(demoStart.Add(2*time.Minute + 20*time.Second))
	if _, ok := findIncident(a.d.eng.Open(), "checkout-availability"); !ok {
		t.Fatal("no checkout incident before the restart")
	}
	coldSteps := a.d.eng.Stats().Steps
	a.d.saveState(a.clock.Now())
	_ = a.d.dispatcher.Close()

	b := newDemoDaemon(t, dir, nil, nil)
	if _, ok := findIncident(b.d.eng.Open(), "checkout-availability"); !ok {
		t.Fatal("the open incident was not restored")
	}
	b.clock.Set(demoStart.Add(3 * time.Minute))
	b.runTo(demoStart.Add(3 * time.Minute))
	steps := b.d.eng.Stats().Steps
	// 50s of gap plus 2 re-read steps, for 7 SLOs: a few dozen steps, not 30 days.
	if max := int64(7 * (6 + engine.Rereads + 1)); steps > max {
		t.Errorf("restart read %d steps (cold start read %d), want at most %d", steps, coldSteps, max)
	}
	if coldSteps < 7*259200/10 {
		t.Errorf("cold start read only %d steps", coldSteps)
	}
	if got := metricValue(t, b.d.m.changes.WithLabelValues("opened")); got != 0 {
		t.Errorf("restarted daemon opened %v incidents again", got)
	}
	if !b.d.Snapshot().Ready {
		t.Error("restarted daemon not ready")
	}
}

func TestSourceOutageIsReportedBackfilledAndReplayed(t *testing.T) {
	var fr *failingQuerier
	h := newDemoDaemon(t, t.TempDir(), nil, func(q source.Querier) source.Querier { fr = &failingQuerier{Querier: q}; return fr })
	h.runTo(demoStart.Add(30 * time.Second))
	// The source fails for the whole checkout outage (+1m to +5m).
	fr.set(true)
	h.runTo(demoStart.Add(7 * time.Minute))
	snap := h.d.Snapshot()
	if snap.Source.Up || !strings.Contains(snap.Source.LastError, "connection refused") {
		t.Fatalf("source status %+v during the outage", snap.Source)
	}
	if got := metricValue(t, h.d.m.sourceUp); got != 0 {
		t.Errorf("slod_source_up %v during the outage", got)
	}
	if metricValue(t, h.d.m.queryErrors) == 0 {
		t.Error("no query errors counted")
	}
	if _, ok := findIncident(h.d.eng.Open(), "checkout-availability"); ok {
		t.Fatal("an incident opened without data")
	}
	fr.set(false)
	h.runTo(demoStart.Add(7*time.Minute + DemoStep))
	if !h.d.Snapshot().Source.Up {
		t.Fatal("source still down after it recovered")
	}
	inc, ok := findIncident(h.d.eng.Open(), "checkout-availability")
	if !ok {
		t.Fatal("the burn during the outage was missed")
	}
	// Replayed at the tick where it happened (51.8 s into the outage at
	// +1m, within a tick: traffic follows a daily cycle, so the error share
	// of the last hour is not exactly the uniform-traffic figure), not when
	// the source came back.
	detect := demoStart.Add(time.Minute + 51840*time.Millisecond)
	if inc.Start.Before(detect.Add(-DemoStep)) || inc.Start.After(detect.Add(DemoStep)) {
		t.Errorf("incident start %v, want within a tick of %v", inc.Start, detect)
	}
}

func TestShardsSplitInstancesExactlyOnce(t *testing.T) {
	all := newDemoDaemon(t, t.TempDir(), nil, nil)
	all.runTo(demoStart)
	want := map[string]bool{}
	for k := range all.d.eng.Latest() {
		want[k] = true
	}
	if len(want) != 9 {
		t.Fatalf("%d instances without sharding, want 9 (7 SLOs, 3 routes)", len(want))
	}
	seen := map[string]int{}
	for i := range 2 {
		h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.Shard = Shard{Index: i, Count: 2} }, nil)
		h.runTo(demoStart)
		if len(h.d.eng.Latest()) == 0 {
			t.Errorf("shard %d/2 evaluates nothing", i)
		}
		for k := range h.d.eng.Latest() {
			seen[k]++
		}
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("instance %s evaluated %d times across shards, want once", k, seen[k])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("shards evaluated %d instances, want %d", len(seen), len(want))
	}
}

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

// TestAPageTheOutboxRefusedSurvivesACrash: the outbox refuses the page of
// a new incident (here: the dispatcher is closed), the tick's state
// snapshot records the incident as open, and the daemon dies. The restarted
// daemon must still send that page, once.
func TestAPageTheOutboxRefusedSurvivesACrash(t *testing.T) {
	pd := notifytest.NewPagerDuty()
	defer pd.Close()
	t.Setenv(pdKeyEnv, "0123456789abcdef0123456789abcdef")
	notifyCfg := pdConfig(t, pd)
	dir := t.TempDir()
	mod := func(c *Config) { c.NotifyConfig = notifyCfg }

	a := newDemoDaemon(t, dir, mod, nil)
	a.runTo(demoStart.Add(90 * time.Second)) // before the page at +1m51.8s
	if _, ok := findIncident(a.d.eng.Open(), "checkout-availability"); ok {
		t.Fatal("checkout paged before its outage")
	}
	_ = a.d.dispatcher.Close() // every Enqueue fails from now on
	a.runTo(demoStart.Add(2*time.Minute + 20*time.Second))
	if _, ok := findIncident(a.d.eng.Open(), "checkout-availability"); !ok {
		t.Fatal("no checkout incident")
	}
	if len(a.d.pending) == 0 {
		t.Fatal("the closed outbox accepted the page")
	}
	if a.d.dirty {
		t.Fatal("the incident's tick wrote no state snapshot")
	}
	// SIGKILL: nothing more is written. A new daemon starts on the state.
	b := newDemoDaemon(t, dir, mod, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = b.d.dispatcher.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	b.clock.Set(demoStart.Add(2*time.Minute + 30*time.Second))
	b.runTo(demoStart.Add(2*time.Minute + 30*time.Second))

	key := DedupKey("checkout-availability", nil, burnrate.ClassBurn)
	waitFor(t, "the checkout page at PagerDuty and an empty outbox", 10*time.Second, func() bool {
		st, err := b.d.dispatcher.Stats()
		if err != nil {
			return false
		}
		for _, s := range st {
			if s.Depth > 0 {
				return false
			}
		}
		return len(incidentsFor(pd, key)) > 0
	})
	incs := incidentsFor(pd, key)
	if len(incs) != 1 || incs[0].Triggers != 1 {
		t.Fatalf("PagerDuty incidents for the checkout key %+v, want one with one trigger", incs)
	}
	if len(b.d.pending) != 0 {
		t.Errorf("%d pages still pending after the restart", len(b.d.pending))
	}
}

// TestRestoreResolvesIncidentsNothingEvaluates: an incident restored from
// the snapshot whose SLO was removed while slod was down, or whose instance
// now belongs to another shard, would stay open for ever: the restarted
// daemon resolves it and queues the resolve page.
func TestRestoreResolvesIncidentsNothingEvaluates(t *testing.T) {
	const id = "checkout-availability"
	owner := 0
	if !InShard(Shard{Index: 0, Count: 2}, id, burnrate.LabelsKey(nil)) {
		owner = 1
	}
	for _, tc := range []struct {
		name    string
		restart func(c *Config, slos string)
	}{
		{"an SLO removed while slod was down", func(c *Config, slos string) {
			if err := os.Remove(filepath.Join(slos, id+".yaml")); err != nil {
				t.Fatal(err)
			}
		}},
		{"an instance that another shard owns now", func(c *Config, slos string) {
			c.Shard = Shard{Index: 1 - owner, Count: 2}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slos, state, inc := crashedDuringCheckoutIncident(t)
			var cfg Config
			b := newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos; tc.restart(c, slos); cfg = *c }, nil)
			if _, ok := findIncident(b.d.eng.Open(), id); ok {
				t.Fatal("the restored incident stays open although nothing evaluates it")
			}
			res, ok := findIncident(b.d.eng.Recent(), id)
			if !ok || !res.Start.Equal(inc.Start) || res.Resolved.IsZero() {
				t.Fatalf("resolved incidents %+v, want the one opened at %v", b.d.eng.Recent(), inc.Start)
			}
			if got := metricValue(t, b.d.m.pages.WithLabelValues("resolve")); got != 1 || len(b.d.pending) != 0 {
				t.Errorf("%v resolve pages queued (%d pending), want 1", got, len(b.d.pending))
			}
			for _, o := range b.d.eng.Open() {
				if b.d.eng.SLO(o.SLO) == nil || !InShard(cfg.Shard, o.SLO, strings.TrimPrefix(o.Key, o.SLO)) {
					t.Errorf("incident %s still open", o.Key)
				}
			}
		})
	}
}

// TestRestartWithABrokenFileKeepsItsIncidentOpen: slod restarts while the
// file of an SLO with an open incident has a typo. The SLO cannot run, but
// its incident stays open (no resolve page) until the file is fixed — then
// the same incident goes on — or deleted — then it resolves.
func TestRestartWithABrokenFileKeepsItsIncidentOpen(t *testing.T) {
	const id = "checkout-availability"
	for _, tc := range []struct {
		name     string
		fix      func(t *testing.T, file string, good []byte)
		resolved bool
	}{
		{"the file fixed later keeps the incident", func(t *testing.T, file string, good []byte) {
			if err := os.WriteFile(file, good, 0o644); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"the file deleted later resolves it", func(t *testing.T, file string, good []byte) {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"the file deleted later while another file is broken resolves it", func(t *testing.T, file string, good []byte) {
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(filepath.Dir(file), "other.yaml"), []byte("version: slod/v1\nslos: [\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slos, state, inc := crashedDuringCheckoutIncident(t)
			file := filepath.Join(slos, id+".yaml")
			good, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(strings.Replace(string(good), "objective:", "objectve:", 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			// Two restarts while the file is broken: the second one reads a
			// snapshot written by a daemon that never ran the SLO.
			var b *harness
			for _, at := range []time.Duration{2*time.Minute + 30*time.Second, 2*time.Minute + 40*time.Second} {
				b = newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos }, nil)
				b.clock.Set(demoStart.Add(at))
				b.runTo(demoStart.Add(at))
				if _, ok := findIncident(b.d.eng.Open(), id); !ok {
					t.Fatal("a typo in its file resolved the restored incident")
				}
				if got := metricValue(t, b.d.m.pages.WithLabelValues("resolve")); got != 0 {
					t.Fatalf("%v resolve pages queued while the file was broken", got)
				}
				b.d.saveState(b.clock.Now())
				if at < 2*time.Minute+40*time.Second {
					_ = b.d.dispatcher.Close()
				}
			}
			tc.fix(t, file, good)
			if err := b.d.load(); err != nil {
				t.Fatal(err)
			}
			b.runTo(demoStart.Add(3 * time.Minute))
			_, open := findIncident(b.d.eng.Open(), id)
			res, resolved := findIncident(b.d.eng.Recent(), id)
			if tc.resolved {
				if open || !resolved || !res.Start.Equal(inc.Start) {
					t.Fatalf("incident open %v, resolved %+v; want the one opened at %v resolved", open, res, inc.Start)
				}
				if got := metricValue(t, b.d.m.pages.WithLabelValues("resolve")); got != 1 {
					t.Errorf("%v resolve pages queued, want 1", got)
				}
				return
			}
			now, ok := findIncident(b.d.eng.Open(), id)
			if !ok || !now.Start.Equal(inc.Start) {
				t.Fatalf("incident after the fix %+v, want the one opened at %v", now, inc.Start)
			}
			if got := metricValue(t, b.d.m.changes.WithLabelValues("opened")); got != 0 {
				t.Errorf("%v incidents opened again after the fix", got)
			}
		})
	}
}

func TestPageForCarriesDedupKeyLabelsAndLinks(t *testing.T) {
	spec := &slo.Spec{ID: "checkout-availability", Service: "checkout", Objective: 99.9, Window: 30 * 24 * time.Hour,
		Labels:      map[string]string{"team": "payments"},
		Annotations: map[string]string{"runbook": "https://runbooks/x"},
		Alerting:    slo.Alerting{Page: slo.AlertClass{Labels: map[string]string{"routing": "pager"}}}}
	inc := burnrate.Incident{Key: "checkout-availability{}", SLO: spec.ID, Class: burnrate.ClassBurn,
		Severity: burnrate.SeverityPage, Start: demoStart, Burn: 20, BudgetRemaining: 0.5, TimeToExhaustion: burnrate.Figure((18 * time.Hour).Seconds())}
	p, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}, spec)
	if !ok {
		t.Fatal("no page")
	}
	if p.DedupKey != DedupKey(spec.ID, nil, burnrate.ClassBurn) || p.Action != "trigger" || p.Severity != "page" {
		t.Errorf("page %+v", p)
	}
	if p.Labels["team"] != "payments" || p.Labels["routing"] != "pager" || p.Labels["slo"] != spec.ID || p.Labels["service"] != "checkout" {
		t.Errorf("labels %v", p.Labels)
	}
	if len(p.Links) != 1 || p.Links[0].Href != "https://runbooks/x" {
		t.Errorf("links %v", p.Links)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	inc.Resolved = demoStart.Add(time.Hour)
	r, _ := PageFor(burnrate.Change{Kind: burnrate.ChangeResolved, Incident: inc}, spec)
	if r.Action != "resolve" || r.DedupKey != p.DedupKey || !r.EndsAt.Equal(inc.Resolved) {
		t.Errorf("resolve %+v", r)
	}
	// A class whose pages are disabled falls back to a ticket.
	spec.Alerting.Page.Disabled = true
	if tp, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}, spec); !ok || tp.Severity != "ticket" {
		t.Errorf("disabled page class: %v %+v", ok, tp)
	}
	// The no-data class gets its own key.
	if DedupKey(spec.ID, nil, burnrate.ClassNoData) == p.DedupKey {
		t.Error("no-data and burn incidents share a dedup key")
	}
}

func TestAlign(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 37, 0, time.UTC)
	if got := alignDown(at, 10*time.Second); !got.Equal(at.Add(-7 * time.Second)) {
		t.Errorf("alignDown %v", got)
	}
	if got := alignUp(at, time.Minute); !got.Equal(time.Date(2026, 11, 1, 12, 1, 0, 0, time.UTC)) {
		t.Errorf("alignUp %v", got)
	}
}

// BenchmarkDemoTick measures one steady-state tick of the demo (7 SLOs, 9
// instances, embedded PromQL engine): read the newest step plus two re-read
// steps per SLO, ingest, evaluate, publish the snapshot with its charts.
func BenchmarkDemoTick(b *testing.B) {
	h := newDemoDaemon(b, b.TempDir(), func(c *Config) { c.SnapshotInterval = 24 * time.Hour }, nil)
	h.runTo(demoStart)
	now := demoStart
	b.ResetTimer()
	for range b.N {
		now = now.Add(DemoStep)
		h.clock.Set(now)
		h.d.tick(context.Background(), now)
	}
}

// BenchmarkColdStart measures New plus the first tick: loading
// examples/slos and backfilling 30 days of every SLO from the embedded
// engine (tiered reads), until ready.
func BenchmarkColdStart(b *testing.B) {
	demoEngine(b)
	for range b.N {
		h := newDemoDaemon(b, b.TempDir(), nil, nil)
		h.runTo(demoStart)
		if !h.d.Snapshot().Ready {
			b.Fatal("not ready")
		}
		_ = h.d.dispatcher.Close()
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

// TestSLIWithoutDataRaisesItsOwnIncident: an SLO whose queries match no
// series is not healthy: it opens a no-data incident (and pages as a ticket
// with its own dedup key), which resolves once data arrives.
func TestSLIWithoutDataRaisesItsOwnIncident(t *testing.T) {
	dir := eventsSLODir(t, "ghost", "99", "    alerting:\n      no_data: 10m\n")
	// The ghost metric lives in an engine of its own, empty at first.
	ghostEngine := source.NewEmbedded()
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.SLODir = dir },
		func(source.Querier) source.Querier { return ghostEngine })
	h.runTo(demoStart)
	var nodata []burnrate.Incident
	for _, inc := range h.d.eng.Open() {
		if inc.Class == burnrate.ClassNoData {
			nodata = append(nodata, inc)
		}
	}
	if len(nodata) != 1 || nodata[0].SLO != "ghost-availability" || nodata[0].Severity != burnrate.SeverityTicket {
		t.Fatalf("no-data incidents %+v", nodata)
	}
	if _, ok := findIncident(h.d.eng.Open(), "ghost-availability"); ok {
		t.Error("a burn incident opened without data")
	}
	p, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: nodata[0]}, h.d.eng.SLO("ghost-availability").Spec())
	if !ok || !strings.Contains(p.Summary, "no data") || p.DedupKey != DedupKey("ghost-availability", nil, burnrate.ClassNoData) {
		t.Errorf("page %+v", p)
	}
	if p.Details.BudgetRemaining != nil || p.Details.TimeToExhaustion != nil ||
		p.Details.BudgetText() != "unknown" || p.Details.ExhaustionText() != "unknown" {
		t.Errorf("a no-data page carries made-up figures: budget %s, exhaustion %s", p.Details.BudgetText(), p.Details.ExhaustionText())
	}
	// Data arrives: the ghost metric now has traffic.
	for i := range 40 {
		at := demoStart.Add(time.Duration(i) * demoScrape)
		for _, s := range []struct {
			code string
			v    float64
		}{{"200", float64(i) * 100}, {"500", 0}} {
			lset := labels.FromStrings("__name__", "ghost_requests_total", "code", s.code)
			if err := ghostEngine.Append(lset, at.Add(time.Second), s.v); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.runTo(demoStart.Add(2 * time.Minute))
	for _, inc := range h.d.eng.Open() {
		if inc.Class == burnrate.ClassNoData {
			t.Fatalf("no-data incident still open after data arrived: %+v", inc)
		}
	}
}

func TestAScrapeTooSparseForTheStepIsExplainedOnTheStatusPage(t *testing.T) {
	dir := eventsSLODir(t, "sparse", "99.9", "")
	// Scraped every minute, 17 s past it, as Prometheus's default 1m
	// scrape_interval does: a 1m step's rate window holds one sample.
	engine := source.NewEmbedded()
	for i := range 12 * 60 {
		at := demoStart.Add(-12 * time.Hour).Add(time.Duration(i)*time.Minute + 17*time.Second)
		for code, v := range map[string]float64{"200": float64(i) * 1000, "500": 0} {
			if err := engine.Append(labels.FromStrings("__name__", "sparse_requests_total", "code", code), at, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) {
		c.SLODir = dir
		c.Step, c.Interval = time.Minute, time.Minute
	}, func(source.Querier) source.Querier { return engine })
	h.runTo(demoStart)
	h.d.publish(demoStart)

	var found bool
	for _, p := range h.d.Snapshot().Problems {
		if strings.Contains(p.Message, "sparse-availability") && strings.Contains(p.Message, "--step 2m") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no hint about the step on the status page; problems: %+v", h.d.Snapshot().Problems)
	}
}

// eventsSLODir writes one availability SLO of service over
// <service>_requests_total (errors: code 500) into a new directory; extra
// holds further SLO fields, indented as SLO fields.
func eventsSLODir(t *testing.T, service, objective, extra string) string {
	t.Helper()
	dir := t.TempDir()
	doc := "version: slod/v1\nservice: " + service + "\nslos:\n  - name: availability\n    objective: " + objective + "\n" + extra +
		"    sli:\n      events:\n" +
		"        error_query: sum(rate(" + service + "_requests_total{code=\"500\"}[{{.window}}]))\n" +
		"        total_query: sum(rate(" + service + "_requests_total[{{.window}}]))\n"
	if err := os.WriteFile(filepath.Join(dir, service+".yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// crashedDuringCheckoutIncident copies the checkout SLO files into a new SLO
// directory, runs the demo into the checkout outage's incident, writes the
// state snapshot and closes the outbox: a daemon stopped mid-incident. It
// returns the SLO and state directories and the open incident.
func crashedDuringCheckoutIncident(t *testing.T) (slos, state string, inc burnrate.Incident) {
	t.Helper()
	const id = "checkout-availability"
	slos, state = t.TempDir(), t.TempDir()
	for _, f := range []string{id + ".yaml", "checkout-latency.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "examples", "slos", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(slos, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos }, nil)
	a.runTo(demoStart.Add(2*time.Minute + 20*time.Second))
	inc, ok := findIncident(a.d.eng.Open(), id)
	if !ok {
		t.Fatal("no checkout incident before the restart")
	}
	a.d.saveState(a.clock.Now())
	_ = a.d.dispatcher.Close()
	return slos, state, inc
}

func sloIDs(d *Daemon) []string {
	var ids []string
	for _, r := range d.eng.SLOs() {
		ids = append(ids, r.Spec().ID)
	}
	return ids
}
