package notify_test

import (
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
)

// Pages the daemon holds because Enqueue refused them are counted where
// operators look: Stats, the outbox depth and age gauges under receiver
// "(refused)", and slod_notify_refused_pages.
func TestRefusedPagesAreCountedInDepthAndAge(t *testing.T) {
	cfg := parse(t, logOnly, nil)
	clk := newSimClock()
	h := newHarness(t, cfg, clk, nil)
	h.open()
	check := func(depth int, age time.Duration) {
		t.Helper()
		st := stats(t, h.d)
		last := st[len(st)-1]
		if !last.Refused || last.Receiver != notify.RefusedReceiver || last.Depth != depth || last.OldestAge != age {
			t.Errorf("refused stats = %+v, want depth %d age %s", last, depth, age)
		}
		if st[0].Refused || st[0].Receiver != "a" {
			t.Errorf("receiver stats = %+v", st[0])
		}
		l := map[string]string{"receiver": notify.RefusedReceiver}
		if v := metric(t, h.reg, "slod_notify_outbox_depth", l); v != float64(depth) {
			t.Errorf("outbox_depth{(refused)} = %v, want %d", v, depth)
		}
		if v := metric(t, h.reg, "slod_notify_outbox_oldest_age_seconds", l); v != age.Seconds() {
			t.Errorf("outbox_oldest_age_seconds{(refused)} = %v, want %v", v, age.Seconds())
		}
		if v := metric(t, h.reg, "slod_notify_refused_pages", nil); v != float64(depth) {
			t.Errorf("refused_pages = %v, want %d", v, depth)
		}
	}
	check(0, 0)
	h.d.SetRefused(3, clk.Now().Add(-5*time.Minute))
	check(3, 5*time.Minute)
	h.d.SetRefused(0, clk.Now().Add(-time.Hour))
	check(0, 0)
}
