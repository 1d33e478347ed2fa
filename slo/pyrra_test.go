package slo

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// pyrraWant is what a corpus SLO must load into.
type pyrraWant struct {
	service     string
	objective   float64
	window      time.Duration
	groupBy     []string
	labels      map[string]string
	annotations map[string]string
	sli         SLI
	alertName   string
	page        AlertClass
	ticket      AlertClass
	noData      time.Duration
}

func pyrraClasses(page, ticket string) (AlertClass, AlertClass) {
	return AlertClass{Labels: map[string]string{"severity": page}}, AlertClass{Labels: map[string]string{"severity": ticket}}
}

func TestPyrraCorpusLoadsIntoTheModelTheSpecDescribes(t *testing.T) {
	critical, warning := pyrraClasses("critical", "warning")
	pageClass, ticketClass := pyrraClasses("page", "ticket")
	off := func(c AlertClass) AlertClass { c.Disabled = true; return c }
	runbook := func(ns, name string) map[string]string {
		return map[string]string{"runbook_url": "https://runbooks.example.com/" + ns + "/" + name}
	}
	want := map[string]pyrraWant{
		"checkout-checkout-api-errors": {
			service: "checkout", objective: 99.9, window: 28 * 24 * time.Hour, groupBy: []string{"route"},
			labels:      map[string]string{"team": "payments", "job": "checkout-api"},
			annotations: map[string]string{"runbook_url": "https://runbooks.example.com/checkout/api-errors"},
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum by (route) (rate(http_requests_total{code=~"5..",job="checkout-api"}[{{.window}}]))`,
				TotalQuery: `sum by (route) (rate(http_requests_total{job="checkout-api"}[{{.window}}]))`,
			}},
			// 28d: long 1h; 14 × 0.001 × 3600s = 50s, + 2m for = 2m50s.
			alertName: "CheckoutErrorBudgetBurn", page: critical, ticket: warning, noData: 3 * time.Minute,
		},
		"checkout-checkout-grpc-errors": {
			service: "checkout", objective: 99.5, window: 28 * 24 * time.Hour,
			labels:      map[string]string{"grpc_service": "checkout.v1.Checkout"},
			annotations: runbook("checkout", "checkout-grpc-errors"),
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum (rate(grpc_server_handled_total{grpc_code=~"Unavailable|Internal|Unknown|DataLoss",grpc_service="checkout.v1.Checkout"}[{{.window}}]))`,
				TotalQuery: `sum (rate(grpc_server_handled_total{grpc_service="checkout.v1.Checkout"}[{{.window}}]))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 6 * time.Minute,
		},
		"search-search-latency": {
			service: "search", objective: 99, window: 14 * 24 * time.Hour, groupBy: []string{"handler"},
			labels:      map[string]string{"team": "discovery", "job": "search"},
			annotations: runbook("search", "search-latency"),
			sli:         SLI{Latency: &LatencySLI{Metric: "http_request_duration_seconds", Selector: `code!~"5..",job="search"`, Threshold: 0.3}},
			// 2w: long 30m, for 1m; 14 × 0.01 × 1800s = 252s, + 1m = 5m12s.
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 5 * time.Minute,
		},
		"search-search-index-latency": {
			service: "search", objective: 95, window: 7 * 24 * time.Hour,
			labels:      map[string]string{"job": "indexer"},
			annotations: runbook("search", "search-index-latency"),
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum (rate(index_update_duration_seconds_count{job="indexer"}[{{.window}}])) - sum (rate(index_update_duration_seconds_bucket{job="indexer",le="1.0"}[{{.window}}]))`,
				TotalQuery: `sum (rate(index_update_duration_seconds_count{job="indexer"}[{{.window}}]))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 12 * time.Minute,
		},
		"edge-gateway-latency": {
			service: "edge", objective: 99.5, window: 30 * 24 * time.Hour, groupBy: []string{"method"},
			labels:      map[string]string{"team": "edge", "job": "gateway", "code": "ok"},
			annotations: runbook("edge", "gateway-latency"),
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `histogram_count(sum by (method) (rate(gateway_request_duration_seconds{code="ok",job="gateway"}[{{.window}}]))) * (1 - histogram_fraction(0, 0.25, sum by (method) (rate(gateway_request_duration_seconds{code="ok",job="gateway"}[{{.window}}]))))`,
				TotalQuery: `histogram_count(sum by (method) (rate(gateway_request_duration_seconds{code="ok",job="gateway"}[{{.window}}])))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 6 * time.Minute,
		},
		"web-homepage-probe": {
			service: "web", objective: 99, window: 7 * 24 * time.Hour, groupBy: []string{"instance"},
			labels:      map[string]string{"job": "blackbox", "module": "http_2xx"},
			annotations: runbook("web", "homepage-probe"),
			sli: SLI{Raw: &RawSLI{
				ErrorRatioQuery: `(sum by (instance) (count_over_time(probe_success{job="blackbox",module="http_2xx"}[{{.window}}])) - sum by (instance) (sum_over_time(probe_success{job="blackbox",module="http_2xx"}[{{.window}}]))) / sum by (instance) (count_over_time(probe_success{job="blackbox",module="http_2xx"}[{{.window}}]))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 3 * time.Minute,
		},
		"batch-batch-errors": {
			service: "batch", objective: 99, window: 28 * 24 * time.Hour,
			labels: map[string]string{},
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum (rate(batch_jobs_total{result="failed"}[{{.window}}]))`,
				TotalQuery: `sum (rate(batch_jobs_total[{{.window}}]))`,
			}},
			// burnrates: false and absent: false: no alert at all.
			alertName: "ErrorBudgetBurn", page: off(critical), ticket: off(warning),
		},
		"ledger-ledger-errors": {
			service: "ledger", objective: 99.95, window: 28 * 24 * time.Hour,
			labels:      map[string]string{"team": "ledger", "job": "ledger"},
			annotations: runbook("ledger", "ledger-errors"),
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum (rate(ledger_writes_total{job="ledger",status="error"}[{{.window}}]))`,
				TotalQuery: `sum (rate(ledger_writes_total{job="ledger"}[{{.window}}]))`,
			}},
			alertName: "LedgerBudgetBurn", page: pageClass, ticket: ticketClass, noData: 2 * time.Minute,
		},
		"shop-cart-errors": {
			service: "shop", objective: 99.9, window: 14 * 24 * time.Hour,
			labels:      map[string]string{"team": "shop", "job": "cart"},
			annotations: runbook("shop", "cart-errors"),
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum (rate(http_requests_total{code=~"5..",job="cart"}[{{.window}}]))`,
				TotalQuery: `sum (rate(http_requests_total{job="cart"}[{{.window}}]))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: time.Minute,
		},
		"mesh-mesh-requests": {
			// Grouped by service: the service is the namespace, and each
			// instance's own service label goes on its alerts.
			service: "mesh", objective: 99.9, window: 28 * 24 * time.Hour, groupBy: []string{"service", "method"},
			labels:      map[string]string{"team": "platform", "job": "mesh-proxy"},
			annotations: map[string]string{"runbook_url": "https://runbooks.example.com/mesh/requests"},
			sli: SLI{Events: &EventsSLI{
				ErrorQuery: `sum by (service, method) (rate(mesh_proxy_requests_total{code=~"5..",job="mesh-proxy"}[{{.window}}]))`,
				TotalQuery: `sum by (service, method) (rate(mesh_proxy_requests_total{job="mesh-proxy"}[{{.window}}]))`,
			}},
			alertName: "ErrorBudgetBurn", page: critical, ticket: warning, noData: 3 * time.Minute,
		},
		"shop-cart-latency": {
			service: "shop", objective: 99, window: 14 * 24 * time.Hour,
			labels:      map[string]string{"job": "cart"},
			annotations: runbook("shop", "cart-latency"),
			sli:         SLI{Latency: &LatencySLI{Metric: "http_request_duration_seconds", Selector: `job="cart"`, Threshold: 0.5}},
			alertName:   "ErrorBudgetBurn", page: critical, ticket: warning, noData: 5 * time.Minute,
		},
	}
	set, diags := Check("testdata/pyrra")
	for _, d := range diags {
		t.Errorf("%s", d)
	}
	got := map[string]*Spec{}
	for _, s := range set.SLOs {
		got[s.ID] = s
	}
	if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("loaded SLOs %v, want %v", ids, slices.Sorted(maps.Keys(want)))
	}
	for id, w := range want {
		t.Run(id, func(t *testing.T) {
			s := got[id]
			if s.Format != FormatPyrra || s.Name != strings.TrimPrefix(id, s.Service+"-") {
				t.Errorf("format %q name %q", s.Format, s.Name)
			}
			check := func(what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
				}
			}
			if len(w.labels) == 0 {
				w.labels = nil
			}
			check("service", s.Service, w.service)
			check("objective", s.Objective, w.objective)
			check("window", s.Window, w.window)
			check("group_by", s.GroupBy, w.groupBy)
			check("labels", s.Labels, w.labels)
			check("annotations", s.Annotations, w.annotations)
			check("sli", s.SLI, w.sli)
			check("alert name", s.Alerting.Name, w.alertName)
			check("page", s.Alerting.Page, w.page)
			check("ticket", s.Alerting.Ticket, w.ticket)
			check("no_data", s.Alerting.NoData, w.noData)
			if s.Alerting.Idle != "" || s.Alerting.Collapse != nil || s.Policy != "" || s.MinEvents != 0 {
				t.Errorf("settings Pyrra has no counterpart of: %+v policy %q min_events %v", s.Alerting, s.Policy, s.MinEvents)
			}
			if _, _, err := s.SLI.Queries(s.GroupBy...); err != nil {
				t.Error(err)
			}
		})
	}
	if d := got["checkout-checkout-api-errors"].Description; d != "Checkout API requests that do not fail with a server error, per route." {
		t.Errorf("description %q", d)
	}
}

// pyrraDoc is a valid Pyrra SLO whose spec.indicator is indicator, for the
// cases below; spec starts at line 6, indicator's content at line 10.
func pyrraDoc(indicator string, extra ...string) string {
	return `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-errors
  namespace: api
spec:
  target: "99.9"
  window: 28d
  indicator:
` + indicator + strings.Join(extra, "")
}

const pyrraRatio = `    ratio:
      errors:
        metric: http_requests_total{job="api",code=~"5.."}
      total:
        metric: http_requests_total{job="api"}
`

func TestPyrraProblemsAreReportedAtTheirPosition(t *testing.T) {
	cases := []struct {
		name, doc string
		// want is "line:col severity rule" of the one diagnostic expected,
		// and msg a part of its message.
		want, msg string
		// loads says whether the SLO still loads (warnings only).
		loads bool
	}{
		{"an unknown spec field is a typo", pyrraDoc(pyrraRatio, "  windw: 4w\n"),
			"15:3: error SLO002", `unknown field "windw"`, false},
		{"an unknown indicator field is a typo", pyrraDoc(pyrraRatio + "      groupin: [route]\n"),
			"15:7: error SLO002", `unknown field "groupin"`, false},
		{"an unknown alerting field is a typo", pyrraDoc(pyrraRatio, "  alerting:\n    burnrate: false\n"),
			"16:5: error SLO002", `unknown field "burnrate"`, false},
		{"an unknown metadata field is a typo", strings.Replace(pyrraDoc(pyrraRatio), "  namespace: api\n", "  namespace: api\n  lables: {}\n", 1),
			"6:3: error SLO002", `unknown field "lables"`, false},
		{"a full query instead of a selector", pyrraDoc("    ratio:\n      errors:\n        metric: sum(rate(http_requests_total{code=~\"5..\"}[5m]))\n      total:\n        metric: http_requests_total\n"),
			"12:17: error SLO003", "must be a metric selector such as http_requests_total{job=\"api\"}, got an aggregation (sum)", false},
		{"a malformed selector", pyrraDoc("    ratio:\n      errors:\n        metric: http_requests_total{code=~\"5..\"\n      total:\n        metric: http_requests_total\n"),
			"12:17: error SLO003", "is not a PromQL metric selector", false},
		{"a non-Prometheus query (Datadog)", pyrraDoc("    ratio:\n      errors:\n        metric: \"sum:trace.http.request.errors{service:web}.as_count()\"\n      total:\n        metric: http_requests_total\n"),
			"12:17: error SLO003", "is not a PromQL metric selector", false},
		{"an offset Pyrra would drop", pyrraDoc("    ratio:\n      errors:\n        metric: http_requests_total{code=~\"5..\"} offset 5m\n      total:\n        metric: http_requests_total\n"),
			"12:17: error SLO004", "offset and @ are not supported", false},
		{"a latency success selector without le", pyrraDoc("    latency:\n      success:\n        metric: http_request_duration_seconds_bucket{job=\"api\"}\n      total:\n        metric: http_request_duration_seconds_count{job=\"api\"}\n"),
			"12:17: error SLO003", `one histogram bucket with an le="<bound>" matcher`, false},
		{"two indicators", pyrraDoc(pyrraRatio + "    bool_gauge:\n      metric: up\n"),
			"10:5: error SLO003", "set exactly one of ratio, latency, latencyNative or bool_gauge", false},
		{"a target that is not a number", strings.Replace(pyrraDoc(pyrraRatio), `"99.9"`, `"high"`, 1),
			"7:11: error SLO003", `"high" is not a percentage`, false},
		{"a latencyNative latency that is not a duration", pyrraDoc("    latencyNative:\n      latency: fast\n      total:\n        metric: h\n"),
			"11:16: error SLO003", `invalid duration "fast"`, false},
		{"another kind of the Pyrra group", strings.Replace(pyrraDoc(pyrraRatio), "kind: ServiceLevelObjective", "kind: SLOGroup", 1),
			"2:7: error SLO004", `kind "SLOGroup" is not supported`, false},
		{"Thanos partial responses", pyrraDoc(pyrraRatio, "  partial_response_strategy: warn\n"),
			"15:30: warning SLO004", "partial_response_strategy \"warn\" is ignored", true},
		{"performance over accuracy", pyrraDoc(pyrraRatio, "  performanceOverAccuracy: true\n"),
			"15:28: warning SLO004", "performanceOverAccuracy is ignored", true},
		{"rule output labels", pyrraDoc(pyrraRatio, "  ruleOutput:\n    shortRulesLabels: {ruler: fast}\n"),
			"15:3: warning SLO004", "ruleOutput is ignored", true},
		{"absent alerts off", pyrraDoc(pyrraRatio, "  alerting:\n    absent: false\n"),
			"16:13: warning SLO004", "absent: false is ignored: slod always raises its no-data alert ErrorBudgetBurnNoData", true},
		{"burn-rate alerts off keeps Pyrra's absent alert", pyrraDoc(pyrraRatio, "  alerting:\n    disabled: true\n"),
			"16:15: warning SLO004", "slod raises no alert at all", true},
		{"a custom absent alert name", pyrraDoc(pyrraRatio, "  alerting:\n    absentName: APIMetricsGone\n"),
			"16:17: warning SLO004", `absentName "APIMetricsGone" is not used: slod names its no-data alert ErrorBudgetBurnNoData`, true},
		{"a medium burn severity unlike the fast one", pyrraDoc(pyrraRatio, "  alerting:\n    severities:\n      mediumBurn: high\n"),
			"17:19: warning SLO004", `mediumBurn "high" differs from fastBurn "critical"`, true},
		{"a long-term burn severity unlike the slow one", pyrraDoc(pyrraRatio, "  alerting:\n    severities:\n      slowBurn: low\n      longTermBurn: info\n"),
			"18:21: warning SLO004", `longTermBurn "info" differs from slowBurn "low"`, true},
		{"an absent severity unlike the ticket class's", pyrraDoc(pyrraRatio, "  alerting:\n    severities:\n      absent: critical\n"),
			"17:15: warning SLO004", `absent "critical" is not used`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("pyrra.yaml", []byte(c.doc))
			if len(diags) != 1 {
				t.Fatalf("want one diagnostic, got %v", diags)
			}
			d := diags[0]
			if got := strings.TrimPrefix(d.String(), "pyrra.yaml:"); !strings.HasPrefix(got, c.want+": ") || !strings.Contains(d.Message, c.msg) {
				t.Errorf("got  %s\nwant pyrra.yaml:%s: ...%s...", d, c.want, c.msg)
			}
			if loaded := len(set.SLOs) == 1; loaded != c.loads {
				t.Errorf("SLO loaded: %v, want %v", loaded, c.loads)
			}
		})
	}
}

func TestPyrraServiceIsTheServiceLabelOfItsAlertsElseTheNamespace(t *testing.T) {
	cases := []struct{ name, doc, service, id string }{
		{"namespace", pyrraDoc(pyrraRatio), "api", "api-api-errors"},
		{"no namespace is Kubernetes' default", strings.Replace(pyrraDoc(pyrraRatio), "  namespace: api\n", "", 1), "default", "default-api-errors"},
		{"a pyrra.dev/service label", strings.Replace(pyrraDoc(pyrraRatio), "  namespace: api\n", "  namespace: api\n  labels: {pyrra.dev/service: gateway}\n", 1), "gateway", "api-api-errors"},
		{"a service matcher of the total selector wins, as on Pyrra's alerts",
			strings.Replace(pyrraDoc(strings.ReplaceAll(pyrraRatio, `job="api"`, `service="frontend"`)), "  namespace: api\n", "  namespace: api\n  labels: {pyrra.dev/service: gateway}\n", 1), "frontend", "api-api-errors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("pyrra.yaml", []byte(c.doc))
			diags = append(diags, Validate(set)...)
			if len(diags) != 0 || len(set.SLOs) != 1 {
				t.Fatalf("%v", diags)
			}
			s := set.SLOs[0]
			if s.Service != c.service || s.ID != c.id || s.Labels["service"] != "" {
				t.Errorf("service %q id %q labels %v, want service %q id %q", s.Service, s.ID, s.Labels, c.service, c.id)
			}
		})
	}
}

func TestPyrraAbsentForFollowsPyrrasWindows(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		window    time.Duration
		objective float64
		want      time.Duration
	}{
		{28 * day, 99.9, 3 * time.Minute},  // 50s + 2m
		{28 * day, 99, 10 * time.Minute},   // 504s + 2m = 10m24s
		{14 * day, 99, 5 * time.Minute},    // 252s + 1m
		{30 * day, 99.99, 2 * time.Minute}, // 5s + 2m
	} {
		if got := pyrraAbsentFor(c.window, c.objective); got != c.want {
			t.Errorf("pyrraAbsentFor(%s, %v) = %s, want %s", FormatDuration(c.window), c.objective, got, c.want)
		}
	}
}
