package slo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Pyrra's indicators (ratio, latency, latencyNative, bool_gauge) as slod SLIs.

// pyrraIndicator reads the indicator: exactly one of ratio, latency,
// latencyNative or bool_gauge.
func (d *decoder) pyrraIndicator(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "ratio", "latency", "latencyNative", "bool_gauge")
	if !ok && len(fs) == 0 {
		return false
	}
	if len(fs) != 1 {
		d.errorf(f.val, RuleInvalidField, "%s: set exactly one of ratio, latency, latencyNative or bool_gauge", what)
		return false
	}
	for name, ff := range fs {
		what += ": " + name
		switch name {
		case "ratio":
			return d.pyrraRatio(ff, what, s, meta) && ok
		case "latency":
			return d.pyrraLatency(ff, what, s, meta) && ok
		case "latencyNative":
			return d.pyrraLatencyNative(ff, what, s, meta) && ok
		case "bool_gauge":
			return d.pyrraBoolGauge(ff, what, s, meta) && ok
		}
	}
	return false
}

// pyrraGrouping reads grouping into GroupBy.
func (d *decoder) pyrraGrouping(fs map[string]field, what string, s *Spec) bool {
	g, found := fs["grouping"]
	if !found {
		return true
	}
	var ok bool
	s.GroupBy, ok = d.stringList(g, what+": grouping", "group_by", s.FieldPos)
	return ok
}

// pyrraQuery reads a Pyrra Query ({metric: <selector>}) and parses the
// selector; pos is where the selector stands.
func (d *decoder) pyrraQuery(f field, what string) (vs *parser.VectorSelector, pos Position, ok bool) {
	fs, ok := d.fields(f.val, what, "metric")
	m, found := fs["metric"]
	if !found {
		if ok {
			d.errorf(f.val, RuleInvalidField, "%s: missing required field \"metric\"", what)
		}
		return nil, d.pos(f.val), false
	}
	vs, sok := d.pyrraSelector(m, what+": metric")
	return vs, d.pos(m.val), ok && sok
}

// pyrraSelector parses a Pyrra metric: a PromQL instant vector selector,
// which Pyrra wraps in rate/increase (or *_over_time) itself.
func (d *decoder) pyrraSelector(f field, what string) (*parser.VectorSelector, bool) {
	q, ok := d.str(f, what)
	if !ok {
		return nil, false
	}
	q = strings.TrimSpace(q)
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		d.errorf(f.val, RuleInvalidField, "%s: %q is not a PromQL metric selector: %s", what, q, oneLine(err.Error()))
		return nil, false
	}
	vs, isSel := expr.(*parser.VectorSelector)
	if !isSel {
		d.errorf(f.val, RuleInvalidField, "%s: must be a metric selector such as http_requests_total{job=\"api\"}, got %s: Pyrra applies rate (or count_over_time) to the selector itself", what, exprKind(expr))
		return nil, false
	}
	if vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		d.errorf(f.val, RuleUnsupported, "%s: offset and @ are not supported in a Pyrra metric (Pyrra drops them): remove them", what)
		return nil, false
	}
	// Render from name and matchers only, as Pyrra does.
	return &parser.VectorSelector{Name: vs.Name, LabelMatchers: vs.LabelMatchers}, true
}

// exprKind names what a PromQL expression is, for messages.
func exprKind(e parser.Expr) string {
	switch e := e.(type) {
	case *parser.AggregateExpr:
		return "an aggregation (" + e.Op.String() + ")"
	case *parser.Call:
		return "a function call (" + e.Func.Name + ")"
	case *parser.MatrixSelector:
		return "a range selector"
	case *parser.SubqueryExpr:
		return "a subquery"
	case *parser.BinaryExpr:
		return "a binary expression"
	case *parser.NumberLiteral, *parser.StringLiteral:
		return "a literal"
	case *parser.ParenExpr:
		return "a parenthesised expression"
	}
	return "an expression"
}

// pyrraAggregate returns sum, or sum by the grouping labels.
func pyrraAggregate(groupBy []string) string {
	if len(groupBy) == 0 {
		return "sum"
	}
	return "sum by (" + strings.Join(groupBy, ", ") + ")"
}

