package slo

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// slothCorpus loads testdata/sloth and returns its SLOs by id and every
// diagnostic; the corpus must load without errors.
func slothCorpus(t *testing.T) (map[string]*Spec, []Diagnostic) {
	t.Helper()
	set, diags := Check("testdata/sloth")
	if HasErrors(diags) {
		t.Fatalf("corpus has errors: %v", diags)
	}
	byID := map[string]*Spec{}
	for _, s := range set.SLOs {
		byID[s.ID] = s
	}
	if len(byID) != 6 || len(set.Policies) != 2 {
		t.Fatalf("%d SLOs, %d policies; want 6 and 2", len(byID), len(set.Policies))
	}
	return byID, diags
}

func TestSlothCorpusYieldsTheModelItsSpecDescribes(t *testing.T) {
	slos, _ := slothCorpus(t)
	for id, s := range slos {
		if s.Format != FormatSloth || s.Window != DefaultWindow {
			t.Errorf("%s: format %q window %v; want %q and the 30d default", id, s.Format, s.Window, FormatSloth)
		}
	}

	t.Run("a prometheus/v1 SLO with group and own plugins, for and a policy annotation", func(t *testing.T) {
		s := slos["checkout-requests-availability"]
		want := &Spec{
			ID: "checkout-requests-availability", Name: "requests-availability", Service: "checkout",
			Description: "Checkout requests that do not fail with a server error.",
			Objective:   99.9, Window: DefaultWindow, Format: FormatSloth,
			Policy:       "fast-only",
			RuleInterval: 30 * time.Second, // rule_intervals: the shorter of default 1m and alert 30s
			SLI: SLI{Events: &EventsSLI{
				ErrorQuery: `sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))`,
				TotalQuery: `sum(rate(http_requests_total{job="checkout"}[{{.window}}]))`,
			}},
			Labels:      map[string]string{"team": "payments"},
			Annotations: map[string]string{"owner": "payments-oncall", "tier_name": "gold"}, // info_labels
			Alerting: Alerting{
				Name:        "CheckoutAvailabilityBurn",
				Labels:      map[string]string{"category": "availability"},
				Annotations: map[string]string{"runbook": "https://runbooks.example.com/checkout/availability"},
				Page:        AlertClass{For: 5 * time.Minute, Labels: map[string]string{"routing": "payments-pager"}},
				Ticket:      AlertClass{For: 30 * time.Minute, Labels: map[string]string{"routing": "payments-tickets"}},
			},
		}
		got := *s
		got.Pos, got.FieldPos = Position{}, nil
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("model:\n got %+v\nwant %+v", &got, want)
		}
		if p := s.PosOf("policy"); p.Line != 44 || p.Column != 22 {
			t.Errorf("policy at %s, want the slod_policy annotation at 44:22", p)
		}
		if p := s.PosOf("alerting.page.for"); p.Line != 46 {
			t.Errorf("page for at %s, want line 46", p)
		}
	})

	t.Run("overridePrevious without alert_rules disables both classes, as Sloth generates no alerts", func(t *testing.T) {
		s := slos["checkout-requests-latency"]
		if !s.Alerting.Page.Disabled || !s.Alerting.Ticket.Disabled {
			t.Errorf("page disabled %v, ticket disabled %v; want both", s.Alerting.Page.Disabled, s.Alerting.Ticket.Disabled)
		}
		// The SLO's override drops the group's plugins: its own interval, no info labels.
		if s.RuleInterval != 2*time.Minute || s.Annotations != nil {
			t.Errorf("interval %v annotations %v; want 2m and none", s.RuleInterval, s.Annotations)
		}
		if s.SLI.Raw == nil || !strings.HasPrefix(s.SLI.Raw.ErrorRatioQuery, "1 - (") || s.Objective != 99 {
			t.Errorf("sli %+v objective %v", s.SLI, s.Objective)
		}
	})

	t.Run("objective 90 loads as written", func(t *testing.T) {
		s := slos["batch-jobs-success"]
		if s.Objective != 90 || s.Policy != "" || s.Alerting.Name != "BatchJobsBurn" {
			t.Errorf("objective %v policy %q alert %q", s.Objective, s.Policy, s.Alerting.Name)
		}
	})

	t.Run("a PrometheusServiceLevel with camelCase keys, metadata policy and status", func(t *testing.T) {
		s := slos["search-query-availability"]
		want := &Spec{
			ID: "search-query-availability", Name: "query-availability", Service: "search",
			Description: "Search queries answered without a server error.",
			Objective:   99.5, Window: DefaultWindow, Format: FormatSloth,
			Policy: "gentle", // metadata.annotations slod.dev/policy
			SLI: SLI{Events: &EventsSLI{
				ErrorQuery: `sum(rate(search_queries_total{code=~"5.."}[{{.window}}]))`,
				TotalQuery: `sum(rate(search_queries_total[{{.window}}]))`,
			}},
			Labels: map[string]string{"team": "discovery", "component": "api"},
			Alerting: Alerting{
				Name:        "SearchAvailabilityBurn",
				Labels:      map[string]string{"category": "availability"},
				Annotations: map[string]string{"runbook": "https://runbooks.example.com/search/availability"},
				Page:        AlertClass{For: 2 * time.Minute, Labels: map[string]string{"severity": "critical"}},
				Ticket:      AlertClass{Labels: map[string]string{"severity": "warning"}},
			},
		}
		got := *s
		got.Pos, got.FieldPos = Position{}, nil
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("model:\n got %+v\nwant %+v", &got, want)
		}
		if p := s.PosOf("sli.events.error_query"); p.Line != 34 {
			t.Errorf("errorQuery at %s, want line 34 (positions use the native field names)", p)
		}
	})

	t.Run("an SLO's slod_policy wins over the manifest's, and its raw SLI and plugins load", func(t *testing.T) {
		s := slos["search-index-freshness"]
		if s.Policy != "default" || s.RuleInterval != 5*time.Minute || !s.Alerting.Ticket.Disabled || s.Alerting.Page.Disabled {
			t.Errorf("policy %q interval %v ticket disabled %v page disabled %v", s.Policy, s.RuleInterval, s.Alerting.Ticket.Disabled, s.Alerting.Page.Disabled)
		}
		if s.SLI.Raw == nil || s.SLI.Raw.ErrorRatioQuery != "max(avg_over_time(search_index_stale_ratio[{{.window}}]))" {
			t.Errorf("raw SLI %+v", s.SLI.Raw)
		}
		if _, left := s.Alerting.Annotations[SlothPolicyAnnotation]; left {
			t.Errorf("the policy annotation stays among the alert annotations: %v", s.Alerting.Annotations)
		}
	})

	t.Run("the second manifest of the file loads with no metadata annotations", func(t *testing.T) {
		s := slos["images-resize-availability"]
		if s.Policy != "" || s.Objective != 99.9 || s.Labels != nil || s.SLI.Events == nil {
			t.Errorf("policy %q objective %v labels %v sli %+v", s.Policy, s.Objective, s.Labels, s.SLI)
		}
	})
}

