package burnrate

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkStateWrite10k is WriteTo of 10,000 instances of a 30d SLO
// (304 MB of rings) to a writer that keeps nothing: the encoding's cost
// and what it allocates, which is one group's buffer, not the state.
func BenchmarkStateWrite10k(b *testing.B) {
	e, _, _ := filled(b, 10_000)
	b.ResetTimer()
	cpu := cpuTime()
	var n int64
	for b.Loop() {
		var err error
		if n, err = e.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(n), "state-bytes")
}

// BenchmarkStateRead10k is ReadFrom of the same state into an empty
// evaluator, from memory: what it allocates beyond the rings it restores
// (ring-bytes) is its buffers and the labels.
func BenchmarkStateRead10k(b *testing.B) {
	e, _, _ := filled(b, 10_000)
	data, err := e.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	e = nil
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		r := mustEvaluator(b, Options{Spec: benchSpec(), MaxInstances: 10_000})
		if _, err := r.ReadFrom(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		if r.Len() != 10_000 {
			b.Fatal(r.Len())
		}
	}
	reportCPU(b, cpu)
	b.ReportMetric(float64(10_000*footprint(layout(DefaultStep, benchSpec().Window))), "ring-bytes")
}
