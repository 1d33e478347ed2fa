package rules

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// A scenario is synthetic traffic for one SLO. The test turns it into a
// `promtool test rules` file whose expectations come from the policy math
// (burnrate.Row.DetectionTime), not from numbers written by hand, and runs
// it against the generated rules with the real promtool.

// burst is a stretch of constant error ratio on one traffic stream.
type burst struct {
	from, to time.Duration
	ratio    float64
}

// stream is one label set of input series: app_requests_total and
// app_errors_total counters with the given labels.
type stream struct {
	labels map[string]string
	rate   float64 // requests per second
	bursts []burst
	// stopAt ends both series (the exporter vanished); zero: never.
	stopAt time.Duration
	// From dropAt on (when set), the stream carries dropRate instead.
	dropAt   time.Duration
	dropRate float64
}

// check is one alert_rule_test: at `at`, exactly the alerts of want fire.
type check struct {
	at    time.Duration
	alert string
	want  []map[string]string
}

type scenario struct {
	spec *slo.Spec
	// histogram, when set, writes the traffic as a latency histogram
	// instead of request and error counters: <histogram>_count holds every
	// request, <histogram>_bucket{le} the fast ones (the non-errors) for
	// each finite bound of les (default 0.3) and every request for +Inf.
	histogram string
	les       []string
	// counters names the request and error counters (default
	// app_requests_total and app_errors_total).
	counters [2]string
	// step is both the input spacing and the evaluation interval.
	step    time.Duration
	end     time.Duration
	streams []stream
	checks  []check
	// never lists PromQL checks that must return nothing at `end`.
	never []string
	// budget lists remaining-budget checks: at `at`, the recorded
	// slod:error_budget:remaining_ratio is within 0.02 of want.
	budget []budgetCheck
	// exclusions are the SLO's budget exclusions (Options.Exclusions).
	exclusions []*slo.Exclusion
}

type budgetCheck struct {
	at   time.Duration
	want float64
}

// counterValues renders a counter of per-step increments in promtool's
// series notation, as runs of a+bxN.
func counterValues(incs []float64) string {
	var parts []string
	v := 0.0
	parts = append(parts, "0")
	for i := 0; i < len(incs); {
		j := i
		for j < len(incs) && incs[j] == incs[i] {
			j++
		}
		n := j - i
		start := v + incs[i]
		if incs[i] == 0 {
			parts = append(parts, fmt.Sprintf("%s+0x%d", formatFloat(start), n-1))
		} else {
			parts = append(parts, fmt.Sprintf("%s+%sx%d", formatFloat(start), formatFloat(incs[i]), n-1))
		}
		v += incs[i] * float64(n)
		i = j
	}
	return strings.Join(parts, " ")
}

