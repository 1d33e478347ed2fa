package slo

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// NotificationTargetsLabel is the alert label that carries the names of the
// OpenSLO AlertNotificationTargets an SLO's AlertPolicies name, joined with
// ","; notify routes match it (docs/spec.md, docs/notify.md).
const NotificationTargetsLabel = "notification_targets"

// promCompatible are the OpenSLO metric source types slod queries: the
// Prometheus HTTP API and the systems that serve it.
var promCompatible = []string{"prometheus", "thanos", "mimir", "cortex", "victoriametrics"}

// resolveOpenSLO resolves the references between the OpenSLO objects read
// by one Load call, across all its files, and adds an SLO (and, with alert
// policies, a policy) per objective to set. An SLO whose reference does not
// resolve, or whose metric source slod cannot query, is skipped with an
// error at that reference; the others load.
func (set *Set) resolveOpenSLO() (diags []Diagnostic) {
	objs := set.openSLO
	set.openSLO = nil
	if objs == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			diags = append(diags, Diagnostic{Pos: Position{File: "openslo", Line: 1, Column: 1}, Severity: SeverityError, Rule: RuleYAML,
				Message: fmt.Sprintf("%s: %v", internalError, r)})
		}
	}()
	r := &osResolver{objs: objs}
	for _, name := range slices.Sorted(maps.Keys(objs.targets)) {
		r.reportTarget(objs.targets[name])
	}
	first := len(set.SLOs)
	for _, s := range objs.slos {
		r.slo(set, s)
	}
	// The SLOs exist only now, after every file's own groupByFromQueries:
	// their queries' `sum by (...)` labels become their group_by here.
	gd := &decoder{}
	gd.groupByFromQueries(set.SLOs[first:])
	r.diags = append(r.diags, gd.diags...)
	// An object referenced by several SLOs reports its problem once.
	seen := map[string]bool{}
	for _, d := range r.diags {
		if k := d.String(); !seen[k] {
			seen[k] = true
			diags = append(diags, d)
		}
	}
	return diags
}

// servicesNear reports whether a Service object is defined in the
// directory of file.
func (r *osResolver) servicesNear(file string) bool {
	for _, pos := range r.objs.services {
		if filepath.Dir(pos.File) == filepath.Dir(file) {
			return true
		}
	}
	return false
}

type osResolver struct {
	objs  *openSLOObjects
	diags []Diagnostic
}

