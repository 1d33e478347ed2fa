package daemon

import (
	"maps"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/slo"
)

// PageFor renders an incident's figures once, through Figure.Text and
// burnrate.FormatTimeToExhaustion, into the types notify owns.
func TestPageForRendersFigures(t *testing.T) {
	base := burnrate.Incident{Key: "api{}", SLO: "api", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: demoStart, Window: 30 * 24 * time.Hour}
	cases := []struct {
		name                    string
		burn, remaining, spent  burnrate.Figure
		tte                     burnrate.Figure
		wantBudget, wantExhaust string
		wantBurn, wantSpent     string
		wantTTE                 string
		wantSummary             string
		wantDetailsTTE          *time.Duration
	}{
		{
			name: "a measured burn shows its figures", burn: 20, remaining: 0.5, spent: 0.1,
			tte:        burnrate.Figure((18 * time.Hour).Seconds()),
			wantBudget: "50.00%", wantExhaust: "18h0m0s", wantBurn: "20", wantSpent: "10.00%", wantTTE: "18h",
			wantSummary: "burning 20× — 50.0% left, gone in 18h", wantDetailsTTE: new(18 * time.Hour),
		},
		{
			name: "a budget that does not burn never runs out", burn: 0, remaining: 0.9, spent: 0,
			tte:        burnrate.Figure(math.Inf(1)),
			wantBudget: "90.00%", wantExhaust: "never", wantBurn: "0", wantSpent: "0.00%", wantTTE: "never",
			wantSummary: "burning 0× — 90.0% left, gone in never",
		},
		{
			name: "unknown figures read unknown, never 0", burn: burnrate.Unknown(), remaining: burnrate.Unknown(),
			spent: burnrate.Unknown(), tte: burnrate.Unknown(),
			wantBudget: "unknown", wantExhaust: "unknown", wantBurn: "unknown", wantSpent: "unknown", wantTTE: "unknown",
			wantSummary: "burning unknown — unknown left, gone in unknown",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := base
			inc.Burn, inc.BudgetRemaining, inc.BudgetSpent, inc.TimeToExhaustion = tc.burn, tc.remaining, tc.spent, tc.tte
			p, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}, nil)
			if !ok {
				t.Fatal("no page")
			}
			d := p.Details
			if d.BudgetText() != tc.wantBudget || d.ExhaustionText() != tc.wantExhaust {
				t.Errorf("budget %q exhaustion %q, want %q %q", d.BudgetText(), d.ExhaustionText(), tc.wantBudget, tc.wantExhaust)
			}
			if d.Extra["current_burn"] != tc.wantBurn || d.Extra["budget_spent_since_start"] != tc.wantSpent ||
				d.Extra["time_to_exhaustion"] != tc.wantTTE {
				t.Errorf("extra %v, want burn %q spent %q time to exhaustion %q", d.Extra, tc.wantBurn, tc.wantSpent, tc.wantTTE)
			}
			switch {
			case tc.wantDetailsTTE == nil && d.TimeToExhaustion != nil:
				t.Errorf("time to exhaustion %v, want nil", *d.TimeToExhaustion)
			case tc.wantDetailsTTE != nil && (d.TimeToExhaustion == nil || *d.TimeToExhaustion != *tc.wantDetailsTTE):
				t.Errorf("time to exhaustion %v, want %v", d.TimeToExhaustion, *tc.wantDetailsTTE)
			}
			if !strings.HasSuffix(p.Summary, tc.wantSummary) {
				t.Errorf("summary %q, want it to end %q", p.Summary, tc.wantSummary)
			}
		})
	}
}

