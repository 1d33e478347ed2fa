package daemon

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/slodhq/slod/source"
)

// TestABackfillThatEndsBetweenTicksMakesTheDaemonReadyAtOnce: the cold
// backfill goes on in the background (--backfill-wait) and ends long before
// the next scheduled tick (here an hour away); the daemon evaluates it, and
// is ready, as soon as it ends — at 100,000 instances that is up to a
// whole interval sooner.
func TestABackfillThatEndsBetweenTicksMakesTheDaemonReadyAtOnce(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) {
		c.Interval = time.Hour
		c.BackfillWait = time.Millisecond
	}, func(q source.Querier) source.Querier {
		return slowQuerier{q, 100 * time.Millisecond}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.d.opts.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !h.d.Snapshot().Ready {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 20 s after start, the next tick an hour away: %+v", h.d.Snapshot().Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, sl := range h.d.Snapshot().SLOs {
		for _, in := range sl.Instances {
			if !in.Evaluated {
				t.Errorf("ready with %s not evaluated", in.Key)
			}
		}
	}
}

// slowQuerier delays every query.
type slowQuerier struct {
	source.Querier
	d time.Duration
}

func (s slowQuerier) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (m model.Matrix, err error) {
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Querier.QueryRange(ctx, q, start, end, step)
}
