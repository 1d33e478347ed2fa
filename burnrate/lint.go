package burnrate

import (
	"fmt"

	"github.com/slodhq/slod/slo"
)

// The policy lint rules, documented in docs/lint.md. They continue the slo
// package's SLO0xx numbering in their own range; IDs are stable.
const (
	// RulePolicyRow: a policy row is malformed on its own (short window
	// not shorter than the long one).
	RulePolicyRow = "POL001"
	// RulePolicyWindow: a row's long window exceeds the window of an SLO
	// that uses the policy.
	RulePolicyWindow = "POL002"
	// RuleRowCannotFire: a row's factor exceeds 1/(1 − objective) for an
	// SLO, so even a 100% error ratio never fires it (a 90% SLO's 1h page).
	// A warning for SLOs of foreign formats, whose PolicyFor drops the row.
	RuleRowCannotFire = "POL003"
	// RuleSeverityCannotFire: no row of an enabled severity class can fire
	// for an SLO: that SLO will never page (or never ticket).
	RuleSeverityCannotFire = "POL004"
)

// PolicyFromSpec turns a `kind: Policy` document into a Policy
// (budget_percent 2 becomes a share of 0.02, floor_percent 50 a floor
// ratio of 0.5; a row without a measure takes the policy's). It does not
// validate it.
func PolicyFromSpec(ps *slo.PolicySpec) Policy {
	p := Policy{Name: ps.Name}
	for _, r := range ps.Rows {
		m := Measure(r.Measure)
		if m == "" {
			m = Measure(ps.Measure)
		}
		if m == MeasureRatio {
			m = ""
		}
		p.Rows = append(p.Rows, Row{
			Severity:    Severity(r.Severity),
			Long:        r.Long,
			Short:       r.Short,
			BudgetShare: r.BudgetPercent / 100,
			Measure:     m,
			FloorRatio:  r.FloorPercent / 100,
		})
	}
	return p
}

// nativeDefault keys, in a Policies map, the policy of a native (slod/v1)
// SLO that names none: traffic-aware, unless the files define a policy
// named "default". The scenario suite (docs/policies.md) is the evidence.
// It is no name a policy document can have.
const nativeDefault = ""

// Policies returns every policy an SLO of set may name: the built-in
// policies (default, traffic-aware) and the set's own, by name (a set's
// policy of a built-in name overrides the built-in one), and the policy of
// native SLOs that name none.
func Policies(set *slo.Set) map[string]Policy {
	out := map[string]Policy{DefaultPolicyName: DefaultPolicy(), TrafficAwarePolicyName: TrafficAwarePolicy(), nativeDefault: TrafficAwarePolicy()}
	if set == nil {
		return out
	}
	for _, ps := range set.Policies {
		out[ps.Name] = PolicyFromSpec(ps)
		if ps.Name == DefaultPolicyName {
			out[nativeDefault] = out[ps.Name]
		}
	}
	return out
}

// PolicyFor returns the policy spec names (when it names none: for a
// native SLO traffic-aware, or the files' own "default"; for another
// tool's SLO "default") as it applies to spec, and false when no such policy exists. It is
// the one resolution the daemon, backtest, explain and the generated rules
// share. For an SLO read from a foreign format (any Format but
// slo.FormatNative: Sloth, Pyrra, OpenSLO) the rows that can never fire at
// its objective and window are dropped, the rest kept: such a file is
// valid for its own tool, which generates an alert that never fires, and
// Lint warns about each dropped row. In native files such a row is an
// error (Lint), so it never reaches an evaluator.
func PolicyFor(spec *slo.Spec, policies map[string]Policy) (Policy, bool) {
	p, ok := lookup(spec, policies)
	if !ok || !Foreign(spec) {
		return p, ok
	}
	return p.firing(spec), true
}

// lookup returns the policy spec names, with every row. A native SLO that
// names none gets the native default (traffic-aware) when the map has
// one; another tool's SLO keeps that tool's semantics: the Workbook's
// ratio rows of "default".
func lookup(spec *slo.Spec, policies map[string]Policy) (Policy, bool) {
	name := spec.Policy
	if name == "" {
		if p, ok := policies[nativeDefault]; ok && !Foreign(spec) {
			return p, true
		}
		name = DefaultPolicyName
	}
	p, ok := policies[name]
	return p, ok
}

// Foreign reports whether spec was read from another tool's format, whose
// policy rows that can never fire are dropped with a warning rather than
// refused (PolicyFor, Lint).
func Foreign(spec *slo.Spec) bool {
	return spec.Format != slo.FormatNative
}

