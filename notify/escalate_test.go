package notify_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
	"github.com/slodhq/slod/notify/notifytest"
)

// Pages under one dedup key whose Alertmanager label set changes (the
// severity label on an escalation) are two alerts to Alertmanager: the old
// one must be ended when the new one fires, and the resolve must end the one
// that is firing. A local server records what Alertmanager would receive.
func TestAlertmanagerAlertIsEndedWhenItsLabelsChange(t *testing.T) {
	labels := map[string]string{"slo": "checkout-availability", "service": "checkout", "class": "burn"}
	page := func(a notify.Action, sev notify.Severity, extra map[string]string) notify.Page {
		l := maps.Clone(labels)
		maps.Copy(l, extra)
		p := notify.Page{DedupKey: "k", Action: a, Severity: sev, Summary: "checkout burning", Labels: l,
			StartsAt: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)}
		if a == notify.Resolve {
			p.EndsAt = p.StartsAt.Add(time.Hour)
		}
		return p
	}
	type alert struct{ severity, state, team string }
	for _, tc := range []struct {
		name  string
		pages []notify.Page
		want  []alert
	}{{
		name: "an escalation from ticket to page ends the ticket alert, then fires the page; the resolve ends the page",
		// As the daemon sends them (daemon.PageFor): the escalation is a
		// trigger with the same key and severity page, the resolve
		// carries the incident's last severity.
		pages: []notify.Page{
			page(notify.Trigger, notify.SeverityTicket, nil),
			page(notify.Trigger, notify.SeverityPage, nil),
			page(notify.Resolve, notify.SeverityPage, nil),
		},
		want: []alert{{"ticket", "firing", ""}, {"ticket", "resolved", ""}, {"page", "firing", ""}, {"page", "resolved", ""}},
	}, {
		name: "a class label that changes with the escalation also ends the old alert",
		pages: []notify.Page{
			page(notify.Trigger, notify.SeverityTicket, map[string]string{"team": "tickets"}),
			page(notify.Trigger, notify.SeverityPage, map[string]string{"team": "oncall"}),
			page(notify.Resolve, notify.SeverityPage, map[string]string{"team": "oncall"}),
		},
		want: []alert{{"ticket", "firing", "tickets"}, {"ticket", "resolved", "tickets"}, {"page", "firing", "oncall"}, {"page", "resolved", "oncall"}},
	}, {
		name: "a repeated trigger with the same labels is a refresh, not a new alert",
		pages: []notify.Page{
			page(notify.Trigger, notify.SeverityTicket, nil),
			page(notify.Trigger, notify.SeverityTicket, nil),
			page(notify.Resolve, notify.SeverityTicket, nil),
		},
		want: []alert{{"ticket", "firing", ""}, {"ticket", "firing", ""}, {"ticket", "resolved", ""}},
	}, {
		name: "a resolve with other labels than its trigger ends the alert that fired (pages disabled: the escalation was sent as a ticket)",
		pages: []notify.Page{
			page(notify.Trigger, notify.SeverityTicket, nil),
			page(notify.Trigger, notify.SeverityTicket, nil),
			page(notify.Resolve, notify.SeverityPage, map[string]string{"team": "oncall"}),
		},
		want: []alert{{"ticket", "firing", ""}, {"ticket", "firing", ""}, {"ticket", "resolved", ""}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			am := notifytest.NewWebhook()
			defer am.Close()
			cfg := parse(t, fmt.Sprintf("receivers: [{name: am, alertmanager: {url: %s}}]\nroute: {receiver: am}\n", am.URL()), nil)
			h := newHarness(t, cfg, newSimClock(), nil)
			h.start()
			for _, p := range tc.pages {
				h.enqueue(p)
			}
			h.waitDrained(20 * time.Second)
			var got []alert
			for _, r := range am.All() {
				if r.Path != "/api/v2/alerts" {
					t.Fatalf("posted to %s", r.Path)
				}
				var as []alertmanager.Alert
				if err := json.Unmarshal(r.Body, &as); err != nil || len(as) != 1 {
					t.Fatalf("body %s: %v", r.Body, err)
				}
				a := as[0]
				state := "firing"
				if !a.EndsAt.IsZero() {
					state = "resolved"
				}
				if a.Labels["slo"] != "checkout-availability" || a.Labels["alertname"] != alertmanager.DefaultAlertname {
					t.Errorf("labels %v", a.Labels)
				}
				got = append(got, alert{a.Labels["severity"], state, a.Labels["team"]})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("alertmanager received\n%v\nwant\n%v", got, tc.want)
			}
			if strings.Contains(h.logs.String(), "level=ERROR") {
				t.Errorf("errors logged:\n%s", h.logs.String())
			}
		})
	}
}
