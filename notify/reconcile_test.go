package notify_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
)

// After a restart, an incident PagerDuty holds open that no live page owns
// gets exactly one resolve, a live page PagerDuty never got exactly one
// trigger; a page still queued counts as told; a second Reconcile sends
// nothing.
func TestReconcileResolvesOrphansAndTriggersTheUntold(t *testing.T) {
	pd := notifytest.NewPagerDuty(pdKey)
	defer pd.Close()
	cfg := parse(t, fmt.Sprintf("receivers: [{name: pd, pagerduty: {url: %s, routing_key_env: PD_KEY}}]\nroute: {receiver: pd}\n", pd.URL()),
		map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.start()
	gone := testPage("gone", notify.Trigger, notify.SeverityPage)
	still := testPage("still", notify.Trigger, notify.SeverityPage)
	h.enqueue(gone)
	h.enqueue(still)
	h.waitDrained(10 * time.Second)
	h.stop()

	// Restarted: "queued" was committed but not yet delivered.
	h.open()
	queued := testPage("queued", notify.Trigger, notify.SeverityTicket)
	h.enqueue(queued)
	fresh := testPage("fresh", notify.Trigger, notify.SeverityPage)
	live := []notify.Page{still, fresh, queued}
	ctx := context.Background()
	res, err := h.d.Reconcile(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	if want := (notify.ReconcileResult{Resolves: 1, Triggers: 1}); res != want {
		t.Errorf("first reconcile = %+v, want %+v", res, want)
	}
	if res, err := h.d.Reconcile(ctx, live); err != nil || res != (notify.ReconcileResult{}) {
		t.Errorf("second reconcile = %+v, %v; want nothing queued", res, err)
	}
	h.stop()
	h.start()
	h.waitDrained(10 * time.Second)
	if res, err := h.d.Reconcile(ctx, live); err != nil || res != (notify.ReconcileResult{}) {
		t.Errorf("reconcile after delivery = %+v, %v; want nothing queued", res, err)
	}
	h.waitDrained(10 * time.Second)

	got := map[string][]string{}
	for _, ev := range pd.Events() {
		got[ev.DedupKey] = append(got[ev.DedupKey], ev.EventAction)
	}
	want := map[string][]string{
		"gone":   {"trigger", "resolve"},
		"still":  {"trigger"},
		"queued": {"trigger"},
		"fresh":  {"trigger"},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("PagerDuty got %v for %s, want %v", got[k], k, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("PagerDuty got keys %v", got)
	}
	for _, inc := range pd.Incidents() {
		if inc.Resolved != (inc.DedupKey == "gone") {
			t.Errorf("incident %s resolved = %v", inc.DedupKey, inc.Resolved)
		}
	}
}

// A receiver added to a page's route since it was told, or a severity that
// changed without being sent, gets the trigger; receivers already told of
// it at that severity do not get it again.
func TestReconcileTellsOnlyTheReceiversThatWereNotTold(t *testing.T) {
	path := filepath.Join(t.TempDir(), notify.OutboxFile)
	a, b := &recorder{}, &recorder{}
	senders := map[string]notify.Sender{"a": a, "b": b}
	open := func(route string) *notify.Dispatcher {
		cfg := parse(t, "receivers: [{name: a, log: {}}, {name: b, log: {}}]\nroute: "+route+"\n", nil)
		d, err := notify.New(notify.Options{Config: cfg, Senders: senders, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ctx := context.Background()
	p := testPage("k", notify.Trigger, notify.SeverityTicket)

	d := open("{receiver: a}")
	if err := d.Enqueue(ctx, p); err != nil {
		t.Fatal(err)
	}
	d.Close()

	d = open("{receiver: a, routes: [{match: {team: payments}, receiver: b, continue: true}, {match: {team: payments}, receiver: a}]}")
	defer d.Close()
	res, err := d.Reconcile(ctx, []notify.Page{p})
	if err != nil {
		t.Fatal(err)
	}
	if want := (notify.ReconcileResult{Triggers: 1}); res != want {
		t.Errorf("reconcile after b was added = %+v, want %+v", res, want)
	}
	p.Severity = notify.SeverityPage
	if res, err = d.Reconcile(ctx, []notify.Page{p}); err != nil {
		t.Fatal(err)
	}
	if want := (notify.ReconcileResult{Triggers: 2}); res != want {
		t.Errorf("reconcile after the severity changed = %+v, want %+v", res, want)
	}
	runUntilDrained(t, d)
	if got, want := a.keys(), []string{"k/trigger", "k/trigger"}; !slices.Equal(got, want) {
		t.Errorf("a got %v, want %v (the ticket, then the page)", got, want)
	}
	if got, want := b.keys(), []string{"k/trigger", "k/trigger"}; !slices.Equal(got, want) {
		t.Errorf("b got %v, want %v (told at reconcile, then the page)", got, want)
	}
	if _, err := d.Reconcile(ctx, []notify.Page{{DedupKey: "r", Action: notify.Resolve}}); err == nil {
		t.Error("a resolve passed as a live page was accepted")
	}
}

// runUntilDrained runs d until its outbox is empty.
func runUntilDrained(t *testing.T, d *notify.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !drained(d) {
		if time.Now().After(deadline) {
			t.Error("outbox not drained")
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