// firing returns p without the rows that can never fire for spec (CanFire).
// An SLO whose objective or window is out of range keeps every row: the slo
// package reports it, and nothing evaluates it.
func (p Policy) firing(spec *slo.Spec) Policy {
	if !(spec.Objective > 0 && spec.Objective < 100) || spec.Window <= 0 {
		return p
	}
	out := Policy{Name: p.Name}
	for _, r := range p.Rows {
		if r.CanFire(spec.Window, spec.ErrorBudget()) {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// Lint checks the policies of set and their rows against every SLO that
// uses them, and the runbook of every SLO that can page (SLO014, which
// needs the resolved policy); it is one of the checks `sloctl lint` runs.
// Unknown policy names are the slo package's rule (SLO016) and are skipped
// here.
func Lint(set *slo.Set) []slo.Diagnostic {
	if set == nil {
		return nil
	}
	var diags []slo.Diagnostic
	bad := map[string]bool{} // policies with a malformed row
	for _, ps := range set.Policies {
		for i, r := range ps.Rows {
			if r.Short <= 0 || r.Short >= r.Long {
				diags = append(diags, slo.Diagnostic{Pos: r.Pos, Severity: slo.SeverityError, Rule: RulePolicyRow,
					Message: fmt.Sprintf("policy %q: row %d: short window %s must be shorter than long window %s",
						ps.Name, i+1, slo.FormatDuration(r.Short), slo.FormatDuration(r.Long))})
				bad[ps.Name] = true
			}
		}
	}
	policies := Policies(set)
	for _, s := range set.SLOs {
		p, ok := lookup(s, policies)
		if !ok || bad[p.Name] || !(s.Objective > 0 && s.Objective < 100) || s.Window <= 0 {
			continue
		}
		pos := s.PosOf("policy")
		budget := s.ErrorBudget()
		possible := map[Severity]bool{}
		// An impossible row is an error in a native file; in another tool's
		// format, valid for that tool, it is a warning and PolicyFor drops it.
		impossible, fix := slo.SeverityError, "lower the row's budget share, lengthen its long window or drop it"
		if Foreign(s) {
			impossible, fix = slo.SeverityWarning, "slod drops this row for this SLO and keeps the others"+choosePolicy(s)
		}
		for i, r := range p.Rows {
			if disabled(s, r.Severity) {
				continue
			}
			if r.Long > s.Window {
				diags = append(diags, slo.Diagnostic{Pos: s.PosOf("window"), Severity: slo.SeverityError, Rule: RulePolicyWindow,
					Message: fmt.Sprintf("slo %q: policy %q row %d: long window %s exceeds the SLO window %s",
						s.ID, p.Name, i+1, slo.FormatDuration(r.Long), slo.FormatDuration(s.Window))})
				continue
			}
			if !r.CanFire(s.Window, budget) {
				diags = append(diags, slo.Diagnostic{Pos: s.PosOf("objective"), Severity: impossible, Rule: RuleRowCannotFire,
					Message: fmt.Sprintf("slo %q: policy %q row %d (%s %s/%s, %s%% of budget) can never fire: "+
						"it needs an error ratio of %s%%, above 100%%, at objective %s%% over %s; %s",
						s.ID, p.Name, i+1, r.Severity, slo.FormatDuration(r.Long), slo.FormatDuration(r.Short),
						percent(r.BudgetShare), percent(r.ErrorRatio(s.Window, budget)), trim(s.Objective), slo.FormatDuration(s.Window), fix)})
				continue
			}
			possible[r.Severity] = true
		}
		// A foreign SLO with a class that cannot fire still alerts through
		// its other rows; with none left at all it could never alert.
		classSev := slo.SeverityError
		if Foreign(s) && len(possible) > 0 {
			classSev = slo.SeverityWarning
		}
		for _, sev := range p.Severities() {
			if !disabled(s, sev) && !possible[sev] {
				diags = append(diags, slo.Diagnostic{Pos: pos, Severity: classSev, Rule: RuleSeverityCannotFire,
					Message: fmt.Sprintf("slo %q: no %s row of policy %q can fire at objective %s%% over %s: this SLO will never %s",
						s.ID, sev, p.Name, trim(s.Objective), slo.FormatDuration(s.Window), sev)})
			}
		}
		// SLO014: a page without a runbook leaves the on-call guessing. Only
		// an SLO that can page is held to it: one whose policy has a page
		// row that can fire, or whose no-data alert pages (tickets disabled).
		ndSev, nd := NoDataSeverity(s)
		if (possible[SeverityPage] || nd && ndSev == SeverityPage) && s.Runbook(s.Alerting.Page) == "" {
			diags = append(diags, slo.Diagnostic{Pos: s.PosOf("name"), Severity: slo.SeverityWarning, Rule: slo.RuleRunbook,
				Message: fmt.Sprintf("slo %q: pages (policy %q) but has no runbook annotation (annotations.runbook or runbook_url)", s.ID, p.Name)})
		}
	}
	return diags
}

// choosePolicy tells how a file of spec's format names another policy.
func choosePolicy(spec *slo.Spec) string {
	if spec.Format == slo.FormatSloth {
		return fmt.Sprintf(" (name a policy whose rows can fire with alerting.annotations.%s)", slo.SlothPolicyAnnotation)
	}
	return ""
}

func disabled(s *slo.Spec, sev Severity) bool {
	switch sev {
	case SeverityPage:
		return s.Alerting.Page.Disabled
	case SeverityTicket:
		return s.Alerting.Ticket.Disabled
	}
	return false
}

func percent(x float64) string { return trim(x * 100) }

func trim(x float64) string {
	return fmt.Sprintf("%.6g", x)
}
