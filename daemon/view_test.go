package daemon

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/source"
)

func latestOf(bySLO map[string][]string) map[string]engine.Latest {
	out := map[string]engine.Latest{}
	for id, keys := range bySLO {
		for _, k := range keys {
			out[k] = engine.Latest{SLO: id}
		}
	}
	return out
}

// snapshotOf is a published snapshot holding keys in the order given.
func snapshotOf(bySLO map[string][]string, ids ...string) *server.Snapshot {
	snap := &server.Snapshot{}
	for _, id := range ids {
		sl := server.SLO{ID: id}
		for _, k := range bySLO[id] {
			sl.Instances = append(sl.Instances, server.Instance{Key: k, Evaluated: true})
		}
		if len(sl.Instances) == 0 {
			sl.Instances = []server.Instance{{Key: id + "{}"}}
		}
		snap.SLOs = append(snap.SLOs, sl)
	}
	return snap
}

func keysOf(m map[string][]server.Instance) map[string][]string {
	out := map[string][]string{}
	for id, ins := range m {
		for _, in := range ins {
			if in.Key == "" {
				continue
			}
			out[id] = append(out[id], in.Key)
		}
		if out[id] == nil {
			out[id] = nil
		}
	}
	return out
}

func keyOnly(key string, _ engine.Latest) server.Instance { return server.Instance{Key: key} }

func TestPublishInstancesBySLOTakeThePreviousOrderOnlyForTheSameSet(t *testing.T) {
	// prev lists a's keys out of order: a result in that order shows it
	// was taken, not sorted again.
	prev := map[string][]string{"a": {"a3", "a1", "a2"}, "b": {"b1"}, "c": nil}
	cases := []struct {
		name   string
		prev   *server.Snapshot
		latest map[string][]string
		want   map[string][]string
	}{
		{"without a previous snapshot the keys are grouped and sorted", nil,
			map[string][]string{"a": {"a2", "a3", "a1"}, "b": {"b1"}},
			map[string][]string{"a": {"a1", "a2", "a3"}, "b": {"b1"}}},
		{"the same set keeps the previous order", snapshotOf(prev, "a", "b", "c"),
			map[string][]string{"a": {"a1", "a2", "a3"}, "b": {"b1"}},
			map[string][]string{"a": {"a3", "a1", "a2"}, "b": {"b1"}, "c": nil}},
		{"a new instance sorts again", snapshotOf(prev, "a", "b", "c"),
			map[string][]string{"a": {"a1", "a2", "a3"}, "b": {"b1"}, "c": {"c1"}},
			map[string][]string{"a": {"a1", "a2", "a3"}, "b": {"b1"}, "c": {"c1"}}},
		{"an instance gone sorts again", snapshotOf(prev, "a", "b", "c"),
			map[string][]string{"a": {"a1", "a3"}, "b": {"b1"}},
			map[string][]string{"a": {"a1", "a3"}, "b": {"b1"}}},
		{"an instance under another SLO sorts again", snapshotOf(prev, "a", "b", "c"),
			map[string][]string{"a": {"a1", "a2"}, "b": {"b1", "a3"}},
			map[string][]string{"a": {"a1", "a2"}, "b": {"a3", "b1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := keysOf(instancesBySLO(latestOf(tc.latest), tc.prev, nil, keyOnly))
			for id, want := range tc.want {
				if !slices.Equal(got[id], want) {
					t.Errorf("%s: %q, want %q", id, got[id], want)
				}
			}
			for id := range got {
				if _, ok := tc.want[id]; !ok {
					t.Errorf("unexpected SLO %s: %q", id, got[id])
				}
			}
		})
	}
}

// routesSLODir is one availability SLO per route over n routes; the first
// bad routes fail half their requests. It returns the SLO directory and
// the embedded source with 150 minutes of traffic up to demoStart + 30m.
func routesSLODir(t *testing.T, n, bad int) (string, *source.Embedded) {
	t.Helper()
	dir := t.TempDir()
	doc := `version: slod/v1
service: fleet
slos:
  - name: routes
    objective: 99.9
    group_by: [route]
    sli:
      events:
        error_query: sum by (route) (rate(fleet_requests_total{code="500"}[{{.window}}]))
        total_query: sum by (route) (rate(fleet_requests_total[{{.window}}]))
`
	if err := os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	var series strings.Builder
	for i := range n {
		fmt.Fprintf(&series, "fleet_requests_total{route=\"/r/%03d\",code=\"200\"} 0+6000x150\n", i)
		if i < bad {
			fmt.Fprintf(&series, "fleet_requests_total{route=\"/r/%03d\",code=\"500\"} 0+6000x150\n", i)
		}
	}
	e := source.NewEmbedded()
	if err := e.LoadSeries(demoStart.Add(-2*time.Hour), time.Minute, series.String()); err != nil {
		t.Fatal(err)
	}
	return dir, e
}

// A fleet larger than chartLimit: publish draws the budget of the
// instances with an open incident only, lists every instance by key, and
// the status page shows the charts it has without claiming it is still
// collecting data for the others.
func TestPublishDrawsOnlyTheIncidentsBudgetsInALargeFleet(t *testing.T) {
	const n, bad = chartLimit + 100, 3
	dir, e := routesSLODir(t, n, bad)
	// Samples every minute: a step of 2m has two.
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.SLODir, c.Step, c.Interval = dir, 2*time.Minute, 2*time.Minute },
		func(source.Querier) source.Querier { return e })
	for tick := range 2 { // the second reuses the first's order
		h.runTo(demoStart.Add(time.Duration(tick) * 2 * time.Minute))
		snap := h.d.Snapshot()
		if len(snap.SLOs) != 1 || len(snap.SLOs[0].Instances) != n || !snap.BudgetForIncidentsOnly {
			t.Fatalf("tick %d: %d SLOs, %d instances, budgets for incidents only %v; problems %+v", tick, len(snap.SLOs), len(snap.SLOs[0].Instances), snap.BudgetForIncidentsOnly, snap.Problems)
		}
		ins := snap.SLOs[0].Instances
		if !slices.IsSortedFunc(ins, func(a, b server.Instance) int { return strings.Compare(a.Key, b.Key) }) {
			t.Errorf("tick %d: instances not by key", tick)
		}
		if len(snap.Incidents) != bad {
			t.Fatalf("tick %d: %d incidents, want %d", tick, len(snap.Incidents), bad)
		}
		for j, in := range ins {
			paging := in.Labels["route"] < fmt.Sprintf("/r/%03d", bad)
			if st := snap.State(0, j); (st == server.StatePage) != paging || st.String() != in.State(snap.Incidents) {
				t.Errorf("tick %d: %s reads %s", tick, in.Key, st)
			}
			if drawn := len(in.Budget) > 0; drawn != paging {
				t.Errorf("tick %d: %s: budget drawn %v, want %v", tick, in.Key, drawn, paging)
			}
		}
		if c := snap.Counts(0); c.Page != bad || c.OK != n-bad {
			t.Errorf("tick %d: counts %+v", tick, c)
		}
	}
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	page := httpBody(t, srv.URL+"/")
	if strings.Count(page, "<polyline") != bad || strings.Contains(page, "collecting data") {
		t.Errorf("first screen: %d budget charts, collecting data %v; want %d charts",
			strings.Count(page, "<polyline"), strings.Contains(page, "collecting data"), bad)
	}
}

