package server

import (
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// TestIncidentsNestSymptomsUnderTheirRoot: the API and the status page
// show a symptom under its root, ranked by the root, and say it did not
// page.
func TestIncidentsNestSymptomsUnderTheirRoot(t *testing.T) {
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	root := burnrate.Incident{Key: "payments-a{}", SLO: "payments-a", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: at, TimeToExhaustion: 3600, Burn: 20,
		Correlation: burnrate.Correlation{Paged: true, SymptomCount: 1, Symptoms: []burnrate.Symptom{{SLO: "checkout-a", Key: "checkout-a{}", Start: at}}}}
	sym := burnrate.Incident{Key: "checkout-a{}", SLO: "checkout-a", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: at, TimeToExhaustion: 60, Burn: 90,
		Correlation: burnrate.Correlation{Suppressed: true, CausedBy: &burnrate.Cause{SLO: "payments-a", Key: "payments-a{}", Start: at}}}
	other := burnrate.Incident{Key: "search-a{}", SLO: "search-a", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: at, TimeToExhaustion: 1800, Burn: 5, Correlation: burnrate.Correlation{Paged: true}}
	incs := []burnrate.Incident{sym, other, root}
	burnrate.Rank(incs)
	snap := &Snapshot{At: at, Ready: true, Incidents: incs}

	res := NewIncidentsResponse(snap)
	if len(res.Incidents) != 2 {
		t.Fatalf("%d top-level incidents, want the two roots: %+v", len(res.Incidents), res.Incidents)
	}
	// The symptom exhausts first, but the root's own time ranks it.
	if r := res.Incidents[0]; r.SLO != "search-a" || r.Rank != 1 {
		t.Errorf("first %s rank %d, want search-a (exhausted sooner than payments)", r.SLO, r.Rank)
	}
	p := res.Incidents[1]
	if p.SLO != "payments-a" || len(p.Affected) != 1 || p.Affected[0].SLO != "checkout-a" || p.Affected[0].Paged ||
		p.Affected[0].CausedBy == nil || p.Affected[0].CausedBy.SLO != "payments-a" || p.SymptomCount != 1 || !p.Paged {
		t.Errorf("payments = %+v, want checkout nested, caused by it, not paged", p)
	}

	d := newPageData(snap)
	var rows []string
	for _, v := range d.Incidents {
		rows = append(rows, v.SLO)
	}
	if got := strings.Join(rows, " "); got != "search-a payments-a checkout-a" {
		t.Errorf("status page rows %q, want the symptom right under its root", got)
	}
	if v := d.Incidents[2]; v.Rank != 0 || v.CausedBy != "payments-a" || v.Paged {
		t.Errorf("symptom row %+v", v)
	}
	if v := d.Incidents[1]; v.Affected != 1 {
		t.Errorf("root row %+v, want 1 affected", v)
	}
	var html strings.Builder
	if err := pages.ExecuteTemplate(&html, "status", d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"caused by payments-a, not paged", "1 affected", "<td>↳</td>"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("status page lacks %q", want)
		}
	}
}
