package slo

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

const day = 24 * time.Hour

// loadOpenSLOCorpus checks testdata/openslo as one load: the only errors
// are those of the Datadog SLO, which is skipped alone.
func loadOpenSLOCorpus(t *testing.T) *Set {
	t.Helper()
	set, diags := Check("testdata/openslo")
	for _, d := range diags {
		if d.Severity != SeverityError {
			continue
		}
		if d.Rule != RuleUnsupported || !strings.Contains(d.Message, `"search-frontend-availability"`) || !strings.Contains(d.Message, `"Datadog"`) {
			t.Errorf("unexpected error: %s", d)
		}
	}
	return set
}

func TestEveryOpenSLOCorpusFileLoads(t *testing.T) {
	set := loadOpenSLOCorpus(t)
	files := map[string]int{}
	for _, s := range set.SLOs {
		files[filepath.Base(s.Pos.File)]++
	}
	entries, err := os.ReadDir("testdata/openslo")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if files[e.Name()] == 0 {
			t.Errorf("%s: no SLO loaded", e.Name())
		}
	}
	var ids []string
	for _, s := range set.SLOs {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	want := []string{
		"apiserver-availability", "apiserver-etcd-latency", "apiserver-writes",
		"ledger-availability", "payments-availability", "payments-availability-strict",
		"search-availability-0", "search-availability-1", "search-index-freshness",
		"search-latency", "search-replicas",
	}
	if !slices.Equal(ids, want) {
		t.Errorf("loaded SLOs\n got %v\nwant %v", ids, want)
	}
}