// cpuTime is the process's user and system CPU time: on a shared machine
// steadier than the wall time, which other processes' load stretches.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPublishInstances100k is publish's work per instance at 100,000
// instances over 3 SLOs: order the keys and copy each newest evaluation
// into the snapshot. "first" sorts (no previous snapshot, or its set of
// instances changed); "steady" takes the previous snapshot's order;
// "recycled" does too, building in the memory of the snapshot before
// (publish's case when no request holds that one).
func BenchmarkPublishInstances100k(b *testing.B) {
	ids := []string{"api-availability", "api-latency", "shop-checkout"}
	latest := map[string]engine.Latest{}
	for i := range 100_000 {
		id := ids[i%len(ids)]
		labels := map[string]string{"route": fmt.Sprintf("/api/v1/items/%d", i)}
		latest[id+burnrate.LabelsKey(labels)] = engine.Latest{SLO: id, Labels: labels,
			Evaluation: burnrate.Evaluation{BudgetRemaining: 0.5, Rows: make([]burnrate.RowResult, 4)}}
	}
	build := func(prev, old *server.Snapshot) *server.Snapshot {
		var spare map[string][]server.Instance
		if old != nil {
			spare = map[string][]server.Instance{}
			for _, sl := range old.SLOs {
				spare[sl.ID] = sl.Instances
			}
		}
		bySLO := instancesBySLO(latest, prev, spare, func(key string, rec engine.Latest) server.Instance {
			return server.Instance{Key: key, Labels: rec.Labels, Evaluated: true, Evaluation: rec.Evaluation}
		})
		snap := &server.Snapshot{}
		for _, id := range ids {
			snap.SLOs = append(snap.SLOs, server.SLO{ID: id, Instances: bySLO[id]})
		}
		return snap
	}
	prev := build(nil, nil)
	for _, bc := range []struct {
		name    string
		prev    *server.Snapshot
		recycle bool
	}{{"first", nil, false}, {"steady", prev, false}, {"recycled", prev, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime()
			older := build(bc.prev, nil)
			for b.Loop() {
				var old *server.Snapshot
				if bc.recycle {
					old = older
				}
				older = build(bc.prev, old)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestPublishRecyclesOnlyWhatNoOneHolds: publish builds a snapshot's
// instances in the memory of the snapshot replaced two publishes before,
// unless a reader (a request, the metrics collector) still holds that
// one: what a held snapshot shows never changes under its reader.
func TestPublishRecyclesOnlyWhatNoOneHolds(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	step := h.d.cfg.Interval
	at := demoStart
	h.runTo(at)
	first := func(s *server.Snapshot) *server.Instance {
		for i := range s.SLOs {
			if len(s.SLOs[i].Instances) > 0 && s.SLOs[i].Instances[0].Evaluated {
				return &s.SLOs[i].Instances[0]
			}
		}
		t.Fatal("no evaluated instance")
		return nil
	}
	// Held: three publishes later its instances are its own, unchanged.
	held := server.Acquire(h.d.snap.Load)
	want := *first(held)
	for range 3 {
		at = at.Add(step)
		h.runTo(at)
		if first(h.d.snap.Load()) == first(held) {
			t.Fatal("a held snapshot's instances were reused")
		}
	}
	if got := *first(held); got.Key != want.Key || got.Evaluation.BudgetRemaining != want.Evaluation.BudgetRemaining {
		t.Fatalf("held snapshot changed: %+v, was %+v", got, want)
	}
	held.Release()
	// Released (and so not held): publish reuses a replaced snapshot's memory.
	seen := map[*server.Instance]bool{}
	reused := false
	for range 4 {
		at = at.Add(step)
		h.runTo(at)
		p := first(h.d.snap.Load())
		reused = reused || seen[p]
		seen[p] = true
	}
	if !reused {
		t.Error("publish allocated new instances every tick though no one held the old ones")
	}
}
