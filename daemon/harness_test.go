package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/source"
)

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
	cfg.BackfillWait = 0 // ticks here are driven one by one: each reads all
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
	t.Cleanup(func() { _ = d.dispatcher.Close(); d.stopCheckpoint() })
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