func TestOpenSLOCorpusYieldsTheModelTheSpecDescribes(t *testing.T) {
	set := loadOpenSLOCorpus(t)
	byID := map[string]*Spec{}
	for _, s := range set.SLOs {
		byID[s.ID] = s
	}
	policies := map[string]*PolicySpec{}
	for _, p := range set.Policies {
		policies[p.Name] = p
	}
	const paymentsErr = `sum(rate(http_requests_total{job="payments",code=~"5.."}[{{.window}}]))`
	const paymentsTotal = `sum(rate(http_requests_total{job="payments"}[{{.window}}]))`
	cases := []struct {
		id        string
		service   string
		objective float64
		window    time.Duration
		format    Format
		sli       SLI
		labels    map[string]string
		ann       map[string]string
		page      AlertClass
		ticket    AlertClass
		rows      []PolicyRowSpec // nil: the default policy
	}{
		{
			// List form, indicatorRef to an SLI whose sources name a
			// Thanos DataSource, counters without a window, list-valued
			// and non-Prometheus label keys, alert policies by reference.
			id: "payments-availability", service: "payments", objective: 99.9, window: 28 * day, format: FormatOpenSLO,
			sli:    SLI{Events: &EventsSLI{ErrorQuery: paymentsErr, TotalQuery: paymentsTotal}},
			labels: map[string]string{"team": "payments,checkout", "priority": "1", "cost_centre": "cc-42"},
			ann:    map[string]string{"runbook": "https://runbooks.example.com/payments/availability"},
			page:   AlertClass{Labels: map[string]string{NotificationTargetsLabel: "payments-pager,payments-slack"}},
			ticket: AlertClass{Labels: map[string]string{NotificationTargetsLabel: "payments-slack", "severity": "warning"}},
			// 14.4 × 1h / 28d and 1 × 3d / 28d of the budget.
			rows: []PolicyRowSpec{
				{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 14.4 / (28 * 24) * 100},
				{Severity: "ticket", Long: 3 * day, Short: 6 * time.Hour, BudgetPercent: 3.0 / 28 * 100},
			},
		},
		{
			// References into another file.
			id: "payments-availability-strict", service: "payments", objective: 99.95, window: 7 * day, format: FormatOpenSLO,
			sli:    SLI{Events: &EventsSLI{ErrorQuery: paymentsErr, TotalQuery: paymentsTotal}},
			page:   AlertClass{Labels: map[string]string{NotificationTargetsLabel: "payments-pager,payments-slack"}},
			ticket: AlertClass{Disabled: true},
			rows:   []PolicyRowSpec{{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 14.4 / (7 * 24) * 100}},
		},
		{
			// thresholdMetric: good while p99 ≤ 0.3, so bad when > 0.3.
			id: "search-latency", service: "search", objective: 99, window: 30 * day, format: FormatOpenSLO,
			sli:    SLI{Raw: &RawSLI{ErrorRatioQuery: `(histogram_quantile(0.99, sum by (le) (rate(search_request_duration_seconds_bucket{job="search"}[{{.window}}])))) > bool 0.3`}},
			labels: map[string]string{"team": "discovery"},
			page:   AlertClass{Labels: map[string]string{NotificationTargetsLabel: "discovery-oncall", "severity": "critical"}},
			ticket: AlertClass{Disabled: true},
			rows:   []PolicyRowSpec{{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetPercent: 5}},
		},
		{
			// Two objectives: two SLOs, good turned into errors.
			id: "search-availability-0", service: "search", objective: 99, window: 30 * day, format: FormatOpenSLO,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `(sum by (cluster) (rate(search_requests_total[{{.window}}]))) - (sum by (cluster) (rate(search_requests_total{code!~"5.."}[{{.window}}])))`,
				TotalQuery: `sum by (cluster) (rate(search_requests_total[{{.window}}]))`,
			}},
		},
		{
			id: "search-availability-1", service: "search", objective: 99.9, window: 30 * day, format: FormatOpenSLO,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `(sum by (cluster) (rate(search_requests_total[{{.window}}]))) - (sum by (cluster) (rate(search_requests_total{code!~"5.."}[{{.window}}])))`,
				TotalQuery: `sum by (cluster) (rate(search_requests_total[{{.window}}]))`,
			}},
		},
		{
			// counter: false reads gauges with avg_over_time.
			id: "search-replicas", service: "search", objective: 99.5, window: 30 * day, format: FormatOpenSLO,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `(sum(avg_over_time(kube_deployment_spec_replicas{deployment="search"}[{{.window}}]))) - (sum(avg_over_time(kube_deployment_status_replicas_available{deployment="search"}[{{.window}}])))`,
				TotalQuery: `sum(avg_over_time(kube_deployment_spec_replicas{deployment="search"}[{{.window}}]))`,
			}},
		},
		{
			// A raw success ratio becomes an error ratio; not summed.
			id: "search-index-freshness", service: "search", objective: 95, window: 30 * day, format: FormatOpenSLO,
			sli: SLI{Raw: &RawSLI{ErrorRatioQuery: `1 - (avg_over_time(search_index_fresh_ratio{job="indexer"}[{{.window}}]))`}},
		},
		{
			// Next to a Deployment and a ConfigMap; explicit ranges become the step window.
			id: "ledger-availability", service: "ledger", objective: 99.95, window: 30 * day, format: FormatOpenSLO,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum(rate(grpc_server_handled_total{grpc_service="ledger.v1.Ledger",grpc_code!="OK"}[{{.window}}]))`,
				TotalQuery: `sum(rate(grpc_server_handled_total{grpc_service="ledger.v1.Ledger"}[{{.window}}]))`,
			}},
		},
		{
			// v1alpha as Sloth writes it: queries used as written.
			id: "apiserver-availability", service: "k8s-apiserver", objective: 99.9, window: 30 * day, format: FormatOpenSLOAlpha,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `(sum(rate(apiserver_request_total[{{.window}}]))) - (sum(rate(apiserver_request_total{code!~"(5..|429)"}[{{.window}}])))`,
				TotalQuery: `sum(rate(apiserver_request_total[{{.window}}]))`,
			}},
		},
		{
			id: "apiserver-writes", service: "k8s-apiserver", objective: 99.5, window: 28 * day, format: FormatOpenSLOAlpha,
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `(sum(rate(apiserver_request_total{verb=~"POST|PUT|PATCH|DELETE"}[{{.window}}]))) - (sum(rate(apiserver_request_total{verb=~"POST|PUT|PATCH|DELETE",code!~"5.."}[{{.window}}])))`,
				TotalQuery: `sum(rate(apiserver_request_total{verb=~"POST|PUT|PATCH|DELETE"}[{{.window}}]))`,
			}},
		},
		{
			id: "apiserver-etcd-latency", service: "k8s-apiserver", objective: 99, window: 14 * day, format: FormatOpenSLOAlpha,
			sli: SLI{Raw: &RawSLI{ErrorRatioQuery: `(max(avg_over_time(etcd_request_duration_seconds_p99[{{.window}}]))) >= bool 0.5`}},
		},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			s := byID[c.id]
			if s == nil {
				t.Fatal("not loaded")
			}
			if s.Service != c.service || s.Objective != c.objective || s.Window != c.window || s.Format != c.format {
				t.Errorf("service %q objective %v window %s format %s, want %q %v %s %s",
					s.Service, s.Objective, FormatDuration(s.Window), s.Format, c.service, c.objective, FormatDuration(c.window), c.format)
			}
			if !reflect.DeepEqual(s.SLI, c.sli) {
				t.Errorf("SLI\n got %s\nwant %s", sliString(s.SLI), sliString(c.sli))
			}
			if !equalMaps(s.Labels, c.labels) || !equalMaps(s.Annotations, c.ann) {
				t.Errorf("labels %v annotations %v, want %v %v", s.Labels, s.Annotations, c.labels, c.ann)
			}
			if s.Alerting.Page.Disabled != c.page.Disabled || !equalMaps(s.Alerting.Page.Labels, c.page.Labels) ||
				s.Alerting.Ticket.Disabled != c.ticket.Disabled || !equalMaps(s.Alerting.Ticket.Labels, c.ticket.Labels) {
				t.Errorf("page %+v ticket %+v, want %+v %+v", s.Alerting.Page, s.Alerting.Ticket, c.page, c.ticket)
			}
			if c.rows == nil {
				if s.Policy != "" {
					t.Errorf("policy %q, want the default", s.Policy)
				}
				return
			}
			p := policies[s.Policy]
			if p == nil {
				t.Fatalf("policy %q not loaded", s.Policy)
			}
			if len(p.Rows) != len(c.rows) {
				t.Fatalf("rows %+v, want %+v", p.Rows, c.rows)
			}
			for i, r := range p.Rows {
				w := c.rows[i]
				if r.Severity != w.Severity || r.Long != w.Long || r.Short != w.Short || !near(r.BudgetPercent, w.BudgetPercent) {
					t.Errorf("row %d: %s %s/%s %v%%, want %s %s/%s %v%%", i, r.Severity, FormatDuration(r.Long), FormatDuration(r.Short), r.BudgetPercent,
						w.Severity, FormatDuration(w.Long), FormatDuration(w.Short), w.BudgetPercent)
				}
			}
		})
	}
}

func sliString(s SLI) string {
	switch {
	case s.Events != nil:
		return "events{" + s.Events.ErrorQuery + " / " + s.Events.TotalQuery + "}"
	case s.Raw != nil:
		return "raw{" + s.Raw.ErrorRatioQuery + "}"
	}
	return "none"
}

func equalMaps(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// Every rewritten query reads each window through the placeholder and
// parses once it is expanded.
func TestRewrittenOpenSLOQueriesParseWithTheWindowPlaceholder(t *testing.T) {
	set := loadOpenSLOCorpus(t)
	p := parser.NewParser(parser.Options{})
	for _, s := range set.SLOs {
		errQ, totalQ, err := s.SLI.Queries()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{errQ, totalQ} {
			if q == "" {
				continue
			}
			if !strings.Contains(q, "[{{.window}}]") {
				t.Errorf("%s: %s has no [{{.window}}] range", s.ID, q)
			}
			if _, err := p.ParseExpr(ExpandWindow(q, "5m")); err != nil {
				t.Errorf("%s: %s does not parse: %v", s.ID, q, err)
			}
		}
	}
}

func TestWindowQueryRewritesEverySelector(t *testing.T) {
	cases := []struct {
		name, query, fn string
		sum             bool
		want            string
	}{
		{"a counter selector is rated and summed", `http_requests_total{job="a"}`, readCounter, true, `sum(rate(http_requests_total{job="a"}[{{.window}}]))`},
		{"a sum of counters keeps the user's text", `sum(http_requests{k8s_cluster="prod",code=~"2xx|4xx"})`, readCounter, true, `sum(rate(http_requests{k8s_cluster="prod",code=~"2xx|4xx"}[{{.window}}]))`},
		{"an explicit range becomes the step window", `sum by (route) (rate(x_total[5m]))`, readCounter, true, `sum by (route) (rate(x_total[{{.window}}]))`},
		{"a histogram bucket selector is rated inside the quantile", `histogram_quantile(0.99, sum by (le) (x_bucket))`, readCounter, true, `histogram_quantile(0.99, sum by (le) (rate(x_bucket[{{.window}}])))`},
		{"a gauge is averaged over the window", `up{job="a"}`, readGauge, false, `avg_over_time(up{job="a"}[{{.window}}])`},
		{"an offset stays after the range", `sum(x_total offset 5m)`, readCounter, true, `sum(rate(x_total[{{.window}}] offset 5m))`},
		{"a subquery range becomes the step window", `max_over_time(rate(x_total[5m])[1h:1m])`, readCounter, true, `max_over_time(rate(x_total[5m])[{{.window}}:1m])`},
		{"a query with the placeholder is used as written", `sum(rate(x_total[{{.window}}]))`, readCounter, true, `sum(rate(x_total[{{.window}}]))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := windowQuery(c.query, c.fn, c.sum)
			if err != nil || got != c.want {
				t.Errorf("windowQuery(%q) = %q, %v; want %q", c.query, got, err, c.want)
			}
		})
	}
	if _, err := windowQuery(`sum(x_total`, readCounter, true); err == nil {
		t.Error("a query that does not parse was accepted")
	}
}

