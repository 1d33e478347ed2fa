package burnrate

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/slodhq/slod/slo"
)

const lintSLO = `version: slod/v1
service: shop
slos:
  - name: availability
    objective: %OBJ%
    window: 30d
    policy: %POL%
    sli:
      events:
        error_query: sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))
    annotations:
      runbook: https://runbooks.example.com/shop
`

const lintPolicies = `version: slod/v1
kind: Policy
name: inverted
rows:
  - severity: page
    long: 5m
    short: 1h
    budget_percent: 2
---
version: slod/v1
kind: Policy
name: too-long
rows:
  - severity: ticket
    long: 60d
    short: 6h
    budget_percent: 10
---
version: slod/v1
kind: Policy
name: fine
rows:
  - severity: ticket
    long: 3d
    short: 6h
    budget_percent: 10
`

func lintRules(t *testing.T, objective, policy string) []slo.Diagnostic {
	t.Helper()
	doc := strings.NewReplacer("%OBJ%", objective, "%POL%", policy).Replace(lintSLO) + "---\n" + lintPolicies
	set, diags := slo.LoadBytes("slos.yaml", []byte(doc))
	if slo.HasErrors(diags) {
		t.Fatalf("fixture does not load: %v", diags)
	}
	return Lint(set)
}

func rulesOf(diags []slo.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Rule)
	}
	return out
}

func TestLint(t *testing.T) {
	tests := []struct {
		name, objective, policy string
		want                    []string
	}{
		{"a 99.9% SLO with the default policy is clean", "99.9", "default", nil},
		{"a 90% SLO cannot fire the 1h page of the default policy", "90", "default", []string{RuleRowCannotFire}},
		{"a 50% SLO cannot page, nor fire the 1d ticket", "50", "default", []string{RuleRowCannotFire, RuleRowCannotFire, RuleRowCannotFire, RuleSeverityCannotFire}},
		{"a custom ticket-only policy is clean", "99.9", "fine", nil},
		{"a long window beyond the SLO window is reported", "99.9", "too-long", []string{RulePolicyWindow, RuleSeverityCannotFire}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			diags := lintRules(t, tc.objective, tc.policy)
			got := rulesOf(diags)
			// The inverted policy is reported whichever policy the SLO uses.
			if !slices.Contains(got, RulePolicyRow) {
				t.Errorf("missing %s for the inverted policy: %v", RulePolicyRow, diags)
			}
			got = slices.DeleteFunc(got, func(r string) bool { return r == RulePolicyRow })
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("rules %v, want %v\n%v", got, want, diags)
			}
			for _, d := range diags {
				if d.Pos.Line == 0 || d.Severity != slo.SeverityError {
					t.Errorf("diagnostic without a line or not an error: %v", d)
				}
			}
		})
	}
}

func TestLintNamesTheImpossibleRatio(t *testing.T) {
	for _, d := range lintRules(t, "90", "default") {
		if d.Rule == RuleRowCannotFire && !strings.Contains(d.Message, "144%") {
			t.Errorf("message should give the needed error ratio (144%%): %s", d.Message)
		}
	}
}

func TestPolicyFromSpec(t *testing.T) {
	set, diags := slo.LoadBytes("p.yaml", []byte(lintPolicies))
	if slo.HasErrors(diags) {
		t.Fatal(diags)
	}
	ps := Policies(set)
	fine := ps["fine"]
	if len(fine.Rows) != 1 || fine.Rows[0].BudgetShare != 0.1 || fine.Rows[0].Severity != SeverityTicket {
		t.Errorf("fine = %+v", fine)
	}
	if _, ok := ps[DefaultPolicyName]; !ok {
		t.Error("the default policy is always available")
	}
	if err := ps["inverted"].Validate(30 * 24 * 3600e9); err == nil {
		t.Error("Validate accepts a short window longer than the long one")
	}
}

func TestPolicyRulesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^## (POL\d{3})`).FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	want := []string{RulePolicyRow, RulePolicyWindow, RuleRowCannotFire, RuleSeverityCannotFire}
	if !slices.Equal(documented, want) {
		t.Errorf("docs/lint.md documents %v, want %v", documented, want)
	}
}

// SLO014 holds only SLOs that can page: whose resolved policy has a page
// row that can fire, or whose no-data alert pages. The slo package cannot
// tell, since it does not resolve policies.
func TestLintRunbookOnlyWherePagesCanFire(t *testing.T) {
	const ticketsOnly = `---
version: slod/v1
kind: Policy
name: tickets-only
rows:
  - {severity: ticket, long: 3d, short: 6h, budget_percent: 10}
`
	tests := []struct {
		name, policy, extra string
		want                []string
	}{
		{"the default policy pages, so a missing runbook warns", "default", "", []string{slo.RuleRunbook}},
		{"a ticket-only policy never pages: no warning", "tickets-only", "", nil},
		{"a disabled page class never pages: no warning", "default", "\n    alerting: {page: {disable: true}}", nil},
		{"with tickets disabled the no-data alert pages: a warning", "tickets-only",
			"\n    alerting: {ticket: {disable: true}}", []string{slo.RuleRunbook}},
		{"a runbook on the page class is enough", "default",
			"\n    alerting: {page: {annotations: {runbook_url: https://runbooks.example.com/shop}}}", nil},
		{"a runbook on the ticket class is not", "default",
			"\n    alerting: {ticket: {annotations: {runbook: https://runbooks.example.com/shop}}}", []string{slo.RuleRunbook}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `version: slod/v1
service: shop
slos:
  - name: availability
    objective: 99.9
    policy: ` + tt.policy + `
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))` + tt.extra + "\n" + ticketsOnly
			// What sloctl lint --strict sees: the slo rules, then Lint.
			set, diags := slo.LoadBytes("shop.yaml", []byte(doc))
			diags = append(diags, slo.Validate(set)...)
			if len(diags) > 0 {
				t.Fatalf("slo rules report %v; SLO014 is burnrate's", diags)
			}
			diags = Lint(set)
			if got := rulesOf(diags); !slices.Equal(got, tt.want) {
				t.Errorf("Lint = %v, want %v", diags, tt.want)
			}
			for _, d := range diags {
				if d.Pos.Line != 4 || d.Pos.Column != 11 || d.Severity != slo.SeverityWarning {
					t.Errorf("%s: want a warning at the SLO's name, 4:11", d)
				}
			}
		})
	}
}

