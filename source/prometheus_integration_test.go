package source

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/slo"
)

// fixture is 31 days of synthetic SLI history with a fixed end: 1,000
// requests a minute, and three error scenarios.
var fixture = promtest.BurnScenarios(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), 31*24*time.Hour)

var (
	serverOnce sync.Once
	server     *promtest.Server
)

// startFixture starts one Prometheus over the fixture for the whole package
// (backfilling 31 days takes about a second); later callers share it.
func startFixture(t *testing.T) *promtest.Server {
	t.Helper()
	promtest.RequireBinaries(t, "prometheus", "promtool")
	serverOnce.Do(func() {
		server = promtest.Start(&packageTB{TB: t}, promtest.Options{OpenMetrics: fixture.OpenMetrics()})
	})
	if server == nil {
		t.Fatal("prometheus fixture failed to start in an earlier test")
	}
	return server
}

// packageTB lets the shared server outlive the first test that starts it:
// cleanups run when the package's tests end (see TestMain-free note in
// docs/evaluator.md); temporary directories come from os.MkdirTemp.
type packageTB struct{ testing.TB }

func (p *packageTB) Cleanup(f func()) { packageCleanups = append(packageCleanups, f) }

func (p *packageTB) TempDir() string { return packageTempDir(p.TB) }

func scenarioSpec(name string) *slo.Spec {
	return &slo.Spec{ID: "fixture-" + name, Name: name, Service: "fixture", Objective: 99.9, Window: 30 * 24 * time.Hour,
		SLI: slo.SLI{Events: &slo.EventsSLI{ErrorQuery: fixture.ErrorQuery(name), TotalQuery: fixture.TotalQuery()}}}
}

func TestPrometheusChunkedBackfillReproducesTotals(t *testing.T) {
	srv := startFixture(t)
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	wantErrors := map[string]float64{"outage": 120 * 1000, "burn2x": 3 * 1440 * 2, "spike": 5 * 20}
	for _, tc := range []struct {
		name        string
		points      int
		minQueries  int
		wantQueries int
	}{
		{name: "tiered segments in one query each, after one that counts the series", points: 0, wantQueries: 7},
		{name: "segments split into 200-point chunks", points: 200, minQueries: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for scenario, errs := range wantErrors {
				ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: scenarioSpec(scenario)})
				if err != nil {
					t.Fatal(err)
				}
				q, err := Sync(context.Background(), ev, p, fixture.End, SyncOptions{Points: tc.points})
				if err != nil {
					t.Fatal(err)
				}
				if tc.wantQueries > 0 && q != tc.wantQueries || q < tc.minQueries {
					t.Errorf("%s: %d range queries", scenario, q)
				}
				in := ev.Instance(nil)
				w := in.Window(fixture.End, 30*24*time.Hour)
				// Exact up to float round-off (rate × seconds): relative 1e-12.
				if !closeTo(w.Total, 30*24*60*1000) || !closeTo(w.Errors, errs) || w.Known != 30*24*60 {
					t.Errorf("%s: 30d window %+v, want %v errors of %v in %v steps", scenario, w, errs, 30*24*60*1000, 30*24*60)
				}
				// Windows answered by each tier match the fixture's counters.
				for _, d := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour} {
					c := in.Window(fixture.End, d)
					want := fixture.ErrorsAt(scenario, fixture.End) - fixture.ErrorsAt(scenario, fixture.End.Add(-d))
					if !closeTo(c.Errors, want) || !closeTo(c.Total, float64(d/time.Minute)*1000) || c.Known != int(d/time.Minute) {
						t.Errorf("%s over %s: %+v, want %v errors of %v", scenario, d, c, want, float64(d/time.Minute)*1000)
					}
				}
			}
		})
	}
}

