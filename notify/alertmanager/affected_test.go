package alertmanager_test

import (
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
)

// A root's page lists its symptoms in the affected annotation; a symptom
// that pages names its root in caused_by. Neither is a label: labels are
// the alert's identity in Alertmanager.
func TestAlertCarriesCorrelationAsAnnotations(t *testing.T) {
	r := alertmanager.New(alertmanager.Config{URL: "http://127.0.0.1:9093/"}, nil, nil)
	burn := 12.0
	a := r.Alert(notify.Page{DedupKey: "k", Action: notify.Trigger, Labels: map[string]string{"slo": "payments-a"},
		Details: notify.Details{Affected: []notify.Affected{{SLO: "checkout-a", Severity: "page", Burn: &burn}}, CausedBy: "edge-a"}})
	if got := a.Annotations["affected"]; got != "checkout-a (page, burn 12)" {
		t.Errorf("affected annotation %q", got)
	}
	if got := a.Annotations["caused_by"]; got != "edge-a" {
		t.Errorf("caused_by annotation %q", got)
	}
	if _, ok := a.Labels["affected"]; ok {
		t.Error("affected is a label")
	}
}
