package slo

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// openSLOAlpha reads an openslo/v1alpha kind: SLO (the shape Sloth's
// OpenSLO support reads): spec.timeWindows of unit and count,
// budgetingMethod (optional, Occurrences), an SLO-level
// indicator.thresholdMetric or per-objective ratioMetrics whose sources
// carry source, queryType and query. It becomes the same osSLO as v1.
func (d *decoder) openSLOAlpha(n *yaml.Node) *osSLO {
	start := len(d.diags)
	what := "OpenSLO v1alpha SLO"
	s := &osSLO{pos: d.pos(n), fieldPos: map[string]Position{}, window: DefaultWindow, alpha: true}
	fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	d.required(n, fs, what, "metadata", "spec")
	if name := peekName(fs); name != "" {
		what = fmt.Sprintf("OpenSLO v1alpha SLO %q", name)
	}
	meta := d.osMetadata(fs, what, s.fieldPos)
	s.id, s.labels, s.annotations = meta.name, meta.labels, meta.annotations
	f, found := fs["spec"]
	if !found || isNull(f.val) {
		return nil
	}
	what += ": spec"
	sfs, _ := d.fields(f.val, what, "description", "service", "indicator", "timeWindows", "budgetingMethod", "objectives")
	d.required(f.key, sfs, what, "service", "objectives")
	d.osSLOCommon(s, sfs, what)
	if ff, ok := sfs["budgetingMethod"]; ok {
		d.osBudgetingMethod(ff, what)
	}
	if ff, ok := sfs["timeWindows"]; ok {
		d.osAlphaWindow(ff, what+": timeWindows", s)
	}
	if ff, ok := sfs["indicator"]; ok {
		s.fieldPos["sli"] = d.pos(ff.val)
		ifs, _ := d.fields(ff.val, what+": indicator", "thresholdMetric")
		if tm, ok := ifs["thresholdMetric"]; ok {
			s.indicator = &osSLI{pos: d.pos(tm.val), ok: true, threshold: d.osAlphaSource(tm, what+": indicator: thresholdMetric")}
		} else {
			d.errorf(ff.val, RuleInvalidField, "%s: indicator: missing required field \"thresholdMetric\"", what)
		}
	}
	if ff, ok := sfs["objectives"]; ok {
		for i, item := range d.list(ff, what+": objectives") {
			s.objectives = append(s.objectives, d.osAlphaObjective(item, fmt.Sprintf("%s: objectives[%d]", what, i), s.indicator != nil))
		}
	}
	if d.errorsSince(start) || s.id == "" {
		return nil
	}
	return s
}

// osAlphaWindow reads the one rolling window of unit (Second, Minute,
// Hour, Day, Week) and count; months, quarters, years and calendars are
// refused as in v1.
func (d *decoder) osAlphaWindow(f field, what string, s *osSLO) {
	items := d.list(f, what)
	if len(items) != 1 {
		if len(items) > 1 {
			d.errorf(f.val, RuleInvalidField, "%s: exactly one time window, got %d", what, len(items))
		}
		return
	}
	fs, _ := d.fields(items[0], what, "unit", "count", "isRolling", "calendar")
	d.required(items[0], fs, what, "unit", "count")
	if c, found := fs["calendar"]; found {
		d.errorf(c.key, RuleUnsupported, "%s: calendar-aligned windows are not supported: slod's windows roll; drop calendar", what)
	} else if r, found := fs["isRolling"]; found {
		if rolling, ok := d.boolean(r, what+": isRolling"); ok && !rolling {
			d.errorf(r.val, RuleUnsupported, "%s: calendar-aligned windows (isRolling: false) are not supported: slod's windows roll", what)
		}
	}
	u, uok := fs["unit"]
	c, cok := fs["count"]
	if !uok || !cok {
		return
	}
	s.fieldPos["window"] = d.pos(c.val)
	unit, uok := d.str(u, what+": unit")
	count, cok := d.num(c, what+": count")
	if !uok || !cok {
		return
	}
	if count <= 0 || count != float64(int64(count)) {
		d.errorf(c.val, RuleInvalidField, "%s: count must be a positive whole number, got %v", what, count)
		return
	}
	units := map[string]time.Duration{"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour, "Day": 24 * time.Hour, "Week": 7 * 24 * time.Hour}
	step, known := units[unit]
	switch {
	case known:
		s.window = time.Duration(count) * step
	case unit == "Month" || unit == "Quarter" || unit == "Year":
		d.errorf(u.val, RuleUnsupported, "%s: unit %s has no fixed length in a rolling window; use Day or Week (count: 30, unit: Day)", what, unit)
	default:
		d.errorf(u.val, RuleInvalidField, "%s: unit must be one of Second, Minute, Hour, Day, Week, Month, Quarter, Year; got %q", what, unit)
	}
}

// osAlphaObjective reads a v1alpha objective: target, op and value for
// the SLO's thresholdMetric, or ratioMetrics {good, total, incremental}.
func (d *decoder) osAlphaObjective(n *yaml.Node, what string, threshold bool) *osObjective {
	o := &osObjective{pos: d.pos(n)}
	fs, _ := d.fields(n, what, "displayName", "value", "op", "target", "timeSliceTarget", "ratioMetrics")
	if f, ok := fs["displayName"]; ok {
		o.displayName, _ = d.str(f, what+": displayName")
	}
	d.osTarget01(o, fs, what, "target", "")
	if f, ok := fs["timeSliceTarget"]; ok {
		d.report(f.key, SeverityWarning, RuleUnsupported, "%s: timeSliceTarget is ignored: it applies to the time-slice budgeting method, which slod does not compute", what)
	}
	rm, hasRatio := fs["ratioMetrics"]
	switch {
	case hasRatio:
		if _, ok := fs["value"]; ok {
			// Sloth's files and the go-sdk's write value: 1 next to ratioMetrics.
			delete(fs, "value")
		}
		o.indicator = &osSLI{pos: d.pos(rm.val), ok: true, ratio: d.osAlphaRatio(rm, what+": ratioMetrics")}
	case !threshold:
		d.errorf(n, RuleInvalidField, "%s: missing required field \"ratioMetrics\" (or an indicator.thresholdMetric on the SLO)", what)
	}
	d.osObjectiveOpValue(o, fs, what)
	return o
}

func (d *decoder) osAlphaRatio(f field, what string) *osRatio {
	r := &osRatio{counter: true}
	fs, _ := d.fields(f.val, what, "good", "total", "incremental")
	d.required(f.key, fs, what, "good", "total")
	if inc, ok := fs["incremental"]; ok {
		r.counter, _ = d.boolean(inc, what+": incremental")
	}
	if g, ok := fs["good"]; ok {
		r.good = d.osAlphaSource(g, what+": good")
	}
	if t, ok := fs["total"]; ok {
		r.total = d.osAlphaSource(t, what+": total")
	}
	return r
}

// osAlphaSource reads {source, queryType, query}.
func (d *decoder) osAlphaSource(f field, what string) *osSource {
	src := &osSource{file: d.file, pos: d.pos(f.val), alpha: true}
	fs, _ := d.fields(f.val, what, "source", "queryType", "query")
	d.required(f.key, fs, what, "source", "query")
	if s, ok := fs["source"]; ok {
		src.typ, _ = d.str(s, what+": source")
		src.typPos = d.pos(s.val)
	}
	if q, ok := fs["queryType"]; ok {
		d.str(q, what+": queryType")
	}
	if q, ok := fs["query"]; ok {
		src.query, _ = d.str(q, what+": query")
		src.queryPos = d.pos(q.val)
	}
	return src
}
