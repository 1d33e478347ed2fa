package notify_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
)

const pdConfig = `
receivers:
  - name: pd
    pagerduty:
      url: %s
      routing_key_env: PD_KEY
route:
  receiver: pd
delivery:
  timeout: %s
  backoff_initial: 1s
  backoff_max: 2m
  max_age: 24h
  breaker_failures: 3
  breaker_open: %s
`

// The receiver answers 429 with Retry-After for 2 minutes, 500 for 10
// minutes, hangs past the attempt timeout for 2 minutes, refuses
// connections for 6 minutes, then recovers (simulated time). Every page
// must arrive, in order per dedup key, each incident opened once.
func TestFaultStormEveryPageArrivesOnceInOrder(t *testing.T) {
	for _, target := range stormTargets() {
		t.Run(target.name, func(t *testing.T) { faultStorm(t, target) })
	}
}

// stormTarget is a receiver under test with its local server.
type stormTarget struct {
	name string
	// start returns the server's fault setter, the receiver's config
	// (one receiver named "r"), what the server saw per dedup key, the
	// incidents it opened per key, and a stop function.
	start func() (setFault func(notifytest.FaultFunc), cfg string, seen func() map[string][]string, opened func() map[string]int, stop func())
}

func stormTargets() []stormTarget {
	return []stormTarget{
		{"pagerduty", func() (func(notifytest.FaultFunc), string, func() map[string][]string, func() map[string]int, func()) {
			srv := notifytest.NewPagerDuty(pdKey)
			cfg := "receivers: [{name: r, pagerduty: {url: " + srv.URL() + ", routing_key_env: PD_KEY}}]\n"
			return srv.SetFault, cfg, func() map[string][]string {
					out := map[string][]string{}
					for _, ev := range srv.Events() {
						out[ev.DedupKey] = append(out[ev.DedupKey], ev.EventAction)
					}
					return out
				}, func() map[string]int {
					out := map[string]int{}
					for _, inc := range srv.Incidents() {
						out[inc.DedupKey]++
					}
					return out
				}, srv.Close
		}},
		{"opsgenie", func() (func(notifytest.FaultFunc), string, func() map[string][]string, func() map[string]int, func()) {
			srv := notifytest.NewOpsgenie(ogKey)
			cfg := "receivers: [{name: r, opsgenie: {url: " + srv.URL() + ", api_key_env: OG_KEY}}]\n"
			return srv.SetFault, cfg, func() map[string][]string {
					out := map[string][]string{}
					for _, r := range srv.Accepted() {
						a := "trigger"
						if r.Op == "close" {
							a = "resolve"
						}
						out[r.Alias] = append(out[r.Alias], a)
					}
					return out
				}, func() map[string]int {
					out := map[string]int{}
					for _, a := range srv.Alerts() {
						out[a.Alias]++
					}
					return out
				}, srv.Close
		}},
	}
}

