package slo

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// native reads a version: slod/v1 document (kind: SLO or no kind): a
// service, labels shared by its SLOs, and the SLOs. See docs/spec.md.
func (d *decoder) native(set *Set, n *yaml.Node) {
	const what = "slod/v1"
	fs, ok := d.fields(n, what, "version", "kind", "service", "labels", "depends_on", "slos")
	ok = d.required(n, fs, what, "service", "slos") && ok
	var service string
	if f, found := fs["service"]; found && !isNull(f.val) {
		var sok bool
		service, sok = d.str(f, "service")
		ok = ok && sok
	}
	docPos := map[string]Position{}
	var labels map[string]string
	if f, found := fs["labels"]; found {
		var lok bool
		labels, lok = d.stringMap(f, "labels", "labels.", docPos)
		ok = ok && lok
	}
	if f, found := fs["service"]; found {
		docPos["service"] = d.pos(f.val)
	}
	var deps []Dependency
	if f, found := fs["depends_on"]; found {
		var dok bool
		deps, dok = d.dependsOn(f, "depends_on")
		ok = ok && dok
		docPos["depends_on"] = d.pos(f.val)
	}
	f, found := fs["slos"]
	if !found || isNull(f.val) {
		return
	}
	for _, item := range d.list(f, "slos") {
		spec, sok := d.nativeSLO(item, service, labels, docPos, deps)
		if ok && sok {
			set.SLOs = append(set.SLOs, spec)
		}
	}
}

