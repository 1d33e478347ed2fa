package notify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
)

func benchDispatcher(b *testing.B, senders map[string]notify.Sender, cfgText string) *notify.Dispatcher {
	b.Helper()
	cfg, err := receiver.ParseConfig([]byte(cfgText), "bench.yaml", env(nil))
	if err != nil {
		b.Fatal(err)
	}
	d, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}

const benchConfig = "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n"

func discard() map[string]notify.Sender {
	return map[string]notify.Sender{"a": notify.SenderFunc(func(context.Context, notify.Page) error { return nil })}
}

// One durable Enqueue: route, one bbolt transaction, one fsync.
func BenchmarkEnqueue(b *testing.B) {
	d := benchDispatcher(b, discard(), benchConfig)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := d.Enqueue(ctx, testPage(fmt.Sprintf("k%d", i), notify.Trigger, notify.SeverityPage)); err != nil {
			b.Fatal(err)
		}
	}
}

// 100 pages in one EnqueueAll: the fsync is shared.
func BenchmarkEnqueueAll100(b *testing.B) {
	d := benchDispatcher(b, discard(), benchConfig)
	ctx := context.Background()
	pages := make([]notify.Page, 100)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range pages {
			pages[j] = testPage(fmt.Sprintf("k%d-%d", i, j), notify.Trigger, notify.SeverityPage)
		}
		if err := d.EnqueueAll(ctx, pages); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pages)), "ns/page")
}

// Delivery through the outbox to a receiver that accepts at once: read the
// head, send, delete (one fsync per page).
func BenchmarkDeliver(b *testing.B) {
	const n = 200
	for b.Loop() {
		b.StopTimer()
		cfg, _ := receiver.ParseConfig([]byte(benchConfig), "bench.yaml", env(nil))
		done := make(chan struct{})
		count := 0
		senders := map[string]notify.Sender{"a": notify.SenderFunc(func(context.Context, notify.Page) error {
			count++
			if count == n {
				close(done)
			}
			return nil
		})}
		d, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		pages := make([]notify.Page, n)
		for j := range pages {
			pages[j] = testPage(fmt.Sprintf("k%d", j), notify.Trigger, notify.SeverityPage)
		}
		if err := d.EnqueueAll(context.Background(), pages); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error)
		b.StartTimer()
		go func() { ran <- d.Run(ctx) }()
		<-done
		b.StopTimer()
		cancel()
		<-ran
		d.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/page")
}

// Routing one page through the example config's tree.
func BenchmarkRoute(b *testing.B) {
	cfg, err := receiver.LoadConfigOffline("../examples/notify.yaml")
	if err != nil {
		b.Fatal(err)
	}
	router, err := cfg.Router()
	if err != nil {
		b.Fatal(err)
	}
	labels := map[string]string{"service": "search-api", "severity": "ticket", "team": "search", "slo": "search-latency"}
	for b.Loop() {
		if len(router.Receivers(labels)) != 1 {
			b.Fatal("route")
		}
	}
}