func (r *osResolver) add(pos Position, sev Severity, rule, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{Pos: pos, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (r *osResolver) errorf(pos Position, rule, format string, args ...any) {
	r.add(pos, SeverityError, rule, format, args...)
}

// reportTarget says what slod does with an AlertNotificationTarget: it
// delivers pages through its own notify config, where a route matching the
// notification_targets label sends them on.
func (r *osResolver) reportTarget(t *osTarget) {
	if t == nil || t.name == "" {
		return
	}
	target := ""
	if t.target != "" {
		target = fmt.Sprintf(" (target: %s)", t.target)
	}
	r.add(t.pos, SeverityWarning, RuleUnsupported,
		"OpenSLO AlertNotificationTarget %q%s is not delivered to by itself: alerts of the SLOs whose AlertPolicy names it carry the label %s holding %q; "+
			"route them in the notify config, e.g. match_re: {%s: \"(.*,)?%s(,.*)?\"} with the receiver for %s",
		t.name, target, NotificationTargetsLabel, t.name, NotificationTargetsLabel, t.name, t.name)
}

// names lists the keys of m for messages.
func names[T any](m map[string]T) string {
	if len(m) == 0 {
		return "none loaded"
	}
	ks := slices.Sorted(maps.Keys(m))
	if len(ks) > 8 {
		ks = append(ks[:8], "...")
	}
	return strings.Join(ks, ", ")
}

// lookup resolves a reference to an object of kind in m; ok reports whether
// the object exists and read without error.
func lookup[T any](r *osResolver, m map[string]T, kind, field string, ref osRef, good func(T) bool) (T, bool) {
	obj, found := m[ref.name]
	if !found {
		r.errorf(ref.pos, RuleInvalidField, "%s %q names no OpenSLO %s in the files loaded (known: %s)", field, ref.name, kind, names(m))
		return obj, false
	}
	if !good(obj) {
		r.errorf(ref.pos, RuleInvalidField, "%s %q names an OpenSLO %s that has errors (reported where it is defined)", field, ref.name, kind)
		return obj, false
	}
	return obj, true
}

func (r *osResolver) slo(set *Set, s *osSLO) {
	ok := true
	if _, found := r.objs.services[s.service]; s.service != "" && !found && r.servicesNear(s.pos.File) {
		// Service objects are optional; a directory that declares them
		// and an SLO that names another one is most likely a typo.
		r.add(s.fieldPos["service"], SeverityWarning, RuleInvalidField, "OpenSLO SLO %q: service %q is not one of the Service objects defined in its directory (%s): a typo?", s.id, s.service, names(r.objs.services))
	}
	base := s.indicator
	if base == nil && s.indicatorRef.name != "" {
		sli, found := lookup(r, r.objs.slis, "SLI", "indicatorRef", s.indicatorRef, func(x *osSLI) bool { return x.ok })
		if found {
			base = sli
		} else {
			ok = false
		}
	}
	rows, alerting, pok := r.alerting(s)
	ok = ok && pok
	for i, o := range s.objectives {
		id := s.id
		if len(s.objectives) > 1 {
			id = fmt.Sprintf("%s-%d", s.id, i)
		}
		sli := base
		switch {
		case o.indicator != nil:
			sli = o.indicator
		case o.indicatorRef.name != "":
			x, found := lookup(r, r.objs.slis, "SLI", "indicatorRef", o.indicatorRef, func(x *osSLI) bool { return x.ok })
			if !found {
				continue
			}
			sli = x
		}
		if sli == nil || !sli.ok {
			continue // reported where the SLO or its indicator is read
		}
		spec := &Spec{
			ID: id, Service: s.service, Description: s.description, Objective: o.objective, Window: s.window, Calendar: s.calendar, TimeSlices: o.slices,
			Labels: maps.Clone(s.labels), Annotations: maps.Clone(s.annotations), Format: FormatOpenSLO,
			Pos: s.pos, FieldPos: maps.Clone(s.fieldPos),
		}
		if s.alpha {
			spec.Format = FormatOpenSLOAlpha
		}
		spec.Name = strings.TrimPrefix(spec.ID, spec.Service+"-")
		if spec.Name == "" {
			spec.Name = spec.ID
		}
		if o.objPos != (Position{}) {
			spec.FieldPos["objective"] = o.objPos
		}
		what := fmt.Sprintf("OpenSLO SLO %q", id)
		model, sok := r.sli(sli, o, spec.FieldPos, what)
		if !ok || !sok {
			continue
		}
		spec.SLI = model
		spec.Alerting = alerting.clone()
		spec.DependsOn = slices.Clone(r.objs.serviceDeps[s.service])
		if rows != nil {
			p := &PolicySpec{Name: "openslo/" + id, Pos: spec.PosOf("policy")}
			for _, row := range rows {
				// A burnrate threshold f over a lookback L spends f × L / W
				// of the window's budget: the row's budget share (docs/policies.md).
				row.BudgetPercent = row.factor * float64(row.Long) / float64(spec.Window) * 100
				p.Rows = append(p.Rows, row.PolicyRowSpec)
			}
			if len(p.Rows) > 0 {
				spec.Policy = p.Name
				set.Policies = append(set.Policies, p)
			}
		}
		set.SLOs = append(set.SLOs, spec)
	}
}

// sli turns an OpenSLO indicator and objective into slod's SLI:
//   - ratioMetric good/bad with total: an events SLI; errors are bad, or
//     total − good. Counters are read with rate, gauges with avg_over_time.
//   - ratioMetric raw: a raw SLI; a success ratio r becomes 1 − r.
//   - thresholdMetric: a raw SLI that is 1 while the metric, averaged over
//     the step, fails the objective's op and value, and 0 otherwise.
func (r *osResolver) sli(sli *osSLI, o *osObjective, pos map[string]Position, what string) (SLI, bool) {
	query := func(src *osSource, fn, field string, sum bool) (string, bool) {
		q, qpos, ok := r.source(src, what)
		if !ok {
			return "", false
		}
		pos[field] = qpos
		w, err := windowQuery(q, fn, sum)
		if err != nil {
			r.errorf(qpos, RulePromQL, "%s: query %s", what, err)
			return "", false
		}
		return w, true
	}
	switch {
	case sli.threshold != nil:
		if o.op == "" || !o.hasValue {
			r.errorf(o.pos, RuleInvalidField, "%s: a thresholdMetric needs op and value on the objective (good when the metric op value holds)", what)
			return SLI{}, false
		}
		q, qpos, ok := r.source(sli.threshold, what)
		if !ok {
			return SLI{}, false
		}
		pos["sli.raw.error_ratio_query"] = qpos
		t, err := thresholdQuery(q, o.op, o.value)
		if err != nil {
			r.errorf(qpos, RulePromQL, "%s: query %s", what, err)
			return SLI{}, false
		}
		return SLI{Raw: &RawSLI{ErrorRatioQuery: t}}, true
	case sli.ratio == nil:
		return SLI{}, false
	}
	rm := sli.ratio
	if o.op != "" {
		r.add(o.opPos, SeverityWarning, RuleUnsupported, "%s: op and value apply to a thresholdMetric; with a ratioMetric they are ignored", what)
	}
	if rm.raw != nil {
		q, ok := query(rm.raw, readGauge, "sli.raw.error_ratio_query", false)
		if !ok {
			return SLI{}, false
		}
		if rm.rawType == "success" {
			q = "1 - (" + q + ")"
		}
		return SLI{Raw: &RawSLI{ErrorRatioQuery: q}}, true
	}
	fn := readGauge
	if rm.counter {
		fn = readCounter
	}
	total, tok := query(rm.total, fn, "sli.events.total_query", true)
	if !tok {
		// Good or bad most often shares the total's source and problem.
		return SLI{}, false
	}
	var errQ string
	var eok bool
	if rm.bad != nil {
		errQ, eok = query(rm.bad, fn, "sli.events.error_query", true)
	} else {
		var good string
		if good, eok = query(rm.good, fn, "sli.events.error_query", true); eok {
			// errors = total − good; both sides keep the same labels.
			errQ = "(" + total + ") - (" + good + ")"
		}
	}
	if !eok {
		return SLI{}, false
	}
	return SLI{Events: &EventsSLI{ErrorQuery: errQ, TotalQuery: total}}, true
}

// source resolves a metric source to its PromQL query and where it is
// written: the type is the source's, else its DataSource's, and must be
// Prometheus-compatible.
func (r *osResolver) source(src *osSource, what string) (string, Position, bool) {
	if src == nil {
		return "", Position{}, false
	}
	typ, typPos := src.typ, src.typPos
	if _, known := r.objs.sources[src.ref.name]; src.ref.name != "" && !known && typ != "" {
		// The type is written: slod needs nothing else from the
		// DataSource (it queries the Prometheus its own config names),
		// which often lives outside the SLO repository.
		r.add(src.ref.pos, SeverityWarning, RuleInvalidField, "%s: metricSourceRef %q names no OpenSLO DataSource in the files loaded; reading the source as its type %s", what, src.ref.name, typ)
	} else if src.ref.name != "" {
		ds, found := lookup(r, r.objs.sources, "DataSource", "metricSourceRef", src.ref, func(x *osDataSource) bool { return x.ok })
		if !found {
			return "", Position{}, false
		}
		switch {
		case typ == "":
			typ, typPos = ds.typ, src.ref.pos
		case !strings.EqualFold(typ, ds.typ):
			r.errorf(typPos, RuleInvalidField, "%s: metric source type %q differs from the type %q of DataSource %q", what, typ, ds.typ, ds.name)
			return "", Position{}, false
		}
	}
	if !slices.Contains(promCompatible, strings.ToLower(typ)) {
		r.errorf(typPos, RuleUnsupported, "%s: metric source type %q is not supported: slod queries Prometheus-compatible sources (Prometheus, Thanos, Mimir, Cortex, VictoriaMetrics); this SLO is skipped", what, typ)
		return "", Position{}, false
	}
	if src.alpha {
		return src.query, src.queryPos, true
	}
	d := &decoder{file: src.file}
	defer func() { r.diags = append(r.diags, d.diags...) }()
	swhat := what + ": metricSource: spec"
	fs, ok := d.fields(src.spec, swhat, "query", "dimensions")
	if dims, found := fs["dimensions"]; found {
		d.osDimensions(dims, swhat)
	}
	q, hasQ := fs["query"]
	if !hasQ {
		if ok {
			d.errorf(src.spec, RuleInvalidField, "%s: missing required field \"query\"", swhat)
		}
		return "", Position{}, false
	}
	query, qok := d.str(q, swhat+": query")
	return query, d.pos(q.val), ok && qok
}

// osDimensions warns that a metric source spec's dimensions are ignored.
// The OpenSLO spec leaves a metric source's spec free-form and defines no
// dimensions; the go-sdk only carries the key through, with no meaning.
// Read as the labels to split the SLI by, it would have to group the query,
// which slod takes from the query's own outer `sum by (...)`.
func (d *decoder) osDimensions(f field, what string) {
	var labels []string
	if n := resolve(f.val); n != nil && n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if c = resolve(c); c == nil || c.Kind != yaml.ScalarNode || !ValidLabelName(c.Value) {
				labels = nil
				break
			}
			labels = append(labels, c.Value)
		}
	}
	hint := "to alert per label set, aggregate the query by those labels: sum by (...) (...)"
	if len(labels) > 0 {
		hint = fmt.Sprintf("its alerts are not split by %s; to alert per label set, aggregate the query by them: sum by (%s) (...)",
			strings.Join(labels, ", "), strings.Join(labels, ", "))
	}
	d.report(f.key, SeverityWarning, RuleUnsupported, "%s: dimensions is ignored: OpenSLO defines no such field (a metric source's spec is free-form), and slod splits an SLO into instances only by the labels its query aggregates by; %s",
		what, hint)
}

