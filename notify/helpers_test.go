package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// simClock is a simulated clock: After advances time by d at once, so
// retries that would wait minutes run in microseconds.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func newSimClock() *simClock {
	return &simClock{now: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	t := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- t
	return ch
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t      *testing.T
	cfg    *notify.Config
	dir    string
	clock  notify.Clock
	client *http.Client
	logs   *syncBuffer
	reg    *prometheus.Registry
	d      *notify.Dispatcher
	cancel context.CancelFunc
	done   chan error
}

func parse(t *testing.T, yaml string, envs map[string]string) *notify.Config {
	t.Helper()
	cfg, err := receiver.ParseConfig([]byte(yaml), "test.yaml", env(envs))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newHarness(t *testing.T, cfg *notify.Config, clock notify.Clock, client *http.Client) *harness {
	t.Helper()
	if client == nil {
		client = &http.Client{Transport: &http.Transport{}}
	}
	h := &harness{t: t, cfg: cfg, dir: t.TempDir(), clock: clock, client: client, logs: &syncBuffer{}}
	t.Cleanup(func() {
		h.stop()
		client.CloseIdleConnections()
	})
	return h
}

// start opens the outbox and runs the dispatcher.
func (h *harness) start() {
	h.t.Helper()
	h.open()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.d.Run(ctx) }()
}

func (h *harness) open() {
	h.t.Helper()
	senders, err := receiver.Build(h.cfg, receiver.Options{HTTPClient: h.client, Stdout: h.logs, Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	h.d, err = notify.New(notify.Options{
		Config: h.cfg, Senders: senders, StateDir: h.dir, Clock: h.clock, Registerer: h.reg,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// stop cancels Run and closes the outbox, as a crash or shutdown would
// from the dispatcher's point of view: whatever is in flight stays queued.
func (h *harness) stop() {
	if h.d == nil {
		return
	}
	if h.cancel != nil {
		h.cancel()
		if err := <-h.done; err != nil {
			h.t.Errorf("run: %v", err)
		}
		h.cancel = nil
	}
	if err := h.d.Close(); err != nil {
		h.t.Errorf("close: %v", err)
	}
	h.d = nil
}

func (h *harness) enqueue(p notify.Page) {
	h.t.Helper()
	if err := h.d.Enqueue(context.Background(), p); err != nil {
		h.t.Fatal(err)
	}
}

// waitDrained polls until every outbox is empty.
func (h *harness) waitDrained(timeout time.Duration) {
	h.t.Helper()
	h.waitFor(timeout, "outbox drained", func() bool {
		st, err := h.d.Stats()
		if err != nil {
			return false
		}
		for _, s := range st {
			if s.Depth > 0 {
				return false
			}
		}
		return true
	})
}

func (h *harness) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; logs:\n%s", what, tail(h.logs.String(), 3000))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// metric returns the value of the series name{labels}, or -1 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// closedAddr returns a 127.0.0.1 address nothing listens on: connections
// to it are refused by the kernel.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func testPage(key string, a notify.Action, sev notify.Severity) notify.Page {
	return notify.Page{
		DedupKey: key, Action: a, Severity: sev,
		Summary: "SLO " + key + " is burning its error budget",
		Labels:  map[string]string{"slo": key, "service": "checkout", "team": "payments"},
		Details: notify.Details{Burn: map[string]float64{"1h": 14.4}, BudgetRemaining: new(0.5)},
	}
}

// deadLetters reads a receiver's dead letters; a failed read fails the test
// rather than passing for "none".
func deadLetters(t *testing.T, d *notify.Dispatcher, receiver string) []notify.DeadLetter {
	t.Helper()
	dl, err := d.DeadLetters(receiver)
	if err != nil {
		t.Fatalf("dead letters of %s: %v", receiver, err)
	}
	return dl
}

// stats reads the outbox stats; a failed read fails the test.
func stats(t *testing.T, d *notify.Dispatcher) []notify.OutboxStats {
	t.Helper()
	st, err := d.Stats()
	if err != nil {
		t.Fatalf("outbox stats: %v", err)
	}
	return st
}
