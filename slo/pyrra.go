package slo

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// Pyrra's defaults and conventions (Pyrra v0.10, pyrra.dev/v1alpha1).
const (
	// pyrraPropagationPrefix marks metadata labels and annotations that
	// Pyrra copies, without the prefix, onto its rules and alerts.
	pyrraPropagationPrefix = "pyrra.dev/"
	// PyrraDefaultAlertName is the name of Pyrra's burn-rate alerts when
	// alerting.name is not set; slod keeps it so that routes still match.
	PyrraDefaultAlertName = "ErrorBudgetBurn"
	// pyrraDefaultAbsentName is the name of Pyrra's absent alerts.
	pyrraDefaultAbsentName = "SLOMetricAbsent"
	// Pyrra's default severity labels: critical for its two fast burn
	// rows (slod's page class), warning for the two slow ones (ticket).
	pyrraCritical = "critical"
	pyrraWarning  = "warning"
	// pyrraDefaultNamespace is where Kubernetes puts an object that names
	// no namespace.
	pyrraDefaultNamespace = "default"
)

// pyrraObjectMeta are the Kubernetes ObjectMeta fields slod accepts and
// ignores: the API server sets them, and `kubectl get -o yaml` prints them.
var pyrraObjectMeta = []string{"generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
	"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink"}

// pyrra reads an apiVersion: pyrra.dev/v1alpha1 document: kind
// ServiceLevelObjective, or a ServiceLevelObjectiveList of them. See
// docs/spec.md for how each field maps onto the model.
//
// Pyrra SLO names are unique per namespace, so the id is
// "<namespace>-<name>" (namespace "default" when none is written, as
// Kubernetes does). The service is the service label Pyrra's alerts carry
// (an equality matcher on service in the total selector, or a
// pyrra.dev/service label), else the namespace.
func (d *decoder) pyrra(set *Set, n *yaml.Node, kind *yaml.Node) {
	k := ""
	if kind != nil && kind.Kind == yaml.ScalarNode {
		k = kind.Value
	}
	switch {
	case kind == nil:
		d.errorf(n, RuleInvalidField, "pyrra.dev/v1alpha1 document without kind: expected kind: ServiceLevelObjective")
	case k == "ServiceLevelObjective":
		d.pyrraSLO(set, n, true)
	case k == "ServiceLevelObjectiveList":
		fs, ok := d.fields(n, "ServiceLevelObjectiveList", "apiVersion", "kind", "metadata", "items")
		f, found := fs["items"]
		if !ok || !found || isNull(f.val) {
			if ok {
				d.errorf(n, RuleInvalidField, "ServiceLevelObjectiveList: missing required field \"items\"")
			}
			return
		}
		for _, item := range d.list(f, "ServiceLevelObjectiveList: items") {
			d.pyrraSLO(set, item, false)
		}
	default:
		d.errorf(kind, RuleUnsupported, "pyrra.dev/v1alpha1 kind %q is not supported: slod reads kind: ServiceLevelObjective", k)
	}
}