func seriesSelector(name string, labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteString(name + "{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	b.WriteString("}")
	return b.String()
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// testFile renders the scenario as a promtool test file reading rulesPath.
func (sc scenario) testFile(rulesPath string) ([]byte, error) {
	type series struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	}
	type expAlert struct {
		ExpLabels map[string]string `yaml:"exp_labels"`
	}
	type alertTest struct {
		EvalTime  string     `yaml:"eval_time"`
		Alertname string     `yaml:"alertname"`
		ExpAlerts []expAlert `yaml:"exp_alerts"`
	}
	type sample struct {
		Labels string  `yaml:"labels"`
		Value  float64 `yaml:"value"`
	}
	type exprTest struct {
		Expr       string `yaml:"expr"`
		EvalTime   string `yaml:"eval_time"`
		ExpSamples []any  `yaml:"exp_samples"`
	}
	type test struct {
		Interval    string      `yaml:"interval"`
		InputSeries []series    `yaml:"input_series"`
		AlertTests  []alertTest `yaml:"alert_rule_test,omitempty"`
		ExprTests   []exprTest  `yaml:"promql_expr_test,omitempty"`
	}
	type file struct {
		RuleFiles          []string `yaml:"rule_files"`
		EvaluationInterval string   `yaml:"evaluation_interval"`
		Tests              []test   `yaml:"tests"`
	}
	steps := int(sc.end / sc.step)
	t := test{Interval: secs(sc.step)}
	for _, st := range sc.streams {
		n := steps
		if st.stopAt > 0 {
			n = int(st.stopAt / sc.step)
		}
		total := make([]float64, n)
		errs := make([]float64, n)
		for i := range n {
			// Step i covers ((i)·step, (i+1)·step]: its events land in sample i+1.
			at := time.Duration(i) * sc.step
			total[i] = st.rate * sc.step.Seconds()
			if st.dropAt > 0 && at >= st.dropAt {
				total[i] = st.dropRate * sc.step.Seconds()
			}
			for _, b := range st.bursts {
				if at >= b.from && at < b.to {
					errs[i] = b.ratio * total[i]
				}
			}
		}
		if sc.histogram != "" {
			good := make([]float64, n)
			for i := range good {
				good[i] = total[i] - errs[i]
			}
			t.InputSeries = append(t.InputSeries, series{seriesSelector(sc.histogram+"_count", st.labels), counterValues(total)})
			les := sc.les
			if len(les) == 0 {
				les = []string{"0.3"}
			}
			for _, le := range les {
				v := good
				if le == "+Inf" {
					v = total
				}
				t.InputSeries = append(t.InputSeries,
					series{seriesSelector(sc.histogram+"_bucket", merge(st.labels, map[string]string{"le": le})), counterValues(v)})
			}
			continue
		}
		names := sc.counters
		if names[0] == "" {
			names = [2]string{"app_requests_total", "app_errors_total"}
		}
		t.InputSeries = append(t.InputSeries,
			series{seriesSelector(names[0], st.labels), counterValues(total)},
			series{seriesSelector(names[1], st.labels), counterValues(errs)})
	}
	for _, c := range sc.checks {
		at := alertTest{EvalTime: secs(c.at), Alertname: c.alert, ExpAlerts: []expAlert{}}
		for _, w := range c.want {
			at.ExpAlerts = append(at.ExpAlerts, expAlert{ExpLabels: w})
		}
		t.AlertTests = append(t.AlertTests, at)
	}
	for _, q := range sc.never {
		t.ExprTests = append(t.ExprTests, exprTest{Expr: q, EvalTime: secs(sc.end), ExpSamples: []any{}})
	}
	for _, b := range sc.budget {
		t.ExprTests = append(t.ExprTests, exprTest{
			Expr:     fmt.Sprintf("abs(%s - %s) < bool 0.02", BudgetRemaining, formatFloat(b.want)),
			EvalTime: secs(b.at),
			ExpSamples: []any{sample{
				Labels: seriesSelector("", merge(sc.spec.Labels, map[string]string{"slo": sc.spec.ID, "service": sc.spec.Service})),
				Value:  1,
			}},
		})
	}
	return yaml.Marshal(file{RuleFiles: []string{rulesPath}, EvaluationInterval: secs(sc.step), Tests: []test{t}})
}

