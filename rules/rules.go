// Package rules turns SLOs and burn-rate policies into Prometheus recording
// and alerting rules, for teams that let Prometheus (or Thanos Ruler, Mimir
// ruler) evaluate their SLO alerts. The policy math comes from burnrate, the
// same definitions the slod daemon evaluates, so the two cannot drift apart.
package rules

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Defaults of Options.
const (
	DefaultBaseWindow = 5 * time.Minute
	DefaultDirectMax  = 6 * time.Hour
	// DefaultNoData is the daemon's no-data delay, so that the rules and
	// the daemon raise no-data alerts after the same time.
	DefaultNoData = burnrate.DefaultNoDataAfter
	// DefaultBurnAlert and DefaultNoDataAlert name the alerts of an SLO
	// whose alerting section names none; the slo label tells SLOs apart
	// (burnrate.AlertName).
	DefaultBurnAlert   = burnrate.DefaultBurnAlert
	DefaultNoDataAlert = burnrate.DefaultNoDataAlert
)

// Options tune rule generation. The zero value gives the defaults.
type Options struct {
	// Interval sets each group's evaluation interval, unless the SLO sets
	// its own (slo.Spec.RuleInterval); zero leaves it to Prometheus's
	// global evaluation_interval.
	Interval time.Duration
	// BaseWindow is the window of the recorded per-second error and total
	// rates from which windows longer than DirectMax are summed (default 5m).
	BaseWindow time.Duration
	// DirectMax is the longest window computed straight from the SLI's
	// queries (default 6h); longer windows (1d, 3d, W) are derived from the
	// recorded BaseWindow rates so they stay cheap.
	DirectMax time.Duration
	// NoData is how long an SLI may be in a no-data state before its
	// no-data alert fires, when the SLO names no duration (default
	// DefaultNoData, the daemon's).
	NoData time.Duration
	// For is the optional `for` of the burn-rate alerts of a class that
	// sets none (slo.AlertClass.For) (zero: none, the Workbook's choice, as
	// both windows already filter blips).
	For time.Duration
	// Compat adds another tool's metric names, labels and annotations to
	// the rules (CompatSloth, CompatPyrra), so that its dashboards and the
	// Alertmanager routes written for it keep working; "" adds none.
	Compat string
	// Exclusions, when set, returns the budget exclusions of an SLO (for
	// example slo.Set.ExclusionsFor): its rules then record the Included
	// indicator and honour them (exclusion.go).
	Exclusions func(*slo.Spec) []*slo.Exclusion
}

func (o Options) withDefaults() Options {
	if o.BaseWindow <= 0 {
		o.BaseWindow = DefaultBaseWindow
	}
	if o.DirectMax <= 0 {
		o.DirectMax = DefaultDirectMax
	}
	if o.NoData <= 0 {
		o.NoData = DefaultNoData
	}
	return o
}

// File is a Prometheus rule file.
type File struct {
	Groups []Group `yaml:"groups"`
}

