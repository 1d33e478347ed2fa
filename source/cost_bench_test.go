package source_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// BenchmarkSamplesPerTick measures, on one real Prometheus 2.42 with
// stats=all, the samples read per evaluation of one 99.9%/30d SLO (default
// policy): by slod's tick (the newest step of its error and total queries)
// and by the rules `sloctl generate` emits for the same SLO. The fixture
// holds 31 days of the SLI counters at 1m and, for every generated
// recording rule, a synthetic recorded series at its group's interval, so
// the rules read what they would read on a server that had been running
// them for a month.
func BenchmarkSamplesPerTick(b *testing.B) {
	promtest.RequireBinaries(b, "prometheus", "promtool")
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	fx := promtest.BurnScenarios(end, 31*24*time.Hour)
	spec := &slo.Spec{ID: "fixture-outage", Name: "outage", Service: "fixture", Objective: 99.9, Window: 30 * 24 * time.Hour,
		SLI: slo.SLI{Events: &slo.EventsSLI{ErrorQuery: fx.ErrorQuery("outage"), TotalQuery: fx.TotalQuery()}}}
	f, err := rules.Generate([]*slo.Spec{spec}, nil, rules.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var recorded []promtest.Counter
	var exprs []string
	for _, g := range f.Groups {
		every := 1
		if g.Interval != "" {
			d, err := slo.ParseDuration(g.Interval)
			if err != nil {
				b.Fatal(err)
			}
			every = int(d / time.Minute)
		}
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			if r.Record != "" {
				recorded = append(recorded, promtest.Counter{Family: r.Record, Labels: r.Labels, Gauge: true, Every: every,
					Value: func(int) float64 { return 1 }})
			}
		}
	}
	srv := promtest.Start(b, promtest.Options{OpenMetrics: fx.OpenMetrics(recorded...)})
	qs, err := source.BuildQueries(spec, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		var tick, reread, ruleSamples int64
		for _, q := range []string{qs.Errors, qs.Total} {
			st, err := promtest.QueryRangeStats(ctx, srv.URL, q, end, end, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			tick += st.TotalQueryableSamples
			// A default Sync tick also re-reads the two previous steps.
			st, err = promtest.QueryRangeStats(ctx, srv.URL, q, end.Add(-2*time.Minute), end, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			reread += st.TotalQueryableSamples
		}
		var lines []string
		for _, e := range exprs {
			st, err := promtest.QueryStats(ctx, srv.URL, e, end)
			if err != nil {
				b.Fatalf("%s: %v", e, err)
			}
			ruleSamples += st.TotalQueryableSamples
			lines = append(lines, fmt.Sprintf("%8d  %.90s", st.TotalQueryableSamples, strings.Join(strings.Fields(e), " ")))
		}
		if ruleSamples == 0 || tick == 0 {
			b.Fatalf("no samples read: tick %d, rules %d", tick, ruleSamples)
		}
		b.ReportMetric(float64(tick), "slod-samples/tick")
		b.ReportMetric(float64(tick)/2, "slod-samples/series/tick")
		b.ReportMetric(float64(reread)/2, "slod-samples/series/tick-with-reread")
		b.ReportMetric(float64(ruleSamples), "rules-samples/eval")
		b.ReportMetric(float64(ruleSamples)/float64(tick), "ratio")
		b.Logf("per rule:\n%s", strings.Join(lines, "\n"))
	}
}

// BenchmarkBackfill30d is a first start of one 99.9%/30d SLO against a real
// Prometheus 2.42 holding 31 days at 1m: the tiered backfill (27d at 1h,
// 3d at 10m, 6h at 1m) and, for comparison, the same 30 days read at 1m.
func BenchmarkBackfill30d(b *testing.B) {
	promtest.RequireBinaries(b, "prometheus", "promtool")
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	fx := promtest.BurnScenarios(end, 31*24*time.Hour)
	srv := promtest.Start(b, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	spec := &slo.Spec{ID: "fixture-outage", Objective: 99.9, Window: 30 * 24 * time.Hour,
		SLI: slo.SLI{Events: &slo.EventsSLI{ErrorQuery: fx.ErrorQuery("outage"), TotalQuery: fx.TotalQuery()}}}
	reg := prometheus.NewRegistry()
	m := source.NewMetrics(reg)
	p, err := source.NewPrometheus(source.PrometheusOptions{URL: srv.URL, Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		sync func(*burnrate.Evaluator) (int, error)
	}{
		{"tiered", func(ev *burnrate.Evaluator) (int, error) { return source.Sync(ctx, ev, p, end, source.SyncOptions{}) }},
		{"all-at-1m", func(ev *burnrate.Evaluator) (int, error) {
			r := &source.Reader{Querier: p, Spec: spec, Step: time.Minute}
			batch, n, err := r.Read(ctx, end.Add(-spec.Window), end, time.Minute)
			if err != nil {
				return n, err
			}
			return n, ev.Ingest(batch)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var queries int
			before := pointsRead(b, reg)
			for b.Loop() {
				ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
				if err != nil {
					b.Fatal(err)
				}
				if queries, err = tc.sync(ev); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(queries), "queries")
			b.ReportMetric((pointsRead(b, reg)-before)/float64(b.N), "points")
		})
	}
}

func pointsRead(b *testing.B, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "slod_source_points_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
