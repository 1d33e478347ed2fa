package burnrate

import (
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// footprint is the bytes an instance's rings hold (slot arrays only).
func footprint(ls []tierLayout) int {
	n := 0
	for _, l := range ls {
		n += int(l.n) * (8 + 8 + 4)
	}
	return n
}

func TestInstanceMemoryBound(t *testing.T) {
	for _, w := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 28 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour} {
		ls := layout(time.Minute, w)
		if b := footprint(ls); b > 32*1024 {
			t.Errorf("W=%s: rings hold %d bytes per instance, over 32 KiB (%+v)", w, b, ls)
		}
	}
}

func benchSpec() *slo.Spec {
	return &slo.Spec{ID: "bench-routes", Objective: 99.9, Window: 30 * 24 * time.Hour, GroupBy: []string{"route"}}
}

// filled returns an evaluator with n instances holding one hour of steps.
func filled(b *testing.B, n int) (*Evaluator, []Series, time.Time) {
	return filledWith(b, n, Policy{})
}

// filledWith is filled with a policy (zero: the default).
func filledWith(b *testing.B, n int, p Policy) (*Evaluator, []Series, time.Time) {
	b.Helper()
	e := mustEvaluator(b, Options{Spec: benchSpec(), MaxInstances: n, Policy: p})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	series := make([]Series, n)
	steps := make([]StepCount, 60)
	for i := range steps {
		steps[i] = StepCount{End: now.Add(time.Duration(i-59) * time.Minute), Errors: 1, Total: 1000}
	}
	for i := range series {
		ls := map[string]string{"route": "/r" + strconv.Itoa(i)}
		series[i] = Series{Labels: ls, Key: LabelsKey(ls), Steps: steps}
	}
	if err := e.Ingest(Batch{From: now.Add(-time.Hour), To: now, Series: series}); err != nil {
		b.Fatal(err)
	}
	return e, series, now
}

// BenchmarkInstanceBytes reports the heap bytes one 30d instance takes
// (rings, labels and index entry), measured over 2,000 instances.
func BenchmarkInstanceBytes(b *testing.B) {
	const n = 2000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		e, _, _ := filled(b, n)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/instance")
		runtime.KeepAlive(e)
	}
}

// BenchmarkTick100k is one tick over 100,000 instances of a 30d SLO with
// the default policy: ingest the newest step of every instance, then
// evaluate every row and W for all of them (Evaluate: a new result, as
// the daemon keeps it).
func BenchmarkTick100k(b *testing.B) { benchTick(b, false) }

// BenchmarkTick100kReuse is the same tick evaluating into one buffer
// (EvaluateInto), as sloctl backtest does.
func BenchmarkTick100kReuse(b *testing.B) { benchTick(b, true) }

func benchTick(b *testing.B, reuse bool) { benchTickN(b, 100_000, Policy{}, reuse) }

// BenchmarkTickPolicies is BenchmarkTick100kReuse at 5,000 instances for
// each built-in policy: the budget measure (traffic-aware) must allocate
// nothing more per tick than the ratio measure, and cost about as much.
func BenchmarkTickPolicies(b *testing.B) {
	for _, p := range []Policy{DefaultPolicy(), TrafficAwarePolicy()} {
		b.Run(p.Name, func(b *testing.B) { benchTickN(b, 5000, p, true) })
	}
}

func benchTickN(b *testing.B, n int, p Policy, reuse bool) {
	e, series, now := filledWith(b, n, p)
	one := make([]StepCount, 1)
	for i := range series {
		series[i].Steps = one
	}
	var buf []InstanceEvaluation
	if reuse {
		// The steady state: the first tick's buffer is the daemon's start-up.
		buf = e.EvaluateInto(buf, now)
	}
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		prev := now
		now = now.Add(time.Minute)
		one[0] = StepCount{End: now, Errors: 2, Total: 1000}
		if err := e.Ingest(Batch{From: prev, To: now, Series: series}); err != nil {
			b.Fatal(err)
		}
		var evs []InstanceEvaluation
		if reuse {
			buf = e.EvaluateInto(buf, now)
			evs = buf
		} else {
			evs = e.Evaluate(now)
		}
		if len(evs) != n {
			b.Fatalf("%d evaluations", len(evs))
		}
	}
	reportCPU(b, cpu)
}

// cpuTime is the process's user+system CPU time. On a shared machine it is
// steadier than wall time; with the work split over two cores the wall time
// of an unloaded machine is about half of it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(b.N), "cpu-ns/op")
}

// BenchmarkEvaluate100k is the evaluation half of a tick alone.
func BenchmarkEvaluate100k(b *testing.B) {
	e, _, now := filled(b, 100_000)
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		if evs := e.Evaluate(now); len(evs) != 100_000 {
			b.Fatal(len(evs))
		}
	}
	reportCPU(b, cpu)
}
