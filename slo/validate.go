package slo

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// Window bounds of rule SLO007: shorter windows hold too few events for a
// budget to mean anything, longer ones outlive most Prometheus retentions.
const (
	MinWindow = 24 * time.Hour
	MaxWindow = 90 * 24 * time.Hour
)

// ObjectiveWarnAbove is the objective above which SLO006 warns: 99.999%
// over 30d is a budget of 26 seconds, less than most scrape gaps.
const ObjectiveWarnAbove = 99.999

// DefaultPolicyName is the name of the built-in policy an SLO may always name.
const DefaultPolicyName = "default"

// BuiltinPolicies are the names of the policies every SLO may name
// without a kind: Policy document (burnrate defines them).
var BuiltinPolicies = []string{DefaultPolicyName, "traffic-aware"}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$`)

// ReservedLabels are set by slod on every generated rule, alert and page
// (nodata on no-data alerts, with their NoDataState; slod_severity, slod's
// own alert class, on alerts and pages); an SLO label or group_by label of
// the same name would be overwritten or would clash with them (SLO018).
// severity and tier are not among them: slod sets them only as defaults,
// and the user's win. A Sloth, Pyrra or OpenSLO SLO may group by service
// (Spec.ServiceFromInstance): each instance's own value is then its service.
var ReservedLabels = []string{"slo", "service", "nodata", "slod_severity"}

// Validate applies the semantic lint rules (SLO005..SLO018 but SLO014,
// which needs the resolved policy: burnrate.Lint) to a loaded set: per SLO
// (objective, window, names, PromQL, placeholders, metric families,
// group_by, label values, no-data settings, policy reference) and across
// files (duplicate SLO ids and policy names). Load has already reported
// problems of form. Diagnostics come back sorted by position.
func Validate(set *Set) []Diagnostic {
	if set == nil {
		return nil
	}
	v := &validator{p: parser.NewParser(parser.Options{})}
	policies := map[string]*PolicySpec{}
	for _, p := range set.Policies {
		if first, dup := policies[p.Name]; dup {
			v.errorf(p.Pos, RuleDuplicatePolicy, "policy %q is already defined at %s", p.Name, first.Pos)
			continue
		}
		policies[p.Name] = p
	}
	ids := map[string]*Spec{}
	for _, s := range set.SLOs {
		if first, dup := ids[s.ID]; dup {
			v.errorf(s.PosOf("name"), RuleDuplicateID, "SLO id %q is already defined at %s", s.ID, first.Pos)
		} else {
			ids[s.ID] = s
		}
		v.spec(s)
		if s.Policy != "" && !slices.Contains(BuiltinPolicies, s.Policy) && policies[s.Policy] == nil {
			v.errorf(s.PosOf("policy"), RuleUnknownPolicy, "slo %q: policy %q is not defined: name %q, %q or a kind: Policy document",
				s.ID, s.Policy, BuiltinPolicies[0], BuiltinPolicies[1])
		}
	}
	v.dependencies(set)
	v.validateExclusions(set)
	SortDiagnostics(v.diags)
	return v.diags
}

type validator struct {
	p     parser.Parser
	diags []Diagnostic
}

func (v *validator) add(pos Position, sev Severity, rule, format string, args ...any) {
	v.diags = append(v.diags, Diagnostic{Pos: pos, Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) errorf(pos Position, rule, format string, args ...any) {
	v.add(pos, SeverityError, rule, format, args...)
}

func (v *validator) warnf(pos Position, rule, format string, args ...any) {
	v.add(pos, SeverityWarning, rule, format, args...)
}

func (v *validator) spec(s *Spec) {
	what := fmt.Sprintf("slo %q", s.ID)

	// SLO005, SLO006: the objective leaves a budget, and not a vanishing one.
	switch {
	case s.Objective == 100:
		v.errorf(s.PosOf("objective"), RuleObjective, "%s: objective 100 leaves no error budget: any error would burn it infinitely fast; use 99.9 or similar", what)
	case !(s.Objective > 0 && s.Objective < 100):
		v.errorf(s.PosOf("objective"), RuleObjective, "%s: objective must be a percentage in (0, 100) such as 99.9, got %v", what, s.Objective)
	case s.Objective <= 1:
		v.errorf(s.PosOf("objective"), RuleObjective, "%s: objective is a percentage: %v%% looks like a ratio, did you mean %v?", what, s.Objective, roundObjective(s.Objective*100))
	case s.Objective > ObjectiveWarnAbove:
		budget := time.Duration((1 - s.Objective/100) * float64(s.Window)).Round(time.Second)
		v.warnf(s.PosOf("objective"), RuleObjectiveHigh, "%s: objective %v allows %s of full outage per %s, less than alerting can react to",
			what, s.Objective, budget, FormatDuration(s.Window))
	}

	// SLO007: window in 1d..90d.
	if s.Window < MinWindow || s.Window > MaxWindow {
		v.errorf(s.PosOf("window"), RuleWindow, "%s: window %s is outside %s..%s", what, FormatDuration(s.Window), FormatDuration(MinWindow), FormatDuration(MaxWindow))
	}

	// SLO009: names end up in label values and rule names.
	if !nameRE.MatchString(s.Service) {
		v.errorf(s.PosOf("service"), RuleName, "%s: service %q must start and end with a letter or digit and hold only letters, digits, _ . -", what, s.Service)
	}
	if !nameRE.MatchString(s.Name) {
		v.errorf(s.PosOf("name"), RuleName, "%s: name %q must start and end with a letter or digit and hold only letters, digits, _ . -", what, s.Name)
	}
	v.labelSets(s, what)
	for i, g := range s.GroupBy {
		if !ValidLabelName(g) {
			v.errorf(s.PosOf(fmt.Sprintf("group_by[%d]", i)), RuleName, "%s: group_by label %q is not a valid Prometheus label name", what, g)
		}
		switch {
		case g == ServiceLabel && s.ServiceFromInstance():
			// Sloth, Pyrra and OpenSLO alert with each series' own
			// service label; slod then sets none (ServiceFromInstance).
		case g == ServiceLabel:
			v.errorf(s.PosOf(fmt.Sprintf("group_by[%d]", i)), RuleReservedLabel, "%s: group_by label %q clashes with the label slod sets to the SLO's service on every rule and alert; in a native file, copy it to another label in the queries (label_replace) and group by that one (Sloth, Pyrra and OpenSLO files may group by service: each instance's own value is then its service label)", what, g)
		case slices.Contains(ReservedLabels, g):
			v.errorf(s.PosOf(fmt.Sprintf("group_by[%d]", i)), RuleReservedLabel, "%s: group_by label %q clashes with the label slod sets on every rule and alert; relabel it in the queries (label_replace)", what, g)
		}
	}

	// SLO014 (a paging SLO without a runbook) needs the resolved policy:
	// burnrate.Lint reports it.

	v.alerting(s, what)
	v.queries(s, what)
}

// alerting checks the alert name (SLO009) and the no-data settings that
// depend on other fields (SLO003): idle and collapse need event counts,
// and the compared hours of a collapse baseline must lie within the SLO
// window, the history the daemon keeps.
func (v *validator) alerting(s *Spec, what string) {
	a := s.Alerting
	if a.Name != "" && !metricNameRE.MatchString(a.Name) {
		v.errorf(s.PosOf("alerting.name"), RuleName, "%s: alert name %q is not a valid Prometheus metric name", what, a.Name)
	}
	if s.SLI.Raw != nil {
		if a.Idle == IdleAlert {
			v.errorf(s.PosOf("alerting.idle"), RuleInvalidField, "%s: idle: alert needs event counts, and a raw SLI has none: drop it or use an events SLI", what)
		}
		if a.Collapse != nil {
			v.errorf(s.PosOf("alerting.collapse"), RuleInvalidField, "%s: collapse needs event counts, and a raw SLI has none: drop it or use an events SLI", what)
		}
	}
	if c := a.Collapse; c != nil && s.Window > 0 {
		if back := c.BaselineAt(c.PeriodCount()); back > s.Window {
			v.errorf(s.PosOf("alerting.collapse"), RuleInvalidField, "%s: collapse looks back %s (%d × %s), beyond the SLO window %s, the history slod keeps",
				what, FormatDuration(back), c.PeriodCount(), FormatDuration(c.BaselineAt(1)), FormatDuration(s.Window))
		}
	}
}

// roundObjective drops the binary artefacts of scaling (0.999×100 =
// 99.89999999999999) by rounding to 12 significant digits.
func roundObjective(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	return r
}

// labelSets checks label names (SLO009) and values (SLO015) of every label
// map of the SLO.
func (v *validator) labelSets(s *Spec, what string) {
	sets := []struct {
		prefix string
		m      map[string]string
	}{
		{"labels.", s.Labels},
		{"alerting.labels.", s.Alerting.Labels},
		{"alerting.page.labels.", s.Alerting.Page.Labels},
		{"alerting.ticket.labels.", s.Alerting.Ticket.Labels},
	}
	for _, set := range sets {
		keys := make([]string, 0, len(set.m))
		for k := range set.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !ValidLabelName(k) {
				v.errorf(s.PosOf(set.prefix+k), RuleName, "%s: label name %q is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", what, k)
			}
			switch {
			case k == ServiceLabel && s.ServiceFromInstance():
				v.warnf(s.PosOf(set.prefix+k), RuleReservedLabel, "%s: label %q is ignored: the SLO groups by service, so each instance's own service label goes on its rules, alerts and pages",
					what, k)
			case slices.Contains(ReservedLabels, k):
				v.warnf(s.PosOf(set.prefix+k), RuleReservedLabel, "%s: label %q is set by slod on every rule, alert and page (%s); this value would be overwritten",
					what, k, strings.Join(ReservedLabels, ", "))
			}
			if needsEscape(set.m[k]) {
				v.warnf(s.PosOf(set.prefix+k+"="), RuleLabelValue, "%s: label %s value %s holds quotes, backslashes or control characters; slod escapes it wherever it goes into PromQL, but check it is intended",
					what, k, QuoteLabelValue(set.m[k]))
			}
		}
	}
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

type namedQuery struct {
	field, name, query string
}

func (v *validator) queries(s *Spec, what string) {
	var qs []namedQuery
	switch {
	case s.SLI.Events != nil:
		qs = []namedQuery{
			{"sli.events.error_query", "error_query", s.SLI.Events.ErrorQuery},
			{"sli.events.total_query", "total_query", s.SLI.Events.TotalQuery},
		}
	case s.SLI.Raw != nil:
		qs = []namedQuery{{"sli.raw.error_ratio_query", "error_ratio_query", s.SLI.Raw.ErrorRatioQuery}}
	case s.SLI.Latency != nil:
		lat := s.SLI.Latency
		if !metricNameRE.MatchString(lat.Metric) {
			v.errorf(s.PosOf("sli.latency.metric"), RuleName, "%s: histogram metric %q is not a valid Prometheus metric name", what, lat.Metric)
			return
		}
		if strings.HasSuffix(lat.Metric, "_bucket") || strings.HasSuffix(lat.Metric, "_count") {
			v.errorf(s.PosOf("sli.latency.metric"), RuleInvalidField, "%s: metric is the histogram's base name, without _bucket or _count (%s)", what,
				strings.TrimSuffix(strings.TrimSuffix(lat.Metric, "_bucket"), "_count"))
			return
		}
		if _, err := lat.Matchers(); err != nil {
			v.errorf(s.PosOf("sli.latency.selector"), RulePromQL, "%s: latency %v", what, err)
			return
		}
		groupOK := true
		for _, g := range s.GroupBy {
			groupOK = groupOK && labelNameRE.MatchString(g)
		}
		if !groupOK {
			return // reported as SLO009 above
		}
		errQ, totalQ, err := s.SLI.Queries(s.GroupBy...)
		if err != nil {
			v.errorf(s.PosOf("sli"), RulePromQL, "%s: latency SLI: %v", what, err)
			return
		}
		qs = []namedQuery{
			{"sli.latency.metric", "generated error query", errQ},
			{"sli.latency.metric", "generated total query", totalQ},
		}
	default:
		v.errorf(s.PosOf("sli"), RuleInvalidField, "%s: no SLI set", what)
		return
	}
	exprs := make([]parser.Expr, len(qs))
	for i, q := range qs {
		pos := s.PosOf(q.field)
		if !hasPlaceholder(q.query) {
			v.errorf(pos, RulePlaceholder, "%s: %s has no {{.window}}: slod and the generated rules need it to read each window, e.g. rate(x[{{.window}}])", what, q.name)
			continue
		}
		expr, err := v.p.ParseExpr(ExpandWindow(q.query, "5m"))
		if err != nil {
			v.errorf(pos, RulePromQL, "%s: %s does not parse after {{.window}} expansion: %s", what, q.name, oneLine(err.Error()))
			continue
		}
		if t := expr.Type(); t != parser.ValueTypeVector {
			v.errorf(pos, RulePromQL, "%s: %s must return an instant vector, it returns a %s", what, q.name, t)
			continue
		}
		exprs[i] = expr
	}

	// SLO023: in a native file, an outer aggregation by labels group_by
	// does not name; slod would sum them away (foreign formats take them
	// as group_by when loading).
	if s.Format == FormatNative && s.SLI.Latency == nil {
		for i, e := range exprs {
			if e == nil {
				continue
			}
			if lost := ungroupedLabels(e, s.GroupBy); len(lost) > 0 {
				v.errorf(s.PosOf(qs[i].field), RuleQueryGroupBy, "%s: %s aggregates by (%s) but group_by does not name %s: slod sums each query by group_by, so %s would be summed away and all its series alert as one; set group_by: [%s]",
					what, qs[i].name, strings.Join(lost, ", "), strings.Join(lost, ", "), strings.Join(lost, ", "), strings.Join(append(slices.Clone(s.GroupBy), lost...), ", "))
			}
		}
	}

	// SLO012: errors and totals from unrelated metrics are often a typo.
	if s.SLI.Events != nil && exprs[0] != nil && exprs[1] != nil {
		ef, tf := families(exprs[0]), families(exprs[1])
		if len(ef) > 0 && len(tf) > 0 && !intersects(ef, tf) {
			v.warnf(s.PosOf(qs[0].field), RuleMetricFamily, "%s: error_query reads %s but total_query reads %s: errors and totals usually come from the same metric family",
				what, strings.Join(ef, ", "), strings.Join(tf, ", "))
		}
	}

	// SLO013: every group_by label must survive each query's aggregation,
	// or instances collapse into one series (or match nothing).
	for gi, g := range s.GroupBy {
		if !labelNameRE.MatchString(g) {
			continue
		}
		for i, e := range exprs {
			if e != nil && !keepsLabel(e, g) {
				v.errorf(s.PosOf(fmt.Sprintf("group_by[%d]", gi)), RuleGroupBy, "%s: group_by label %q is dropped by the aggregation of %s: aggregate with sum by (%s) (...)",
					what, g, qs[i].name, strings.Join(s.GroupBy, ", "))
			}
		}
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// families returns the sorted metric families a query reads: selector
// names without the _total, _count, _bucket and _sum suffixes.
func families(e parser.Expr) []string {
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || vs.Name == "" {
			return nil
		}
		f := vs.Name
		for _, suf := range []string{"_total", "_count", "_bucket", "_sum"} {
			f = strings.TrimSuffix(f, suf)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// keepsLabel reports whether the result series of e can still carry label:
// raw selectors keep every label, aggregations keep only their by()
// labels (or all but their without() labels), binary operations follow
// PromQL's matching rules, and functions keep the labels of their vector
// argument (label_replace and label_join add their target label).
func keepsLabel(e parser.Expr, label string) bool {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return true
	case *parser.MatrixSelector:
		return keepsLabel(n.VectorSelector, label)
	case *parser.SubqueryExpr:
		return keepsLabel(n.Expr, label)
	case *parser.ParenExpr:
		return keepsLabel(n.Expr, label)
	case *parser.UnaryExpr:
		return keepsLabel(n.Expr, label)
	case *parser.StepInvariantExpr:
		return keepsLabel(n.Expr, label)
	case *parser.AggregateExpr:
		switch n.Op.String() {
		case "topk", "bottomk", "limitk", "limit_ratio":
			return keepsLabel(n.Expr, label)
		case "count_values":
			if s, ok := n.Param.(*parser.StringLiteral); ok && s.Val == label {
				return true
			}
		}
		if n.Without {
			return !slices.Contains(n.Grouping, label) && keepsLabel(n.Expr, label)
		}
		return slices.Contains(n.Grouping, label) && keepsLabel(n.Expr, label)
	case *parser.BinaryExpr:
		lv := n.LHS.Type() == parser.ValueTypeVector
		rv := n.RHS.Type() == parser.ValueTypeVector
		switch {
		case lv && rv:
			return binaryKeeps(n, label)
		case lv:
			return keepsLabel(n.LHS, label)
		case rv:
			return keepsLabel(n.RHS, label)
		}
		return false
	case *parser.Call:
		switch n.Func.Name {
		case "label_replace", "label_join":
			if len(n.Args) > 1 {
				if s, ok := n.Args[1].(*parser.StringLiteral); ok && s.Val == label {
					return true
				}
			}
		case "vector", "absent", "absent_over_time", "scalar", "time":
			return false
		}
		for _, a := range n.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return keepsLabel(a, label)
			}
		}
		return false
	}
	return false
}

func binaryKeeps(n *parser.BinaryExpr, label string) bool {
	switch n.Op {
	case parser.LAND, parser.LUNLESS:
		return keepsLabel(n.LHS, label)
	case parser.LOR:
		return keepsLabel(n.LHS, label) && keepsLabel(n.RHS, label)
	}
	m := n.VectorMatching
	if n.Op.IsComparisonOperator() && !n.ReturnBool {
		// A filtering comparison returns the left-hand series unchanged.
		if m != nil && m.Card == parser.CardOneToMany {
			return keepsLabel(n.RHS, label)
		}
		return keepsLabel(n.LHS, label)
	}
	if m == nil {
		return keepsLabel(n.LHS, label)
	}
	switch m.Card {
	case parser.CardManyToOne:
		return keepsLabel(n.LHS, label) || slices.Contains(m.Include, label)
	case parser.CardOneToMany:
		return keepsLabel(n.RHS, label) || slices.Contains(m.Include, label)
	}
	// One-to-one: the result keeps the on() labels, or all but ignoring().
	if m.On {
		return slices.Contains(m.MatchingLabels, label) && keepsLabel(n.LHS, label)
	}
	return !slices.Contains(m.MatchingLabels, label) && keepsLabel(n.LHS, label)
}
