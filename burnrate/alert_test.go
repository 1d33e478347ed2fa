package burnrate_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

func alertSpec() *slo.Spec {
	return &slo.Spec{
		ID: "checkout-availability", Name: "availability", Service: "checkout", Objective: 99.9,
		Labels:      map[string]string{"team": "payments"},
		Annotations: map[string]string{"runbook": "https://runbooks.example.com/checkout", "summary": "Checkout API is failing requests"},
	}
}

func TestAlertLabels(t *testing.T) {
	tests := []struct {
		name string
		edit func(*slo.Spec)
		sev  burnrate.Severity
		want map[string]string
	}{
		{"a page carries the SLO's labels, severity, tier 1, slo and service", nil, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "page", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"a ticket is tier 2", nil, burnrate.SeverityTicket,
			map[string]string{"team": "payments", "severity": "ticket", "tier": "2", "slo": "checkout-availability", "service": "checkout", "slod_severity": "ticket"}},
		{"alerting labels win over the SLO's, the class's over both", func(s *slo.Spec) {
			s.Alerting.Labels = map[string]string{"team": "platform", "routing": "default"}
			s.Alerting.Page.Labels = map[string]string{"routing": "pager"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "platform", "routing": "pager", "severity": "page", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"the ticket class's labels do not reach a page", func(s *slo.Spec) {
			s.Alerting.Ticket.Labels = map[string]string{"routing": "tickets"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "page", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"a user's severity wins wherever it is set", func(s *slo.Spec) {
			s.Labels["severity"] = "critical"
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "critical", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"a user's tier wins too", func(s *slo.Spec) {
			s.Alerting.Labels = map[string]string{"tier": "gold", "severity": "warning"}
			s.Alerting.Page.Labels = map[string]string{"severity": "critical"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "critical", "tier": "gold", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"slo, service and slod_severity are always slod's", func(s *slo.Spec) {
			s.Alerting.Page.Labels = map[string]string{"slo": "x", "service": "y", "slod_severity": "ticket"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "page", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"a Pyrra SLO grouped by service sets no service: each instance's own is the alert's", func(s *slo.Spec) {
			s.Format = slo.FormatPyrra
			s.GroupBy = []string{"service", "method"}
			s.Alerting.Page.Labels = map[string]string{"service": "y"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "page", "tier": "1", "slo": "checkout-availability", "slod_severity": "page"}},
		{"a native SLO always carries its service", func(s *slo.Spec) {
			s.Format = slo.FormatNative
			s.GroupBy = []string{"service"} // refused by lint (SLO018)
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "page", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page"}},
		{"an SLO from a Sloth file carries Sloth's labels", func(s *slo.Spec) {
			s.Format = slo.FormatSloth
			s.Alerting.Page.Labels = map[string]string{"severity": "pageteam", "sloth_slo": "mine"}
		}, burnrate.SeverityPage,
			map[string]string{"team": "payments", "severity": "pageteam", "tier": "1", "slo": "checkout-availability", "service": "checkout", "slod_severity": "page",
				"sloth_id": "checkout-availability", "sloth_service": "checkout", "sloth_slo": "availability", "sloth_severity": "page"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := alertSpec()
			if tt.edit != nil {
				tt.edit(s)
			}
			if got := burnrate.AlertLabels(s, tt.sev); !maps.Equal(got, tt.want) {
				t.Errorf("AlertLabels = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAlertLabelsDoNotAliasTheSpec(t *testing.T) {
	s := alertSpec()
	burnrate.NoDataLabels(s, burnrate.SeverityTicket, slo.NoDataBroken)["team"] = "changed"
	if s.Labels["team"] != "payments" || len(s.Labels) != 1 {
		t.Errorf("the spec's labels changed: %v", s.Labels)
	}
}

func TestNoDataSeverity(t *testing.T) {
	tests := []struct {
		name         string
		page, ticket bool // disabled
		want         burnrate.Severity
		wantOK       bool
	}{
		{"both classes on: a ticket", false, false, burnrate.SeverityTicket, true},
		{"pages off: still a ticket", true, false, burnrate.SeverityTicket, true},
		{"tickets off: a page, so a broken SLI still reaches someone", false, true, burnrate.SeverityPage, true},
		{"both off: no no-data alert, as no burn alert", true, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := alertSpec()
			s.Alerting.Page.Disabled, s.Alerting.Ticket.Disabled = tt.page, tt.ticket
			got, ok := burnrate.NoDataSeverity(s)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NoDataSeverity = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestAlertAnnotations(t *testing.T) {
	s := alertSpec()
	s.Alerting.Annotations = map[string]string{"dashboard": "https://grafana.example.com/d/checkout"}
	s.Alerting.Ticket.Annotations = map[string]string{"runbook": "https://runbooks.example.com/checkout/tickets"}
	page := burnrate.AlertAnnotations(s, burnrate.SeverityPage)
	ticket := burnrate.AlertAnnotations(s, burnrate.SeverityTicket)
	if page["runbook"] != "https://runbooks.example.com/checkout" || ticket["runbook"] != "https://runbooks.example.com/checkout/tickets" {
		t.Errorf("runbooks: page %q, ticket %q", page["runbook"], ticket["runbook"])
	}
	if !slices.Equal(slices.Sorted(maps.Keys(page)), []string{"dashboard", "runbook", "summary"}) {
		t.Errorf("page annotations %v", page)
	}
}

// The names and labels of an SLO's alerts, as the generated rules write
// them and the daemon sends them.
func ExampleAlertLabels() {
	spec := &slo.Spec{
		ID: "checkout-availability", Service: "checkout",
		Labels:   map[string]string{"team": "payments"},
		Alerting: slo.Alerting{Name: "CheckoutAvailability", Page: slo.AlertClass{Labels: map[string]string{"routing": "pager"}}},
	}
	fmt.Println(burnrate.AlertName(spec, burnrate.ClassBurn), burnrate.AlertLabels(spec, burnrate.SeverityPage))
	sev, _ := burnrate.NoDataSeverity(spec)
	fmt.Println(burnrate.AlertName(spec, burnrate.ClassNoData), burnrate.NoDataLabels(spec, sev, slo.NoDataBroken))
	// Output:
	// CheckoutAvailability map[routing:pager service:checkout severity:page slo:checkout-availability slod_severity:page team:payments tier:1]
	// CheckoutAvailabilityNoData map[nodata:broken service:checkout severity:ticket slo:checkout-availability slod_severity:ticket team:payments tier:2]
}

func ExampleAlertName() {
	spec := &slo.Spec{ID: "checkout-availability", Service: "checkout"}
	fmt.Println(burnrate.AlertName(spec, burnrate.ClassBurn), burnrate.AlertName(spec, burnrate.ClassNoData))
	// Output: SLOBurnRate SLONoData
}
