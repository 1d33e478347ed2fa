package slo

import (
	"slices"
	"strings"
	"testing"
)

// depDoc is a slod/v1 document of one service with one SLO, whose extra
// lines (depends_on, alerting) go at document or SLO level.
func depDoc(service, docExtra, sloExtra string) string {
	return `version: slod/v1
service: ` + service + `
` + docExtra + `
slos:
  - name: availability
    objective: 99.9
    annotations:
      runbook: https://runbooks.example.com/` + service + `
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="` + service + `",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="` + service + `"}[{{.window}}]))
` + sloExtra + `
`
}

func loadDocs(t *testing.T, docs ...string) (*Set, []Diagnostic) {
	t.Helper()
	set, diags := LoadBytes("deps.yaml", []byte(strings.Join(docs, "---\n")))
	return set, append(diags, Validate(set)...)
}

func rulesOf(diags []Diagnostic) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Rule)
	}
	return out
}

func TestDependsOnIsRead(t *testing.T) {
	set, diags := loadDocs(t,
		depDoc("payments", "", ""),
		depDoc("postgres-main", "", ""),
		depDoc("checkout", "depends_on: [payments, {service: postgres-main, policy: annotate}]", ""),
		depDoc("gateway", "depends_on: [payments]", "    depends_on:\n      - slo: checkout-availability\n"),
	)
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	byID := map[string]*Spec{}
	for _, s := range set.SLOs {
		byID[s.ID] = s
	}
	co := byID["checkout-availability"].DependsOn
	if len(co) != 2 || co[0].Service != "payments" || co[0].Policy != "" || co[1].Service != "postgres-main" || co[1].Policy != PolicyAnnotate {
		t.Fatalf("checkout depends_on = %+v", co)
	}
	if co[0].Pos.Line == 0 {
		t.Errorf("dependency has no position")
	}
	gw := byID["gateway-availability"].DependsOn
	if len(gw) != 1 || gw[0].SLO != "checkout-availability" {
		t.Fatalf("the SLO's own depends_on must replace the service's, got %+v", gw)
	}
	g := NewGraph(set.SLOs, "")
	if got, want := g.Order(), []string{"payments-availability", "postgres-main-availability", "checkout-availability", "gateway-availability"}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want roots first %v", got, want)
	}
	var walk []string
	g.Transitive("gateway-availability", func(up string, p DependencyPolicy) bool {
		walk = append(walk, up+":"+string(p))
		return true
	})
	if want := []string{"checkout-availability:suppress", "payments-availability:suppress", "postgres-main-availability:annotate"}; !slices.Equal(walk, want) {
		t.Errorf("transitive walk = %v, want %v (the weakest policy on the path)", walk, want)
	}
}

func TestDependsOnRejectsBadEntries(t *testing.T) {
	for _, c := range []struct{ name, extra, want string }{
		{"a policy that does not exist is an error", "depends_on: [{service: payments, policy: mute}]", "dependency policy must be suppress, annotate or off"},
		{"both service and slo is an error", "depends_on: [{service: payments, slo: payments-availability}]", "set exactly one of service or slo"},
		{"an unknown key is an error", "depends_on: [{service: payments, equal: [x]}]", "equal"},
		{"a mapping instead of a list is an error", "depends_on: {service: payments}", "expected a list of services"},
		{"an empty name is an error", `depends_on: [""]`, "expected a service name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadDocs(t, depDoc("payments", "", ""), depDoc("checkout", c.extra, ""))
			found := false
			for _, d := range diags {
				if d.Severity == SeverityError && strings.Contains(d.Message, c.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want an error containing %q, got %v", c.want, diags)
			}
		})
	}
}