// Group is one rule group; its rules are evaluated in order, so a rule may
// read what an earlier rule recorded in the same evaluation.
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
	// Service is the SLO's service, used to split output per service.
	Service string `yaml:"-"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Names of the series the rules record. Every series carries the labels
// slo and service, the SLO's own labels and its group_by labels (an SLO
// grouped by service, slo.Spec.ServiceFromInstance, keeps each series' own
// service label).
const (
	// ErrorsRate and TotalRate are per-second event rates over BaseWindow,
	// suffixed with it: slod:sli_errors:rate5m.
	ErrorsRate = "slod:sli_errors:rate"
	TotalRate  = "slod:sli_total:rate"
	// ErrorRatio is the error ratio over a window, suffixed with it:
	// slod:sli_error:ratio_rate1h.
	ErrorRatio = "slod:sli_error:ratio_rate"
	// Objective and ErrorBudget are constants per SLO, for dashboards.
	Objective   = "slod:objective:ratio"
	ErrorBudget = "slod:error_budget:ratio"
	// BudgetRemaining is 1 − (error ratio over W) / budget: the share of
	// the window's budget not yet spent; negative once overspent.
	BudgetRemaining = "slod:error_budget:remaining_ratio"
	// CurrentBurn is the burn rate over the policy's shortest window.
	CurrentBurn = "slod:burn_rate:current"
	// ErrorsWindowRate is the per-second errors rate over a window a
	// budget row reads, suffixed with it (slod:sli_errors:window_rate1h):
	// errors(w) / w.
	ErrorsWindowRate = "slod:sli_errors:window_rate"
	// TotalMeanRate is the mean per-second event rate over the SLO window
	// W, suffixed with it (slod:sli_total:mean_rate30d): events(W) / W for
	// the budget measure, from the hourly tier (or the base rates). A mean
	// over the samples there are is events(W) projected from the known
	// history while less than W is recorded, as the daemon projects it.
	TotalMeanRate = "slod:sli_total:mean_rate"
	// TotalBaseline is the baseline of an SLO with alerting.collapse: the
	// mean TotalRate over the hour that ended one baseline ago (or the
	// median of several such hours).
	TotalBaseline = "slod:sli_total:baseline_rate"
)

// Generate returns the rules of every SLO in specs, one group per SLO,
// sorted by SLO id. policies maps policy names to policies; an SLO whose
// policy is empty uses policies["default"], or burnrate.DefaultPolicy when
// the map has no default.
func Generate(specs []*slo.Spec, policies map[string]burnrate.Policy, opts Options) (*File, error) {
	opts = opts.withDefaults()
	if !slices.Contains(Compats, opts.Compat) {
		return nil, fmt.Errorf("unknown compat %q (want %s or %s)", opts.Compat, CompatSloth, CompatPyrra)
	}
	sorted := slices.Clone(specs)
	slices.SortFunc(sorted, func(a, b *slo.Spec) int { return cmp.Compare(a.ID, b.ID) })
	f := &File{}
	var errs []error
	for i, s := range sorted {
		if i > 0 && sorted[i-1].ID == s.ID {
			errs = append(errs, fmt.Errorf("slo %q: defined twice", s.ID))
			continue
		}
		p, err := Resolve(s, policies)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		gs, err := generate(s, p, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("slo %q: %w", s.ID, err))
			continue
		}
		f.Groups = append(f.Groups, gs...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// Resolve returns the policy an SLO names (burnrate.PolicyFor), falling
// back to burnrate.DefaultPolicy when policies has no "default".
func Resolve(s *slo.Spec, policies map[string]burnrate.Policy) (burnrate.Policy, error) {
	if p, ok := burnrate.PolicyFor(s, policies); ok {
		return p, nil
	}
	if s.Policy == "" || s.Policy == burnrate.DefaultPolicyName {
		return burnrate.DefaultPolicy(), nil
	}
	return burnrate.Policy{}, fmt.Errorf("slo %q: unknown policy %q", s.ID, s.Policy)
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// sli holds an SLO's queries with {{.window}} still in place, aggregated to
// the SLO's group_by labels. Raw SLIs have only ratio.
type sli struct {
	errors, total, ratio string
}

func sliQueries(s *slo.Spec) (sli, error) {
	agg := "sum"
	if len(s.GroupBy) > 0 {
		agg = "sum by (" + strings.Join(s.GroupBy, ", ") + ")"
	}
	switch s.SLI.Kind() {
	case slo.KindEvents:
		e := s.SLI.Events
		return sli{
			errors: aggregate(agg, e.ErrorQuery, s.GroupBy),
			total:  aggregate(agg, e.TotalQuery, s.GroupBy),
		}, nil
	case slo.KindRaw:
		// A raw SLI is already a ratio: max keeps the worst series when the
		// query returns several for one group instead of adding ratios.
		maxAgg := "max"
		if len(s.GroupBy) > 0 {
			maxAgg = "max by (" + strings.Join(s.GroupBy, ", ") + ")"
		}
		return sli{ratio: maxAgg + " (" + strings.TrimSpace(s.SLI.Raw.ErrorRatioQuery) + ")"}, nil
	case slo.KindLatency:
		// The slo package builds the histogram queries (and checks the
		// selector), so the daemon and the rules read the same series.
		errQ, totalQ, err := s.SLI.Queries(s.GroupBy...)
		if err != nil {
			return sli{}, err
		}
		return sli{errors: "(" + errQ + ")", total: totalQ}, nil
	}
	return sli{}, errors.New("no SLI")
}

// aggregate wraps an SLI query in agg (sum or sum by the group_by labels)
// unless it already is that aggregation, so one series comes out per group.
func aggregate(agg, query string, groupBy []string) string {
	query = strings.TrimSpace(query)
	expanded := slo.ExpandWindow(query, "5m")
	if e, err := parser.NewParser(parser.Options{}).ParseExpr(expanded); err == nil {
		if a, ok := e.(*parser.AggregateExpr); ok && a.Op == parser.SUM && !a.Without &&
			slices.Equal(sortedCopy(a.Grouping), sortedCopy(groupBy)) {
			return query
		}
	}
	return agg + " (" + query + ")"
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func generate(s *slo.Spec, p burnrate.Policy, o Options) ([]Group, error) {
	g, err := generateMain(s, p, o)
	if err != nil {
		return nil, err
	}
	if !budgetTier(s, p) {
		return []Group{g}, nil
	}
	// The budget group condenses the base rates into hourly means, once an
	// hour, so that the W window (for dashboards only, no alert reads it)
	// sums 720 samples for 30d instead of 43,200.
	sel := "{slo=" + strconv.Quote(s.ID) + "}"
	base := slo.FormatDuration(o.BaseWindow)
	tier := slo.FormatDuration(BudgetTier)
	labels := seriesLabels(s, o)
	b := Group{Name: "slod-" + s.ID + "-budget", Interval: tier, Service: s.Service, Rules: []Rule{
		{Record: ErrorsRate + tier, Expr: fmt.Sprintf("avg_over_time(%s%s%s[%s])", ErrorsRate, base, sel, tier), Labels: labels},
		{Record: TotalRate + tier, Expr: fmt.Sprintf("avg_over_time(%s%s%s[%s])", TotalRate, base, sel, tier), Labels: labels},
	}}
	return []Group{g, b}, nil
}

// BudgetTier is the resolution of the recorded rates the SLO window's
// error ratio (budget remaining) is summed from, when no policy row reads
// that window: it lags by up to this much, and reads W/BudgetTier samples.
const BudgetTier = time.Hour

// budgetTier reports whether the SLO window's ratio comes from the hourly
// tier: for count-based SLIs, when no policy row alerts on that window
// (alert windows stay exact to the evaluation interval).
func budgetTier(s *slo.Spec, p burnrate.Policy) bool {
	return s.SLI.Kind() != slo.KindRaw && !slices.Contains(p.Windows(), s.Window) && s.Window > BudgetTier
}

func generateMain(s *slo.Spec, p burnrate.Policy, o Options) (Group, error) {
	if !(s.Objective > 0 && s.Objective < 100) {
		return Group{}, fmt.Errorf("objective %v is outside (0, 100)", s.Objective)
	}
	if err := p.Validate(s.Window); err != nil {
		return Group{}, err
	}
	if s.TimeSlices != nil {
		// PromQL could judge slices with a subquery, but the budget would
		// still be summed from event rates: refuse rather than count
		// events where the SLO counts slices.
		return Group{}, fmt.Errorf("time-slice budgeting (%s) is evaluated by the daemon and sloctl, not by generated rules", s.TimeSlices)
	}
	q, err := sliQueries(s)
	if err != nil {
		return Group{}, err
	}
	budget := s.ErrorBudget()
	g := Group{Name: "slod-" + s.ID, Service: s.Service}
	if iv := cmp.Or(s.RuleInterval, o.Interval); iv > 0 {
		g.Interval = slo.FormatDuration(iv)
	}
	sel := "{slo=" + strconv.Quote(s.ID) + "}"
	base := slo.FormatDuration(o.BaseWindow)
	recLabels := seriesLabels(s, o)
	record := func(name, expr string) {
		g.Rules = append(g.Rules, Rule{Record: name, Expr: expr, Labels: recLabels})
	}

	// 0. Budget exclusions: the indicator the recorded rates are weighed by.
	xs := o.exclusionsOf(s)
	excluded := func(expr string) string { return expr }
	if len(xs) > 0 {
		inc, err := includedExpr(xs, o.BaseWindow)
		if err != nil {
			return Group{}, err
		}
		record(Included, inc)
		excluded = func(expr string) string {
			if q.ratio != "" {
				return "(\n" + expr + "\n)\nand on() (" + Included + sel + " == 1)"
			}
			return "(\n" + expr + "\n)\n* on() group_left() " + Included + sel
		}
	}

	// 1. Per-second error and total rates over the base window: the counts
	//    every long window is summed from.
	if q.ratio == "" {
		record(ErrorsRate+base, excluded(slo.ExpandWindow(q.errors, base)))
		record(TotalRate+base, excluded(slo.ExpandWindow(q.total, base)))
	}

	// 2. The error ratio of every window the policy (and the budget) uses.
	windows := p.Windows()
	windows = append(windows, o.BaseWindow, s.Window)
	slices.Sort(windows)
	windows = slices.Compact(windows)
	for _, w := range windows {
		ws := slo.FormatDuration(w)
		var expr string
		switch {
		case q.ratio != "" && w == o.BaseWindow && len(xs) > 0:
			expr = excluded(slo.ExpandWindow(q.ratio, ws))
		case q.ratio != "" && w <= o.DirectMax && len(xs) == 0:
			expr = slo.ExpandWindow(q.ratio, ws)
		case q.ratio != "":
			// Raw SLIs are time-slice ratios: a long window averages them.
			expr = fmt.Sprintf("avg_over_time(%s%s%s[%s])", ErrorRatio, base, sel, ws)
		case w == o.BaseWindow:
			expr = fmt.Sprintf("%s%s%s\n/\n%s%s%s", ErrorsRate, base, sel, TotalRate, base, sel)
		case w == s.Window && budgetTier(s, p):
			tier := slo.FormatDuration(BudgetTier)
			expr = fmt.Sprintf("sum_over_time(%s%s%s[%s])\n/\nsum_over_time(%s%s%s[%s])",
				ErrorsRate, tier, sel, ws, TotalRate, tier, sel, ws)
		case w <= o.DirectMax && len(xs) == 0:
			// Rates of counters over the window itself: errors/total counted
			// over the whole window, exact for counts.
			expr = slo.ExpandWindow(q.errors, ws) + "\n/\n" + slo.ExpandWindow(q.total, ws)
		default:
			// Long windows add up the recorded base-window rates: the sum of
			// per-step rates is proportional to the events in the window, so
			// the ratio of the two sums weighs every step by its traffic
			// (never an average of per-step ratios) and reads one recorded
			// sample per evaluation step instead of every raw sample.
			expr = fmt.Sprintf("sum_over_time(%s%s%s[%s])\n/\nsum_over_time(%s%s%s[%s])",
				ErrorsRate, base, sel, ws, TotalRate, base, sel, ws)
		}
		record(ErrorRatio+ws, expr)
	}

	// 2b. The budget measure's inputs: the errors rate over each window a
	//     budget row reads, and the mean event rate over W. A budget row's
	//     burn is then errors(w)/w ÷ (events(W)/W) ÷ budget.
	if p.HasBudget() && q.ratio == "" {
		var bws []time.Duration
		for _, r := range p.Rows {
			if r.Budget() {
				bws = append(bws, r.Long, r.Short)
			}
		}
		slices.Sort(bws)
		for _, w := range slices.Compact(bws) {
			ws := slo.FormatDuration(w)
			switch {
			case w == o.BaseWindow:
				record(ErrorsWindowRate+ws, ErrorsRate+base+sel)
			case w <= o.DirectMax:
				record(ErrorsWindowRate+ws, slo.ExpandWindow(q.errors, ws))
			default:
				// Long windows from the recorded base rates, as the
				// ratio's long windows are.
				record(ErrorsWindowRate+ws, fmt.Sprintf("avg_over_time(%s%s%s[%s])", ErrorsRate, base, sel, ws))
			}
		}
		src := TotalRate + base
		if budgetTier(s, p) {
			src = TotalRate + slo.FormatDuration(BudgetTier)
		}
		record(TotalMeanRate+slo.FormatDuration(s.Window), fmt.Sprintf("avg_over_time(%s%s[%s])", src, sel, slo.FormatDuration(s.Window)))
	}

	// 3. Budget metadata for dashboards, and the collapse baseline.
	record(Objective, "vector("+formatFloat(s.Objective/100)+")")
	record(ErrorBudget, "vector("+formatFloat(budget)+")")
	record(BudgetRemaining, fmt.Sprintf("1 - %s%s%s / %s", ErrorRatio, slo.FormatDuration(s.Window), sel, formatFloat(budget)))
	record(CurrentBurn, fmt.Sprintf("%s%s%s / %s", ErrorRatio, slo.FormatDuration(windows[0]), sel, formatFloat(budget)))
	if c := s.Alerting.Collapse; c != nil && q.ratio == "" {
		// The collapse baseline, read by the collapsed and idle alerts.
		record(TotalBaseline, baseline(TotalRate+base+sel, *c))
	}
	// Another tool's names for the same series, read from slod's.
	g.Rules = append(g.Rules, compatRecords(s, q, windows, o)...)

	// 4. One alert per severity class: any of its rows firing.
	name := burnrate.AlertName(s, burnrate.ClassBurn)
	if !metricName.MatchString(name) {
		return Group{}, fmt.Errorf("alert name %q is not a valid Prometheus name", name)
	}
	for _, sev := range p.Severities() {
		if burnrate.AlertClass(s, sev).Disabled {
			continue
		}
		var conds []string
		var rows []burnrate.Row
		for _, r := range p.Rows {
			if r.Severity != sev || !r.CanFire(s.Window, budget) {
				continue
			}
			th := formatFloat(r.ErrorRatio(s.Window, budget))
			c := fmt.Sprintf("  %s%s%s >= %s\n  and\n  %s%s%s >= %s",
				ErrorRatio, slo.FormatDuration(r.Long), sel, th,
				ErrorRatio, slo.FormatDuration(r.Short), sel, th)
			if r.Budget() && q.ratio == "" {
				// The budget measure: errors(w)/w over events(W)/W reaches
				// factor × (1 − objective) when the share of W's budget
				// spent in w, as a burn, reaches the factor.
				mean := TotalMeanRate + slo.FormatDuration(s.Window) + sel
				c = fmt.Sprintf("  %s%s%s / %s >= %s\n  and\n  %s%s%s / %s >= %s",
					ErrorsWindowRate, slo.FormatDuration(r.Long), sel, mean, th,
					ErrorsWindowRate, slo.FormatDuration(r.Short), sel, mean, th)
			}
			if s.MinEvents > 0 && q.ratio == "" {
				// Low-traffic guard: the events in the long window, from
				// the mean recorded total rate times the window's seconds.
				c += fmt.Sprintf("\n  and\n  avg_over_time(%s%s%s[%s]) * %s >= %s",
					TotalRate, base, sel, slo.FormatDuration(r.Long),
					formatFloat(r.Long.Seconds()), formatFloat(s.MinEvents))
			}
			conds = append(conds, "(\n"+c+"\n)")
			rows = append(rows, r)
		}
		if len(conds) == 0 {
			continue // every row of the class is impossible; lint reports it
		}
		expr := strings.Join(conds, "\nor\n")
		if len(xs) > 0 {
			// No burn-rate alert fires inside an exclusion.
			expr = "(\n" + expr + "\n)\nunless on() (" + Included + sel + " == 0)"
		}
		rule := Rule{
			Alert:  name,
			Expr:   expr,
			Labels: ruleAlertLabels(s, sev, o),
			Annotations: merge(map[string]string{
				"summary": fmt.Sprintf("SLO %s of %s is burning its error budget too fast", literal(s.ID), serviceText(s)),
				"description": fmt.Sprintf("%s: error ratio {{ $value | humanizePercentage }} over the alert's long window; "+
					"objective %s%% over %s.", sev, formatFloat(s.Objective), slo.FormatDuration(s.Window)),
			}, compatAnnotations(sev, o), userAnnotations(s, sev)),
		}
		if f := cmp.Or(burnrate.AlertClass(s, sev).For, o.For); f > 0 {
			rule.For = slo.FormatDuration(f)
		}
		if o.Compat == CompatPyrra {
			// Pyrra alerts once per row, labelled with its windows.
			g.Rules = append(g.Rules, pyrraAlerts(s, rule, rows, conds)...)
			continue
		}
		g.Rules = append(g.Rules, rule)
	}

	// 5. No data, in each state the SLO alerts on; none when the SLO
	//    disables both classes, as the daemon raises none then.
	if sev, ok := burnrate.NoDataSeverity(s); ok {
		nd, err := noDataRules(s, q, sev, o)
		if err != nil {
			return Group{}, err
		}
		g.Rules = append(g.Rules, nd...)
	}
	return g, nil
}

// serviceText is the service an SLO's per-series annotations name: the
// SLO's, or each series' own for an SLO grouped by service, as a template
// (Prometheus renders the alert's label).
func serviceText(s *slo.Spec) string {
	if s.ServiceFromInstance() {
		return "{{ $labels.service }}"
	}
	return literal(s.Service)
}

// merge returns the union of ms; later maps win.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// formatFloat prints x without binary artifacts: rounded to 12 significant
// digits, then in the shortest form that reads back as that value
// (0.0009999999999999432 becomes 0.001).
func formatFloat(x float64) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	return strconv.FormatFloat(r, 'g', -1, 64)
}