// osRow is a policy row with the burn factor it came from; its budget
// share depends on the window of the SLO that uses it.
type osRow struct {
	PolicyRowSpec
	factor float64
}

type osAlerting struct {
	Alerting
}

func (a osAlerting) clone() Alerting {
	out := a.Alerting
	out.Page.Labels = maps.Clone(a.Page.Labels)
	out.Ticket.Labels = maps.Clone(a.Ticket.Labels)
	return out
}

// pageSeverities are OpenSLO condition severities read as slod pages; any
// other is a ticket.
var pageSeverities = []string{"page", "critical", "high", "urgent", "emergency", "sev0", "sev1", "p0", "p1"}

// alerting resolves an SLO's alert policies into policy rows and the
// labels of its alert classes. rows is nil when the SLO names no policy
// (slod's default policy applies).
func (r *osResolver) alerting(s *osSLO) ([]osRow, osAlerting, bool) {
	var a osAlerting
	if len(s.policies) == 0 {
		return nil, a, true
	}
	ok := true
	rows := []osRow{}
	targets := map[string][]string{} // class → target names
	what := fmt.Sprintf("OpenSLO SLO %q", s.id)
	for _, pref := range s.policies {
		p := pref.inline
		if p == nil {
			var found bool
			if p, found = lookup(r, r.objs.policies, "AlertPolicy", "alertPolicyRef", pref.ref, func(x *osPolicy) bool { return x.ok }); !found {
				ok = false
				continue
			}
		}
		if !p.ok {
			ok = false
			continue
		}
		if !p.breaching {
			continue
		}
		var classes []string
		for _, cref := range p.conditions {
			c := cref.inline
			if c == nil {
				var found bool
				if c, found = lookup(r, r.objs.conditions, "AlertCondition", "conditionRef", cref.ref, func(x *osCondition) bool { return x.ok }); !found {
					ok = false
					continue
				}
			}
			row, class := r.row(c, what)
			rows = append(rows, row)
			classes = append(classes, class)
			if c.severity != class {
				labels := &a.Page.Labels
				if class == "ticket" {
					labels = &a.Ticket.Labels
				}
				if *labels == nil {
					*labels = map[string]string{}
				}
				if _, set := (*labels)["severity"]; !set {
					// Keep the user's severity name on the alert for routing.
					(*labels)["severity"] = c.severity
				}
			}
		}
		for _, tref := range p.targets {
			name := tref.ref.name
			if tref.inline != nil {
				name = tref.inline.name
				r.reportTarget(tref.inline)
			} else if _, found := lookup(r, r.objs.targets, "AlertNotificationTarget", "targetRef", tref.ref, func(x *osTarget) bool { return x.ok }); !found {
				ok = false
				continue
			}
			for _, class := range classes {
				if !slices.Contains(targets[class], name) {
					targets[class] = append(targets[class], name)
				}
			}
		}
	}
	for class, ts := range targets {
		slices.Sort(ts)
		labels := &a.Page.Labels
		if class == "ticket" {
			labels = &a.Ticket.Labels
		}
		if *labels == nil {
			*labels = map[string]string{}
		}
		(*labels)[NotificationTargetsLabel] = strings.Join(ts, ",")
	}
	if ok && len(rows) == 0 {
		// Every policy has alertWhenBreaching: false: no burn alerts.
		a.Page.Disabled, a.Ticket.Disabled = true, true
		return nil, a, true
	}
	has := map[string]bool{}
	for _, row := range rows {
		has[row.Severity] = true
	}
	// A class no condition names stays silent, as the OpenSLO file says.
	a.Page.Disabled, a.Ticket.Disabled = !has["page"], !has["ticket"]
	return rows, a, ok
}

