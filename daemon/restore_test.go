package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/notify/notifytest"
)

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
	// Operators see it: a banner on the status page and in /readyz, and
	// the outbox depth counts it.
	if b := a.d.Snapshot().Banners; len(b) != 1 || !strings.Contains(b[0], "not delivered") {
		t.Errorf("banners %q, want the page not delivered", b)
	}
	if v := gaugeOf(t, a.reg, "slod_notify_outbox_depth", "(refused)"); v != float64(len(a.d.pending)) {
		t.Errorf("outbox depth of refused pages %v, want %d", v, len(a.d.pending))
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
	if !(engine.Shard{Index: 0, Count: 2}).OwnsSLO(id) {
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
			b := newDemoDaemon(t, state, func(c *Config) { c.SLODir = slos; tc.restart(c, slos) }, nil)
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
				if b.d.eng.SLO(o.SLO) == nil || !b.d.eng.Owns(o.SLO, strings.TrimPrefix(o.Key, o.SLO)) {
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

// gaugeOf reads the gauge of a metric family with a receiver label.
func gaugeOf(t *testing.T, g prometheus.Gatherer, name, receiver string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "receiver" && l.GetValue() == receiver {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{receiver=%q}", name, receiver)
	return 0
}
