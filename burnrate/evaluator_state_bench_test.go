package burnrate

import (
	"bytes"
	"io"
	"strconv"
	"testing"
	"time"
)

// windowFilled returns an evaluator of benchSpec with n instances whose
// rings hold the whole 30d window, read as a backfill reads it (hours, then
// 10 minutes, then minutes): every slot of every tier written, as in a
// daemon that has run for a month.
func windowFilled(b *testing.B, n int) *Evaluator {
	b.Helper()
	e := mustEvaluator(b, Options{Spec: benchSpec(), MaxInstances: n})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	w := benchSpec().Window
	for _, seg := range []struct {
		from, to time.Time
		res      time.Duration
	}{
		{now.Add(-w), now.Add(-3 * 24 * time.Hour), time.Hour},
		{now.Add(-3 * 24 * time.Hour), now.Add(-6 * time.Hour), 10 * time.Minute},
		{now.Add(-6 * time.Hour), now, time.Minute},
	} {
		var steps []StepCount
		for t := seg.from.Add(seg.res); !t.After(seg.to); t = t.Add(seg.res) {
			steps = append(steps, StepCount{End: t, Errors: float64(t.Unix() % 7), Total: 1000})
		}
		series := make([]Series, n)
		for i := range series {
			series[i] = Series{Labels: map[string]string{"route": "/r" + strconv.Itoa(i)}, Steps: steps}
		}
		if err := e.Ingest(Batch{From: seg.from, To: seg.to, Resolution: seg.res, Series: series}); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkStateWrite10k is WriteTo of 10,000 instances of a 30d SLO
// with a full window (304 MB of rings) to a writer that keeps nothing: the
// encoding's cost and what it allocates, which is one group's buffer, not
// the state.
func BenchmarkStateWrite10k(b *testing.B) {
	e := windowFilled(b, 10_000)
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
	e := windowFilled(b, 10_000)
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

// BenchmarkTickWhileWriting10k is a tick (ingest the newest step of
// 10,000 instances, evaluate them) alone ("idle") and while WriteTo writes
// the same evaluator over and over in another goroutine ("writing"): the
// write takes the lock one group at a time, so a tick waits for at most
// one group's encoding. max-ns is the slowest tick.
func BenchmarkTickWhileWriting10k(b *testing.B) {
	for _, writing := range []bool{false, true} {
		name := "idle"
		if writing {
			name = "writing"
		}
		b.Run(name, func(b *testing.B) {
			e := windowFilled(b, 10_000)
			now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			series := make([]Series, 10_000)
			one := []StepCount{{}}
			for i := range series {
				ls := map[string]string{"route": "/r" + strconv.Itoa(i)}
				series[i] = Series{Labels: ls, Key: LabelsKey(ls), Steps: one}
			}
			stop := make(chan struct{})
			done := make(chan int)
			if writing {
				go func() {
					n := 0
					for {
						select {
						case <-stop:
							done <- n
							return
						default:
						}
						if _, err := e.WriteTo(io.Discard); err != nil {
							b.Error(err)
						}
						n++
					}
				}()
			}
			var slowest time.Duration
			b.ResetTimer()
			for b.Loop() {
				began := time.Now()
				prev := now
				now = now.Add(time.Minute)
				one[0] = StepCount{End: now, Errors: 2, Total: 1000}
				if err := e.Ingest(Batch{From: prev, To: now, Series: series}); err != nil {
					b.Fatal(err)
				}
				e.Evaluate(now)
				slowest = max(slowest, time.Since(began))
			}
			b.StopTimer()
			b.ReportMetric(float64(slowest), "max-ns")
			if writing {
				close(stop)
				b.ReportMetric(float64(<-done), "writes")
			}
		})
	}
}
