package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/source"
)

const pdKeyEnv = "SLOD_TEST_PD_ROUTING_KEY"

// pdConfig writes a notify config that sends everything to a local
// PagerDuty Events v2 server.
func pdConfig(t *testing.T, pd *notifytest.PagerDuty) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.yaml")
	cfg := fmt.Sprintf(`receivers:
  - name: pagerduty
    pagerduty:
      url: %s
      routing_key_env: %s
route:
  receiver: pagerduty
delivery:
  backoff_initial: 50ms
  backoff_max: 200ms
`, pd.URL(), pdKeyEnv)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sloDir writes SLO files for the fixture's scenarios.
func sloDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// promDaemon is a daemon against a real Prometheus, driven tick by tick on
// an injected clock, with its notify workers running.
type promDaemon struct {
	*harness
}

// reads are the range queries and steps the daemon's engine has read.
func (p *promDaemon) reads() (queries, steps int64) {
	st := p.d.eng.Stats()
	return st.Queries, st.Steps
}

func newPromDaemon(t *testing.T, prom *promtest.Server, slos, notifyCfg string, start time.Time, mod func(*Config)) *promDaemon {
	t.Helper()
	q, err := source.NewPrometheus(source.PrometheusOptions{URL: prom.URL, Timeout: 5 * time.Second, MaxTries: 1, BreakerFailures: 1000})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig
	cfg.SLODir, cfg.NotifyConfig, cfg.StateDir = slos, notifyCfg, t.TempDir()
	cfg.Prometheus.URL = prom.URL
	cfg.QueryDelay = 0
	if mod != nil {
		mod(&cfg)
	}
	h := &harness{clock: &clock{t: start}, out: &lockedBuffer{}, reg: prometheus.NewRegistry()}
	d, err := New(Options{Config: cfg, Querier: q, Logger: slog.New(slog.DiscardHandler), Registry: h.reg,
		Now: h.clock.Now, Stdout: h.out})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = d.dispatcher.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); _ = d.dispatcher.Close(); d.stopCheckpoint() })
	return &promDaemon{harness: h}
}

