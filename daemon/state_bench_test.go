package daemon

import (
	"context"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

var benchStateSpec = &slo.Spec{ID: "bench-routes", Objective: 99.9, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}

// benchEvaluator is one 30d SLO with n instances whose rings hold the
// whole window, read as a backfill reads it (hours, 10 minutes, minutes):
// every slot written, as in a daemon that has run for a month.
func benchEvaluator(b *testing.B, n int) *burnrate.Evaluator {
	b.Helper()
	e, err := burnrate.NewEvaluator(burnrate.Options{Spec: benchStateSpec, MaxInstances: n})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	w := benchStateSpec.Window
	for _, seg := range []struct {
		from, to time.Time
		res      time.Duration
	}{
		{now.Add(-w), now.Add(-3 * 24 * time.Hour), time.Hour},
		{now.Add(-3 * 24 * time.Hour), now.Add(-6 * time.Hour), 10 * time.Minute},
		{now.Add(-6 * time.Hour), now, time.Minute},
	} {
		var steps []burnrate.StepCount
		for t := seg.from.Add(seg.res); !t.After(seg.to); t = t.Add(seg.res) {
			steps = append(steps, burnrate.StepCount{End: t, Errors: float64(t.Unix() % 7), Total: 1000})
		}
		series := make([]burnrate.Series, n)
		for i := range series {
			series[i] = burnrate.Series{Labels: map[string]string{"route": "/r" + strconv.Itoa(i)}, Steps: steps}
		}
		if err := e.Ingest(burnrate.Batch{From: seg.from, To: seg.to, Resolution: seg.res, Series: series}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

func benchCheckpoint(ev *burnrate.Evaluator) *checkpoint {
	return &checkpoint{header: checkpointHeader{Format: stateFormat, WrittenAt: time.Now().UTC()},
		slos: []checkpointEntry{{checkpointSLO: checkpointSLO{ID: benchStateSpec.ID, Fingerprint: "f"}, ev: ev}}}
}

var stateSizes = []struct {
	name string
	n    int
}{{"10k", 10_000}, {"100k", 100_000}}

// BenchmarkStateCheckpoint writes the ring checkpoint of one 30d SLO with
// 10,000 (or 100,000) instances to a file in a temporary directory, as the
// daemon's background write does: stream, fsync, rename. B/op is what it
// allocates, whatever the instance count.
func BenchmarkStateCheckpoint(b *testing.B) {
	for _, sz := range stateSizes {
		b.Run(sz.name, func(b *testing.B) {
			ev := benchEvaluator(b, sz.n)
			dir := b.TempDir()
			c := benchCheckpoint(ev)
			b.ResetTimer()
			var n int64
			for b.Loop() {
				var err error
				if n, err = writeCheckpoint(context.Background(), dir, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "file-bytes")
		})
	}
}

// BenchmarkStateRestore reads that checkpoint back into an empty evaluator
// as the daemon's restore does. B/op includes the rings restored
// (ring-bytes): all it allocates beyond them is its buffers and the
// labels, so the heap never holds more than that. max-rss-bytes is the
// benchmark process's peak resident memory.
func BenchmarkStateRestore(b *testing.B) {
	for _, sz := range stateSizes {
		b.Run(sz.name, func(b *testing.B) {
			dir := b.TempDir()
			ev := benchEvaluator(b, sz.n)
			if _, err := writeCheckpoint(context.Background(), dir, benchCheckpoint(ev)); err != nil {
				b.Fatal(err)
			}
			var ring int64
			for _, t := range ev.Tiers() {
				ring += int64(t.Span/t.Resolution+2) * 20
			}
			ev = nil
			runtime.GC()
			b.ResetTimer()
			for b.Loop() {
				ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: benchStateSpec, MaxInstances: sz.n})
				if err != nil {
					b.Fatal(err)
				}
				_, err = readCheckpoint(dir, func(s checkpointSLO, r *frameReader) error {
					_, err := ev.ReadFrom(r)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if ev.Len() != sz.n {
					b.Fatal(ev.Len())
				}
			}
			b.ReportMetric(float64(ring*int64(sz.n)), "ring-bytes")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss*1024), "max-rss-bytes")
			}
		})
	}
}
