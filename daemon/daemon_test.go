package daemon

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// demoStart is a fixed start for the demo script in tests.
var demoStart = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// sharedDemo builds the 30-day demo history once for all tests that only read it.
var (
	demoOnce sync.Once
	demo     *Demo
	demoErr  error
	demoMu   sync.Mutex
)

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

// TestShardsSplitInstancesExactlyOnce: two shards together evaluate every
// instance of the demo once, with group_by SLOs whole on one shard, and
// with them split among the shards by the partition in their queries.
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
	for _, split := range [][]string{nil, {"*"}} {
		t.Run(fmt.Sprintf("split %v", split), func(t *testing.T) {
			seen := map[string]int{}
			for i := range 2 {
				h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.Shard = Shard{Index: i, Count: 2}; c.ShardSplit = split }, nil)
				h.runTo(demoStart)
				if len(h.d.eng.Latest()) == 0 {
					t.Errorf("shard %d/2 evaluates nothing", i)
				}
				for k, l := range h.d.eng.Latest() {
					seen[k]++
					if p := h.d.eng.Partition(l.SLO); split != nil && len(l.Labels) > 0 && p == nil {
						t.Errorf("%s: group_by SLO not split", k)
					}
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