// pyrraSLO reads one ServiceLevelObjective; typed says whether apiVersion
// and kind were already checked (list items may omit them).
func (d *decoder) pyrraSLO(set *Set, n *yaml.Node, typed bool) {
	what := "Pyrra ServiceLevelObjective"
	fs, ok := d.fields(n, what, "apiVersion", "kind", "metadata", "spec", "status")
	ok = d.required(n, fs, what, "metadata", "spec") && ok
	if !typed {
		// List items may omit apiVersion and kind; written, they must match.
		for _, c := range []struct{ name, want string }{{"apiVersion", string(FormatPyrra)}, {"kind", "ServiceLevelObjective"}} {
			if f, found := fs[c.name]; found {
				if v, vok := d.str(f, what+": "+c.name); vok && v != c.want {
					d.errorf(f.val, RuleUnsupported, "%s: %s %q in a ServiceLevelObjectiveList: expected %s", what, c.name, v, c.want)
					ok = false
				}
			}
		}
	}
	s := &Spec{Format: FormatPyrra, Pos: d.pos(n), FieldPos: map[string]Position{}}
	meta := pyrraMeta{namespace: pyrraDefaultNamespace}
	if f, found := fs["metadata"]; found && !isNull(f.val) {
		ok = d.pyrraMetadata(f, s, &meta) && ok
		if s.Name != "" {
			what = fmt.Sprintf("Pyrra SLO %q", s.Name)
		}
	}
	s.ID = meta.namespace + "-" + s.Name
	if f, found := fs["spec"]; found && !isNull(f.val) {
		ok = d.pyrraSpec(f, what+": spec", s, &meta) && ok
	}
	// "status" is written by Pyrra's controller: read-only state, ignored.

	// The labels Pyrra puts on its rules and alerts: pyrra.dev/ labels
	// without the prefix, then the total selector's equality matchers
	// that grouping does not name (Pyrra's own order: matchers win).
	ls := map[string]string{}
	maps.Copy(ls, meta.propagated)
	for _, m := range meta.matchers {
		if m.Type == labels.MatchEqual && m.Name != labels.MetricName && !slices.Contains(s.GroupBy, m.Name) {
			ls[m.Name] = m.Value
			s.FieldPos["labels."+m.Name] = meta.matchersPos
			s.FieldPos["labels."+m.Name+"="] = meta.matchersPos
		}
	}
	s.Service = meta.namespace
	if v := ls[ServiceLabel]; v != "" {
		s.Service = v
		s.FieldPos["service"] = s.PosOf("labels.service=")
	} else if v := pyrraServiceMatcher(meta.matchers); v != "" && s.ServiceFromInstance() {
		// Grouped by service and selecting one: its series all carry it.
		s.Service = v
		s.FieldPos["service"] = meta.matchersPos
	}
	for _, r := range ReservedLabels {
		// slod sets these itself (slo, service, nodata, slod_severity);
		// with grouping by service, each series keeps its own.
		delete(ls, r)
	}
	if len(ls) > 0 {
		s.Labels = ls
	}
	if ok {
		set.SLOs = append(set.SLOs, s)
	}
}

// pyrraServiceMatcher is the value of a service="..." matcher, or "".
func pyrraServiceMatcher(ms []*labels.Matcher) string {
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Name == ServiceLabel {
			return m.Value
		}
	}
	return ""
}

// pyrraMeta carries what metadata and the indicator contribute to labels
// and service, which are settled once the whole document is read.
type pyrraMeta struct {
	namespace string
	// propagated holds the pyrra.dev/ labels without their prefix.
	propagated map[string]string
	// matchers are those of the total (or only) selector, which Pyrra
	// copies onto its alerts, found at matchersPos.
	matchers    []*labels.Matcher
	matchersPos Position
}

func (d *decoder) pyrraMetadata(f field, s *Spec, meta *pyrraMeta) bool {
	const what = "metadata"
	known := append([]string{"name", "namespace", "labels", "annotations"}, pyrraObjectMeta...)
	fs, ok := d.fields(f.val, what, known...)
	ok = d.required(f.key, fs, what, "name") && ok
	for name, ff := range fs {
		fok := true
		switch name {
		case "name":
			s.Name, fok = d.str(ff, what+": name")
			s.FieldPos["name"] = d.pos(ff.val)
		case "namespace":
			var ns string
			if ns, fok = d.str(ff, what+": namespace"); fok && ns != "" {
				meta.namespace = ns
			}
			s.FieldPos["service"] = d.pos(ff.val)
		case "labels":
			// Only pyrra.dev/ labels reach Pyrra's rules; the others
			// label the Kubernetes object (for example the PrometheusRule
			// selector of the Prometheus operator) and are not read.
			pos := map[string]Position{}
			var ls map[string]string
			ls, fok = d.stringMap(ff, what+": labels", "", pos)
			for k, v := range ls {
				if name, found := strings.CutPrefix(k, pyrraPropagationPrefix); found {
					if meta.propagated == nil {
						meta.propagated = map[string]string{}
					}
					meta.propagated[name] = v
					s.FieldPos["labels."+name] = pos[k]
					s.FieldPos["labels."+name+"="] = pos[k+"="]
				}
			}
		case "annotations":
			// Pyrra copies pyrra.dev/ annotations onto its alerts.
			pos := map[string]Position{}
			var as map[string]string
			as, fok = d.stringMap(ff, what+": annotations", "", pos)
			for k, v := range as {
				if name, found := strings.CutPrefix(k, pyrraPropagationPrefix); found {
					if s.Annotations == nil {
						s.Annotations = map[string]string{}
					}
					s.Annotations[name] = v
					s.FieldPos["annotations."+name] = pos[k]
				}
			}
		}
		ok = ok && fok
	}
	return ok
}

