package daemon

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
)

// fleetSnapshot is a snapshot of n evaluated instances over two
// group_by: [route] SLOs, each with the default policy's four rows.
func fleetSnapshot(n int) *server.Snapshot {
	rows := func(i int) []burnrate.RowResult {
		out := make([]burnrate.RowResult, 0, 4)
		for _, w := range [][2]time.Duration{{time.Hour, 5 * time.Minute}, {6 * time.Hour, 30 * time.Minute}, {24 * time.Hour, 2 * time.Hour}, {72 * time.Hour, 6 * time.Hour}} {
			out = append(out, burnrate.RowResult{Row: burnrate.Row{Long: w[0], Short: w[1]},
				LongBurn: burnrate.Figure(float64(i%97) / 10), ShortBurn: burnrate.Figure(float64(i%89) / 7)})
		}
		return out
	}
	snap := &server.Snapshot{}
	for s, id := range []string{"api-availability", "api-latency"} {
		sl := server.SLO{ID: id, Objective: 99.9, Window: 30 * 24 * time.Hour}
		for i := s; i < n; i += 2 {
			labels := map[string]string{"route": fmt.Sprintf("/api/v1/items/%d", i)}
			sl.Instances = append(sl.Instances, server.Instance{Key: burnrate.LabelsKey(labels), Labels: labels, Evaluated: true,
				Evaluation: burnrate.Evaluation{BudgetRemaining: burnrate.Figure(1 - float64(i%113)/50), WindowErrors: float64(i % 7), WindowTotal: 1e6, Rows: rows(i)}})
		}
		snap.SLOs = append(snap.SLOs, sl)
	}
	return snap
}

// metricsServer serves snap's /metrics as the daemon does.
func metricsServer(tb testing.TB, snap *server.Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	c := &instanceCollector{snapshot: func() *server.Snapshot { return snap }, perInstance: true}
	reg.MustRegister(c)
	srv, err := server.New(server.Options{Snapshot: func() *server.Snapshot { return snap }, Gatherer: reg, Exposition: c.expose})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// BenchmarkMetricsScrape10k is one scrape of /metrics with the per-instance
// gauges of 10,000 instances (--metrics-per-instance-max's default): about
// 120,000 series, as Prometheus asks for them (gzip).
func BenchmarkMetricsScrape10k(b *testing.B) {
	h := metricsServer(b, fleetSnapshot(10_000))
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "gzip-bytes")
}
