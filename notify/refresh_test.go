package notify_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
)

// manualClock fires After only when the test advances it.
type manualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	ch chan time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, manualWaiter{c.now.Add(d), ch})
	return ch
}

func (c *manualClock) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// refreshing is a sender like Alertmanager's: it asks to get firing alerts
// again every minute.
type refreshing struct{ got chan notify.Page }

func (r refreshing) Send(_ context.Context, p notify.Page) error { r.got <- p; return nil }
func (refreshing) Refresh() time.Duration                        { return time.Minute }

func TestFiringAlertsAreRefreshedForReceiversThatForget(t *testing.T) {
	cfg := parse(t, "receivers: [{name: am, log: {}}]\nroute: {receiver: am}\n", nil)
	clk := &manualClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	rs := refreshing{got: make(chan notify.Page, 16)}
	d, err := notify.New(notify.Options{Config: cfg, Senders: map[string]notify.Sender{"am": rs}, StateDir: t.TempDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		d.Close()
	}()
	next := func() notify.Page {
		t.Helper()
		select {
		case p := <-rs.got:
			return p
		case <-time.After(10 * time.Second):
			t.Fatal("nothing sent")
		}
		return notify.Page{}
	}
	for _, p := range []notify.Page{
		testPage("firing", notify.Trigger, notify.SeverityPage),
		testPage("ended", notify.Trigger, notify.SeverityPage),
		testPage("ended", notify.Resolve, ""),
	} {
		if err := d.Enqueue(ctx, p); err != nil {
			t.Fatal(err)
		}
		if got := next(); got.DedupKey != p.DedupKey || got.Action != p.Action {
			t.Fatalf("sent %s %s, want %s %s", got.DedupKey, got.Action, p.DedupKey, p.Action)
		}
	}
	// Refresh only happens while the receiver's queue is empty: wait for
	// the last removal to commit, and for the refresh loop to wait.
	deadline := time.Now().Add(10 * time.Second)
	for clk.waiting() == 0 || !drained(d) {
		if time.Now().After(deadline) {
			t.Fatal("refresh loop not waiting")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Advance(time.Minute)
	if got := next(); got.DedupKey != "firing" || got.Action != notify.Trigger {
		t.Fatalf("refresh sent %s %s, want the firing trigger", got.DedupKey, got.Action)
	}
	select {
	case p := <-rs.got:
		t.Fatalf("refresh also sent %s %s (resolved alerts must not come back)", p.DedupKey, p.Action)
	default:
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"../examples/notify.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(goodConfig))
	f.Add([]byte("receivers: [{name: a, log: {}}]\nroute: {receiver: a, routes: [{match_re: {x: 'a|b'}, continue: true}]}\n"))
	f.Add([]byte("route: &r {receiver: a, routes: [*r]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lookup := func(string) (string, bool) { return "value", true }
		cfg, err := receiver.ParseConfig(data, "fuzz.yaml", lookup)
		cfg2, err2 := receiver.ParseConfig(data, "fuzz.yaml", lookup)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("second parse disagrees: %v vs %v", err, err2)
		}
		if err != nil {
			return
		}
		labels := map[string]string{"severity": "page", "team": "payments", "service": "search-api"}
		a, b := mustRouter(t, cfg).Receivers(labels), mustRouter(t, cfg2).Receivers(labels)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("routing: %v vs %v", a, b)
		}
	})
}

func drained(d *notify.Dispatcher) bool {
	st, err := d.Stats()
	if err != nil {
		return false
	}
	for _, s := range st {
		if s.Depth > 0 {
			return false
		}
	}
	return true
}
