package slo

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// SlothWindowsPolicyPrefix names the policy a Sloth AlertWindows document
// becomes: sloth-<sloPeriod>, for example sloth-7d.
const SlothWindowsPolicyPrefix = "sloth-"

// slothWindows reads a Sloth AlertWindows manifest (apiVersion:
// sloth.slok.dev/v1, kind: AlertWindows), the windows Sloth takes from
// --slo-period-windows-path for SLOs of one period: spec.sloPeriod and, for
// page and ticket, a quick and a slow window pair with the share of the
// period's budget each spends (errorBudgetPercent, shortWindow,
// longWindow). It becomes the policy sloth-<sloPeriod> with four rows —
// the same burn-rate math as slod's own rows (budget_percent within long).
// Sloth SLOs whose window is that period and that choose no policy use it
// (applySlothWindows), as sloth generate does; any SLO may name it.
func (d *decoder) slothWindows(set *Set, n *yaml.Node) {
	const what = "AlertWindows"
	fs, ok := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	ok = d.required(n, fs, what, "spec") && ok
	if f, found := fs["metadata"]; found && !isNull(f.val) {
		_, mok := d.fields(f.val, what+": metadata", k8sObjectMeta...)
		ok = ok && mok
	}
	f, found := fs["spec"]
	if !found || isNull(f.val) {
		return
	}
	sfs, sok := d.fields(f.val, what+": spec", "sloPeriod", "page", "ticket")
	ok = d.required(f.key, sfs, what+": spec", "sloPeriod", "page", "ticket") && sok && ok
	var period time.Duration
	if pf, found := sfs["sloPeriod"]; found {
		var pok bool
		period, pok = d.duration(pf, what+": spec: sloPeriod")
		ok = ok && pok
	}
	p := &PolicySpec{Pos: d.pos(n)}
	for _, sev := range []string{"page", "ticket"} {
		cf, found := sfs[sev]
		if !found || isNull(cf.val) {
			continue
		}
		cfs, cok := d.fields(cf.val, what+": spec: "+sev, "quick", "slow")
		ok = d.required(cf.key, cfs, what+": spec: "+sev, "quick", "slow") && cok && ok
		for _, speed := range []string{"quick", "slow"} {
			wf, found := cfs[speed]
			if !found {
				continue
			}
			row, rok := d.slothWindow(wf, fmt.Sprintf("%s: spec: %s: %s", what, sev, speed), sev)
			ok = ok && rok
			p.Rows = append(p.Rows, row)
		}
	}
	if !ok || period <= 0 {
		return
	}
	p.Name = SlothWindowsPolicyPrefix + FormatDuration(period)
	set.Policies = append(set.Policies, p)
	if set.slothWindows == nil {
		set.slothWindows = map[time.Duration]string{}
	}
	set.slothWindows[period] = p.Name
}

// slothWindow is one window pair of an AlertWindows document as a row.
func (d *decoder) slothWindow(f field, what, severity string) (PolicyRowSpec, bool) {
	row := PolicyRowSpec{Severity: severity, Pos: d.pos(f.val)}
	fs, ok := d.fields(f.val, what, "errorBudgetPercent", "shortWindow", "longWindow")
	ok = d.required(f.key, fs, what, "errorBudgetPercent", "shortWindow", "longWindow") && ok
	for name, ff := range fs {
		var fok bool
		switch name {
		case "errorBudgetPercent":
			row.BudgetPercent, fok = d.num(ff, what+": errorBudgetPercent")
			if fok && (row.BudgetPercent <= 0 || row.BudgetPercent > 100) {
				d.errorf(ff.val, RuleInvalidField, "%s: errorBudgetPercent must be in (0, 100], got %v", what, row.BudgetPercent)
				fok = false
			}
		case "shortWindow":
			row.Short, fok = d.duration(ff, what+": shortWindow")
		case "longWindow":
			row.Long, fok = d.duration(ff, what+": longWindow")
		}
		ok = ok && fok
	}
	return row, ok
}

// applySlothWindows gives each Sloth SLO that names no policy the policy of
// an AlertWindows document for its window, as sloth generate picks the
// windows of the SLO period.
func (s *Set) applySlothWindows() {
	if len(s.slothWindows) == 0 {
		return
	}
	for _, spec := range s.SLOs {
		if spec.Format != FormatSloth || spec.Policy != "" {
			continue
		}
		if name, ok := s.slothWindows[spec.Window]; ok {
			spec.Policy = name
		}
	}
}
