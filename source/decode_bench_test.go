package source

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// queryRangeBody is a Prometheus query_range answer of n route series, each
// with the given points at value v, as Prometheus 2.42 writes it.
func queryRangeBody(n int, points []time.Time, v string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"route":"/r/%06d"},"values":[`, i)
		for j, t := range points {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `[%d,"%s"]`, t.Unix(), v)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// BenchmarkSyncSteadyTick100k is one steady tick of one group_by SLO with
// 100,000 routes read through the Prometheus source from a local server:
// both range queries of the three newest steps (one new, two re-read),
// decoded and ingested. The server's answers are generated once, so what
// it allocates per op is the client's decoding and the read path's.
//
//	go test ./source -run '^$' -bench SyncSteadyTick100k -benchmem -benchtime 10x
func BenchmarkSyncSteadyTick100k(b *testing.B) {
	n := 100_000
	if s := os.Getenv("SLOD_BENCH_INSTANCES"); s != "" {
		fmt.Sscan(s, &n)
	}
	step := time.Minute
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	points := []time.Time{now.Add(-2 * step), now.Add(-step), now}
	errBody := queryRangeBody(n, points, "0.1")
	totalBody := queryRangeBody(n, points, "100")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := totalBody
		if strings.Contains(r.FormValue("query"), `code=~"5.."`) {
			body = errBody
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	prom, err := NewPrometheus(PrometheusOptions{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	spec := eventsSpec(30*24*time.Hour, "route")
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec, Step: step, MaxInstances: n})
	if err != nil {
		b.Fatal(err)
	}
	// The evaluator holds the newest steps already: a sync reads the three
	// newest again, as a steady tick does (one new step, two re-read).
	first := burnrate.Batch{From: now.Add(-3 * step), To: now}
	for i := range n {
		s := burnrate.Series{Labels: map[string]string{"route": fmt.Sprintf("/r/%06d", i)}}
		for _, t := range points {
			s.Steps = append(s.Steps, burnrate.StepCount{End: t, Errors: 6, Total: 6000})
		}
		first.Series = append(first.Series, s)
	}
	if err := ev.Ingest(first); err != nil {
		b.Fatal(err)
	}
	first = burnrate.Batch{}
	ctx := context.Background()
	var cache SeriesCache
	sync := func() {
		q, err := Sync(ctx, ev, prom, now, SyncOptions{Reread: 3, Cache: &cache})
		if err != nil {
			b.Fatal(err)
		}
		if q != 2 {
			b.Fatalf("%d queries, want 2", q)
		}
	}
	for range 2 { // warm the buffers
		sync()
	}
	if got := ev.Len(); got != n {
		b.Fatalf("%d instances, want %d", got, n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		sync()
	}
	b.ReportMetric(float64(len(errBody)+len(totalBody))/float64(1<<20), "body-MB")
}
