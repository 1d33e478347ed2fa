package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

var start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fixture is two days of traffic for three services at 15s scrapes: a
// 100 req/s counter per route of api (routes /a and /b), pay and ship; pay
// fails every request from 47h on.
func fixture(t *testing.T) *source.Embedded {
	t.Helper()
	e := source.NewEmbedded()
	const scrapes = 2 * 24 * 60 * 4
	outage := 47 * 60 * 4
	var b strings.Builder
	for _, s := range []string{`svc="api",route="/a"`, `svc="api",route="/b"`, `svc="ship"`} {
		fmt.Fprintf(&b, "requests_total{%s,code=\"200\"} 0+1500x%d\n", s, scrapes)
		fmt.Fprintf(&b, "requests_total{%s,code=\"500\"} 0+0x%d\n", s, scrapes)
	}
	fmt.Fprintf(&b, "requests_total{svc=\"pay\",code=\"200\"} 0+1500x%d 0+0x%d\n", outage-1, scrapes-outage)
	fmt.Fprintf(&b, "requests_total{svc=\"pay\",code=\"500\"} 0+0x%d 0+1500x%d\n", outage-1, scrapes-outage)
	if err := e.LoadSeries(start, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	return e
}

func catalogue(t *testing.T) *Catalogue {
	t.Helper()
	dir := t.TempDir()
	for _, svc := range []string{"api", "pay", "ship"} {
		group := ""
		by := ""
		if svc == "api" {
			group, by = "    group_by: [route]\n", " by (route)"
		}
		doc := fmt.Sprintf(`version: slod/v1
service: %[1]s
slos:
  - name: availability
    objective: 99.9
    window: 30d
%[2]s    annotations:
      runbook: https://runbooks.example.com/%[1]s
    sli:
      events:
        error_query: sum%[3]s(rate(requests_total{svc="%[1]s",code="500"}[{{.window}}]))
        total_query: sum%[3]s(rate(requests_total{svc="%[1]s"}[{{.window}}]))
`, svc, group, by)
		if err := os.WriteFile(filepath.Join(dir, svc+".yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := Load(dir)
	if cat.HasErrors() || len(cat.Entries) != 3 {
		t.Fatalf("catalogue: %v, %d entries", cat.Diagnostics, len(cat.Entries))
	}
	return cat
}

// querierFunc adapts a function to source.Querier.
type querierFunc func(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error)

func (f querierFunc) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	return f(ctx, q, start, end, step)
}

func newEngine(t *testing.T, o Options) *Engine {
	t.Helper()
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Apply(catalogue(t), start); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestTickPagesTheBurningSLOOnly: a tick backfills every SLO, evaluates
// every instance, and opens an incident for the one that burns.
func TestTickPagesTheBurningSLOOnly(t *testing.T) {
	e := newEngine(t, Options{Querier: fixture(t)})
	res := e.Tick(context.Background(), start.Add(47*time.Hour+10*time.Minute))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Backfills) != 3 {
		t.Errorf("backfills %+v, want one per SLO", res.Backfills)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != burnrate.ChangeOpened || res.Changes[0].Incident.SLO != "pay-availability" ||
		res.Changes[0].Incident.Severity != burnrate.SeverityPage {
		t.Fatalf("changes %+v, want pay's page opened", res.Changes)
	}
	if n := len(e.Latest()); n != 4 {
		t.Errorf("%d instances evaluated, want 4 (api has two routes)", n)
	}
}

// TestAFailingSLOReadDoesNotStopTheOthers: one SLO whose queries fail is
// reported and not evaluated; the others are.
func TestAFailingSLOReadDoesNotStopTheOthers(t *testing.T) {
	emb := fixture(t)
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		if strings.Contains(q, `svc="ship"`) {
			return nil, errors.New("connection refused")
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q})
	res := e.Tick(context.Background(), start.Add(47*time.Hour+10*time.Minute))
	if len(res.Failed) != 1 || res.Failed["ship-availability"] == nil || !strings.Contains(res.Err().Error(), "ship-availability") {
		t.Fatalf("failed %v, want ship only", res.Failed)
	}
	if len(res.Changes) != 1 || res.Changes[0].Incident.SLO != "pay-availability" {
		t.Fatalf("changes %+v, want pay's page despite ship failing", res.Changes)
	}
	if !e.SLO("ship-availability").Evaluator().LastStep().IsZero() {
		t.Error("the failed SLO ingested steps")
	}
}

// TestReadsOfDifferentSLOsRunConcurrently: with a pool of three, the three
// SLOs' first reads are in flight at once (a tick is not the sum of every
// SLO's latency); with a pool of one, never more than one.
func TestReadsOfDifferentSLOsRunConcurrently(t *testing.T) {
	for _, tc := range []struct {
		pool, want int
	}{{3, 3}, {1, 1}} {
		t.Run(fmt.Sprintf("pool of %d", tc.pool), func(t *testing.T) {
			emb := fixture(t)
			var mu sync.Mutex
			inFlight, peak := 0, 0
			q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
				mu.Lock()
				inFlight++
				peak = max(peak, inFlight)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // a slow server
				mu.Lock()
				inFlight--
				mu.Unlock()
				return emb.QueryRange(ctx, q, s, en, step)
			})
			e := newEngine(t, Options{Querier: q, Concurrency: tc.pool})
			if err := e.Tick(context.Background(), start.Add(24*time.Hour)).Err(); err != nil {
				t.Fatal(err)
			}
			if peak != tc.want {
				t.Errorf("peak %d reads in flight, want %d", peak, tc.want)
			}
		})
	}
}

// TestOwnsKeepsAShardToItsInstances: an engine that owns only route /a of
// the group_by SLO never ingests or evaluates /b.
func TestOwnsKeepsAShardToItsInstances(t *testing.T) {
	e := newEngine(t, Options{Querier: fixture(t), Owns: func(id, key string) bool {
		return id != "api-availability" || key == burnrate.LabelsKey(map[string]string{"route": "/a"})
	}})
	if err := e.Tick(context.Background(), start.Add(24*time.Hour)).Err(); err != nil {
		t.Fatal(err)
	}
	if n := e.SLO("api-availability").Evaluator().Len(); n != 1 {
		t.Errorf("api holds %d instances, want 1", n)
	}
	for key := range e.Latest() {
		if strings.Contains(key, "/b") {
			t.Errorf("evaluated %s, which another shard owns", key)
		}
	}
}

// TestAGapIsReplayedTickByTick: after the source was unreachable for a
// while, the next tick evaluates every missed tick, so a burn that began
// in the gap opens its incident at the tick that would have seen it.
func TestAGapIsReplayedTickByTick(t *testing.T) {
	e := newEngine(t, Options{Querier: fixture(t)})
	if err := e.Tick(context.Background(), start.Add(46*time.Hour)).Err(); err != nil {
		t.Fatal(err)
	}
	res := e.Tick(context.Background(), start.Add(47*time.Hour+30*time.Minute))
	var opened []burnrate.Incident
	for _, c := range res.Changes {
		if c.Kind == burnrate.ChangeOpened {
			opened = append(opened, c.Incident)
		}
	}
	if len(opened) != 1 {
		t.Fatalf("opened %+v, want pay's incident", opened)
	}
	// The outage starts at 47h; a 100% outage trips the 1h/5m page row
	// within its 52 s detection time, at the first tick after 47h.
	if got, want := opened[0].Start, start.Add(47*time.Hour+time.Minute); !got.Equal(want) {
		t.Errorf("opened at %s, want the replayed tick %s", got, want)
	}
}

// TestInstanceCapsAreReported: a cap per SLO and a cap over all SLOs drop
// new label sets beyond them, and the tick says which SLO dropped how many.
func TestInstanceCapsAreReported(t *testing.T) {
	for _, tc := range []struct {
		name          string
		perSLO, total int
	}{
		{"a per-SLO cap of one", 1, 0},
		{"a total cap of three over three SLOs", 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, Options{Querier: fixture(t), MaxInstancesPerSLO: tc.perSLO, MaxInstances: tc.total})
			res := e.Tick(context.Background(), start.Add(24*time.Hour))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if len(res.Capped) != 1 || res.Capped[0].SLO != "api-availability" || res.Capped[0].Dropped < 1 || res.Capped[0].Limit != 1 {
				t.Fatalf("capped %+v, want api refusing its second route at a cap of 1", res.Capped)
			}
			if n := e.SLO("api-availability").Evaluator().Len(); n != 1 {
				t.Errorf("api holds %d instances", n)
			}
		})
	}
}

