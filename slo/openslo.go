package slo

import (
	"fmt"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// openSLO reads an OpenSLO v1 kind: SLO document with an inline indicator
// whose ratioMetric counts good or bad events plus the total from
// Prometheus counters, a rolling timeWindow and budgetingMethod:
// Occurrences. Everything else OpenSLO can express is reported as "not
// supported yet" rather than silently ignored.
//
// The SLO id is metadata.name and the service spec.service; Name is
// metadata.name without a leading "<service>-", so that an OpenSLO SLO
// named checkout-availability of service checkout matches the native SLO
// availability of service checkout.
func (d *decoder) openSLO(set *Set, n *yaml.Node) {
	what := "OpenSLO SLO"
	fs, ok := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	ok = d.required(n, fs, what, "metadata", "spec") && ok
	s := &Spec{Window: DefaultWindow, Format: FormatOpenSLO, Pos: d.pos(n), FieldPos: map[string]Position{}}
	if f, found := fs["metadata"]; found && !isNull(f.val) {
		ok = d.openSLOMetadata(f, s) && ok
		if s.ID != "" {
			what = fmt.Sprintf("OpenSLO SLO %q", s.ID)
		}
	}
	if f, found := fs["spec"]; found && !isNull(f.val) {
		ok = d.openSLOSpec(f, what+": spec", s) && ok
	}
	s.Name = strings.TrimPrefix(s.ID, s.Service+"-")
	if s.Name == "" {
		s.Name = s.ID
	}
	if ok {
		set.SLOs = append(set.SLOs, s)
	}
}

func (d *decoder) openSLOMetadata(f field, s *Spec) bool {
	what := "metadata"
	fs, ok := d.fields(f.val, what, "name", "displayName", "labels", "annotations")
	ok = d.required(f.key, fs, what, "name") && ok
	for name, ff := range fs {
		var fok bool
		switch name {
		case "name":
			s.ID, fok = d.str(ff, "metadata: name")
			s.FieldPos["name"] = d.pos(ff.val)
		case "displayName":
			_, fok = d.str(ff, "metadata: displayName")
		case "labels":
			s.Labels, fok = d.stringMap(ff, "metadata: labels", "labels.", s.FieldPos)
		case "annotations":
			s.Annotations, fok = d.stringMap(ff, "metadata: annotations", "annotations.", s.FieldPos)
		}
		ok = ok && fok
	}
	return ok
}

func (d *decoder) openSLOSpec(f field, what string, s *Spec) bool {
	fs, ok := d.fields(f.val, what, "description", "service", "indicator", "indicatorRef",
		"timeWindow", "budgetingMethod", "objectives", "alertPolicies")
	if ff, found := fs["indicatorRef"]; found {
		d.errorf(ff.key, RuleUnsupported, "%s: indicatorRef is not supported yet: write the SLI inline under indicator", what)
		ok = false
	}
	if ff, found := fs["alertPolicies"]; found {
		d.errorf(ff.key, RuleUnsupported, "%s: alertPolicies are not supported yet: slod alerts with burn-rate policies (see docs/spec.md, policy)", what)
		ok = false
	}
	required := []string{"service", "timeWindow", "budgetingMethod", "objectives"}
	if _, found := fs["indicatorRef"]; !found {
		required = append(required, "indicator")
	}
	ok = d.required(f.key, fs, what, required...) && ok
	for name, ff := range fs {
		if isNull(ff.val) {
			continue
		}
		var fok = true
		switch name {
		case "description":
			s.Description, fok = d.str(ff, what+": description")
		case "service":
			s.Service, fok = d.str(ff, what+": service")
			s.FieldPos["service"] = d.pos(ff.val)
		case "indicator":
			s.SLI, fok = d.openSLOIndicator(ff, what+": indicator", s.FieldPos)
			s.FieldPos["sli"] = d.pos(ff.val)
		case "timeWindow":
			fok = d.openSLOTimeWindow(ff, what+": timeWindow", s)
		case "budgetingMethod":
			var m string
			m, fok = d.str(ff, what+": budgetingMethod")
			if fok && m != "Occurrences" {
				d.errorf(ff.val, RuleUnsupported, "%s: budgetingMethod %q is not supported yet: only Occurrences", what, m)
				fok = false
			}
		case "objectives":
			fok = d.openSLOObjectives(ff, what+": objectives", s)
		}
		ok = ok && fok
	}
	return ok
}

func (d *decoder) openSLOTimeWindow(f field, what string, s *Spec) bool {
	items := d.list(f, what)
	if len(items) != 1 {
		if len(items) > 1 {
			d.errorf(f.val, RuleUnsupported, "%s: one time window is supported, got %d", what, len(items))
		}
		return false
	}
	fs, ok := d.fields(items[0], what, "duration", "isRolling", "calendar")
	ok = d.required(items[0], fs, what, "duration", "isRolling") && ok
	if c, found := fs["calendar"]; found {
		d.errorf(c.key, RuleUnsupported, "%s: calendar windows are not supported yet: use a rolling window (isRolling: true)", what)
		ok = false
	}
	if r, found := fs["isRolling"]; found {
		rolling, rok := d.boolean(r, what+": isRolling")
		if rok && !rolling {
			d.errorf(r.val, RuleUnsupported, "%s: calendar-aligned windows (isRolling: false) are not supported yet", what)
			rok = false
		}
		ok = ok && rok
	}
	if w, found := fs["duration"]; found {
		var wok bool
		s.Window, wok = d.duration(w, what+": duration")
		s.FieldPos["window"] = d.pos(w.val)
		ok = ok && wok
	}
	return ok
}

func (d *decoder) openSLOObjectives(f field, what string, s *Spec) bool {
	items := d.list(f, what)
	if len(items) != 1 {
		if len(items) > 1 {
			d.errorf(f.val, RuleUnsupported, "%s: one objective per SLO is supported yet, got %d: split them into SLOs", what, len(items))
		}
		return false
	}
	n := items[0]
	fs, ok := d.fields(n, what, "displayName", "target", "targetPercent", "op", "value",
		"timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight")
	for _, name := range []string{"op", "value", "timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight"} {
		if ff, found := fs[name]; found {
			d.errorf(ff.key, RuleUnsupported, "%s: %s is not supported yet: slod reads ratio objectives with target or targetPercent", what, name)
			ok = false
		}
	}
	t, hasT := fs["target"]
	tp, hasTP := fs["targetPercent"]
	switch {
	case hasT && hasTP:
		d.errorf(tp.key, RuleInvalidField, "%s: set target or targetPercent, not both", what)
		return false
	case hasT:
		x, xok := d.num(t, what+": target")
		if !xok {
			return false
		}
		if x <= 0 || x >= 1 {
			d.errorf(t.val, RuleObjective, "%s: target is a ratio in (0, 1), e.g. 0.999; got %v", what, x)
			return false
		}
		// Round away the binary artefact of ×100 (0.999×100 = 99.89999999999999).
		s.Objective = roundObjective(x * 100)
		s.FieldPos["objective"] = d.pos(t.val)
	case hasTP:
		x, xok := d.num(tp, what+": targetPercent")
		if !xok {
			return false
		}
		s.Objective = x
		s.FieldPos["objective"] = d.pos(tp.val)
	default:
		d.errorf(n, RuleInvalidField, "%s: missing required field \"target\" (or \"targetPercent\")", what)
		return false
	}
	return ok
}

func (d *decoder) openSLOIndicator(f field, what string, pos map[string]Position) (SLI, bool) {
	fs, ok := d.fields(f.val, what, "metadata", "spec")
	ok = d.required(f.key, fs, what, "spec") && ok
	if m, found := fs["metadata"]; found && !isNull(m.val) {
		_, mok := d.fields(m.val, what+": metadata", "name", "displayName", "labels", "annotations")
		ok = ok && mok
	}
	sp, found := fs["spec"]
	if !found || isNull(sp.val) {
		return SLI{}, false
	}
	what += ": spec"
	sfs, sok := d.fields(sp.val, what, "ratioMetric", "thresholdMetric", "description")
	ok = ok && sok
	if t, found := sfs["thresholdMetric"]; found {
		d.errorf(t.key, RuleUnsupported, "%s: thresholdMetric is not supported yet: use a ratioMetric", what)
		return SLI{}, false
	}
	rm, found := sfs["ratioMetric"]
	if !found {
		d.errorf(sp.val, RuleInvalidField, "%s: missing required field \"ratioMetric\"", what)
		return SLI{}, false
	}
	what += ": ratioMetric"
	rfs, rok := d.fields(rm.val, what, "counter", "good", "bad", "total", "rawType", "raw")
	ok = ok && rok
	for _, name := range []string{"raw", "rawType"} {
		if r, found := rfs[name]; found {
			d.errorf(r.key, RuleUnsupported, "%s: %s ratio metrics are not supported yet: use good or bad with total", what, name)
			return SLI{}, false
		}
	}
	ok = d.required(rm.key, rfs, what, "counter", "total") && ok
	if c, found := rfs["counter"]; found {
		counter, cok := d.boolean(c, what+": counter")
		if cok && !counter {
			d.errorf(c.val, RuleUnsupported, "%s: counter: false is not supported yet: the queries must read counters", what)
			cok = false
		}
		ok = ok && cok
	}
	good, hasGood := rfs["good"]
	bad, hasBad := rfs["bad"]
	if hasGood == hasBad {
		d.errorf(rm.val, RuleInvalidField, "%s: set exactly one of good or bad", what)
		return SLI{}, false
	}
	total, hasTotal := rfs["total"]
	if !hasTotal {
		return SLI{}, false
	}
	totalQ, tok := d.openSLOQuery(total, what+": total")
	ok = ok && tok
	pos["sli.events.total_query"] = d.pos(total.val)
	ev := &EventsSLI{TotalQuery: totalQ}
	if hasBad {
		q, qok := d.openSLOQuery(bad, what+": bad")
		ev.ErrorQuery = q
		pos["sli.events.error_query"] = d.pos(bad.val)
		ok = ok && qok
	} else {
		q, qok := d.openSLOQuery(good, what+": good")
		// errors = total − good; both sides keep the same labels.
		ev.ErrorQuery = "(" + totalQ + ") - (" + q + ")"
		pos["sli.events.error_query"] = d.pos(good.val)
		ok = ok && qok
	}
	return SLI{Events: ev}, ok
}

// openSLOQuery reads good/bad/total: metricSource with type Prometheus and
// spec.query. A query that is a bare counter selector (counter: true) is
// wrapped into sum(rate(selector[{{.window}}])); a query that already holds
// {{.window}} is used as written.
func (d *decoder) openSLOQuery(f field, what string) (string, bool) {
	fs, ok := d.fields(f.val, what, "metricSource")
	ms, found := fs["metricSource"]
	if !found {
		if ok {
			d.errorf(f.val, RuleInvalidField, "%s: missing required field \"metricSource\"", what)
		}
		return "", false
	}
	what += ": metricSource"
	mfs, mok := d.fields(ms.val, what, "type", "spec", "metricSourceRef")
	ok = ok && mok
	if r, found := mfs["metricSourceRef"]; found {
		d.errorf(r.key, RuleUnsupported, "%s: metricSourceRef is not supported yet: set type: Prometheus and spec.query inline", what)
		return "", false
	}
	ok = d.required(ms.key, mfs, what, "type", "spec") && ok
	if t, found := mfs["type"]; found {
		typ, tok := d.str(t, what+": type")
		if tok && !strings.EqualFold(typ, "Prometheus") {
			d.errorf(t.val, RuleUnsupported, "%s: metric source type %q is not supported yet: only Prometheus", what, typ)
			tok = false
		}
		ok = ok && tok
	}
	sp, found := mfs["spec"]
	if !found {
		return "", false
	}
	sfs, sok := d.fields(sp.val, what+": spec", "query")
	ok = d.required(sp.key, sfs, what+": spec", "query") && sok && ok
	q, found := sfs["query"]
	if !found {
		return "", false
	}
	query, qok := d.str(q, what+": spec: query")
	query = strings.TrimSpace(query)
	if !qok {
		return "", false
	}
	if !hasPlaceholder(query) {
		if expr, err := parser.NewParser(parser.Options{}).ParseExpr(query); err == nil {
			if vs, isSel := expr.(*parser.VectorSelector); isSel && vs.OriginalOffset == 0 && vs.Timestamp == nil {
				query = "sum(rate(" + strings.TrimSpace(query) + "[" + WindowPlaceholder + "]))"
			}
		}
	}
	return query, ok
}