func faultStorm(t *testing.T, target stormTarget) {
	setFault, rcvCfg, seenByKey, openedByKey, stop := target.start()
	defer stop()
	clk := newSimClock()
	t0 := clk.Now()
	phase := func() string {
		switch d := clk.Now().Sub(t0); {
		case d < 2*time.Minute:
			return "429"
		case d < 12*time.Minute:
			return "500"
		case d < 14*time.Minute:
			return "hang"
		case d < 20*time.Minute:
			return "refused"
		}
		return "ok"
	}
	type seen struct {
		at    time.Duration
		phase string
	}
	var mu sync.Mutex
	var log []seen
	setFault(func(*http.Request, int) notifytest.Fault {
		ph := phase()
		mu.Lock()
		log = append(log, seen{clk.Now().Sub(t0), ph})
		mu.Unlock()
		switch ph {
		case "429":
			return notifytest.Fault{Status: 429, RetryAfter: 30 * time.Second}
		case "500":
			return notifytest.Fault{Status: 500, Body: `{"status":"error"}`}
		case "hang":
			return notifytest.Fault{Hang: true}
		}
		return notifytest.Fault{}
	})
	refused := closedAddr(t)
	dialer := &net.Dialer{}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if phase() == "refused" {
			addr = refused
		}
		return dialer.DialContext(ctx, network, addr)
	}}}
	// breaker_open of 1ns: the breaker trips (and is reported) but,
	// since it runs on the wall clock, must not hold up simulated time.
	cfg := parse(t, rcvCfg+`route: {receiver: r}
delivery: {timeout: 150ms, backoff_initial: 1s, backoff_max: 2m, max_age: 24h, breaker_failures: 3, breaker_open: 1ns}
`, map[string]string{"PD_KEY": pdKey, "OG_KEY": ogKey})
	h := newHarness(t, cfg, clk, client)
	h.open()

	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	want := map[string][]string{}
	add := func(k string, a notify.Action) {
		h.enqueue(testPage(k, a, notify.SeverityPage))
		want[k] = append(want[k], string(a))
	}
	for _, k := range keys {
		add(k, notify.Trigger)
	}
	for _, k := range keys[:3] {
		add(k, notify.Resolve)
	}
	add("k0", notify.Trigger) // a new burn after the resolve: a new incident
	add("k4", notify.Trigger) // a refresh of an open incident: merges
	// Run the dispatcher on the already-filled outbox.
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.d.Run(ctx) }()
	h.waitDrained(60 * time.Second)

	got := seenByKey()
	for _, k := range keys {
		if strings.Join(got[k], ",") != strings.Join(want[k], ",") {
			t.Errorf("%s: receiver saw %v, want %v (in order)", k, got[k], want[k])
		}
	}
	opened := openedByKey()
	for _, k := range keys {
		wantOpen := 1
		if k == "k0" {
			wantOpen = 2
		}
		if opened[k] != wantOpen {
			t.Errorf("%s: %d incidents, want %d", k, opened[k], wantOpen)
		}
	}
	if dl := deadLetters(t, h.d, "r"); len(dl) > 0 {
		t.Errorf("dead letters: %+v", dl)
	}
	// Every fault happened and was counted by reason.
	for _, reason := range []string{notify.ReasonRateLimited, notify.ReasonServerError, notify.ReasonTimeout, notify.ReasonConnection} {
		if v := metric(t, h.reg, "slod_notify_failed_total", map[string]string{"receiver": "r", "reason": reason}); v < 1 {
			t.Errorf("failed_total{reason=%s} = %v", reason, v)
		}
	}
	if v := metric(t, h.reg, "slod_notify_sent_total", map[string]string{"receiver": "r"}); v != 11 {
		t.Errorf("sent_total = %v, want 11", v)
	}
	// Retry-After was honoured: after each 429 the next try came no
	// sooner than 30 s later.
	mu.Lock()
	for i := 0; i+1 < len(log); i++ {
		if log[i].phase == "429" && log[i+1].at-log[i].at < 30*time.Second {
			t.Errorf("retry %v after a 429 at %v: Retry-After 30s not honoured", log[i+1].at, log[i].at)
		}
	}
	mu.Unlock()
	if !strings.Contains(h.logs.String(), "to=open") {
		t.Error("the breaker never opened during a 10-minute 500 storm")
	}
}