// run generates the SLO's rules (annotations dropped: promtool compares
// them verbatim and they hold $value templates) and runs promtool test rules.
func (sc scenario) run(t *testing.T) {
	t.Helper()
	bin := promtool(t)
	var opts Options
	if len(sc.exclusions) > 0 {
		opts.Exclusions = func(*slo.Spec) []*slo.Exclusion { return sc.exclusions }
	}
	f, err := Generate([]*slo.Spec{sc.spec}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	for gi := range f.Groups {
		for ri := range f.Groups[gi].Rules {
			f.Groups[gi].Rules[ri].Annotations = nil
		}
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	rulesPath := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rulesPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tf, err := sc.testFile(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	testPath := filepath.Join(dir, "test.yml")
	if err := os.WriteFile(testPath, tf, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command(bin, "test", "rules", testPath).CombinedOutput()
	t.Logf("promtool test rules: %s", time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// alertLabels are the labels a burn or no-data alert of spec carries for a
// series with extra (group_by) labels: the series' labels plus the rule's.
func alertLabels(spec *slo.Spec, sev burnrate.Severity, extra map[string]string) map[string]string {
	return merge(spec.Labels, extra, map[string]string{
		"slo": spec.ID, "service": spec.Service, "severity": string(sev), "tier": strconv.Itoa(sev.Tier()),
		"slod_severity": string(sev),
	})
}

// firingSeverities predicts, from the policy math, which severities fire a
// given time into a constant burn of ratio e on a clean history.
func firingSeverities(spec *slo.Spec, e float64, elapsed time.Duration) []burnrate.Severity {
	return firingAtRate(spec, e, elapsed, 0)
}

// firingAtRate is firingSeverities for traffic of rate events per second,
// with the SLO's min_events guard: a row needs that many events in its
// long window.
func firingAtRate(spec *slo.Spec, e float64, elapsed time.Duration, rate float64) []burnrate.Severity {
	var out []burnrate.Severity
	for _, sev := range burnrate.DefaultPolicy().Severities() {
		for _, r := range burnrate.DefaultPolicy().Rows {
			if spec.MinEvents > 0 && rate*r.Long.Seconds() < spec.MinEvents {
				continue
			}
			if d, ok := r.DetectionTime(spec.Window, spec.ErrorBudget(), e); ok && r.Severity == sev && d <= elapsed {
				out = append(out, sev)
				break
			}
		}
	}
	return out
}

func wantAlerts(spec *slo.Spec, sevs []burnrate.Severity, extra map[string]string) []map[string]string {
	var out []map[string]string
	for _, s := range sevs {
		out = append(out, alertLabels(spec, s, extra))
	}
	return out
}

func availability(objective float64, groupBy ...string) *slo.Spec {
	agg := "sum"
	if len(groupBy) > 0 {
		agg = "sum by (" + strings.Join(groupBy, ", ") + ")"
	}
	return &slo.Spec{
		ID: "shop-availability", Name: "availability", Service: "shop",
		Objective: objective, Window: 30 * day, GroupBy: groupBy,
		SLI: slo.SLI{Events: &slo.EventsSLI{
			ErrorQuery: agg + "(rate(app_errors_total[{{.window}}]))",
			TotalQuery: agg + "(rate(app_requests_total[{{.window}}]))",
		}},
	}
}

// A full outage of a 99.9%/30d SLO: the 1h page row fires once the 1h window
// holds 2% × 30d × 0.001 = 51.84 s of errors. With 10 s input spacing and
// evaluation interval, the page must fire at 60 s, not at 50 s.
func TestScenarioFullOutagePagesAtWorkbookTime(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	step := 10 * time.Second
	// Six hours of clean traffic fill every page window, so the formula,
	// which assumes a clean history, holds.
	t0 := 6 * time.Hour
	detect, ok := burnrate.DefaultPolicy().Rows[0].DetectionTime(spec.Window, spec.ErrorBudget(), 1)
	if !ok || detect.Round(10*time.Millisecond) != 51840*time.Millisecond {
		t.Fatalf("detection time %v, want 51.84s", detect)
	}
	first := time.Duration(math.Ceil(float64(detect)/float64(step))) * step
	sc := scenario{
		spec: spec, step: step, end: t0 + first + step,
		streams: []stream{{rate: 1, bursts: []burst{{from: t0, to: 100 * time.Hour, ratio: 1}}}},
	}
	sc.checks = fixChecks(t0, spec, 1, []time.Duration{0, first - step, first})
	if len(sc.checks[2].want) != 1 || sc.checks[2].want[0]["severity"] != "page" || len(sc.checks[1].want) != 0 {
		t.Fatalf("expectations %+v: want nothing at %v and a page at %v", sc.checks, first-step, first)
	}
	sc.run(t)
}

// fixChecks builds checks at t0+offset for each offset, predicting the firing
// severities of a constant burn of ratio e from the formula.
func fixChecks(t0 time.Duration, spec *slo.Spec, e float64, offsets []time.Duration) []check {
	var out []check
	for _, off := range offsets {
		out = append(out, check{at: t0 + off, alert: DefaultBurnAlert, want: wantAlerts(spec, firingSeverities(spec, e, off), nil)})
	}
	return out
}

// A 2× burn for 3 days on a 99.9%/30d SLO spends 20% of the budget: the 3d
// ticket row (10% in 3d, factor 1) fires after 1.5 days, no page ever.
func TestScenarioSlowBurnTicketsNeverPages(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	step := 5 * time.Minute
	t0 := 3 * day // a clean history as long as the longest row window
	e := 2 * spec.ErrorBudget()
	sc := scenario{
		spec: spec, step: step, end: t0 + 3*day,
		// Input every minute would be more realistic but five times slower;
		// 5m spacing keeps rate(x[5m]) exact (2.42 includes the left edge).
		streams: []stream{{rate: 10, bursts: []burst{{from: t0, to: t0 + 3*day, ratio: e}}}},
	}
	var offsets []time.Duration
	for h := time.Duration(0); h <= 3*day; h += 3 * time.Hour {
		offsets = append(offsets, h)
	}
	// Skip checks within 30 minutes of a predicted change: the long windows
	// read recorded 5m rates and the evaluation is discrete.
	var kept []time.Duration
	for _, off := range offsets {
		near := false
		for _, r := range burnrate.DefaultPolicy().Rows {
			if d, ok := r.DetectionTime(spec.Window, spec.ErrorBudget(), e); ok && (off-d).Abs() < 30*time.Minute {
				near = true
			}
		}
		if !near {
			kept = append(kept, off)
		}
	}
	sc.checks = fixChecks(t0, spec, e, kept)
	sawTicket := false
	for _, c := range sc.checks {
		for _, w := range c.want {
			if w["severity"] == "page" {
				t.Fatalf("the formula predicts a page at %v", c.at)
			}
			sawTicket = true
		}
	}
	if !sawTicket {
		t.Fatal("the formula predicts no ticket")
	}
	// The budget left over the (here partly filled) 30d window: the errors
	// so far over the events so far, against the budget.
	for _, at := range []time.Duration{t0 + 36*time.Hour, sc.end} {
		spent := e * (at - t0).Seconds() / (at.Seconds() * spec.ErrorBudget())
		sc.budget = append(sc.budget, budgetCheck{at: at, want: 1 - spent})
	}
	// Never a page at any evaluation, not just at the checked ones.
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q,severity="page"}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// A 20× burn for 5 minutes spends 0.23% of the budget: nothing fires, though
// the 5m short window alone would cross the 1h page threshold (14.4).
func TestScenarioShortSpikeFiresNothing(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	step := time.Minute
	t0 := 6 * time.Hour
	e := 20 * spec.ErrorBudget()
	spike := 5 * time.Minute
	for _, r := range burnrate.DefaultPolicy().Rows {
		if d, ok := r.DetectionTime(spec.Window, spec.ErrorBudget(), e); ok && d <= spike {
			t.Fatalf("row %+v would detect within the spike (%v)", r, d)
		}
	}
	sc := scenario{
		spec: spec, step: step, end: t0 + 2*time.Hour,
		streams: []stream{{rate: 10, bursts: []burst{{from: t0, to: t0 + spike, ratio: e}}}},
	}
	for off := time.Duration(0); off <= 2*time.Hour; off += 5 * time.Minute {
		sc.checks = append(sc.checks, check{at: t0 + off, alert: DefaultBurnAlert})
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// A per-route SLO where one route fails completely: only that route pages.
func TestScenarioGroupByAlertsOnlyForBurningLabels(t *testing.T) {
	t.Parallel()
	spec := availability(99.9, "route")
	// A clean history as long as the 3d row's window keeps the formula
	// (which assumes one) valid for the ticket rows too.
	step := 5 * time.Minute
	t0 := 3 * day
	bad := map[string]string{"route": "/pay"}
	good := map[string]string{"route": "/browse"}
	sc := scenario{
		spec: spec, step: step, end: t0 + 10*time.Minute,
		streams: []stream{
			{labels: good, rate: 5},
			{labels: bad, rate: 1, bursts: []burst{{from: t0, to: t0 + time.Hour, ratio: 1}}},
		},
	}
	for _, off := range []time.Duration{0, 5 * time.Minute, 10 * time.Minute} {
		sc.checks = append(sc.checks, check{at: t0 + off, alert: DefaultBurnAlert,
			want: wantAlerts(spec, firingSeverities(spec, 1, off), bad)})
	}
	if len(sc.checks[1].want) == 0 || sc.checks[1].want[0]["severity"] != "page" {
		t.Fatalf("formula predicts %v five minutes into the outage, want a page", sc.checks[1].want)
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q,route="/browse"}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// noDataLabels are the labels of spec's no-data alert in a state: the
// ticket's, plus the state. The broken alert folds its absent series into
// one (count), so it carries no series labels.
func noDataLabels(spec *slo.Spec, state slo.NoDataState) map[string]string {
	return merge(alertLabels(spec, burnrate.SeverityTicket, nil), map[string]string{"nodata": string(state)})
}

// A dead target: the series stop. The broken alert fires once they have
// been absent for the no-data delay (the daemon's default, 15m), and it is
// the only no-data state that fires. promtool's input writes no stale
// markers, so the series stay present for the 5m lookback after the last
// sample (Prometheus marks a vanished target's series stale at once).
func TestScenarioDeadTargetFiresNoDataAfterTheDelay(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	spec.Alerting.Idle = slo.IdleAlert // an idle alert must not fire for absent series
	step := time.Minute
	stop := time.Hour
	delay := burnrate.DefaultNoDataAfter
	sc := scenario{
		spec: spec, step: step, end: 2 * time.Hour,
		streams: []stream{{rate: 1, stopAt: stop}},
	}
	broken := []map[string]string{noDataLabels(spec, slo.NoDataBroken)}
	gone := stop + 5*time.Minute // the lookback
	sc.checks = []check{
		{at: stop, alert: DefaultNoDataAlert},
		{at: gone + delay - step, alert: DefaultNoDataAlert},
		{at: gone + delay + step, alert: DefaultNoDataAlert, want: broken},
		{at: sc.end, alert: DefaultNoDataAlert, want: broken},
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q,nodata!="broken"}[%s])`, DefaultNoDataAlert, secs(sc.end))}
	sc.run(t)
}

// An idle service: the counters exist and stand still. No users is not an
// outage: nothing fires by default; with alerting.idle: alert the idle
// state fires once the total has read zero for the delay.
func TestScenarioIdleServiceAlertsOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	step := time.Minute
	delay := burnrate.DefaultNoDataAfter
	t.Run("by default nothing fires", func(t *testing.T) {
		spec := availability(99.9)
		sc := scenario{spec: spec, step: step, end: 2 * time.Hour, streams: []stream{{rate: 0}}}
		sc.checks = []check{{at: time.Hour, alert: DefaultNoDataAlert}, {at: sc.end, alert: DefaultBurnAlert}}
		// At 0s the 5m rate has one sample and no value: broken is pending
		// for a moment, and never fires.
		sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertstate="firing"}[%s])`, secs(sc.end))}
		sc.run(t)
	})
	t.Run("with idle: alert the idle state fires after the delay", func(t *testing.T) {
		spec := availability(99.9)
		spec.Alerting.Idle = slo.IdleAlert
		sc := scenario{spec: spec, step: step, end: 2 * time.Hour, streams: []stream{{rate: 0}}}
		// The 5m rate exists from the second sample (1m) and reads 0;
		// `for` then holds it for the delay.
		firstZero := step
		sc.checks = []check{
			{at: firstZero + delay - step, alert: DefaultNoDataAlert},
			{at: firstZero + delay + step, alert: DefaultNoDataAlert, want: []map[string]string{noDataLabels(spec, slo.NoDataIdle)}},
		}
		sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertstate="firing",nodata!="idle"}[%s])`, secs(sc.end))}
		sc.run(t)
	})
}

// Traffic collapses to zero at noon: under 10% of its baseline (the median
// of the hours that ended 12h and 24h earlier), so the collapsed state
// fires after the delay, and the idle state, also configured, stays quiet
// (one state at a time). Before the drop nothing fires.
func TestScenarioTrafficCollapseFiresCollapsed(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	spec.Alerting.Idle = slo.IdleAlert
	spec.Alerting.Collapse = &slo.Collapse{BelowPercent: 10, Baseline: 12 * time.Hour, Periods: 2}
	step := 5 * time.Minute
	t0 := 36 * time.Hour
	delay := burnrate.DefaultNoDataAfter
	sc := scenario{
		spec: spec, step: step, end: t0 + time.Hour,
		streams: []stream{{rate: 10, dropAt: t0}},
	}
	// The step (t0, t0+5m] holds no events: the 5m rate reads 0 from
	// t0+5m on, and `for` holds it for the delay.
	zero := t0 + step
	sc.checks = []check{
		{at: t0, alert: DefaultNoDataAlert},
		{at: zero + delay - step, alert: DefaultNoDataAlert},
		{at: zero + delay, alert: DefaultNoDataAlert, want: []map[string]string{noDataLabels(spec, slo.NoDataCollapsed)}},
		{at: sc.end, alert: DefaultNoDataAlert, want: []map[string]string{noDataLabels(spec, slo.NoDataCollapsed)}},
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertstate="firing",nodata!="collapsed"}[%s])`, secs(sc.end))}
	sc.run(t)
}

// A renamed metric: the SLO reads app_requests_total, the service now
// exports web_requests_total. The SLI returns nothing, which must read as
// broken, never as healthy.
func TestScenarioRenamedMetricFiresNoData(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	sc := scenario{
		spec: spec, step: time.Minute, end: time.Hour,
		counters: [2]string{"web_requests_total", "web_errors_total"},
		streams:  []stream{{rate: 5, bursts: []burst{{from: 0, to: time.Hour, ratio: 1}}}},
	}
	broken := []map[string]string{noDataLabels(spec, slo.NoDataBroken)}
	sc.checks = []check{
		{at: burnrate.DefaultNoDataAfter - time.Minute, alert: DefaultNoDataAlert},
		{at: burnrate.DefaultNoDataAfter + time.Minute, alert: DefaultNoDataAlert, want: broken},
		{at: sc.end, alert: DefaultNoDataAlert, want: broken},
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// A latency threshold that is no bucket bound: 0.25 on buckets 0.1, 0.3
// and +Inf. Every request is slow, yet count − bucket{le="0.25"} returns
// nothing, so the burn alert cannot fire: the no-data alert must, because
// the exact bucket the SLI reads is absent.
func TestScenarioLatencyThresholdOffTheBucketsFiresNoData(t *testing.T) {
	t.Parallel()
	spec := &slo.Spec{
		ID: "api-latency", Name: "latency", Service: "api", Objective: 99.9, Window: 30 * day,
		SLI: slo.SLI{Latency: &slo.LatencySLI{Metric: "http_request_duration_seconds", Selector: `job="api"`, Threshold: 0.25}},
	}
	sc := scenario{
		spec: spec, histogram: "http_request_duration_seconds", les: []string{"0.1", "0.3", "+Inf"},
		step: 30 * time.Second, end: time.Hour,
		streams: []stream{{labels: map[string]string{"job": "api"}, rate: 2, bursts: []burst{{from: 0, to: time.Hour, ratio: 1}}}},
	}
	broken := []map[string]string{noDataLabels(spec, slo.NoDataBroken)}
	sc.checks = []check{
		{at: burnrate.DefaultNoDataAfter - time.Minute, alert: DefaultNoDataAlert},
		{at: burnrate.DefaultNoDataAfter + time.Minute, alert: DefaultNoDataAlert, want: broken},
		{at: sc.end, alert: DefaultNoDataAlert, want: broken},
		{at: sc.end, alert: DefaultBurnAlert},
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// Low traffic, 36 requests an hour, all failing: with min_events 1000 only
// the 3d row (2,592 events in its window) may fire, so the outage opens a
// ticket and never pages; without the guard it would page in a minute.
func TestScenarioMinEventsKeepsLowTrafficFromPaging(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	spec.MinEvents = 1000
	step := 5 * time.Minute
	t0 := 3 * day
	rate := 0.01
	sc := scenario{
		spec: spec, step: step, end: t0 + 30*time.Minute,
		streams: []stream{{rate: rate, bursts: []burst{{from: t0, to: t0 + day, ratio: 1}}}},
	}
	for _, off := range []time.Duration{0, 10 * time.Minute, 30 * time.Minute} {
		sc.checks = append(sc.checks, check{at: t0 + off, alert: DefaultBurnAlert,
			want: wantAlerts(spec, firingAtRate(spec, 1, off, rate), nil)})
	}
	if w := sc.checks[2].want; len(w) != 1 || w[0]["severity"] != "ticket" {
		t.Fatalf("expected a ticket only 30 minutes in, the formula gives %v", w)
	}
	unguarded := *spec
	unguarded.MinEvents = 0
	if w := firingSeverities(&unguarded, 1, 30*time.Minute); len(w) == 0 || w[0] != burnrate.SeverityPage {
		t.Fatalf("without the guard the outage should page: %v", w)
	}
	sc.never = []string{fmt.Sprintf(`count_over_time(ALERTS{alertname=%q,severity="page"}[%s])`, DefaultBurnAlert, secs(sc.end))}
	sc.run(t)
}

// A latency SLI (99.9% of requests within 300 ms) built from a histogram:
// every request turns slow, and the page fires at the first evaluation
// after 51.84 s, as for an availability outage.
func TestScenarioLatencyHistogramPagesAtWorkbookTime(t *testing.T) {
	t.Parallel()
	spec := &slo.Spec{
		ID: "api-latency", Name: "latency", Service: "api", Objective: 99.9, Window: 30 * day,
		SLI: slo.SLI{Latency: &slo.LatencySLI{Metric: "http_request_duration_seconds", Selector: `job="api"`, Threshold: 0.3}},
	}
	step := 30 * time.Second
	t0 := 6 * time.Hour
	detect, _ := burnrate.DefaultPolicy().Rows[0].DetectionTime(spec.Window, spec.ErrorBudget(), 1)
	first := time.Duration(math.Ceil(float64(detect)/float64(step))) * step
	sc := scenario{
		spec: spec, histogram: "http_request_duration_seconds", step: step, end: t0 + first + step,
		streams: []stream{{labels: map[string]string{"job": "api"}, rate: 2, bursts: []burst{{from: t0, to: 100 * time.Hour, ratio: 1}}}},
	}
	sc.checks = fixChecks(t0, spec, 1, []time.Duration{first - step, first})
	if len(sc.checks[0].want) != 0 || len(sc.checks[1].want) != 1 {
		t.Fatalf("expectations %+v", sc.checks)
	}
	sc.run(t)
}