// TestPagesCarryTheGeneratedRulesAlertNamesAndLabels: for every example
// SLO, a page's alertname and labels (less the instance's own) are exactly
// the labels of the generated rule alert of the same severity and class,
// so Alertmanager routes and inhibits the daemon's alerts and the rules'
// alike.
func TestPagesCarryTheGeneratedRulesAlertNamesAndLabels(t *testing.T) {
	cat := engine.Load(filepath.Join("..", "examples", "slos"))
	if cat.HasErrors() {
		t.Fatal(cat.Diagnostics)
	}
	f, err := rules.Generate(cat.Set.SLOs, cat.Policies(), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ruleLabels := map[string]map[string]string{} // by alert name + severity (+ nodata state)
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				ruleLabels[r.Alert+"/"+r.Labels["slo"]+"/"+r.Labels[burnrate.ClassLabel]+"/"+r.Labels[burnrate.NoDataStateLabel]] = r.Labels
			}
		}
	}
	for _, en := range cat.Entries {
		spec := en.Spec
		for _, tc := range []struct {
			class burnrate.IncidentClass
			sev   burnrate.Severity
			state string
		}{
			{burnrate.ClassBurn, burnrate.SeverityPage, ""},
			{burnrate.ClassBurn, burnrate.SeverityTicket, ""},
			{burnrate.ClassNoData, burnrate.SeverityTicket, string(slo.NoDataBroken)},
		} {
			inc := burnrate.Incident{Key: spec.ID + "{}", SLO: spec.ID, Class: tc.class, Severity: tc.sev, Start: demoStart}
			p, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}, spec)
			if !ok {
				continue // the class is disabled: the rules have no such alert either
			}
			want, found := ruleLabels[p.Labels["alertname"]+"/"+spec.ID+"/"+p.Labels[burnrate.ClassLabel]+"/"+tc.state]
			if !found {
				t.Errorf("%s %s %s: page alertname %q severity %q has no generated rule", spec.ID, tc.class, tc.sev, p.Labels["alertname"], p.Labels["severity"])
				continue
			}
			got := maps.Clone(p.Labels)
			delete(got, "alertname")
			if !maps.Equal(got, want) {
				t.Errorf("%s %s %s: page labels %v, rule labels %v", spec.ID, tc.class, tc.sev, got, want)
			}
		}
	}
}

// A page of a per-cluster SLO read from a Sloth file: the instance's
// cluster, Sloth's labels, slod's class under slod_severity (the label
// notify routes on, the same name in both packages), the user's severity,
// and Sloth's annotation templates rendered from the page's labels.
func TestPageForSlothSLOCarriesSlothLabelsAndRendersItsTemplates(t *testing.T) {
	if burnrate.ClassLabel != notify.ClassLabel {
		t.Fatalf("burnrate.ClassLabel %q, notify.ClassLabel %q: routing would miss the daemon's class", burnrate.ClassLabel, notify.ClassLabel)
	}
	set, diags := slo.LoadBytes("storage.yaml", []byte(`version: "prometheus/v1"
service: storage
slos:
  - name: writes
    objective: 99.9
    sli:
      events:
        error_query: sum by (cluster) (rate(writes_total{code="500"}[{{.window}}]))
        total_query: sum by (cluster) (rate(writes_total[{{.window}}]))
    alerting:
      annotations:
        title: "{{$labels.sloth_service}}/{{ $labels.sloth_slo }} in {{$labels.cluster}}: {{ .Value }} stays"
      page_alert:
        labels: {severity: critical}
`))
	if slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatal(diags)
	}
	spec := set.SLOs[0]
	inc := burnrate.Incident{Key: `storage-writes{cluster="a"}`, SLO: spec.ID, Labels: map[string]string{"cluster": "a"},
		Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage, Start: demoStart}
	p, ok := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}, spec)
	if !ok {
		t.Fatal("no page")
	}
	want := map[string]string{"alertname": "SLOBurnRate", "cluster": "a", "slo": "storage-writes", "service": "storage",
		"severity": "critical", "tier": "1", "slod_severity": "page",
		"sloth_id": "storage-writes", "sloth_service": "storage", "sloth_slo": "writes", "sloth_severity": "page"}
	if !maps.Equal(p.Labels, want) {
		t.Errorf("labels %v, want %v", p.Labels, want)
	}
	if got := p.Annotations["title"]; got != "storage/writes in a: {{ .Value }} stays" {
		t.Errorf("title %q", got)
	}
	if p.Severity != notify.SeverityPage || p.RouteLabels()[notify.ClassLabel] != "page" {
		t.Errorf("severity %q, route labels %v", p.Severity, p.RouteLabels())
	}
}