// The outbox is closed in the middle of a delivery — after the receiver
// processed the page but before its answer arrived, or before the receiver
// processed it — then reopened, 20 times.
// Nothing is lost, and no incident is opened twice.
func TestCrashMidDeliveryTwentyTimes(t *testing.T) {
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1s"), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, &realClock{}, nil)
	var want []string
	const rounds = 20
	for i := 0; i < rounds; i++ {
		served := make(chan struct{})
		var once sync.Once
		var count int
		var mu sync.Mutex
		srv.SetFault(func(*http.Request, int) notifytest.Fault {
			mu.Lock()
			defer mu.Unlock()
			count++
			if count != 2 {
				return notifytest.Fault{}
			}
			// The second request of this round is cut: in even rounds
			// after the receiver processed it (its answer is lost), in
			// odd rounds before (it never arrived).
			if i%2 == 0 {
				return notifytest.Fault{HangAfter: true, Served: func() { once.Do(func() { close(served) }) }}
			}
			once.Do(func() { close(served) })
			return notifytest.Fault{Hang: true}
		})
		h.start()
		key := fmt.Sprintf("incident-%02d", i)
		h.enqueue(testPage(key, notify.Trigger, notify.SeverityPage))
		h.enqueue(testPage(key, notify.Trigger, notify.SeverityPage)) // merges
		want = append(want, key+":trigger", key+":trigger")
		if i > 0 {
			prev := fmt.Sprintf("incident-%02d", i-1)
			h.enqueue(testPage(prev, notify.Resolve, ""))
			want = append(want, prev+":resolve")
		}
		select {
		case <-served:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: the cut request never arrived", i)
		}
		h.stop() // crash: the answer to the served request is never read
	}
	srv.SetFault(nil)
	srv.Release()
	last := fmt.Sprintf("incident-%02d", rounds-1)
	h.start()
	h.enqueue(testPage(last, notify.Resolve, ""))
	want = append(want, last+":resolve")
	h.waitDrained(30 * time.Second)

	// 0 lost: every enqueued (key, action) arrived at least as often as
	// enqueued, in order per key.
	gotByKey := map[string][]string{}
	for _, ev := range srv.Events() {
		gotByKey[ev.DedupKey] = append(gotByKey[ev.DedupKey], ev.EventAction)
	}
	wantByKey := map[string][]string{}
	for _, w := range want {
		k, a, _ := strings.Cut(w, ":")
		wantByKey[k] = append(wantByKey[k], a)
	}
	for k, acts := range wantByKey {
		if !isSubsequence(acts, gotByKey[k]) {
			t.Errorf("%s: sent %v, receiver saw %v", k, acts, gotByKey[k])
		}
	}
	// 0 duplicate incidents: one per key, all resolved.
	inc := srv.Incidents()
	if len(inc) != rounds {
		t.Errorf("%d incidents, want %d", len(inc), rounds)
	}
	for _, in := range inc {
		if !in.Resolved {
			t.Errorf("incident %s left open", in.DedupKey)
		}
	}
	if t.Failed() {
		for _, ev := range srv.Events() {
			t.Logf("receiver saw %s %s", ev.DedupKey, ev.EventAction)
		}
	}
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func TestASlowReceiverDoesNotDelayAnother(t *testing.T) {
	pd := notifytest.NewPagerDuty(pdKey)
	defer pd.Close()
	hook := notifytest.NewWebhook()
	defer hook.Close()
	pd.SetFault(func(*http.Request, int) notifytest.Fault { return notifytest.Fault{Hang: true} })
	cfg := parse(t, fmt.Sprintf(`
receivers:
  - {name: pd, pagerduty: {url: %s, routing_key_env: PD_KEY}}
  - {name: hook, webhook: {url: %s}}
route:
  receiver: hook
  routes:
    - {match: {severity: page}, receiver: pd, continue: true}
    - {match: {severity: page}, receiver: hook}
delivery: {timeout: 1m}
`, pd.URL(), hook.URL()), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.start()
	h.enqueue(testPage("k", notify.Trigger, notify.SeverityPage))
	select {
	case <-hook.Received:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook waited for the hanging PagerDuty")
	}
	h.waitFor(10*time.Second, "pagerduty request in flight", func() bool { return pd.Requests() == 1 })
	if n := len(pd.Incidents()); n != 0 {
		t.Fatalf("pagerduty incidents %d while hanging", n)
	}
	pd.SetFault(nil)
	pd.Release()
	h.waitDrained(20 * time.Second)
	if n := len(pd.Incidents()); n != 1 {
		t.Errorf("pagerduty incidents %d after release", n)
	}
}

func TestAPermanentRejectionIsDeadLetteredAndTheQueueMovesOn(t *testing.T) {
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	srv.SetFault(func(_ *http.Request, n int) notifytest.Fault {
		if n == 1 {
			return notifytest.Fault{Status: 400, Body: `{"status":"invalid event","message":"Event object is invalid","errors":["payload.summary is bad"]}`}
		}
		return notifytest.Fault{}
	})
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1m"), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, newSimClock(), nil)
	h.start()
	h.enqueue(testPage("bad", notify.Trigger, notify.SeverityPage))
	h.enqueue(testPage("good", notify.Trigger, notify.SeverityPage))
	h.waitDrained(20 * time.Second)
	dl, err := h.d.DeadLetters("pd")
	if err != nil || len(dl) != 1 {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
	if dl[0].Page.DedupKey != "bad" || dl[0].Reason != notify.ReasonClientError || !strings.Contains(dl[0].Error, "payload.summary is bad") {
		t.Errorf("dead letter = %+v", dl[0])
	}
	if inc := srv.Incidents(); len(inc) != 1 || inc[0].DedupKey != "good" {
		t.Errorf("incidents = %+v", inc)
	}
	if v := metric(t, h.reg, "slod_notify_dead_letter_total", map[string]string{"receiver": "pd", "reason": "client_error"}); v != 1 {
		t.Errorf("dead_letter_total = %v", v)
	}
	if v := metric(t, h.reg, "slod_notify_dead_letters", map[string]string{"receiver": "pd"}); v != 1 {
		t.Errorf("dead_letters gauge = %v", v)
	}
}

func TestAPageOlderThanMaxAgeIsDeadLettered(t *testing.T) {
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	srv.SetFault(func(*http.Request, int) notifytest.Fault { return notifytest.Fault{Status: 503} })
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1ns"), map[string]string{"PD_KEY": pdKey})
	cfg.Delivery.MaxAge = 30 * time.Minute
	h := newHarness(t, cfg, newSimClock(), nil)
	h.start()
	h.enqueue(testPage("old", notify.Trigger, notify.SeverityPage))
	h.waitDrained(20 * time.Second)
	dl := deadLetters(t, h.d, "pd")
	if len(dl) != 1 || dl[0].Reason != notify.ReasonMaxAge || !strings.Contains(dl[0].Error, "server_error (HTTP 503)") || dl[0].Attempts < 5 {
		t.Fatalf("dead letters = %+v", dl)
	}
}

// With a real clock: the breaker opens after 2 failures and holds the
// queue for breaker_open (300ms); the pages wait, then all arrive.
func TestAnOpenBreakerHoldsPagesInTheOutbox(t *testing.T) {
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	var mu sync.Mutex
	var at []time.Time
	srv.SetFault(func(_ *http.Request, n int) notifytest.Fault {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n <= 2 {
			return notifytest.Fault{Status: 502}
		}
		return notifytest.Fault{}
	})
	cfg := parse(t, fmt.Sprintf(`
receivers: [{name: pd, pagerduty: {url: %s, routing_key_env: PD_KEY}}]
route: {receiver: pd}
delivery: {backoff_initial: 1ms, backoff_max: 5ms, breaker_failures: 2, breaker_open: 300ms}
`, srv.URL()), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.start()
	for _, k := range []string{"a", "b", "c"} {
		h.enqueue(testPage(k, notify.Trigger, notify.SeverityPage))
	}
	h.waitFor(10*time.Second, "breaker open", func() bool {
		return metric(t, h.reg, "slod_notify_breaker_state", map[string]string{"receiver": "pd"}) == 2
	})
	if st := stats(t, h.d); st[0].Depth != 3 {
		t.Errorf("outbox depth while open = %d, want 3", st[0].Depth)
	}
	h.waitDrained(10 * time.Second)
	if n := len(srv.Incidents()); n != 3 {
		t.Errorf("incidents = %d, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if gap := at[2].Sub(at[1]); gap < 300*time.Millisecond {
		t.Errorf("third request %v after the second: the open breaker let it through", gap)
	}
	if v := metric(t, h.reg, "slod_notify_breaker_state", map[string]string{"receiver": "pd"}); v != 0 {
		t.Errorf("breaker state %v after recovery, want 0 (closed)", v)
	}
}

func TestAResolveGoesWhereItsTriggersWent(t *testing.T) {
	pageHook, ticketHook := notifytest.NewWebhook(), notifytest.NewWebhook()
	defer pageHook.Close()
	defer ticketHook.Close()
	cfg := parse(t, fmt.Sprintf(`
receivers:
  - {name: pager, webhook: {url: %s}}
  - {name: tickets, webhook: {url: %s}}
route:
  receiver: tickets
  routes: [{match: {severity: page}, receiver: pager}]
`, pageHook.URL(), ticketHook.URL()), nil)
	h := newHarness(t, cfg, realClock{}, nil)
	h.start()
	h.enqueue(testPage("x", notify.Trigger, notify.SeverityTicket)) // -> tickets
	h.enqueue(testPage("x", notify.Trigger, notify.SeverityPage))   // escalates -> pager
	h.enqueue(notify.Page{DedupKey: "x", Action: notify.Resolve})   // no labels, no severity
	h.waitDrained(20 * time.Second)
	count := func(hk *notifytest.Webhook, what string) int {
		n := 0
		for _, r := range hk.All() {
			if strings.Contains(string(r.Body), what) {
				n++
			}
		}
		return n
	}
	if count(pageHook, `"action":"resolve"`) != 1 || count(ticketHook, `"action":"resolve"`) != 1 {
		t.Errorf("the resolve must reach both receivers that got a trigger: pager %d, tickets %d",
			count(pageHook, `"action":"resolve"`), count(ticketHook, `"action":"resolve"`))
	}
	if count(pageHook, `"slo":"x"`) != 2 {
		t.Error("the resolve did not inherit the trigger's labels")
	}
}

func TestEnqueueIsDurableBeforeRun(t *testing.T) {
	hook := notifytest.NewWebhook()
	defer hook.Close()
	cfg := parse(t, fmt.Sprintf("receivers: [{name: h, webhook: {url: %s}}]\nroute: {receiver: h}\n", hook.URL()), nil)
	h := newHarness(t, cfg, realClock{}, nil)
	h.open()
	h.enqueue(testPage("k", notify.Trigger, notify.SeverityPage))
	h.stop()
	h.open()
	if st := stats(t, h.d); st[0].Depth != 1 {
		t.Fatalf("after reopen depth = %d", st[0].Depth)
	}
	if v := metric(t, h.reg, "slod_notify_outbox_depth", map[string]string{"receiver": "h"}); v != 1 {
		t.Errorf("outbox_depth metric = %v", v)
	}
	h.stop()
	h.start()
	h.waitDrained(10 * time.Second)
	if len(hook.All()) != 1 {
		t.Errorf("webhook got %d", len(hook.All()))
	}
}

func TestMetricSeriesExistFromTheStart(t *testing.T) {
	cfg := parse(t, "receivers: [{name: a, log: {}}, {name: b, log: {}}]\nroute: {receiver: a}\n", nil)
	h := newHarness(t, cfg, realClock{}, nil)
	h.open()
	for _, r := range []string{"a", "b"} {
		for _, c := range []struct {
			name   string
			labels map[string]string
		}{
			{"slod_notify_sent_total", nil},
			{"slod_notify_enqueued_total", nil},
			{"slod_notify_failed_total", map[string]string{"reason": "server_error"}},
			{"slod_notify_failed_total", map[string]string{"reason": "rate_limited"}},
			{"slod_notify_dead_letter_total", map[string]string{"reason": "max_age"}},
			{"slod_notify_breaker_state", nil},
			{"slod_notify_outbox_depth", nil},
			{"slod_notify_outbox_oldest_age_seconds", nil},
		} {
			l := map[string]string{"receiver": r}
			for k, v := range c.labels {
				l[k] = v
			}
			if v := metric(t, h.reg, c.name, l); v != 0 {
				t.Errorf("%s%v = %v, want 0", c.name, l, v)
			}
		}
	}
}

func TestEnqueueRejectsInvalidPages(t *testing.T) {
	cfg := parse(t, "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n", nil)
	h := newHarness(t, cfg, realClock{}, nil)
	h.open()
	for _, p := range []notify.Page{
		{Action: notify.Trigger, Severity: notify.SeverityPage, Summary: "s"},
		{DedupKey: "k", Action: "ack"},
		{DedupKey: "k", Action: notify.Trigger, Severity: "sev1", Summary: "s"},
		{DedupKey: "k", Action: notify.Trigger, Severity: notify.SeverityPage},
	} {
		if err := h.d.Enqueue(context.Background(), p); err == nil {
			t.Errorf("page %+v accepted", p)
		}
	}
}

func TestAHugeRetryAfterDoesNotOutliveMaxAge(t *testing.T) {
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	srv.SetFault(func(*http.Request, int) notifytest.Fault {
		return notifytest.Fault{Status: 429, RetryAfter: 24 * time.Hour}
	})
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1m"), map[string]string{"PD_KEY": pdKey})
	cfg.Delivery.MaxAge = time.Hour
	clk := newSimClock()
	start := clk.Now()
	h := newHarness(t, cfg, clk, nil)
	h.start()
	h.enqueue(testPage("k", notify.Trigger, notify.SeverityPage))
	h.waitDrained(20 * time.Second)
	dl := deadLetters(t, h.d, "pd")
	if len(dl) != 1 || dl[0].Reason != notify.ReasonMaxAge {
		t.Fatalf("dead letters = %+v", dl)
	}
	if waited := dl[0].DeadAt.Sub(start); waited > time.Hour+time.Second {
		t.Errorf("dead-lettered after %v: the 24h Retry-After outlived the 1h max age", waited)
	}
}

func TestAPanickingReceiverDeadLettersThePageAndKeepsRunning(t *testing.T) {
	cfg := parse(t, "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n", nil)
	got := make(chan string, 4)
	sender := notify.SenderFunc(func(_ context.Context, p notify.Page) error {
		if p.DedupKey == "boom" {
			panic("nil map somewhere")
		}
		got <- p.DedupKey
		return nil
	})
	d, err := notify.New(notify.Options{Config: cfg, Senders: map[string]notify.Sender{"a": sender}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done; d.Close() }()
	for _, k := range []string{"boom", "fine"} {
		if err := d.Enqueue(ctx, testPage(k, notify.Trigger, notify.SeverityPage)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case k := <-got:
		if k != "fine" {
			t.Fatalf("got %s", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the page after the panic was not delivered")
	}
	dl := deadLetters(t, d, "a")
	if len(dl) != 1 || dl[0].Page.DedupKey != "boom" || !strings.Contains(dl[0].Error, "receiver panicked: nil map somewhere") {
		t.Errorf("dead letters %+v", dl)
	}
}

func TestADispatcherMadeAgainOnTheSameRegistryContinuesItsSeries(t *testing.T) {
	cfg := parse(t, "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n", nil)
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	senders := map[string]notify.Sender{"a": notify.SenderFunc(func(context.Context, notify.Page) error { return nil })}
	for i := 1; i <= 2; i++ {
		d, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: dir, Registerer: reg})
		if err != nil {
			t.Fatalf("dispatcher %d: %v", i, err)
		}
		if err := d.Enqueue(context.Background(), testPage("k", notify.Trigger, notify.SeverityPage)); err != nil {
			t.Fatal(err)
		}
		if v := metric(t, reg, "slod_notify_enqueued_total", map[string]string{"receiver": "a"}); v != float64(i) {
			t.Errorf("dispatcher %d: enqueued_total = %v", i, v)
		}
		if v := metric(t, reg, "slod_notify_outbox_depth", map[string]string{"receiver": "a"}); v != float64(i) {
			t.Errorf("dispatcher %d: outbox_depth = %v", i, v)
		}
		d.Close()
	}
}

func TestASecondDispatcherOnTheSameOutboxFailsInsteadOfSharingIt(t *testing.T) {
	cfg := parse(t, "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n", nil)
	dir := t.TempDir()
	senders := map[string]notify.Sender{"a": notify.SenderFunc(func(context.Context, notify.Page) error { return nil })}
	d, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d2, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: dir}); err == nil {
		d2.Close()
		t.Fatal("a second dispatcher opened the same outbox")
	} else if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("err = %v", err)
	}
}