// pyrraRange renders fn(selector[{{.window}}]) aggregated by groupBy.
func pyrraRange(fn string, vs *parser.VectorSelector, groupBy []string) string {
	return pyrraAggregate(groupBy) + " (" + fn + "(" + vs.String() + "[" + WindowPlaceholder + "]))"
}

// pyrraRatio: errors and total are counters; Pyrra's error ratio is
// sum by (grouping) (increase(errors)) / sum by (grouping) (increase(total)),
// read here as the per-second rates of an events SLI.
func (d *decoder) pyrraRatio(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "errors", "total", "grouping")
	ok = d.required(f.key, fs, what, "errors", "total") && ok
	ok = d.pyrraGrouping(fs, what, s) && ok
	var errSel, totalSel *parser.VectorSelector
	if e, found := fs["errors"]; found {
		var pos Position
		var eok bool
		errSel, pos, eok = d.pyrraQuery(e, what+": errors")
		s.FieldPos["sli.events.error_query"] = pos
		ok = ok && eok
	}
	if t, found := fs["total"]; found {
		var pos Position
		var tok bool
		totalSel, pos, tok = d.pyrraQuery(t, what+": total")
		s.FieldPos["sli.events.total_query"] = pos
		ok = ok && tok
		if totalSel != nil {
			meta.matchers, meta.matchersPos = totalSel.LabelMatchers, pos
		}
	}
	if errSel == nil || totalSel == nil {
		return false
	}
	s.SLI = SLI{Events: &EventsSLI{
		ErrorQuery: pyrraRange("rate", errSel, s.GroupBy),
		TotalQuery: pyrraRange("rate", totalSel, s.GroupBy),
	}}
	return ok
}

// pyrraLatency: success selects one histogram bucket (le="<bound>") and
// total the histogram's count; errors are total − success. When the two
// selectors are <base>_bucket and <base>_count of the same series and le
// is written as slod writes it, the SLI is slod's latency kind, whose
// no-data check also covers the le bucket; otherwise an events SLI with
// the selectors as written.
func (d *decoder) pyrraLatency(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "success", "total", "grouping")
	ok = d.required(f.key, fs, what, "success", "total") && ok
	ok = d.pyrraGrouping(fs, what, s) && ok
	var success, total *parser.VectorSelector
	var successPos, totalPos Position
	if sf, found := fs["success"]; found {
		var sok bool
		success, successPos, sok = d.pyrraQuery(sf, what+": success")
		ok = ok && sok
	}
	if tf, found := fs["total"]; found {
		var tok bool
		total, totalPos, tok = d.pyrraQuery(tf, what+": total")
		ok = ok && tok
		if total != nil {
			meta.matchers, meta.matchersPos = total.LabelMatchers, totalPos
		}
	}
	if success == nil || total == nil {
		return false
	}
	var le *labels.Matcher
	for _, m := range success.LabelMatchers {
		if m.Name == labels.BucketLabel && m.Type == labels.MatchEqual {
			le = m
		}
	}
	threshold := math.NaN()
	if le != nil {
		threshold, _ = strconv.ParseFloat(le.Value, 64)
	}
	if le == nil || math.IsNaN(threshold) {
		d.errorAt(successPos, RuleInvalidField, "%s: success: the selector must pick one histogram bucket with an le=\"<bound>\" matcher, e.g. http_request_duration_seconds_bucket{job=\"api\",le=\"0.3\"}", what)
		return false
	}
	if lat, isLat := pyrraLatencySLI(success, total, le, threshold); isLat {
		s.SLI = SLI{Latency: lat}
		s.FieldPos["sli.latency.metric"] = totalPos
		s.FieldPos["sli.latency.selector"] = totalPos
		s.FieldPos["sli.latency.threshold"] = successPos
		return ok
	}
	totalQ := pyrraRange("rate", total, s.GroupBy)
	s.SLI = SLI{Events: &EventsSLI{
		ErrorQuery: totalQ + " - " + pyrraRange("rate", success, s.GroupBy),
		TotalQuery: totalQ,
	}}
	s.FieldPos["sli.events.error_query"] = successPos
	s.FieldPos["sli.events.total_query"] = totalPos
	return ok
}

