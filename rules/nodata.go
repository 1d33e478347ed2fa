package rules

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// noDataRules returns an SLO's no-data alerts, one rule per state it alerts
// on (DESIGN.md, "no data has three states"), all named
// burnrate.AlertName(s, ClassNoData) and told apart by the nodata label:
//
//   - broken, always: for the delay, the SLI's query has returned nothing
//     or a series it reads (slo.SLI.Series: a latency SLI's exact le
//     bucket included) has been absent. absent() with `for` rather than
//     absent_over_time: it reads one sample per series, and a series that
//     exists for a moment (a new service's first scrape, when no rate can
//     be computed yet) does not fire. A target that goes away leaves
//     stale markers, so absent() holds from its next missed scrape.
//   - idle, with alerting.idle: alert: the recorded total rate exists and
//     reads zero, for the delay.
//   - collapsed, with alerting.collapse: the total rate is below the share
//     of its baseline (recorded as TotalBaseline), for the delay.
//
// Raw SLIs have no event counts: only broken applies to them (lint refuses
// idle and collapse there).
func noDataRules(s *slo.Spec, q sli, sev burnrate.Severity, o Options) ([]Rule, error) {
	delay := slo.FormatDuration(cmp.Or(s.Alerting.NoData, o.NoData))
	sel := "{slo=" + strconv.Quote(s.ID) + "}"
	total := TotalRate + slo.FormatDuration(o.BaseWindow) + sel
	name := burnrate.AlertName(s, burnrate.ClassNoData)
	if !metricName.MatchString(name) {
		return nil, fmt.Errorf("alert name %q is not a valid Prometheus name", name)
	}
	series, err := s.SLI.Series()
	if err != nil {
		return nil, err
	}
	id, svc := literal(s.ID), serviceText(s)
	rule := func(state slo.NoDataState, expr, forDur, summary, description string) Rule {
		// The user's annotations (runbook, dashboard) stay; summary and
		// description are written for burns, so the state's replace them.
		ann := userAnnotations(s, sev)
		if ann == nil {
			ann = map[string]string{}
		}
		ann["summary"], ann["description"] = summary, description
		labels := ruleAlertLabels(s, sev, o)
		labels[burnrate.NoDataStateLabel] = string(state)
		return Rule{Alert: name, Expr: expr, For: forDur, Labels: labels, Annotations: ann}
	}

	// Broken: what the SLI's query returns (the recorded base-window rate),
	// and every series it cannot do without. count() folds the absent
	// series into one alert with the SLO's labels.
	probe := total
	if q.ratio != "" {
		probe = ErrorRatio + slo.FormatDuration(o.BaseWindow) + sel
	}
	conds := []string{"absent(" + probe + ")"}
	for _, sr := range series {
		conds = append(conds, "absent("+sr+")")
	}
	var hint string
	if s.SLI.Latency != nil {
		hint = fmt.Sprintf(" A latency threshold must be a bucket bound of the histogram: le=%q must exist.", slo.LeValue(s.SLI.Latency.Threshold))
	}
	broken := rule(slo.NoDataBroken,
		"count(\n  "+strings.Join(conds, "\n  or\n  ")+"\n)", delay,
		fmt.Sprintf("SLO %s of %s is broken: its SLI reads no data", id, literal(s.Service)),
		literal(fmt.Sprintf("For %s the SLI of %s has returned nothing, or a series it reads has been absent: %s. "+
			"A renamed metric or a scrape target gone?%s Its burn-rate alerts cannot fire until the SLI reads data again.",
			delay, s.ID, strings.Join(series, ", "), hint)))
	// The broken alert is one series with no series labels: an SLO grouped
	// by service names its own service there, so the alert still routes.
	broken.Labels[slo.ServiceLabel] = literal(s.Service)
	rules := []Rule{broken}
	if q.ratio != "" {
		return rules, nil
	}

	// Collapsed: the base-window total rate under below_percent of the
	// recorded baseline.
	var collapsed string
	if c := s.Alerting.Collapse; c != nil {
		collapsed = fmt.Sprintf("%s < %s * %s%s", total, formatFloat(c.BelowPercent/100), TotalBaseline, sel)
		what := "the mean of the hour that ended " + slo.FormatDuration(c.BaselineAt(1)) + " earlier"
		if n := c.PeriodCount(); n > 1 {
			what = fmt.Sprintf("the median of the %d hours that ended 1 to %d × %s earlier", n, n, slo.FormatDuration(c.BaselineAt(1)))
		}
		rules = append(rules, rule(slo.NoDataCollapsed, collapsed, delay,
			fmt.Sprintf("SLO %s of %s: traffic collapsed below %s%% of its baseline", id, svc, formatFloat(c.BelowPercent)),
			fmt.Sprintf("For %s the SLI of %s has counted {{ $value | humanize }} events/s, under %s%% of its baseline (%s). "+
				"Too little traffic hides errors from the burn-rate alerts: check upstream (DNS, load balancer, clients).",
				delay, id, formatFloat(c.BelowPercent), what)))
	}

	// Idle: the total exists and reads zero. A collapse to zero is
	// reported as the collapse, so one state fires at a time.
	if s.Alerting.Idle == slo.IdleAlert {
		expr := total + " == 0"
		if collapsed != "" {
			expr += "\nunless\n" + collapsed
		}
		rules = append(rules, rule(slo.NoDataIdle, expr, delay,
			fmt.Sprintf("SLO %s of %s is idle: no traffic for %s", id, svc, delay),
			fmt.Sprintf("For %s the SLI of %s has counted no events (alerting.idle: alert); its burn-rate alerts cannot fire without traffic.", delay, id)))
	}
	return rules, nil
}

// baseline is the PromQL of a collapse baseline over the recorded total
// rate: the mean rate over the hour that ended one baseline ago,
// avg_over_time(total[1h] offset B), or with several periods the median of
// such hours, each labelled with its period so that `or` keeps them all.
func baseline(total string, c slo.Collapse) string {
	hour := func(i int) string {
		return fmt.Sprintf("avg_over_time(%s[1h] offset %s)", total, slo.FormatDuration(c.BaselineAt(i)))
	}
	n := c.PeriodCount()
	if n == 1 {
		return hour(1)
	}
	parts := make([]string, n)
	for i := range n {
		parts[i] = fmt.Sprintf("  label_replace(%s, %q, %q, \"\", \"\")", hour(i+1), baselinePeriodLabel, strconv.Itoa(i+1))
	}
	return fmt.Sprintf("quantile without (%s) (0.5,\n%s\n)", baselinePeriodLabel, strings.Join(parts, "\n  or\n"))
}

// baselinePeriodLabel tells the hours of a collapse baseline apart inside
// its expression; the median drops it.
const baselinePeriodLabel = "slod_period"

// literal makes s render as itself in a Prometheus template. Alert labels
// and annotations are Go templates, and user text is never meant as one
// (the daemon renders none), so each "{{" becomes {{ "{{" }}, an action
// that prints it. "}}" outside an action is plain text already.
func literal(s string) string {
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// literalMap applies literal to every value of m (nil for an empty m).
func literalMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = literal(v)
	}
	return out
}