// TestIdleAndCollapsedAreToldApart: an SLO that asks for them gets a
// no-data incident for zero traffic (idle) and for traffic far below the
// same hour a day earlier (collapsed), with the state named; an SLO that
// does not ask stays quiet on zero traffic (idle is no outage).
func TestIdleAndCollapsedAreToldApart(t *testing.T) {
	// 15s scrapes for 2 days: steady 10 req/s; from 47h the traffic falls
	// to 0.1 req/s ("low"), or stops with the series still there ("zero").
	e := source.NewEmbedded()
	const scrapes = 2 * 24 * 60 * 4
	at := 47 * 60 * 4
	if err := e.LoadSeries(start, 15*time.Second, fmt.Sprintf(`
requests_total{svc="low"} 0+150x%[1]d %[3]d+1.5x%[2]d
requests_total{svc="zero"} 0+150x%[1]d %[3]d+0x%[2]d
requests_total{svc="plain"} 0+150x%[1]d %[3]d+0x%[2]d
`, at, scrapes-at, at*150)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for svc, alerting := range map[string]string{
		"low":   "    alerting:\n      no_data: 10m\n      collapse: {below_percent: 10, baseline: 1d}\n",
		"zero":  "    alerting:\n      no_data: 10m\n      idle: alert\n",
		"plain": "    alerting:\n      no_data: 10m\n",
	} {
		doc := fmt.Sprintf("version: slod/v1\nservice: %[1]s\nslos:\n  - name: availability\n    objective: 99.9\n%[2]s"+
			"    annotations:\n      runbook: https://runbooks.example.com/x\n    sli:\n      events:\n"+
			"        error_query: sum(rate(requests_total{svc=\"%[1]s\",code=\"500\"}[{{.window}}]))\n"+
			"        total_query: sum(rate(requests_total{svc=\"%[1]s\"}[{{.window}}]))\n", svc, alerting)
		if err := os.WriteFile(filepath.Join(dir, svc+".yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := Load(dir)
	if cat.HasErrors() {
		t.Fatal(cat.Diagnostics)
	}
	eng, err := New(Options{Querier: e})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Apply(cat, start); err != nil {
		t.Fatal(err)
	}
	got := map[string]slo.NoDataState{}
	for now := start.Add(46 * time.Hour); !now.After(start.Add(47*time.Hour + 30*time.Minute)); now = now.Add(time.Minute) {
		res := eng.Tick(context.Background(), now)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Changes {
			if c.Kind == burnrate.ChangeOpened && c.Incident.Class == burnrate.ClassNoData {
				got[c.Incident.SLO] = c.Incident.NoDataState
			}
		}
	}
	want := map[string]slo.NoDataState{"low-availability": slo.NoDataCollapsed, "zero-availability": slo.NoDataIdle}
	if !maps.Equal(got, want) {
		t.Fatalf("no-data incidents %v, want %v (plain's zero traffic is idle, no alert)", got, want)
	}
}

// TestSlothSLOPerClusterOpensAnIncidentForTheFailingClusterOnly: a Sloth
// file whose queries aggregate by cluster is one SLO instance per cluster,
// as in Sloth. Cluster a fails 10% of its requests from 47h on, b stays
// healthy: the engine opens incidents for cluster a only, never one for a
// collapsed, cluster-less instance.
func TestSlothSLOPerClusterOpensAnIncidentForTheFailingClusterOnly(t *testing.T) {
	e := source.NewEmbedded()
	const scrapes = 2 * 24 * 60 * 4
	at := 47 * 60 * 4
	if err := e.LoadSeries(start, 15*time.Second, fmt.Sprintf(`
writes_total{cluster="a",code="200"} 0+150x%[1]d %[3]d+135x%[2]d
writes_total{cluster="a",code="500"} 0+0x%[1]d 0+15x%[2]d
writes_total{cluster="b",code="200"} 0+150x%[4]d
writes_total{cluster="b",code="500"} 0+0x%[4]d
`, at, scrapes-at, at*150, scrapes)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	doc := `version: "prometheus/v1"
service: storage
slos:
  - name: writes
    objective: 99.9
    sli:
      events:
        error_query: sum by (cluster) (rate(writes_total{code="500"}[{{.window}}]))
        total_query: sum by (cluster)(rate(writes_total[{{.window}}]))
    alerting:
      annotations:
        runbook: https://runbooks.example.com/storage
`
	if err := os.WriteFile(filepath.Join(dir, "storage.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := Load(dir)
	if cat.HasErrors() || len(cat.Entries) != 1 {
		t.Fatalf("catalogue: %v", cat.Diagnostics)
	}
	eng, err := New(Options{Querier: e})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Apply(cat, start); err != nil {
		t.Fatal(err)
	}
	var opened []string
	for now := start.Add(46 * time.Hour); !now.After(start.Add(47*time.Hour + 30*time.Minute)); now = now.Add(time.Minute) {
		res := eng.Tick(context.Background(), now)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Changes {
			if c.Kind == burnrate.ChangeOpened {
				opened = append(opened, fmt.Sprintf("%s %s %v", c.Incident.Class, c.Incident.Severity, c.Incident.Labels))
			}
		}
	}
	if len(opened) != 1 || opened[0] != "burn page map[cluster:a]" {
		t.Fatalf("incidents opened %q, want one page for cluster a", opened)
	}
	if n := len(eng.Latest()); n != 2 {
		t.Errorf("%d instances evaluated, want one per cluster", n)
	}
}