func TestSlothPluginsWarnByRuleAndMessage(t *testing.T) {
	_, diags := slothCorpus(t)
	want := []struct {
		file       string
		line       int
		rule, text string
	}{
		{"k8s.yaml", 22, RuleUnsupported, "Sloth plugin sloth.dev/contrib/remove_labels/v1 is ignored: slod keeps the SLO's labels on every series it records"},
		{"k8s.yaml", 43, RuleUnsupported, "pageAlert: for 2m applies to the generated rules only"},
		{"plugins.yaml", 17, RuleUnsupported, "it uses the shorter interval, 30s (sliError 1m, alert 30s)"},
		{"plugins.yaml", 26, RuleUnsupported, "Sloth plugin sloth.dev/contrib/error_budget_exhausted_alert/v1 is ignored: slod raises no alert when the error budget is exhausted"},
		{"plugins.yaml", 31, RuleUnsupported, "Sloth plugin example.com/sloth-plugins/team-routing/v1 is ignored: slod does not run Sloth plugins"},
		{"plugins.yaml", 46, RuleUnsupported, "page_alert: for 5m applies to the generated rules only"},
		{"plugins.yaml", 50, RuleUnsupported, "ticket_alert: for 30m applies to the generated rules only"},
		{"plugins.yaml", 57, RuleUnsupported, "without sloth.dev/core/alert_rules/v1, so Sloth generates no alerts for this SLO: slod disables its page and ticket alerts too"},
	}
	if len(diags) != len(want) {
		t.Errorf("%d diagnostics, want %d: %v", len(diags), len(want), diags)
	}
	for _, w := range want {
		found := false
		for _, d := range diags {
			if strings.HasSuffix(d.Pos.File, "/"+w.file) && d.Pos.Line == w.line && d.Rule == w.rule &&
				d.Severity == SeverityWarning && strings.Contains(d.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s warning at %s:%d containing %q", w.rule, w.file, w.line, w.text)
		}
	}
}

func TestSlothPluginConfigs(t *testing.T) {
	const head = "version: prometheus/v1\nservice: s\n"
	const slo = `slos:
  - name: n
    objective: 99
    sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}
`
	cases := []struct {
		name, yaml string
		check      func(t *testing.T, s *Spec, diags []Diagnostic)
	}{
		{"info labels that are not label names are dropped with a warning", head + `slo_plugins:
  chain:
    - id: sloth.dev/contrib/info_labels/v1
      config: {labels: {good_name: a, bad-name: b}, metricName: my_info}
` + slo, func(t *testing.T, s *Spec, diags []Diagnostic) {
			if !reflect.DeepEqual(s.Annotations, map[string]string{"good_name": "a"}) {
				t.Errorf("annotations %v", s.Annotations)
			}
			if len(diags) != 2 || diags[0].Rule != RuleName || !strings.Contains(diags[0].Message, `info label "bad-name" is dropped`) ||
				diags[1].Rule != RuleUnsupported || !strings.Contains(diags[1].Message, "metricName is ignored") {
				t.Errorf("diagnostics %v", diags)
			}
		}},
		{"a later plugin by priority wins, and the SLO's chain follows the group's", head + `slo_plugins:
  chain:
    - {id: sloth.dev/contrib/rule_intervals/v1, priority: 50, config: {interval: {default: 3m}}}
    - {id: sloth.dev/contrib/rule_intervals/v1, priority: -5, config: {interval: {default: 1m}}}
` + slo + `    plugins:
      chain:
        - {id: sloth.dev/contrib/rule_intervals/v1, priority: 10, config: {interval: {default: 2m}}}
`, func(t *testing.T, s *Spec, diags []Diagnostic) {
			if s.RuleInterval != 3*time.Minute || len(diags) != 0 {
				t.Errorf("interval %v (want 3m, priority 50 runs last), diagnostics %v", s.RuleInterval, diags)
			}
		}},
		{"overridePrevious that keeps alert_rules keeps the alerts", head + slo + `    plugins:
      overridePrevious: true
      chain: [{id: sloth.dev/core/alert_rules/v1}, {id: sloth.dev/core/sli_rules/v1}, {id: sloth.dev/core/debug/v1, config: {msg: hi}}]
`, func(t *testing.T, s *Spec, diags []Diagnostic) {
			if s.Alerting.Page.Disabled || s.Alerting.Ticket.Disabled || len(diags) != 0 {
				t.Errorf("alerting %+v diagnostics %v", s.Alerting, diags)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("p.yaml", []byte(c.yaml))
			if HasErrors(diags) || len(set.SLOs) != 1 {
				t.Fatalf("%d SLOs, diagnostics %v", len(set.SLOs), diags)
			}
			c.check(t, set.SLOs[0], diags)
		})
	}
}

func TestSlothErrorsAtTheirPosition(t *testing.T) {
	const k8s = `apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: x}
spec:
  service: s
  slos:
    - name: n
      objective: 99
      sli:
        events:
          errorQuery: sum(rate(e[{{.window}}]))
          totalQuery: sum(rate(t[{{.window}}]))
`
	cases := []struct {
		name, yaml string
		line, col  int
		rule, text string
	}{
		{"a key inside a PrometheusServiceLevel pageAlert", k8s + `      alerting:
        pageAlert: {labels: {}, annotation: {}}
`, 14, 33, RuleUnknownField, `unknown field "annotation"`},
		{"a snake_case key in a PrometheusServiceLevel", k8s + `      alerting:
        page_alert: {disable: true}
`, 14, 9, RuleUnknownField, `unknown field "page_alert": PrometheusServiceLevel spec spells it "pageAlert"`},
		{"a snake_case query key in a PrometheusServiceLevel", strings.Replace(k8s, "errorQuery", "error_query", 1), 11, 11, RuleUnknownField, `spells it "errorQuery"`},
		{"a camelCase key in a prometheus/v1 file", `version: prometheus/v1
service: s
sloPlugins: {chain: []}
slos:
  - {name: n, objective: 99, sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}}
`, 3, 1, RuleUnknownField, `unknown field "sloPlugins": prometheus/v1 spells it "slo_plugins"`},
		{"an unknown key of the manifest's spec", strings.Replace(k8s, "  service: s\n", "  service: s\n  window: 28d\n", 1), 6, 3, RuleUnknownField, `unknown field "window"`},
		{"an unknown key of the manifest's metadata", strings.Replace(k8s, "metadata: {name: x}", "metadata: {name: x, nmespace: y}", 1), 3, 21, RuleUnknownField, `unknown field "nmespace"`},
		{"a key of a plugin in the chain", `version: prometheus/v1
service: s
slo_plugins:
  chain:
    - {id: sloth.dev/core/debug/v1, prio: 3}
slos:
  - {name: n, objective: 99, sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}}
`, 5, 37, RuleUnknownField, `unknown field "prio"`},
		{"a key in rule_intervals config", `version: prometheus/v1
service: s
slo_plugins:
  chain:
    - id: sloth.dev/contrib/rule_intervals/v1
      config: {interval: {default: 1m, sli: 2m}}
slos:
  - {name: n, objective: 99, sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}}
`, 6, 40, RuleUnknownField, `unknown field "sli"`},
		{"a plugin without id", `version: prometheus/v1
service: s
slos:
  - name: n
    objective: 99
    plugins: {chain: [{priority: 3}]}
    sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}
`, 6, 23, RuleInvalidField, `missing required field "id"`},
		{"an SLI plugin in a PrometheusServiceLevel", strings.Replace(k8s, "        events:\n          errorQuery: sum(rate(e[{{.window}}]))\n          totalQuery: sum(rate(t[{{.window}}]))\n",
			"        plugin: {id: sloth-common/availability, options: {job: x}}\n", 1), 10, 9, RuleUnsupported, "Sloth SLI plugins are not supported"},
		{"a for that is not a duration", `version: prometheus/v1
service: s
slos:
  - name: n
    objective: 99
    sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}
    alerting: {page_alert: {for: soon}}
`, 7, 34, RuleInvalidField, `invalid duration "soon"`},
		{"Sloth's AlertWindows without its page windows", `apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec: {sloPeriod: 30d, ticket: {}}
`, 3, 1, RuleInvalidField, `missing required field "page"`},
		{"Sloth's AlertWindows with a budget share of 0", `apiVersion: sloth.slok.dev/v1
kind: AlertWindows
spec:
  sloPeriod: 7d
  page:
    quick: {errorBudgetPercent: 0, shortWindow: 5m, longWindow: 1h}
    slow: {errorBudgetPercent: 12.5, shortWindow: 30m, longWindow: 6h}
  ticket:
    quick: {errorBudgetPercent: 20, shortWindow: 2h, longWindow: 1d}
    slow: {errorBudgetPercent: 42, shortWindow: 6h, longWindow: 3d}
`, 6, 33, RuleInvalidField, "errorBudgetPercent must be in (0, 100]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("s.yaml", []byte(c.yaml))
			if len(set.SLOs) != 0 {
				t.Errorf("%d SLOs loaded from a bad document", len(set.SLOs))
			}
			for _, d := range diags {
				if d.Severity == SeverityError && d.Pos.Line == c.line && d.Pos.Column == c.col && d.Rule == c.rule && strings.Contains(d.Message, c.text) {
					return
				}
			}
			t.Errorf("no %s error at %d:%d containing %q in %v", c.rule, c.line, c.col, c.text, diags)
		})
	}
}

// TestSlothAlertWindowsBecomeAPolicy: an AlertWindows manifest (Sloth's
// --slo-period-windows-path) is the policy sloth-<period> with its four
// window pairs as rows, and the Sloth SLOs of that period that name no
// policy use it, as sloth generate would; others keep theirs.
func TestSlothAlertWindowsBecomeAPolicy(t *testing.T) {
	set, diags := LoadBytes("w.yaml", []byte(`apiVersion: sloth.slok.dev/v1
kind: AlertWindows
metadata: {name: thirty-days}
spec:
  sloPeriod: 30d
  page:
    quick: {errorBudgetPercent: 1, shortWindow: 5m, longWindow: 1h}
    slow: {errorBudgetPercent: 4, shortWindow: 30m, longWindow: 6h}
  ticket:
    quick: {errorBudgetPercent: 10, shortWindow: 2h, longWindow: 1d}
    slow: {errorBudgetPercent: 10, shortWindow: 6h, longWindow: 3d}
---
version: prometheus/v1
service: shop
slos:
  - name: plain
    objective: 99.9
    sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}
  - name: chosen
    objective: 99.9
    sli: {raw: {error_ratio_query: "max(x[{{.window}}])"}}
    alerting:
      annotations: {slod_policy: strict}
`))
	if HasErrors(diags) {
		t.Fatal(diags)
	}
	if len(set.Policies) != 1 {
		t.Fatalf("%d policies, want the AlertWindows one", len(set.Policies))
	}
	p := set.Policies[0]
	want := []PolicyRowSpec{
		{Severity: "page", Long: time.Hour, Short: 5 * time.Minute, BudgetPercent: 1},
		{Severity: "page", Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetPercent: 4},
		{Severity: "ticket", Long: 24 * time.Hour, Short: 2 * time.Hour, BudgetPercent: 10},
		{Severity: "ticket", Long: 72 * time.Hour, Short: 6 * time.Hour, BudgetPercent: 10},
	}
	if p.Name != "sloth-30d" || len(p.Rows) != len(want) {
		t.Fatalf("policy %q with %d rows, want sloth-30d with 4", p.Name, len(p.Rows))
	}
	for i, r := range p.Rows {
		r.Pos = Position{}
		if r != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, r, want[i])
		}
	}
	policies := map[string]string{}
	for _, s := range set.SLOs {
		policies[s.Name] = s.Policy
	}
	if policies["plain"] != "sloth-30d" || policies["chosen"] != "strict" {
		t.Errorf("policies %v: want plain on sloth-30d, chosen on its own", policies)
	}
}
