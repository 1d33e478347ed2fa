package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAffectedSurvivesTheOutbox: the outbox and the webhook carry pages
// as JSON, so a root's affected list and a symptom's cause must survive
// a round trip.
func TestAffectedSurvivesTheOutbox(t *testing.T) {
	burn := 20.5
	since := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	p := Page{DedupKey: "k", Action: Trigger, Details: Details{
		Affected: []Affected{{SLO: "checkout-availability", Severity: "page", Burn: &burn, Since: since},
			{SLO: "gateway-availability", Instance: `{route="/a"}`, Severity: "ticket", Since: since, Resolved: since.Add(time.Hour)}},
		CausedBy: "payments-availability",
	}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Page
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Details.Affected) != 2 || back.Details.Affected[0].SLO != "checkout-availability" || *back.Details.Affected[0].Burn != burn ||
		back.Details.Affected[1].Burn != nil || !back.Details.Affected[1].Resolved.Equal(since.Add(time.Hour)) || back.Details.CausedBy != "payments-availability" {
		t.Fatalf("round trip lost correlation: %s", b)
	}
	want := `checkout-availability (page, burn 20.5), gateway-availability{route="/a"} (ticket, resolved)`
	if got := back.Details.AffectedText(); got != want {
		t.Errorf("AffectedText = %q, want %q", got, want)
	}
}

func TestAffectedTextIsBounded(t *testing.T) {
	var d Details
	for range 200 {
		d.Affected = append(d.Affected, Affected{SLO: strings.Repeat("x", 40), Severity: "page"})
	}
	got := d.AffectedText()
	if len(got) > MaxAffectedText+20 || !strings.HasSuffix(got, "more") {
		t.Errorf("AffectedText of 200 symptoms is %d bytes: %q", len(got), got[len(got)-40:])
	}
}