func (d *decoder) pyrraSpec(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "description", "target", "window", "indicator", "alerting",
		"partial_response_strategy", "performanceOverAccuracy", "ruleOutput")
	ok = d.required(f.key, fs, what, "target", "window", "indicator") && ok
	for name, ff := range fs {
		if isNull(ff.val) {
			continue
		}
		fok := true
		switch name {
		case "description":
			s.Description, fok = d.str(ff, what+": description")
			s.FieldPos["description"] = d.pos(ff.val)
		case "target":
			s.Objective, fok = d.pyrraTarget(ff, what+": target")
			s.FieldPos["objective"] = d.pos(ff.val)
		case "window":
			s.Window, fok = d.duration(ff, what+": window")
			s.FieldPos["window"] = d.pos(ff.val)
		case "indicator":
			fok = d.pyrraIndicator(ff, what+": indicator", s, meta)
			s.FieldPos["sli"] = d.pos(ff.val)
		case "partial_response_strategy":
			var v string
			if v, fok = d.str(ff, what+": partial_response_strategy"); fok && v != "abort" && v != "" {
				d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: partial_response_strategy %q is ignored: slod's rule groups carry none, so Thanos Ruler uses its default, abort (a partial query result fails the evaluation instead of being used)", what, v)
			}
		case "performanceOverAccuracy":
			var v bool
			if v, fok = d.boolean(ff, what+": performanceOverAccuracy"); fok && v {
				d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: performanceOverAccuracy is ignored: slod's rules and daemon read each window from recorded rates, exactly; what fires does not change", what)
			}
		case "ruleOutput":
			fok = d.pyrraRuleOutput(ff, what+": ruleOutput")
		}
		ok = ok && fok
	}
	// Pyrra's alerting defaults apply when the block is absent too.
	var al field
	if a, found := fs["alerting"]; found {
		al = a
	}
	var aok bool
	s.Alerting, aok = d.pyrraAlerting(al, what+": alerting", s)
	return ok && aok
}

// pyrraTarget reads target, a percentage Pyrra writes as a string ("99.9");
// a number is accepted too.
func (d *decoder) pyrraTarget(f field, what string) (float64, bool) {
	v := resolve(f.val)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errorf(f.val, RuleInvalidField, "%s: expected a percentage such as \"99.9\", got %s", what, kindNameOrNil(v))
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		d.errorf(f.val, RuleInvalidField, "%s: %q is not a percentage such as \"99.9\"", what, v.Value)
		return 0, false
	}
	return x, true
}

func (d *decoder) pyrraRuleOutput(f field, what string) bool {
	fs, ok := d.fields(f.val, what, "shortRulesLabels", "longRulesLabels", "enableDescriptionAsLabel")
	for name, ff := range fs {
		var fok bool
		switch name {
		case "shortRulesLabels", "longRulesLabels":
			_, fok = d.stringMap(ff, what+": "+name, "", nil)
		case "enableDescriptionAsLabel":
			_, fok = d.boolean(ff, what+": "+name)
		}
		ok = ok && fok
	}
	if ok {
		d.report(f.key, SeverityWarning, RuleUnsupported, "%s is ignored: it labels the PrometheusRule objects Pyrra's performanceOverAccuracy mode splits its rules into (and can add a description label); slod writes plain rule files, and no alert changes", what)
	}
	return ok
}

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

