package pagerduty_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/pagerduty"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "0123456789abcdef0123456789abcdef"

func newReceiver(t *testing.T, srv *notifytest.PagerDuty) *pagerduty.Receiver {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	r, err := pagerduty.New(pagerduty.Config{URL: srv.URL(), RoutingKey: notify.NewSecret(key), Client: "slod", ClientURL: "http://slod.example/"}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func page(action notify.Action, dedup string) notify.Page {
	return notify.Page{
		DedupKey: dedup,
		Action:   action,
		Severity: notify.SeverityPage,
		Summary:  "checkout availability: burning 14.4x budget",
		Labels:   map[string]string{"slo": "checkout-availability", "service": "checkout", "team": "payments", "route": "/pay"},
		Links:    []notify.Link{{Href: "https://runbooks.example/checkout", Text: "runbook"}, {Href: "https://grafana.example/d/slo", Text: "dashboard"}},
		Details: notify.Details{
			Burn:             map[string]float64{"1h": 15.2, "5m": 18.9},
			BudgetRemaining:  new(0.42),
			TimeToExhaustion: new(19 * time.Hour),
			Objective:        99.9,
		},
		StartsAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
}

func TestTriggerMergeResolveAndReopen(t *testing.T) {
	srv := notifytest.NewPagerDuty(key)
	defer srv.Close()
	r := newReceiver(t, srv)
	ctx := context.Background()
	k := notify.DedupKey("checkout-availability", `route="/pay"`, "page")
	for _, a := range []notify.Action{notify.Trigger, notify.Trigger, notify.Resolve, notify.Trigger} {
		if err := r.Send(ctx, page(a, k)); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	inc := srv.Incidents()
	if len(inc) != 2 {
		t.Fatalf("incidents = %d, want 2 (a trigger with an open key merges; after resolve a new one opens)", len(inc))
	}
	if !inc[0].Resolved || inc[0].Triggers != 2 || inc[1].Resolved || inc[1].Triggers != 1 {
		t.Errorf("incidents = %+v", inc)
	}
	if rj := srv.Rejected(); len(rj) > 0 {
		t.Errorf("server rejected: %v", rj)
	}

	ev := srv.Events()[0]
	pl := ev.Payload
	if ev.EventAction != "trigger" || ev.DedupKey != k || ev.RoutingKey != key || ev.Client != "slod" {
		t.Errorf("event = %+v", ev)
	}
	if pl.Severity != "critical" || pl.Source != "slod" || pl.Component != "checkout" || pl.Group != "payments" || pl.Class != "checkout-availability" || pl.Timestamp != "2026-11-22T10:00:00Z" {
		t.Errorf("payload = %+v", pl)
	}
	cd := pl.CustomDetails
	burn, _ := cd["burn"].(map[string]any)
	if burn["1h"] != 15.2 || burn["5m"] != 18.9 || cd["budget_remaining"] != "42.00%" || cd["time_to_exhaustion"] != "19h0m0s" || cd["objective"] != "99.9%" {
		t.Errorf("custom_details = %v", cd)
	}
	links, _ := cd["links"].(map[string]any)
	if links["runbook"] != "https://runbooks.example/checkout" || len(ev.Links) != 2 || ev.Links[1].Text != "dashboard" {
		t.Errorf("links = %v / %v", links, ev.Links)
	}
	if res := srv.Events()[2]; res.EventAction != "resolve" || res.Payload != nil || res.DedupKey != k {
		t.Errorf("resolve event = %+v", res)
	}
}

func TestTicketSeverityMapsToWarning(t *testing.T) {
	srv := notifytest.NewPagerDuty(key)
	defer srv.Close()
	p := page(notify.Trigger, "k1")
	p.Severity = notify.SeverityTicket
	if err := newReceiver(t, srv).Send(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := srv.Events()[0].Payload.Severity; got != "warning" {
		t.Errorf("severity = %q", got)
	}
}

func TestLongSummaryAndHugeEventAreTrimmedNotRejected(t *testing.T) {
	srv := notifytest.NewPagerDuty(key)
	defer srv.Close()
	p := page(notify.Trigger, "big")
	p.Summary = strings.Repeat("ü", 3000)
	p.Annotations = map[string]string{"description": strings.Repeat("x", 600*1024)}
	if err := newReceiver(t, srv).Send(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	ev := srv.Events()[0]
	if n := utf8.RuneCountInString(ev.Payload.Summary); n != 1024 {
		t.Errorf("summary runes = %d, want 1024", n)
	}
	if ev.Size > pagerduty.MaxEventBytes {
		t.Errorf("event of %d bytes", ev.Size)
	}
	if _, ok := ev.Payload.CustomDetails["burn"]; !ok {
		t.Errorf("trimming dropped more than needed: %v", ev.Payload.CustomDetails)
	}
	if _, ok := ev.Payload.CustomDetails["trimmed"]; !ok {
		t.Error("no trimmed note")
	}
}

func TestErrorsAreClassified(t *testing.T) {
	srv := notifytest.NewPagerDuty(key)
	defer srv.Close()
	r := newReceiver(t, srv)
	cases := []struct {
		name       string
		fault      notifytest.Fault
		reason     string
		permanent  bool
		retryAfter time.Duration
	}{
		{"429 carries its Retry-After", notifytest.Fault{Status: 429, RetryAfter: 30 * time.Second}, notify.ReasonRateLimited, false, 30 * time.Second},
		{"500 is retried", notifytest.Fault{Status: 500}, notify.ReasonServerError, false, 0},
		{"400 is permanent and keeps the body", notifytest.Fault{Status: 400, Body: `{"status":"invalid event","message":"Event object is invalid","errors":["bad"]}`}, notify.ReasonClientError, true, 0},
		{"a dropped connection is a connection error", notifytest.Fault{Drop: true}, notify.ReasonConnection, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetFault(func(*http.Request, int) notifytest.Fault { return tc.fault })
			err := r.Send(context.Background(), page(notify.Trigger, "x"))
			var se *notify.SendError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a SendError", err)
			}
			if se.Reason != tc.reason || se.Permanent != tc.permanent || se.RetryAfter != tc.retryAfter {
				t.Errorf("got %+v", se)
			}
			if tc.fault.Body != "" && !strings.Contains(err.Error(), "Event object is invalid") {
				t.Errorf("body lost: %v", err)
			}
		})
	}
}

func TestARoutingKeyEchoedByTheServerIsRedacted(t *testing.T) {
	srv := notifytest.NewPagerDuty(key)
	defer srv.Close()
	srv.SetFault(func(*http.Request, int) notifytest.Fault {
		return notifytest.Fault{Status: 400, Body: `{"status":"invalid event","message":"routing key ` + key + ` is disabled"}`}
	})
	err := newReceiver(t, srv).Send(context.Background(), page(notify.Trigger, "x"))
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("err = %v", err)
	}
	var se *notify.SendError
	if !errors.As(err, &se) || !se.Permanent {
		t.Errorf("classification lost: %v", err)
	}
}
