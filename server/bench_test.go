package server

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks run on a synthetic fleet of 100,000 instances over 3 SLOs
// with page incidents on 1% of them (docs/performance.md, "Status page and
// API at 100k instances"):
//
//	go test ./server -run '^$' -bench . -benchmem

var (
	fleet100kOnce sync.Once
	fleet100k     *Snapshot
)

func benchFleet(b *testing.B) *Snapshot {
	b.Helper()
	fleet100kOnce.Do(func() { fleet100k = fleet(100_000, 100) })
	return fleet100k
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

// reportCPU reports the CPU time per operation since cpu.
func reportCPU(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// countingWriter is a ResponseWriter that only counts the body's bytes.
type countingWriter struct {
	h    http.Header
	code int
	n    int64
}

func (w *countingWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *countingWriter) WriteHeader(code int)        { w.code = code }

// serveBench serves path from a server over snap b.N times and reports the
// response size.
func serveBench(b *testing.B, snap *Snapshot, path string) {
	b.Helper()
	s, err := New(Options{Snapshot: func() *Snapshot { return snap }, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	var w countingWriter
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		w = countingWriter{}
		s.ServeHTTP(&w, req)
	}
	reportCPU(b, cpu)
	if w.code != 0 && w.code != http.StatusOK {
		b.Fatalf("%s: status %d", path, w.code)
	}
	b.ReportMetric(float64(w.n), "body-bytes")
}

// BenchmarkStatusPage100k renders the first screen of the status page.
func BenchmarkStatusPage100k(b *testing.B) { serveBench(b, benchFleet(b), "/") }

// BenchmarkSLOsAPI100k serves the first page of /api/v1/slos.
func BenchmarkSLOsAPI100k(b *testing.B) { serveBench(b, benchFleet(b), "/api/v1/slos") }

// BenchmarkSnapshotIndex100k builds what every request of a new snapshot
// reads: the state of each instance from the open incidents, the counts
// by state, the cursor order and the instances not ok, ranked. It runs
// once per snapshot, on the first request after the daemon published it.
func BenchmarkSnapshotIndex100k(b *testing.B) {
	base := benchFleet(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		snap := &Snapshot{At: base.At, Incidents: base.Incidents, SLOs: base.SLOs}
		snap.index()
	}
	reportCPU(b, cpu)
}

// BenchmarkInstanceList100k serves the first page of the instance list of
// the whole fleet sorted by burn, highest first: every instance is sorted.
func BenchmarkInstanceList100k(b *testing.B) {
	serveBench(b, benchFleet(b), "/instances?sort=-burn")
}

// BenchmarkInstanceListFiltered100k serves the first page of one SLO's
// instances not ok whose route matches a regexp.
func BenchmarkInstanceListFiltered100k(b *testing.B) {
	serveBench(b, benchFleet(b), `/instances?slo=api-latency&state=page,ticket&labels=route%3D~%22/api/v1/items/[0-9]*00%22`)
}