// row maps a burnrate AlertCondition onto a policy row: lookbackWindow is
// the long window, the short window is a twelfth of it (the SRE workbook's
// 1h/5m, 6h/30m, 1d/2h, 3d/6h) but at least 1m, and threshold is the burn
// factor, turned into a budget share once the SLO window is known.
func (r *osResolver) row(c *osCondition, what string) (osRow, string) {
	class := "ticket"
	if slices.Contains(pageSeverities, strings.ToLower(c.severity)) {
		class = "page"
	}
	if c.severity != "page" && c.severity != "ticket" {
		r.add(c.sevPos, SeverityWarning, RuleUnsupported, "%s: AlertCondition %q: severity %q is read as slod's %s (page: %s); the alert keeps severity=%q",
			what, c.name, c.severity, class, strings.Join(pageSeverities, ", "), c.severity)
	}
	if c.op == "lt" || c.op == "lte" {
		r.add(c.opPos, SeverityWarning, RuleUnsupported, "%s: AlertCondition %q: op %s is read as gte: slod alerts when the burn rate reaches the threshold, never while it stays below it", what, c.name, c.op)
	}
	if c.alertAfter > 0 {
		r.add(c.afterPos, SeverityWarning, RuleUnsupported, "%s: AlertCondition %q: alertAfter %s is not applied per condition: the row fires once both its lookbackWindow and its short window burn at the threshold (sloctl generate --for adds a for: to every alert)",
			what, c.name, FormatDuration(c.alertAfter))
	}
	short := max((c.lookback / 12).Truncate(time.Second), time.Minute)
	if short >= c.lookback {
		short = (c.lookback / 2).Truncate(time.Second)
	}
	return osRow{PolicyRowSpec: PolicyRowSpec{Severity: class, Long: c.lookback, Short: short, Pos: c.pos}, factor: c.threshold}, class
}
