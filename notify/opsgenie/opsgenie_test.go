package opsgenie_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/opsgenie"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const apiKey = "og-secret-4f1c9a2e-7d3b-4e11-9a55"

func receiver(t *testing.T, url, key string) *opsgenie.Receiver {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	r, err := opsgenie.New(opsgenie.Config{URL: url, APIKey: notify.NewSecret(key), Tags: []string{"slod"}, Responders: []string{"payments-oncall"},
		Priorities: map[notify.Severity]string{notify.SeverityPage: "P1", notify.SeverityTicket: "P3"}}, client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func page(a notify.Action, sev notify.Severity) notify.Page {
	return notify.Page{
		DedupKey: notify.DedupKey("checkout-latency", "page"),
		Action:   a, Severity: sev,
		Summary: "checkout latency SLO burning budget 6x: " + strings.Repeat("very long text ", 20),
		Labels:  map[string]string{"slo": "checkout-latency", "service": "checkout", "team": "payments"},
		Links:   []notify.Link{{Href: "https://runbooks.example/latency", Text: "runbook"}},
		Details: notify.Details{Burn: map[string]float64{"6h": 6.2}, BudgetRemaining: new(0.8)},
	}
}

func TestCreateMergeCloseByAliasAndReopen(t *testing.T) {
	srv := notifytest.NewOpsgenie(apiKey)
	defer srv.Close()
	r := receiver(t, srv.URL(), apiKey)
	ctx := context.Background()
	for _, a := range []notify.Action{notify.Trigger, notify.Trigger, notify.Resolve, notify.Trigger} {
		if err := r.Send(ctx, page(a, notify.SeverityPage)); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
	if rj := srv.Rejected(); len(rj) > 0 {
		t.Fatalf("rejected: %v", rj)
	}
	al := srv.Alerts()
	if len(al) != 2 || al[0].Open || al[0].Count != 2 || !al[1].Open || al[1].Count != 1 {
		t.Fatalf("alerts = %+v", al)
	}
	c := al[0].Create
	if utf8.RuneCountInString(c.Message) > 130 || !strings.HasPrefix(c.Message, "checkout latency SLO") {
		t.Errorf("message %q (%d runes)", c.Message, utf8.RuneCountInString(c.Message))
	}
	if c.Alias != page(notify.Trigger, "").DedupKey || c.Priority != "P1" || c.Entity != "checkout" || c.Source != "slod" {
		t.Errorf("create = %+v", c)
	}
	if c.Details["burn_6h"] != "6.2" || c.Details["runbook"] != "https://runbooks.example/latency" || c.Details["budget_remaining"] != "80.00%" {
		t.Errorf("details = %v", c.Details)
	}
	if len(c.Responders) != 1 || c.Responders[0]["type"] != "team" || c.Responders[0]["name"] != "payments-oncall" {
		t.Errorf("responders = %v", c.Responders)
	}
	if !strings.Contains(strings.Join(c.Tags, ","), "team:payments") {
		t.Errorf("tags = %v", c.Tags)
	}
	if acc := srv.Accepted(); acc[2].Op != "close" || acc[2].Alias != c.Alias {
		t.Errorf("third request = %+v", acc[2])
	}
}

func TestTicketPriority(t *testing.T) {
	srv := notifytest.NewOpsgenie(apiKey)
	defer srv.Close()
	if err := receiver(t, srv.URL(), apiKey).Send(context.Background(), page(notify.Trigger, notify.SeverityTicket)); err != nil {
		t.Fatal(err)
	}
	if p := srv.Alerts()[0].Create.Priority; p != "P3" {
		t.Errorf("priority %s", p)
	}
}

func TestAWrongKeyIsPermanentAndNotEchoed(t *testing.T) {
	srv := notifytest.NewOpsgenie("the-right-key")
	defer srv.Close()
	err := receiver(t, srv.URL(), apiKey).Send(context.Background(), page(notify.Trigger, notify.SeverityPage))
	var se *notify.SendError
	if !errors.As(err, &se) || !se.Permanent || se.StatusCode != 401 {
		t.Fatalf("err = %v", err)
	}
	if srv.AuthFailures() != 1 || strings.Contains(err.Error(), apiKey) {
		t.Errorf("auth failures %d, err %v", srv.AuthFailures(), err)
	}
}
