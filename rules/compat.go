package rules

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The values of Options.Compat.
const (
	// CompatSloth adds Sloth's recorded series (slo:sli_error:ratio_rate5m,
	// slo:objective:ratio, ..., sloth_slo_info, with the sloth_id,
	// sloth_service, sloth_slo and sloth_window labels), Sloth's labels on
	// the alerts (the identity labels and sloth_severity) and title and
	// summary annotations over them, so Sloth's Grafana dashboards and the
	// routes and templates written for Sloth's alerts keep working.
	CompatSloth = "sloth"
	// CompatPyrra adds Pyrra's recorded series (<metric>:burnrate<window>
	// and the generic pyrra_objective, pyrra_window, pyrra_availability,
	// pyrra_requests:rate5m, pyrra_errors:rate5m) and alerts as Pyrra
	// raises them: one per policy row, labelled long, short and exhaustion,
	// with severity critical (page rows) or warning (ticket rows) unless
	// the SLO sets its own.
	CompatPyrra = "pyrra"
)

// Compats lists the valid values of Options.Compat, "" (none) first.
var Compats = []string{"", CompatSloth, CompatPyrra}

// seriesLabels are the labels of every series an SLO's rules record (and
// so of the series its alerts read, which annotations see as $labels): the
// SLO's labels, slo and service; and Sloth's identity labels for SLOs read
// from Sloth files and with --compat sloth, so Sloth's annotation templates
// ({{$labels.sloth_service}}) render on slod's alerts as on Sloth's.
func seriesLabels(s *slo.Spec, o Options) map[string]string {
	var sloth map[string]string
	if s.Format == slo.FormatSloth || o.Compat == CompatSloth {
		sloth = burnrate.SlothLabels(s)
	}
	return withService(s, merge(s.Labels, sloth, map[string]string{"slo": s.ID}))
}

// withService sets the service label of a rule's labels to the SLO's
// service, or, for an SLO whose instances carry their own
// (slo.Spec.ServiceFromInstance), removes it: a static service label would
// overwrite each series' own, and the series of two services that differ
// in nothing else would collide (a rule evaluation error in Prometheus).
func withService(s *slo.Spec, labels map[string]string) map[string]string {
	if s.ServiceFromInstance() {
		delete(labels, slo.ServiceLabel)
	} else {
		labels[slo.ServiceLabel] = s.Service
	}
	return labels
}

// ruleAlertLabels are the labels of an SLO's alerts of severity sev in the
// rules (burnrate.AlertLabels, escaped), with the compat mode's.
func ruleAlertLabels(s *slo.Spec, sev burnrate.Severity, o Options) map[string]string {
	out := literalMap(burnrate.AlertLabels(s, sev))
	switch o.Compat {
	case CompatSloth:
		maps.Copy(out, literalMap(burnrate.SlothLabels(s)))
		out[burnrate.SlothSeverityLabel] = string(sev)
	case CompatPyrra:
		if !userSets(s, sev, "severity") {
			out["severity"] = pyrraSeverity(sev)
		}
	}
	return out
}

// userSets reports whether the SLO's own labels for alerts of severity sev
// (its labels, alerting.labels, the class's) set label.
func userSets(s *slo.Spec, sev burnrate.Severity, label string) bool {
	for _, m := range []map[string]string{s.Labels, s.Alerting.Labels, burnrate.AlertClass(s, sev).Labels} {
		if _, ok := m[label]; ok {
			return true
		}
	}
	return false
}

// pyrraSeverity is the severity Pyrra gives a row of a class.
func pyrraSeverity(sev burnrate.Severity) string {
	if sev == burnrate.SeverityPage {
		return "critical"
	}
	return "warning"
}

// userAnnotations are the SLO's annotations for alerts of severity sev
// (burnrate.AlertAnnotations) as the rules write them: literal text, but
// for SLOs read from Sloth files, whose label references
// ({{$labels.sloth_service}}) stay templates, as Sloth writes them.
func userAnnotations(s *slo.Spec, sev burnrate.Severity) map[string]string {
	ann := burnrate.AlertAnnotations(s, sev)
	if !burnrate.LabelRefsRender(s) {
		return literalMap(ann)
	}
	if len(ann) == 0 {
		return nil
	}
	out := make(map[string]string, len(ann))
	for k, v := range ann {
		out[k] = literalKeepingLabelRefs(v)
	}
	return out
}