// waitFor polls cond until it holds or the deadline passes; on timeout the
// failure shows what each state func describes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var desc []string
			for _, f := range state {
				desc = append(desc, f())
			}
			t.Fatalf("timed out after %s waiting for %s (%s)", timeout, what, strings.Join(desc, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func incidentsFor(pd *notifytest.PagerDuty, key string) []notifytest.Incident {
	var out []notifytest.Incident
	for _, inc := range pd.Incidents() {
		if inc.DedupKey == key {
			out = append(out, inc)
		}
	}
	return out
}

// TestEndToEndWithPrometheus: two days of history backfilled into a real
// Prometheus with promtool, ending at test start; the injected clock starts
// 30 minutes before the end with a two-minute full outage in progress (from
// −1m to +1m: short enough that only the 1h/5m row fires). slod backfills, turns ready, pages PagerDuty on the first tick and
// resolves once the burn is over. A second daemon on the same shard (an HA
// pair) sends the same dedup key, so PagerDuty still has one incident.
func TestEndToEndWithPrometheus(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	end := time.Now().UTC().Truncate(time.Minute)
	t0 := end.Add(-30 * time.Minute)
	fx := promtest.SLOFixture{End: end, Length: 48 * time.Hour, RequestsPerMinute: 1000,
		Scenarios: map[string][]promtest.Burn{"outage": {{From: t0.Add(-time.Minute), To: t0.Add(time.Minute), ErrorsPerMinute: 1000}}}}
	prom := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	pd := notifytest.NewPagerDuty()
	defer pd.Close()
	t.Setenv(pdKeyEnv, "0123456789abcdef0123456789abcdef")
	slos := sloDir(t, map[string]string{"e2e.yaml": fx.SLOYAML("e2e", 99.9, "30d", "outage")})

	a := newPromDaemon(t, prom, slos, pdConfig(t, pd), t0, func(c *Config) { c.Interval, c.Step = time.Minute, time.Minute })
	b := newPromDaemon(t, prom, slos, pdConfig(t, pd), t0, func(c *Config) { c.Interval, c.Step = time.Minute, time.Minute })
	srv := httptest.NewServer(a.d.Handler())
	defer srv.Close()
	if code := httpStatus(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d before the backfill", code)
	}
	a.runTo(t0)
	b.runTo(t0)
	coldQueries, coldSteps := a.reads()
	if code := httpStatus(t, srv.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz %d after the backfill", code)
	}
	key := DedupKey("e2e-outage", nil, burnrate.ClassBurn)
	waitFor(t, "the page at PagerDuty", 10*time.Second, func() bool {
		incs := incidentsFor(pd, key)
		return len(incs) == 1 && incs[0].Triggers >= 2
	})
	if inc, ok := findIncident(a.d.eng.Open(), "e2e-outage"); !ok || !inc.Start.Equal(t0) {
		t.Fatalf("incident %+v, want one opened on the first tick at %v", inc, t0)
	}
	// The last erroring step ends at t0+1m: the 5m window holds it through
	// t0+5m, and the 5m hold-down resolves the incident at t0+10m.
	a.runTo(t0.Add(9 * time.Minute))
	if len(a.d.eng.Open()) != 1 {
		t.Fatal("resolved before the hold-down")
	}
	a.runTo(t0.Add(10 * time.Minute))
	b.runTo(t0.Add(10 * time.Minute))
	if len(a.d.eng.Open()) != 0 {
		t.Fatalf("still open after the hold-down: %+v", a.d.eng.Open())
	}
	waitFor(t, "the resolve at PagerDuty", 10*time.Second, func() bool {
		incs := incidentsFor(pd, key)
		return len(incs) == 1 && incs[0].Resolved
	}, func() string {
		return fmt.Sprintf("events %+v incidents %+v recent %+v", pd.Events(), pd.Incidents(), a.d.eng.Recent())
	})
	if incs := pd.Incidents(); len(incs) != 1 {
		t.Errorf("PagerDuty has %d incidents, want 1: %+v", len(incs), incs)
	}
	if rej := pd.Rejected(); len(rej) > 0 {
		t.Errorf("PagerDuty rejected events: %v", rej)
	}
	// Two days of history at 1m, 30 days asked for: the cold start read the
	// window through the tiers, and a later tick only its newest step plus
	// the re-read ones, with one range query each for errors and total.
	if coldQueries == 0 || coldSteps < 30*24*60/10 {
		t.Fatalf("cold start: %d queries for %d steps", coldQueries, coldSteps)
	}
	q0, s0 := a.reads()
	a.runTo(t0.Add(11 * time.Minute))
	q1, s1 := a.reads()
	if q, s := q1-q0, s1-s0; q < 1 || q > 2 || s < 1 || s > 1+engine.Rereads {
		t.Errorf("one tick after the backfill read %d steps in %d queries, want 1 to %d steps in at most 2 queries",
			s, q, 1+engine.Rereads)
	}
}

// TestPrometheusOutageMidRun: Prometheus is stopped while a two-minute full
// outage happens (t0+5m to t0+7m) and started again at t0+11m. slod reports the outage
// (metric, status page), keeps serving, backfills the gap when Prometheus
// is back and replays it, so the burn still pages — and resolves.
func TestPrometheusOutageMidRun(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	end := time.Now().UTC().Truncate(time.Minute)
	t0 := end.Add(-40 * time.Minute)
	fx := promtest.SLOFixture{End: end, Length: 48 * time.Hour, RequestsPerMinute: 1000,
		Scenarios: map[string][]promtest.Burn{"blip": {{From: t0.Add(5 * time.Minute), To: t0.Add(7 * time.Minute), ErrorsPerMinute: 1000}}}}
	prom := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	pd := notifytest.NewPagerDuty()
	defer pd.Close()
	t.Setenv(pdKeyEnv, "0123456789abcdef0123456789abcdef")
	slos := sloDir(t, map[string]string{"e2e.yaml": fx.SLOYAML("e2e", 99.9, "30d", "blip")})
	a := newPromDaemon(t, prom, slos, pdConfig(t, pd), t0, func(c *Config) { c.Interval, c.Step = time.Minute, time.Minute })
	srv := httptest.NewServer(a.d.Handler())
	defer srv.Close()

	a.runTo(t0.Add(2 * time.Minute))
	prom.Stop()
	a.runTo(t0.Add(10 * time.Minute))
	snap := a.d.Snapshot()
	if snap.Source.Up || snap.Source.LastError == "" {
		t.Fatalf("outage not reported: %+v", snap.Source)
	}
	page := httpBody(t, srv.URL+"/")
	if !strings.Contains(page, "is failing") {
		t.Error("status page does not report the failing source")
	}
	metrics := httpBody(t, srv.URL+"/metrics")
	if !strings.Contains(metrics, "slod_source_up 0") {
		t.Error("slod_source_up is not 0 during the outage")
	}
	if len(pd.Events()) != 0 {
		t.Fatal("paged without data")
	}
	prom.Start(t)
	a.runTo(t0.Add(11 * time.Minute))
	if !a.d.Snapshot().Source.Up {
		t.Fatal("source still down after Prometheus came back")
	}
	inc, ok := findIncident(a.d.eng.Open(), "e2e-blip")
	if !ok {
		t.Fatal("the burn during the outage was missed")
	}
	// 51.8 s into the burn at t0+5m: the tick at t0+6m, replayed.
	if !inc.Start.Equal(t0.Add(6 * time.Minute)) {
		t.Errorf("incident start %v, want %v (replayed)", inc.Start, t0.Add(6*time.Minute))
	}
	a.runTo(t0.Add(20 * time.Minute))
	key := DedupKey("e2e-blip", nil, burnrate.ClassBurn)
	waitFor(t, "trigger and resolve at PagerDuty", 10*time.Second, func() bool {
		incs := incidentsFor(pd, key)
		return len(incs) == 1 && incs[0].Resolved
	}, func() string {
		return fmt.Sprintf("events %d incidents %+v recent %+v", len(pd.Events()), pd.Incidents(), a.d.eng.Recent())
	})
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := httpClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := httpClient().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// httpClient is the tests' HTTP client: no request waits for ever.
func httpClient() *http.Client { return &http.Client{Timeout: 2 * time.Second} }
