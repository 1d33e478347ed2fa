package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// fleetQuerier answers every query with the same n route series, their
// points rewritten in place for the range asked: it allocates nothing
// itself, so a benchmark counts the engine's allocations (and those of
// decoding nothing). Errors are 0.1% of 100 events a second.
type fleetQuerier struct {
	total, errs model.Matrix
}

func newFleetQuerier(n, points int) *fleetQuerier {
	mk := func(v float64) model.Matrix {
		m := make(model.Matrix, n)
		for i := range m {
			m[i] = &model.SampleStream{Metric: model.Metric{"route": model.LabelValue(fmt.Sprintf("/r/%06d", i))},
				Values: make([]model.SamplePair, points)}
			for j := range m[i].Values {
				m[i].Values[j].Value = model.SampleValue(v)
			}
		}
		return m
	}
	return &fleetQuerier{total: mk(100), errs: mk(0.1)}
}

func (f *fleetQuerier) QueryRange(_ context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	m := f.total
	if strings.Contains(q, `code="500"`) {
		m = f.errs
	}
	n := int(end.Sub(start)/step) + 1
	for _, s := range m {
		if cap(s.Values) < n {
			s.Values = make([]model.SamplePair, n)
		}
		s.Values = s.Values[:n]
		for j := range s.Values {
			s.Values[j].Timestamp = model.TimeFromUnixNano(start.Add(time.Duration(j) * step).UnixNano())
			s.Values[j].Value = m[0].Values[0].Value
		}
	}
	return m, nil
}

// BenchmarkSteadyTick100k is one steady tick of the engine over one
// group_by SLO with 100,000 instances: read the newest step plus two
// re-read ones (three points per series from an allocation-free querier),
// ingest, evaluate, observe. Its allocations per tick are the engine's.
//
//	go test ./engine -run '^$' -bench SteadyTick100k -benchmem -benchtime 10x
func BenchmarkSteadyTick100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("SLOD_BENCH_INSTANCES"); s != "" {
		fmt.Sscan(s, &n)
	}
	dir := b.TempDir()
	doc := `version: slod/v1
service: fleet
slos:
  - name: availability
    objective: 99.9
    window: 30d
    group_by: [route]
    annotations:
      runbook: https://runbooks.example.com/fleet
    sli:
      events:
        error_query: sum by (route) (rate(http_requests_total{code="500"}[{{.window}}]))
        total_query: sum by (route) (rate(http_requests_total[{{.window}}]))
`
	if err := os.WriteFile(filepath.Join(dir, "fleet.yaml"), []byte(doc), 0o644); err != nil {
		b.Fatal(err)
	}
	cat := Load(dir)
	q := newFleetQuerier(n, 3)
	e, err := New(Options{Querier: q})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := e.Apply(cat, start); err != nil {
		b.Fatal(err)
	}
	now := start.Add(48 * time.Hour)
	began := time.Now()
	if err := e.Tick(context.Background(), now).Err(); err != nil { // the backfill of 30 days
		b.Fatal(err)
	}
	backfill := time.Since(began)
	for range 3 { // warm the buffers
		now = now.Add(time.Minute)
		e.Tick(context.Background(), now)
	}
	if got := e.SLO("fleet-availability").Evaluator().Len(); got != n {
		b.Fatalf("%d instances", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(time.Minute)
		if err := e.Tick(context.Background(), now).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(backfill.Seconds(), "backfill-s")
}