// writeFiles writes name → content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const goodOpenSLO = `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-availability}
  spec:
    service: shop
    indicator:
      spec:
        ratioMetric:
          counter: true
          bad: {metricSource: {type: Prometheus, spec: {query: 'sum(http_requests_total{code=~"5.."})'}}}
          total: {metricSource: {type: Prometheus, spec: {query: sum(http_requests_total)}}}
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
`

func TestOpenSLOProblemsSkipOnlyTheirSLO(t *testing.T) {
	cases := []struct {
		name     string
		yaml     string
		line     int
		col      int
		rule     string
		contains string
	}{
		{"an unresolved indicatorRef", `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicatorRef: shop-latnecy
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
`, 6, 19, RuleInvalidField, `indicatorRef "shop-latnecy" names no OpenSLO SLI`},
		{"an unresolved alertPolicyRef", `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicator:
      spec:
        ratioMetric:
          counter: true
          bad: {metricSource: {type: Prometheus, spec: {query: x_errors_total}}}
          total: {metricSource: {type: Prometheus, spec: {query: x_total}}}
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
    alertPolicies:
      - alertPolicyRef: shop-pager
`, 15, 25, RuleInvalidField, `alertPolicyRef "shop-pager" names no OpenSLO AlertPolicy`},
		{"an unresolved conditionRef in a policy", `- apiVersion: openslo/v1
  kind: AlertPolicy
  metadata: {name: shop-pager}
  spec:
    conditions: [{conditionRef: fast}]
- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicator:
      spec:
        ratioMetric:
          counter: true
          bad: {metricSource: {type: Prometheus, spec: {query: x_errors_total}}}
          total: {metricSource: {type: Prometheus, spec: {query: x_total}}}
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
    alertPolicies: [{alertPolicyRef: shop-pager}]
`, 5, 33, RuleInvalidField, `conditionRef "fast" names no OpenSLO AlertCondition`},
		{"a DataSource needed for its type and not loaded", `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicator:
      spec:
        ratioMetric:
          counter: true
          bad: {metricSource: {metricSourceRef: prom, spec: {query: x_errors_total}}}
          total: {metricSource: {type: Prometheus, spec: {query: x_total}}}
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
`, 10, 49, RuleInvalidField, `metricSourceRef "prom" names no OpenSLO DataSource`},
		{"a CloudWatch source through its DataSource", `- apiVersion: openslo/v1
  kind: DataSource
  metadata: {name: cw}
  spec: {type: CloudWatch, connectionDetails: {region: eu-west-1}}
- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicator:
      spec:
        ratioMetric:
          counter: true
          bad: {metricSource: {metricSourceRef: cw, spec: {query: x_errors_total}}}
          total: {metricSource: {metricSourceRef: cw, spec: {query: x_total}}}
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
`, 15, 51, RuleUnsupported, `metric source type "CloudWatch" is not supported`},
		{"a bad AlertCondition next to the SLOs", `- apiVersion: openslo/v1
  kind: AlertCondition
  metadata: {name: fast}
  spec:
    severity: page
    condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, window: 5m}