// errorAt reports an error at a position recorded earlier.
func (d *decoder) errorAt(pos Position, rule, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: pos, Severity: SeverityError, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// pyrraLatencySLI returns slod's latency SLI for a success/total pair that
// is <base>_bucket{M,le} and <base>_count{M}, with le written in the form
// LatencySLI renders.
func pyrraLatencySLI(success, total *parser.VectorSelector, le *labels.Matcher, threshold float64) (*LatencySLI, bool) {
	base, isBucket := strings.CutSuffix(success.Name, "_bucket")
	if !isBucket || total.Name != base+"_count" || !(threshold > 0) || LeValue(threshold) != le.Value {
		return nil, false
	}
	render := func(ms []*labels.Matcher, skip *labels.Matcher) []string {
		var out []string
		for _, m := range ms {
			if m == skip || m.Name == labels.MetricName {
				continue
			}
			out = append(out, m.String())
		}
		slices.Sort(out)
		return out
	}
	sm, tm := render(success.LabelMatchers, le), render(total.LabelMatchers, nil)
	if !slices.Equal(sm, tm) {
		return nil, false
	}
	return &LatencySLI{Metric: base, Selector: strings.Join(tm, ","), Threshold: threshold}, true
}

// pyrraLatencyNative: total is a native histogram; requests slower than
// latency are errors. Pyrra's error ratio is
// 1 - histogram_fraction(0, latency, sum(rate(total))); as an events SLI,
// total = histogram_count(H) and errors = histogram_count(H) × (1 −
// histogram_fraction(0, latency, H)) with H = sum by (grouping) (rate(total[w])).
func (d *decoder) pyrraLatencyNative(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "total", "latency", "grouping")
	ok = d.required(f.key, fs, what, "total", "latency") && ok
	ok = d.pyrraGrouping(fs, what, s) && ok
	var latency time.Duration
	if l, found := fs["latency"]; found {
		var lok bool
		latency, lok = d.duration(l, what+": latency")
		ok = ok && lok
	}
	var total *parser.VectorSelector
	if t, found := fs["total"]; found {
		var pos Position
		var tok bool
		total, pos, tok = d.pyrraQuery(t, what+": total")
		s.FieldPos["sli.events.total_query"] = pos
		s.FieldPos["sli.events.error_query"] = pos
		ok = ok && tok
		if total != nil {
			meta.matchers, meta.matchersPos = total.LabelMatchers, pos
		}
	}
	if total == nil || latency <= 0 {
		return false
	}
	h := pyrraRange("rate", total, s.GroupBy)
	count := "histogram_count(" + h + ")"
	s.SLI = SLI{Events: &EventsSLI{
		ErrorQuery: count + " * (1 - histogram_fraction(0, " + formatSeconds(latency) + ", " + h + "))",
		TotalQuery: count,
	}}
	return ok
}

// formatSeconds renders a duration in seconds, the unit of Prometheus
// latency histograms (0.2 for 200ms).
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
}

// pyrraBoolGauge: the metric is a gauge of 0 (bad) and 1 (good) samples;
// Pyrra's error ratio is the share of bad samples,
// (Σ count_over_time − Σ sum_over_time) / Σ count_over_time. Samples are
// not events with a rate, so this is a raw SLI (a ratio per time slice):
// with a steady scrape interval, the share of bad samples is the share of
// bad time.
func (d *decoder) pyrraBoolGauge(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "metric", "grouping")
	ok = d.required(f.key, fs, what, "metric") && ok
	ok = d.pyrraGrouping(fs, what, s) && ok
	m, found := fs["metric"]
	if !found {
		return false
	}
	vs, mok := d.pyrraSelector(m, what+": metric")
	s.FieldPos["sli.raw.error_ratio_query"] = d.pos(m.val)
	if !mok {
		return false
	}
	meta.matchers, meta.matchersPos = vs.LabelMatchers, d.pos(m.val)
	count := pyrraRange("count_over_time", vs, s.GroupBy)
	s.SLI = SLI{Raw: &RawSLI{
		ErrorRatioQuery: "(" + count + " - " + pyrraRange("sum_over_time", vs, s.GroupBy) + ") / " + count,
	}}
	return ok
}