// pyrraAlerting reads alerting (f.val is nil when the block is absent, and
// Pyrra's defaults apply): burn-rate alerts on, named ErrorBudgetBurn,
// severity critical on the page class and warning on the ticket class, an
// absent alert after Pyrra's absent duration.
func (d *decoder) pyrraAlerting(f field, what string, s *Spec) (Alerting, bool) {
	a := Alerting{Name: PyrraDefaultAlertName}
	burnrates, absent := true, true
	sev := map[string]string{}
	ok := true
	var fs map[string]field
	if f.val != nil && !isNull(f.val) {
		fs, ok = d.fields(f.val, what, "disabled", "burnrates", "absent", "name", "absentName", "severities")
		s.FieldPos["alerting"] = d.pos(f.val)
	}
	for name, ff := range fs {
		fok := true
		switch name {
		case "disabled":
			var v bool
			if v, fok = d.boolean(ff, what+": disabled"); fok && v {
				burnrates = false
			}
		case "burnrates":
			var v bool
			if v, fok = d.boolean(ff, what+": burnrates"); fok && !v {
				burnrates = false
			}
		case "absent":
			absent, fok = d.boolean(ff, what+": absent")
		case "name":
			var v string
			if v, fok = d.str(ff, what+": name"); fok && v != "" {
				a.Name = v
			}
			s.FieldPos["alerting.name"] = d.pos(ff.val)
		case "absentName", "severities":
			// Read below, once name and burnrates are known.
		}
		ok = ok && fok
	}
	if sf, found := fs["severities"]; found && !isNull(sf.val) {
		sfs, sok := d.fields(sf.val, what+": severities", "absent", "fastBurn", "mediumBurn", "slowBurn", "longTermBurn")
		ok = ok && sok
		for name, ff := range sfs {
			v, vok := d.str(ff, what+": severities: "+name)
			ok = ok && vok
			if vok && v != "" {
				sev[name] = v
			}
		}
		page, ticket := cmp.Or(sev["fastBurn"], pyrraCritical), cmp.Or(sev["slowBurn"], pyrraWarning)
		if v, set := sev["mediumBurn"]; set && v != page {
			d.report(sfs["mediumBurn"].val, SeverityWarning, RuleUnsupported, "%s: severities: mediumBurn %q differs from fastBurn %q: slod's page class has one severity, so its alerts carry %q", what, v, page, page)
		}
		if v, set := sev["longTermBurn"]; set && v != ticket {
			d.report(sfs["longTermBurn"].val, SeverityWarning, RuleUnsupported, "%s: severities: longTermBurn %q differs from slowBurn %q: slod's ticket class has one severity, so its alerts carry %q", what, v, ticket, ticket)
		}
		if v, set := sev["absent"]; set && burnrates && v != ticket {
			d.report(sfs["absent"].val, SeverityWarning, RuleUnsupported, "%s: severities: absent %q is not used: slod's no-data alert is a ticket and carries the ticket severity %q", what, v, ticket)
		}
	}
	a.Page.Labels = map[string]string{"severity": cmp.Or(sev["fastBurn"], pyrraCritical)}
	a.Ticket.Labels = map[string]string{"severity": cmp.Or(sev["slowBurn"], pyrraWarning)}
	if !burnrates {
		a.Page.Disabled, a.Ticket.Disabled = true, true
		if absent {
			at := f.val
			if ff, found := fs["burnrates"]; found {
				at = ff.val
			} else if ff, found := fs["disabled"]; found {
				at = ff.val
			}
			d.report(at, SeverityWarning, RuleUnsupported, "%s: with burn-rate alerts off slod raises no alert at all for this SLO: Pyrra's absent alert (on by default) has no counterpart once both of slod's classes are disabled", what)
		}
	} else if !absent {
		d.report(fs["absent"].val, SeverityWarning, RuleUnsupported, "%s: absent: false is ignored: slod always raises its no-data alert %sNoData when the series the SLI needs are absent (docs/spec.md, no data)", what, a.Name)
	}
	if ff, found := fs["absentName"]; found && !isNull(ff.val) {
		v, vok := d.str(ff, what+": absentName")
		ok = ok && vok
		if vok && v != a.Name+"NoData" && v != "" {
			d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: absentName %q is not used: slod names its no-data alert %sNoData (Pyrra's default is %s); routes matching alertname=%q must match that name", what, v, a.Name, pyrraDefaultAbsentName, v)
		}
	}
	if absent && s.Window > 0 && s.Objective > 0 && s.Objective < 100 {
		a.NoData = pyrraAbsentFor(s.Window, s.Objective)
	}
	return a, ok
}

// pyrraAbsentFor is how long Pyrra's absent alert waits (its `for`): the
// time a 100% error ratio takes to push the long window of its fastest row
// over that row's factor, plus the row's own `for`. Pyrra scales its
// windows with the SLO window W (for 28d: long 1h, for 2m, factor 14):
//
//	long = W/672, for = W/20160 (each rounded to the minute)
//	absent = round(14 × (1 − objective) × long + for, 1m)
//
// For 99.9% over 28d: 14 × 0.001 × 3600s = 50s, + 2m = 2m50s → 3m.
func pyrraAbsentFor(window time.Duration, objective float64) time.Duration {
	long := (window / (28 * 24)).Round(time.Minute)
	forDur := (window / (28 * 24 * 30)).Round(time.Minute)
	d := time.Duration(14*(1-objective/100)*long.Seconds())*time.Second + forDur
	return d.Round(time.Minute)
}