// literalKeepingLabelRefs is literal, except that label references
// (burnrate.LabelRef) stay template actions: each always parses, and
// prints a label's value.
func literalKeepingLabelRefs(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range burnrate.LabelRef.FindAllStringIndex(s, -1) {
		b.WriteString(literal(s[last:m[0]]))
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(literal(s[last:]))
	return b.String()
}

// compatAnnotations are the compat mode's default annotations of a burn
// alert of severity sev; the SLO's own override them.
func compatAnnotations(sev burnrate.Severity, o Options) map[string]string {
	if o.Compat != CompatSloth {
		return nil
	}
	return map[string]string{
		"title":   fmt.Sprintf("(%s) SLO {{$labels.sloth_slo}} of {{$labels.sloth_service}}: error budget burning too fast", sev),
		"summary": "SLO {{$labels.sloth_slo}} of {{$labels.sloth_service}} is burning its error budget too fast",
	}
}

// compatRecords returns the compat mode's recording rules of an SLO, each
// reading what slod recorded above it in the same group, so another tool's
// dashboards find its series under their names. windows are the windows
// slod recorded an error ratio for.
func compatRecords(s *slo.Spec, q sli, windows []time.Duration, o Options) []Rule {
	sel := "{slo=" + strconv.Quote(s.ID) + "}"
	base := slo.FormatDuration(o.BaseWindow)
	budget := formatFloat(s.ErrorBudget())
	ratio := func(w time.Duration) string { return ErrorRatio + slo.FormatDuration(w) + sel }
	var out []Rule
	switch o.Compat {
	case CompatSloth:
		// slod's series already carry the SLO's labels, slo, service,
		// Sloth's identity labels (seriesLabels) and the group_by labels.
		meta := seriesLabels(s, o)
		for _, w := range windows {
			out = append(out, Rule{Record: "slo:sli_error:ratio_rate" + slo.FormatDuration(w), Expr: ratio(w),
				Labels: map[string]string{"sloth_window": slo.FormatDuration(w)}})
		}
		out = append(out,
			Rule{Record: "slo:objective:ratio", Expr: "vector(" + formatFloat(s.Objective/100) + ")", Labels: meta},
			Rule{Record: "slo:error_budget:ratio", Expr: "vector(" + budget + ")", Labels: meta},
			Rule{Record: "slo:time_period:days", Expr: "vector(" + formatFloat(s.Window.Hours()/24) + ")", Labels: meta},
			Rule{Record: "slo:current_burn_rate:ratio", Expr: ratio(o.BaseWindow) + " / " + budget},
			Rule{Record: "slo:period_burn_rate:ratio", Expr: ratio(s.Window) + " / " + budget},
			Rule{Record: "slo:period_error_budget_remaining:ratio", Expr: BudgetRemaining + sel},
			Rule{Record: "sloth_slo_info", Expr: "vector(1)", Labels: merge(meta, map[string]string{
				"sloth_mode": "cli-gen-prom", "sloth_spec": specName(s), "sloth_version": "slod",
				"sloth_objective": formatFloat(s.Objective),
			})},
		)
	case CompatPyrra:
		metric := pyrraMetric(s)
		for _, w := range windows {
			out = append(out, Rule{Record: metric + ":burnrate" + slo.FormatDuration(w), Expr: ratio(w)})
		}
		meta := withService(s, merge(s.Labels, map[string]string{"slo": s.ID}))
		out = append(out,
			Rule{Record: "pyrra_objective", Expr: "vector(" + formatFloat(s.Objective/100) + ")", Labels: meta},
			Rule{Record: "pyrra_window", Expr: "vector(" + strconv.FormatInt(int64(s.Window/time.Second), 10) + ")", Labels: meta},
			Rule{Record: "pyrra_availability", Expr: "1 - " + ratio(s.Window)},
		)
		if q.ratio == "" {
			out = append(out,
				Rule{Record: "pyrra_requests:rate" + base, Expr: TotalRate + base + sel},
				Rule{Record: "pyrra_errors:rate" + base, Expr: ErrorsRate + base + sel},
			)
		}
	}
	return out
}

// specName is the format an SLO was read from, for sloth_slo_info.
func specName(s *slo.Spec) string {
	if s.Format == "" {
		return string(slo.FormatNative)
	}
	return string(s.Format)
}

// pyrraMetric is the name Pyrra gives an SLO's recorded burn rates: its
// total query's metric without _total, _count or _bucket (the histogram's
// name for a latency SLI), or the SLO's name for an SLI without one.
func pyrraMetric(s *slo.Spec) string {
	if l := s.SLI.Latency; l != nil {
		return l.Metric
	}
	q := s.SLI.TotalQuery()
	if s.SLI.Raw != nil {
		q = s.SLI.Raw.ErrorRatioQuery
	}
	name := ""
	if e, err := parser.NewParser(parser.Options{}).ParseExpr(slo.ExpandWindow(q, "5m")); err == nil {
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && name == "" && vs.Name != "" {
				name = vs.Name
			}
			return nil
		})
	}
	for _, suf := range []string{"_total", "_count", "_bucket"} {
		name = strings.TrimSuffix(name, suf)
	}
	if !metricName.MatchString(name) {
		name = "slod_" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
				return r
			}
			return '_'
		}, s.ID)
	}
	return name
}

// pyrraAlerts splits a burn alert into one alert per policy row, as Pyrra
// raises them, each labelled with its long and short windows and the time
// a burn at its threshold takes to exhaust the budget (window ÷ factor).
func pyrraAlerts(s *slo.Spec, rule Rule, rows []burnrate.Row, conds []string) []Rule {
	out := make([]Rule, len(rows))
	for i, r := range rows {
		a := rule
		a.Expr = conds[i]
		a.Labels = maps.Clone(rule.Labels)
		a.Labels["long"] = slo.FormatDuration(r.Long)
		a.Labels["short"] = slo.FormatDuration(r.Short)
		exhaustion := time.Duration(float64(s.Window) / r.Factor(s.Window)).Round(time.Hour)
		a.Labels["exhaustion"] = slo.FormatDuration(max(exhaustion, time.Hour))
		out[i] = a
	}
	return out
}
