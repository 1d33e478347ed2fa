package daemon

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
)

// TestAPendingPageJSONCannotCarryDoesNotCostTheState: pages waiting for
// the outbox ride in the incidents state; one that cannot be encoded (a
// NaN figure) is left out with a log line, and the file is still written.
func TestAPendingPageJSONCannotCarryDoesNotCostTheState(t *testing.T) {
	dir := t.TempDir()
	h := newDemoDaemon(t, dir, nil, nil)
	good := notify.Page{DedupKey: "good", Action: notify.Resolve}
	bad := notify.Page{DedupKey: "bad", Action: notify.Resolve, Details: notify.Details{Burn: map[string]float64{"1h": math.NaN()}}}
	h.d.pending = []notify.Page{bad, good}
	if err := h.d.saveState(demoStart); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, h.d.m.incidentWrites.WithLabelValues("ok")); got != 1 {
		t.Fatalf("%v incident states written, want 1", got)
	}
	st, err := readIncidents(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 1 || st.Pending[0].DedupKey != "good" {
		t.Errorf("pending pages in the state %+v, want only the good one", st.Pending)
	}
}

// TestACheckpointWaitsForTheTick: the background checkpoint's writer
// waits at the tick gate while a tick runs, goes on when it opens, and a
// cancelled checkpoint does not stay stuck at a shut gate.
func TestACheckpointWaitsForTheTick(t *testing.T) {
	var g tickGate
	write := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() {
			fw := &frameWriter{ctx: ctx, gate: &g, w: bufio.NewWriter(io.Discard), data: make([]byte, 0, frameDataLen)}
			_, err := fw.Write(make([]byte, 3*frameDataLen))
			done <- err
		}()
		return done
	}
	if err := <-write(context.Background()); err != nil {
		t.Fatalf("open gate: %v", err)
	}
	g.shut()
	done := write(context.Background())
	select {
	case err := <-done:
		t.Fatalf("the writer went through a shut gate (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	g.open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the writer still waits after the gate opened")
	}
	g.shut()
	defer g.open()
	ctx, cancel := context.WithCancel(context.Background())
	done = write(ctx)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled at a shut gate: err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled writer stays stuck at the shut gate")
	}
}