func TestDependencyLint(t *testing.T) {
	for _, c := range []struct {
		name string
		docs []string
		rule string
		sev  Severity
		msg  string
	}{
		{"an unknown service is a warning", []string{depDoc("checkout", "depends_on: [paymnts]", "")},
			RuleDependencyUnknown, SeverityWarning, `depends_on service paymnts: no loaded SLO belongs to this service`},
		{"an unknown SLO is a warning", []string{depDoc("payments", "", ""), depDoc("checkout", "depends_on: [{slo: payments-latency}]", "")},
			RuleDependencyUnknown, SeverityWarning, `depends_on slo payments-latency: no loaded SLO has this id`},
		{"a cycle is an error that prints the cycle", []string{
			depDoc("a", "depends_on: [b]", ""), depDoc("b", "depends_on: [c]", ""), depDoc("c", "depends_on: [a]", "")},
			RuleDependencyCycle, SeverityError, "a-availability → b-availability → c-availability → a-availability"},
		{"depending on one's own service is an error", []string{depDoc("checkout", "depends_on: [checkout]", "")},
			RuleDependencyCycle, SeverityError, "cannot depend on itself"},
		{"a service without a paging SLO is a warning", []string{
			depDoc("payments", "", "    alerting:\n      page: {disable: true}\n"), depDoc("checkout", "depends_on: [payments]", "")},
			RuleDependencyNoPage, SeverityWarning, "can never be the cause of a page"},
		{"a service whose policy has no page row is a warning", []string{
			"version: slod/v1\nkind: Policy\nname: tickets\nrows:\n  - {severity: ticket, long: 3d, short: 6h, budget_percent: 10}\n",
			depDoc("payments", "", "    policy: tickets\n"), depDoc("checkout", "depends_on: [payments]", "")},
			RuleDependencyNoPage, SeverityWarning, "can never be the cause of a page"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := loadDocs(t, c.docs...)
			var hits []Diagnostic
			for _, d := range diags {
				if d.Rule == c.rule {
					hits = append(hits, d)
				}
			}
			if len(hits) != 1 {
				t.Fatalf("want one %s, got %v", c.rule, diags)
			}
			if hits[0].Severity != c.sev || !strings.Contains(hits[0].Message, c.msg) {
				t.Errorf("got %s, want a %s containing %q", hits[0], c.sev, c.msg)
			}
			if hits[0].Pos.Line < 2 {
				t.Errorf("diagnostic at %s, want the depends_on entry", hits[0].Pos)
			}
		})
	}
}

func TestGraphChainAndDiamond(t *testing.T) {
	spec := func(service string, deps ...string) *Spec {
		s := &Spec{ID: service + "-a", Name: "a", Service: service}
		for _, d := range deps {
			s.DependsOn = append(s.DependsOn, Dependency{Service: d})
		}
		return s
	}
	// gateway → checkout → payments; top → left, right → bottom.
	g := NewGraph([]*Spec{spec("gateway", "checkout"), spec("checkout", "payments"), spec("payments"),
		spec("top", "left", "right"), spec("left", "bottom"), spec("right", "bottom"), spec("bottom")}, PolicyAnnotate)
	order := g.Order()
	pos := func(id string) int { return slices.Index(order, id) }
	for _, e := range [][2]string{{"payments-a", "checkout-a"}, {"checkout-a", "gateway-a"}, {"bottom-a", "left-a"}, {"bottom-a", "right-a"}, {"left-a", "top-a"}, {"right-a", "top-a"}} {
		if pos(e[0]) > pos(e[1]) {
			t.Errorf("order %v puts %s after %s", order, e[0], e[1])
		}
	}
	if cs := g.Cycles(); len(cs) != 0 {
		t.Errorf("cycles in an acyclic graph: %v", cs)
	}
	var seen []string
	g.Transitive("top-a", func(up string, p DependencyPolicy) bool {
		if p != PolicyAnnotate {
			t.Errorf("policy %s, want the graph default annotate", p)
		}
		seen = append(seen, up)
		return true
	})
	if want := []string{"left-a", "right-a", "bottom-a"}; !slices.Equal(seen, want) {
		t.Errorf("diamond walk = %v, want each SLO once, nearest first: %v", seen, want)
	}
	off := NewGraph([]*Spec{spec("checkout", "payments"), spec("payments")}, PolicyOff)
	off.Transitive("checkout-a", func(string, DependencyPolicy) bool { t.Error("an off edge was followed"); return true })
}

func TestOpenSLOServiceDependsOn(t *testing.T) {
	const docs = `apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
  annotations:
    slod.dev/depends-on: "payments, slo:postgres-main-availability=annotate"
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 30d, isRolling: true}]
  indicator:
    metadata: {name: checkout-errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="checkout"}[{{.window}}]))'}}}
  objectives: [{target: 0.999}]
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-refunds
  annotations:
    slod_depends_on: "slo:payments-refunds=off"
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 30d, isRolling: true}]
  indicator:
    metadata: {name: checkout-refund-errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(refunds_total{code=~"5.."}[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(refunds_total[{{.window}}]))'}}}
  objectives: [{target: 0.999}]
`
	set, diags := LoadBytes("openslo.yaml", []byte(docs))
	if HasErrors(diags) || len(set.SLOs) != 2 {
		t.Fatalf("%d SLOs, diagnostics %v", len(set.SLOs), diags)
	}
	byID := map[string]*Spec{}
	for _, s := range set.SLOs {
		byID[s.ID] = s
	}
	if got := FormatDependsOn(byID["checkout-availability"].DependsOn); got != "payments, slo:postgres-main-availability=annotate" {
		t.Errorf("the Service's depends_on: %q", got)
	}
	if got := FormatDependsOn(byID["checkout-refunds"].DependsOn); got != "slo:payments-refunds=off" {
		t.Errorf("the SLO's own annotation must replace the Service's: %q", got)
	}
	if _, err := ParseDependsOn("payments=mute", Position{}); err == nil {
		t.Error("a bad policy in the annotation parses")
	}
}