// list reads a list field and returns its items (aliases resolved).
func (d *decoder) list(f field, what string) []*yaml.Node {
	n := resolve(f.val)
	if n == nil || n.Kind != yaml.SequenceNode {
		d.errorf(f.val, RuleInvalidField, "%s: expected a list, got %s", what, kindNameOrNil(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(f.val, RuleInvalidField, "%s: the list is empty", what)
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, resolve(c))
	}
	return out
}

// newSpec starts a Spec for an SLO at n with the document's service and
// labels; SLO-level labels merge over the document's.
func (d *decoder) newSpec(n *yaml.Node, format Format, service string, labels map[string]string, docPos map[string]Position) *Spec {
	s := &Spec{
		Service:  service,
		Window:   DefaultWindow,
		Format:   format,
		Pos:      d.pos(n),
		FieldPos: maps.Clone(docPos),
	}
	if len(labels) > 0 {
		s.Labels = maps.Clone(labels)
	}
	return s
}

// mergeLabels adds SLO-level labels over the document's.
func mergeLabels(s *Spec, labels map[string]string) {
	if len(labels) == 0 {
		return
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	maps.Copy(s.Labels, labels)
}

func (d *decoder) nativeSLO(n *yaml.Node, service string, docLabels map[string]string, docPos map[string]Position, deps []Dependency) (*Spec, bool) {
	s := d.newSpec(n, FormatNative, service, docLabels, docPos)
	s.DependsOn = slices.Clone(deps)
	what := "slo"
	fs, ok := d.fields(n, what, "name", "description", "objective", "window", "sli", "group_by",
		"policy", "min_events", "rule_interval", "labels", "annotations", "alerting", "depends_on", "budgeting")
	if f, found := fs["name"]; found {
		var nok bool
		s.Name, nok = d.str(f, "name")
		ok = ok && nok
		s.FieldPos["name"] = d.pos(f.val)
		what = fmt.Sprintf("slo %q", s.Name)
	}
	ok = d.required(n, fs, what, "name", "objective", "sli") && ok
	s.ID = service + "-" + s.Name
	for name, f := range fs {
		var fok = true
		s.FieldPos[name] = d.pos(f.val)
		switch name {
		case "description":
			s.Description, fok = d.str(f, what+": description")
		case "objective":
			s.Objective, fok = d.num(f, what+": objective")
		case "window":
			fok = d.window(f, what, s)
		case "budgeting":
			fok = d.budgeting(f, what, s)
		case "sli":
			s.SLI, fok = d.nativeSLI(f, what, s.FieldPos)
		case "group_by":
			s.GroupBy, fok = d.stringList(f, what+": group_by", "group_by", s.FieldPos)
		case "policy":
			s.Policy, fok = d.str(f, what+": policy")
		case "min_events":
			s.MinEvents, fok = d.num(f, what+": min_events")
			if fok && s.MinEvents < 0 {
				d.errorf(f.val, RuleInvalidField, "%s: min_events must not be negative", what)
				fok = false
			}
		case "rule_interval":
			s.RuleInterval, fok = d.duration(f, what+": rule_interval")
		case "labels":
			var labels map[string]string
			labels, fok = d.stringMap(f, what+": labels", "labels.", s.FieldPos)
			mergeLabels(s, labels)
		case "annotations":
			s.Annotations, fok = d.stringMap(f, what+": annotations", "annotations.", s.FieldPos)
		case "alerting":
			s.Alerting, fok = d.alerting(f, what, s.FieldPos, false)
		case "depends_on":
			// The SLO's own list replaces the service's (an empty list:
			// this SLO depends on nothing).
			s.DependsOn, fok = d.dependsOn(f, what+": depends_on")
		}
		ok = ok && fok
	}
	return s, ok
}

func (d *decoder) nativeSLI(f field, what string, pos map[string]Position) (SLI, bool) {
	what += ": sli"
	fs, ok := d.fields(f.val, what, "events", "raw", "latency")
	if !ok && len(fs) == 0 {
		return SLI{}, false
	}
	if len(fs) != 1 {
		d.errorf(f.val, RuleInvalidField, "%s: set exactly one of events, raw or latency", what)
		return SLI{}, false
	}
	var sli SLI
	var sok bool
	switch {
	case fs["events"].val != nil:
		sli.Events, sok = d.eventsSLI(fs["events"], what+": events", pos)
	case fs["raw"].val != nil:
		sli.Raw, sok = d.rawSLI(fs["raw"], what+": raw", pos)
	case fs["latency"].val != nil:
		sli.Latency, sok = d.latencySLI(fs["latency"], what+": latency", pos)
	}
	return sli, ok && sok
}

func (d *decoder) eventsSLI(f field, what string, pos map[string]Position) (*EventsSLI, bool) {
	fs, ok := d.fields(f.val, what, "error_query", "total_query")
	ok = d.required(f.key, fs, what, "error_query", "total_query") && ok
	ev := &EventsSLI{}
	if q, found := fs["error_query"]; found {
		var qok bool
		ev.ErrorQuery, qok = d.str(q, what+": error_query")
		ev.ErrorQuery = strings.TrimSpace(ev.ErrorQuery)
		pos["sli.events.error_query"] = d.pos(q.val)
		ok = ok && qok
	}
	if q, found := fs["total_query"]; found {
		var qok bool
		ev.TotalQuery, qok = d.str(q, what+": total_query")
		ev.TotalQuery = strings.TrimSpace(ev.TotalQuery)
		pos["sli.events.total_query"] = d.pos(q.val)
		ok = ok && qok
	}
	return ev, ok
}

func (d *decoder) rawSLI(f field, what string, pos map[string]Position) (*RawSLI, bool) {
	fs, ok := d.fields(f.val, what, "error_ratio_query")
	ok = d.required(f.key, fs, what, "error_ratio_query") && ok
	raw := &RawSLI{}
	if q, found := fs["error_ratio_query"]; found {
		var qok bool
		raw.ErrorRatioQuery, qok = d.str(q, what+": error_ratio_query")
		raw.ErrorRatioQuery = strings.TrimSpace(raw.ErrorRatioQuery)
		pos["sli.raw.error_ratio_query"] = d.pos(q.val)
		ok = ok && qok
	}
	return raw, ok
}

func (d *decoder) latencySLI(f field, what string, pos map[string]Position) (*LatencySLI, bool) {
	fs, ok := d.fields(f.val, what, "metric", "selector", "threshold")
	ok = d.required(f.key, fs, what, "metric", "threshold") && ok
	lat := &LatencySLI{}
	for name, ff := range fs {
		pos["sli.latency."+name] = d.pos(ff.val)
		var fok bool
		switch name {
		case "metric":
			lat.Metric, fok = d.str(ff, what+": metric")
		case "selector":
			lat.Selector, fok = d.str(ff, what+": selector")
		case "threshold":
			lat.Threshold, fok = d.num(ff, what+": threshold")
			if fok && lat.Threshold <= 0 {
				d.errorf(ff.val, RuleInvalidField, "%s: threshold must be a positive number (the histogram bucket bound, e.g. 0.3 for 300ms in seconds), got %v", what, lat.Threshold)
				fok = false
			}
		}
		ok = ok && fok
	}
	return lat, ok
}

// alerting reads the alerting block. Native files call the classes page and
// ticket; Sloth files page_alert and ticket_alert (sloth is true).
func (d *decoder) alerting(f field, what string, pos map[string]Position, sloth bool) (Alerting, bool) {
	what += ": alerting"
	pageKey, ticketKey := "page", "ticket"
	known := []string{"name", "labels", "annotations", "page", "ticket", "no_data", "idle", "collapse"}
	if sloth {
		pageKey, ticketKey = "page_alert", "ticket_alert"
		known = []string{"name", "labels", "annotations", "page_alert", "ticket_alert"}
	}
	var a Alerting
	if isNull(f.val) {
		return a, true
	}
	fs, ok := d.fields(f.val, what, known...)
	for name, ff := range fs {
		var fok bool
		pos["alerting."+name] = d.pos(ff.val)
		switch name {
		case "name":
			a.Name, fok = d.str(ff, what+": name")
		case "labels":
			a.Labels, fok = d.stringMap(ff, what+": labels", "alerting.labels.", pos)
		case "annotations":
			a.Annotations, fok = d.stringMap(ff, what+": annotations", "alerting.annotations.", pos)
		case "no_data":
			a.NoData, fok = d.duration(ff, what+": no_data")
		case "idle":
			var v string
			if v, fok = d.str(ff, what+": idle"); fok {
				a.Idle = IdleAction(v)
				if a.Idle != IdleIgnore && a.Idle != IdleAlert {
					d.errorf(ff.val, RuleInvalidField, "%s: idle must be %s or %s, got %q", what, IdleAlert, IdleIgnore, v)
					fok = false
				}
			}
		case "collapse":
			a.Collapse, fok = d.collapse(ff, what+": collapse", pos)
		case pageKey:
			a.Page, fok = d.alertClass(ff, what+": "+pageKey, "alerting.page.", pos)
		case ticketKey:
			a.Ticket, fok = d.alertClass(ff, what+": "+ticketKey, "alerting.ticket.", pos)
		}
		ok = ok && fok
	}
	return a, ok
}

// collapse reads alerting.collapse: below_percent (required), baseline
// (default 1w) and periods (default 1). null is no collapse detection.
func (d *decoder) collapse(f field, what string, pos map[string]Position) (*Collapse, bool) {
	if isNull(f.val) {
		return nil, true
	}
	c := &Collapse{Baseline: DefaultCollapseBaseline, Periods: 1}
	fs, ok := d.fields(f.val, what, "below_percent", "baseline", "periods")
	ok = d.required(f.key, fs, what, "below_percent") && ok
	for name, ff := range fs {
		pos["alerting.collapse."+name] = d.pos(ff.val)
		var fok bool
		switch name {
		case "below_percent":
			c.BelowPercent, fok = d.num(ff, what+": below_percent")
			if fok && !(c.BelowPercent > 0 && c.BelowPercent < 100) {
				d.errorf(ff.val, RuleInvalidField, "%s: below_percent must be a percentage in (0, 100) such as 10, got %v", what, c.BelowPercent)
				fok = false
			}
		case "baseline":
			c.Baseline, fok = d.duration(ff, what+": baseline")
			if fok && c.Baseline < MinCollapseBaseline {
				d.errorf(ff.val, RuleInvalidField, "%s: baseline %s is shorter than %s: the compared hour must lie entirely in the past (1d or 1w follow daily or weekly patterns)",
					what, FormatDuration(c.Baseline), FormatDuration(MinCollapseBaseline))
				fok = false
			}
		case "periods":
			var n float64
			if n, fok = d.num(ff, what+": periods"); fok {
				if n < 1 || n > MaxCollapsePeriods || n != float64(int(n)) {
					d.errorf(ff.val, RuleInvalidField, "%s: periods must be a whole number from 1 to %d, got %v", what, MaxCollapsePeriods, n)
					fok = false
				}
				c.Periods = int(n)
			}
		}
		ok = ok && fok
	}
	return c, ok
}

func (d *decoder) alertClass(f field, what, prefix string, pos map[string]Position) (AlertClass, bool) {
	var c AlertClass
	if isNull(f.val) {
		return c, true
	}
	fs, ok := d.fields(f.val, what, "disable", "for", "labels", "annotations")
	for name, ff := range fs {
		var fok bool
		switch name {
		case "disable":
			c.Disabled, fok = d.boolean(ff, what+": disable")
		case "for":
			pos[prefix+"for"] = d.pos(ff.val)
			c.For, fok = d.duration(ff, what+": for")
		case "labels":
			c.Labels, fok = d.stringMap(ff, what+": labels", prefix+"labels.", pos)
		case "annotations":
			c.Annotations, fok = d.stringMap(ff, what+": annotations", prefix+"annotations.", pos)
		}
		ok = ok && fok
	}
	return c, ok
}

// policy reads a version: slod/v1, kind: Policy document.
func (d *decoder) policy(set *Set, n *yaml.Node) {
	what := "policy"
	fs, ok := d.fields(n, what, "version", "kind", "name", "measure", "rows")
	p := &PolicySpec{Pos: d.pos(n)}
	if f, found := fs["name"]; found {
		var nok bool
		p.Name, nok = d.str(f, "policy: name")
		ok = ok && nok
		p.Pos = d.pos(f.val)
		what = fmt.Sprintf("policy %q", p.Name)
	}
	ok = d.required(n, fs, what, "name", "rows") && ok
	if f, found := fs["measure"]; found {
		var mok bool
		p.Measure, mok = d.measure(f, what+": measure")
		ok = ok && mok
	}
	if f, found := fs["rows"]; found && !isNull(f.val) {
		for i, item := range d.list(f, what+": rows") {
			row, rok := d.policyRow(item, fmt.Sprintf("%s: row %d", what, i+1))
			p.Rows = append(p.Rows, row)
			ok = ok && rok
		}
	}
	if ok {
		set.Policies = append(set.Policies, p)
	}
}

// measure reads a policy's or a row's measure: ratio or budget.
func (d *decoder) measure(f field, what string) (string, bool) {
	m, ok := d.str(f, what)
	if ok && m != "ratio" && m != "budget" {
		d.errorf(f.val, RuleInvalidField, "%s must be ratio or budget, got %q", what, m)
		return "", false
	}
	return m, ok
}

func (d *decoder) policyRow(n *yaml.Node, what string) (PolicyRowSpec, bool) {
	row := PolicyRowSpec{Pos: d.pos(n)}
	fs, ok := d.fields(n, what, "severity", "long", "short", "budget_percent", "measure", "floor_percent")
	_, budget := fs["budget_percent"]
	_, floor := fs["floor_percent"]
	switch {
	case budget && floor:
		d.errorf(n, RuleInvalidField, "%s: set budget_percent or floor_percent, not both", what)
		ok = false
	case floor:
		ok = d.required(n, fs, what, "severity", "long", "short") && ok
	default:
		ok = d.required(n, fs, what, "severity", "long", "short", "budget_percent") && ok
	}
	for name, f := range fs {
		var fok bool
		switch name {
		case "severity":
			row.Severity, fok = d.str(f, what+": severity")
			if fok && row.Severity != "page" && row.Severity != "ticket" {
				d.errorf(f.val, RuleInvalidField, "%s: severity must be page or ticket, got %q", what, row.Severity)
				fok = false
			}
		case "long":
			row.Long, fok = d.duration(f, what+": long")
		case "short":
			row.Short, fok = d.duration(f, what+": short")
		case "budget_percent":
			row.BudgetPercent, fok = d.num(f, what+": budget_percent")
			if fok && (row.BudgetPercent <= 0 || row.BudgetPercent > 100) {
				d.errorf(f.val, RuleInvalidField, "%s: budget_percent must be in (0, 100], got %v", what, row.BudgetPercent)
				fok = false
			}
		case "floor_percent":
			row.FloorPercent, fok = d.num(f, what+": floor_percent")
			if fok && (row.FloorPercent <= 0 || row.FloorPercent > 100) {
				d.errorf(f.val, RuleInvalidField, "%s: floor_percent must be in (0, 100], got %v", what, row.FloorPercent)
				fok = false
			}
		case "measure":
			row.Measure, fok = d.measure(f, what+": measure")
		}
		ok = ok && fok
	}
	return row, ok
}
