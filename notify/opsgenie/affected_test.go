package opsgenie_test

import (
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/opsgenie"
)

// A root's alert lists its symptoms in details.affected, one line.
func TestCreateCarriesCorrelationDetails(t *testing.T) {
	r, err := opsgenie.New(opsgenie.Config{URL: "http://127.0.0.1:1", APIKey: notify.NewSecret("k")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := r.Create(notify.Page{DedupKey: "k", Action: notify.Trigger, Severity: notify.SeverityPage, Summary: "s",
		Details: notify.Details{Affected: []notify.Affected{{SLO: "checkout-a", Instance: `{route="/a"}`, Severity: "page"}}, CausedBy: "edge-a"}})
	if got := c.Details["affected"]; got != `checkout-a{route="/a"} (page)` {
		t.Errorf("details.affected %q", got)
	}
	if got := c.Details["caused_by"]; got != "edge-a" {
		t.Errorf("details.caused_by %q", got)
	}
}