`, 6, 79, RuleUnknownField, `unknown field "window"`},
		{"a calendar window of two weeks", `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicatorRef: whatever
    timeWindow: [{duration: 2w, calendar: {startTime: "2024-01-01 00:00:00", timeZone: UTC}}]
    budgetingMethod: Occurrences
    objectives: [{target: 0.99}]
`, 7, 29, RuleUnsupported, "calendar windows are a week (1w), a month (1M) or a quarter (1Q)"},
		{"time slices", `- apiVersion: openslo/v1
  kind: SLO
  metadata: {name: shop-latency}
  spec:
    service: shop
    indicatorRef: whatever
    budgetingMethod: Timeslices
    objectives: [{target: 0.99, timeSliceTarget: 95, timeSliceWindow: 1m}]
`, 8, 50, RuleInvalidField, "timeSliceTarget must be a ratio in (0, 1]"},
		{"an OpenSLO version slod does not read", `apiVersion: openslo/v2
kind: SLO
metadata: {name: shop-latency}
`, 1, 13, RuleUnsupported, `apiVersion "openslo/v2" is not supported`},
		{"a slod version typo", `version: slod/v11
service: shop
slos: []
`, 1, 10, RuleUnsupported, `version "slod/v11" is not supported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"good.yaml": goodOpenSLO, "bad.yaml": c.yaml})
			set, diags := Load(dir)
			var errs []Diagnostic
			for _, d := range diags {
				if d.Severity == SeverityError {
					errs = append(errs, d)
				}
			}
			if len(errs) != 1 || errs[0].Rule != c.rule || filepath.Base(errs[0].Pos.File) != "bad.yaml" ||
				errs[0].Pos.Line != c.line || errs[0].Pos.Column != c.col || !strings.Contains(errs[0].Message, c.contains) {
				t.Fatalf("errors %v, want one %s at bad.yaml:%d:%d containing %q", errs, c.rule, c.line, c.col, c.contains)
			}
			var ids []string
			for _, s := range set.SLOs {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, []string{"shop-availability"}) {
				t.Errorf("loaded %v, want only the good file's shop-availability", ids)
			}
		})
	}
}

// One file holding a good SLO and a broken object of another kind still
// loads the SLO: objects are independent.
func TestABrokenOpenSLOObjectDoesNotTakeItsFileDown(t *testing.T) {
	data := goodOpenSLO + `- apiVersion: openslo/v1
  kind: AlertNotificationTarget
  metadata: {name: pager}
  spec: {target: pagerduty, channel: "#oncall"}
- apiVersion: openslo/v1
  kind: Service
  metadata: {name: shop}
`
	set, diags := LoadBytes("f.yaml", []byte(data))
	if !HasErrors(diags) {
		t.Errorf("the unknown field of the target was not reported: %v", diags)
	}
	if len(set.SLOs) != 1 || set.SLOs[0].ID != "shop-availability" {
		t.Errorf("loaded %d SLOs, want shop-availability", len(set.SLOs))
	}
}