// A Sloth SLO (any format but slod/v1) at the same objectives as the native
// cases of TestLint: its impossible rows are warnings, not errors, and
// PolicyFor drops them while native SLOs keep every row.
func TestImpossibleRowsInForeignFormatsAreDroppedWithAWarning(t *testing.T) {
	const sloth = `version: prometheus/v1
service: shop
slos:
  - name: availability
    objective: %OBJ%
    sli:
      events:
        error_query: sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))
    alerting:
      annotations: {runbook: https://runbooks.example.com/shop}
`
	cases := []struct {
		name, objective string
		rules           []string
		sev             slo.Severity
		kept            []Severity
	}{
		{"objective 90 drops the 1h page and keeps three rows", "90", []string{RuleRowCannotFire}, slo.SeverityWarning,
			[]Severity{SeverityPage, SeverityTicket, SeverityTicket}},
		{"objective 50 drops both pages and the 1d ticket: no page is a warning too", "50",
			[]string{RuleRowCannotFire, RuleRowCannotFire, RuleRowCannotFire, RuleSeverityCannotFire}, slo.SeverityWarning,
			[]Severity{SeverityTicket}},
		{"objective 99.9 keeps every row", "99.9", nil, "", []Severity{SeverityPage, SeverityPage, SeverityTicket, SeverityTicket}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := slo.LoadBytes("sloth.yaml", []byte(strings.ReplaceAll(sloth, "%OBJ%", c.objective)))
			if slo.HasErrors(diags) || len(set.SLOs) != 1 {
				t.Fatalf("load: %v", diags)
			}
			var rules []string
			for _, d := range Lint(set) {
				rules = append(rules, d.Rule)
				if d.Severity != c.sev {
					t.Errorf("%s is a %s, want a %s: %s", d.Rule, d.Severity, c.sev, d.Message)
				}
				if d.Rule == RuleRowCannotFire && !strings.Contains(d.Message, "slod drops this row for this SLO and keeps the others (name a policy whose rows can fire with alerting.annotations.slod_policy)") {
					t.Errorf("message %q does not say the row is dropped", d.Message)
				}
			}
			if !slices.Equal(rules, c.rules) {
				t.Errorf("rules %v, want %v", rules, c.rules)
			}
			p, ok := PolicyFor(set.SLOs[0], Policies(set))
			var kept []Severity
			for _, r := range p.Rows {
				kept = append(kept, r.Severity)
				if !r.CanFire(set.SLOs[0].Window, set.SLOs[0].ErrorBudget()) {
					t.Errorf("kept row %+v cannot fire", r)
				}
			}
			if !ok || p.Name != DefaultPolicyName || !slices.Equal(kept, c.kept) {
				t.Errorf("PolicyFor = %+v, %v; want rows %v", p, ok, c.kept)
			}
		})
	}

	t.Run("a native SLO keeps every row and the errors", func(t *testing.T) {
		set, _ := slo.LoadBytes("slos.yaml", []byte(strings.NewReplacer("%OBJ%", "90", "%POL%", "default").Replace(lintSLO)))
		p, _ := PolicyFor(set.SLOs[0], Policies(set))
		if len(p.Rows) != 4 {
			t.Errorf("native PolicyFor kept %d rows, want all 4", len(p.Rows))
		}
		for _, d := range Lint(set) {
			if d.Rule == RuleRowCannotFire && d.Severity != slo.SeverityError {
				t.Errorf("native %s is a %s", d.Rule, d.Severity)
			}
		}
	})

	t.Run("a foreign SLO none of whose rows can fire is an error", func(t *testing.T) {
		doc := strings.NewReplacer("%OBJ%", "50", "shop}", "shop, slod_policy: fast}").Replace(sloth) + `---
version: slod/v1
kind: Policy
name: fast
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2}
`
		set, diags := slo.LoadBytes("sloth.yaml", []byte(doc))
		if slo.HasErrors(diags) {
			t.Fatalf("load: %v", diags)
		}
		var sevs []slo.Severity
		for _, d := range Lint(set) {
			if d.Rule == RuleSeverityCannotFire {
				sevs = append(sevs, d.Severity)
			}
		}
		if !slices.Equal(sevs, []slo.Severity{slo.SeverityError}) {
			t.Errorf("POL004 severities %v, want one error", sevs)
		}
	})
}