// TestPrometheusSamplesPerTick measures what one tick reads from the server
// for one SLO (the newest step of the error and total queries) with
// stats=all, against the same SLO's windows read the recording-rule way.
func TestPrometheusSamplesPerTick(t *testing.T) {
	srv := startFixture(t)
	q, err := BuildQueries(scenarioSpec("outage"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var tick int64
	for _, text := range []string{q.Errors, q.Total} {
		st, err := promtest.QueryRangeStats(ctx, srv.URL, text, fixture.End, fixture.End, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		tick += st.TotalQueryableSamples
	}
	// Two series (errors, total), one step each: 2 samples per series.
	if tick > 2*8 || tick < 2 {
		t.Fatalf("one tick read %d samples for 2 series, want at most 8 per series", tick)
	}
	// Recomputing every window of the default policy and W from raw samples.
	var windows int64
	for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"} {
		for _, tpl := range []string{fixture.ErrorQuery("outage"), fixture.TotalQuery()} {
			st, err := promtest.QueryStats(ctx, srv.URL, slo.ExpandWindow(tpl, w), fixture.End)
			if err != nil {
				t.Fatal(err)
			}
			windows += st.TotalQueryableSamples
		}
	}
	t.Logf("samples read per evaluation for one SLO: slod tick %d, raw window queries %d (%.0f×)", tick, windows, float64(windows)/float64(tick))
	if windows < 1000*tick {
		t.Errorf("raw window queries read %d samples, only %d× the tick", windows, windows/tick)
	}
}

func closeTo(got, want float64) bool { return math.Abs(got-want) <= 1e-12*math.Max(1, math.Abs(want)) }

func TestPrometheusGapBackfillMatchesFreshBackfill(t *testing.T) {
	srv := startFixture(t)
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, gap := range []time.Duration{5 * time.Minute, 12*time.Hour + 7*time.Minute, 4 * 24 * time.Hour} {
		fresh, _ := burnrate.NewEvaluator(burnrate.Options{Spec: scenarioSpec("outage")})
		if _, err := Sync(ctx, fresh, p, fixture.End, SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		// Synced up to the gap, then the source was away; now it is back.
		resumed, _ := burnrate.NewEvaluator(burnrate.Options{Spec: scenarioSpec("outage")})
		if _, err := Sync(ctx, resumed, p, fixture.End.Add(-gap), SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		var progress []Progress
		if _, err := Sync(ctx, resumed, p, fixture.End, SyncOptions{Progress: func(pr Progress) { progress = append(progress, pr) }}); err != nil {
			t.Fatal(err)
		}
		if len(progress) == 0 || progress[0].From.Before(fixture.End.Add(-gap-3*time.Minute)) {
			t.Fatalf("gap %s: the resumed sync re-read from %+v", gap, progress)
		}
		a, b := fresh.Instance(nil), resumed.Instance(nil)
		for _, w := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 30 * 24 * time.Hour} {
			ca, cb := a.Window(fixture.End, w), b.Window(fixture.End, w)
			if !closeTo(ca.Errors, cb.Errors) || !closeTo(ca.Total, cb.Total) || ca.Known != cb.Known {
				t.Errorf("gap %s, window %s: fresh %+v, after the gap %+v", gap, w, ca, cb)
			}
		}
	}
}

// TestPrometheusDiagnosesSparseScrape runs the diagnosis against a real
// Prometheus over counters sampled every minute at 17 s past the minute, as
// a real 1m scrape lands: no 1m step has two samples, so a 1m step knows
// nothing and a 2m step knows every step.
func TestPrometheusDiagnosesSparseScrape(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	start := end.Add(-6 * time.Hour).Add(17 * time.Second)
	var om strings.Builder
	if err := promtest.WriteOpenMetrics(&om, start, time.Minute, 6*60-1,
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"route": "/a", "code": "200"}, Value: func(i int) float64 { return float64(540 * i) }},
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"route": "/a", "code": "500"}, Value: func(i int) float64 { return float64(60 * i) }},
	); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spec := eventsSpec(24 * time.Hour)
	at := end.Add(-time.Hour)
	r := &Reader{Querier: p, Spec: spec, Step: time.Minute}
	b, _, err := r.Read(ctx, at.Add(-time.Hour), at, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range b.Series {
		if len(s.Steps) > 0 {
			t.Fatalf("a 1m step over a 1m scrape knows %d steps; the fixture no longer shows the problem", len(s.Steps))
		}
	}
	missing := eventsSpec(24 * time.Hour)
	missing.SLI.Events.TotalQuery = `sum(rate(grpc_requests_total[{{.window}}]))`
	for _, tc := range []struct {
		name string
		spec *slo.Spec
		step time.Duration
		want string
	}{
		{name: "a 1m step is too fine", spec: spec, step: time.Minute, want: "series http_requests_total exist but are sampled about every 1m; a step of 1m needs at least two samples per step (rate needs two): set --step 2m"},
		{name: "a 2m step has data", spec: spec, step: 2 * time.Minute},
		{name: "a missing metric is named", spec: missing, step: time.Minute, want: "no series match grpc_requests_total in the 1h before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hint, err := DiagnoseEmpty(ctx, p, tc.spec, tc.step, at)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (hint == "") || !strings.Contains(hint, tc.want) {
				t.Fatalf("hint %q, want %q", hint, tc.want)
			}
		})
	}
}