// A directory of Kubernetes manifests: objects of other apiVersions are
// skipped without a diagnostic.
func TestKubernetesManifestsAreSkippedSilently(t *testing.T) {
	set, diags := Load("testdata/openslo/kubernetes.yaml")
	for _, d := range diags {
		if d.Severity == SeverityError || d.Pos.Line < 31 {
			t.Errorf("diagnostic about a manifest: %s", d)
		}
	}
	if len(set.SLOs) != 1 {
		t.Errorf("loaded %d SLOs, want 1", len(set.SLOs))
	}
}

// Each AlertNotificationTarget gets a warning naming the label and route
// to configure in the notify config.
func TestNotificationTargetsAreReportedWithTheirRoute(t *testing.T) {
	_, diags := Load("testdata/openslo/catalog.yaml")
	found := 0
	for _, d := range diags {
		if strings.Contains(d.Message, "AlertNotificationTarget") {
			found++
			if d.Severity != SeverityWarning || !strings.Contains(d.Message, NotificationTargetsLabel) || !strings.Contains(d.Message, "match_re") {
				t.Errorf("%s", d)
			}
		}
	}
	if found != 2 {
		t.Errorf("%d target diagnostics, want one per target (2)", found)
	}
}

// A Prometheus metric source spec with dimensions (a key of the go-sdk's
// test data, which OpenSLO does not define): the SLO loads, each
// dimensions key gets a warning at its line saying it is ignored and how
// to split the alerts instead, and the SLO has no instances of its own.
// Another unknown key of the spec is still an error.
func TestOpenSLODimensionsAreIgnoredWithAWarning(t *testing.T) {
	const doc = `- apiVersion: openslo/v1
  kind: SLO
  metadata:
    name: checkout-availability
  spec:
    budgetingMethod: Occurrences
    service: shop
    indicator:
      metadata:
        name: checkout-good
      spec:
        ratioMetric:
          counter: true
          good:
            metricSource:
              type: Prometheus
              spec:
                query: sum(checkout_requests_total{code!~"5.."})
                dimensions: [region, tier]
          total:
            metricSource:
              type: Prometheus
              spec:
                query: sum(checkout_requests_total)
                dimensions: {region: eu}
    objectives:
      - target: 0.995
`
	set, diags := LoadBytes("dims.yaml", []byte(doc))
	var warned []Diagnostic
	for _, d := range diags {
		switch {
		case d.Severity == SeverityError:
			t.Errorf("%s", d)
		case strings.Contains(d.Message, "dimensions"):
			warned = append(warned, d)
		}
	}
	if len(warned) != 2 {
		t.Fatalf("dimensions warnings %v, want two", warned)
	}
	for i, want := range []struct {
		line int
		text string
	}{
		{19, "its alerts are not split by region, tier; to alert per label set, aggregate the query by them: sum by (region, tier) (...)"},
		{25, "aggregate the query by those labels"},
	} {
		d := warned[i]
		if d.Rule != RuleUnsupported || d.Severity != SeverityWarning || d.Pos.Line != want.line || d.Pos.Column != 17 ||
			!strings.Contains(d.Message, "dimensions is ignored") || !strings.Contains(d.Message, want.text) {
			t.Errorf("warning %d: %s; want at line %d:17 saying %q", i, d, want.line, want.text)
		}
	}
	if len(set.SLOs) != 1 {
		t.Fatalf("%d SLOs", len(set.SLOs))
	}
	s := set.SLOs[0]
	if s.GroupBy != nil || !strings.HasPrefix(s.SLI.Events.TotalQuery, "sum(rate(checkout_requests_total[{{.window}}]))") {
		t.Errorf("group_by %v, total query %q", s.GroupBy, s.SLI.Events.TotalQuery)
	}

	_, diags = LoadBytes("dims.yaml", []byte(strings.Replace(doc, "dimensions: {region: eu}", "dimension: [region]", 1)))
	var typo bool
	for _, d := range diags {
		typo = typo || (d.Severity == SeverityError && d.Rule == RuleUnknownField && d.Pos.Line == 25 && strings.Contains(d.Message, "dimension"))
	}
	if !typo {
		t.Errorf("an unknown key next to query is not an error: %v", diags)
	}
}
