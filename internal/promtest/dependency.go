package promtest

import (
	"fmt"
	"time"
)

// Scenario names of DependencyScenarios: the error counters of two
// services, payments and checkout, where checkout depends on payments.
const (
	ScenarioPayments = "payments"
	ScenarioCheckout = "checkout"
)

// DependencyScenarios is the fixture of dependency correlation
// (docs/incidents.md): 1,000 requests a minute for 10h before end;
// payments fails every request from end − 8h for 30 minutes and checkout,
// which calls it, fails with it; from end − 4h checkout fails for 30
// minutes on its own. With DependencySLOs, the first failure is one page
// for payments listing checkout, the second a page for checkout.
func DependencyScenarios(end time.Time) SLOFixture {
	first := end.Add(-8 * time.Hour)
	second := end.Add(-4 * time.Hour)
	return SLOFixture{
		End: end, Length: 10 * time.Hour, RequestsPerMinute: 1000,
		Scenarios: map[string][]Burn{
			ScenarioPayments: {{From: first, To: first.Add(30 * time.Minute), ErrorsPerMinute: 1000}},
			ScenarioCheckout: {
				{From: first, To: first.Add(30 * time.Minute), ErrorsPerMinute: 1000},
				{From: second, To: second.Add(30 * time.Minute), ErrorsPerMinute: 1000},
			},
		},
	}
}

// DependencySLOs are the SLO files for DependencyScenarios: one 99.9%/30d
// availability SLO per service (ids payments-availability and
// checkout-availability), checkout depending on payments, under a
// page-only policy so each incident resolves within about an hour of its
// failure's end.
func (f SLOFixture) DependencySLOs() map[string]string {
	slo := func(service, deps string) string {
		return fmt.Sprintf(`version: slod/v1
service: %[1]s
%[2]sslos:
  - name: availability
    objective: 99.9
    window: 30d
    policy: pages
    annotations:
      runbook: https://runbooks.example.com/%[1]s
    sli:
      events:
        error_query: '%[3]s'
        total_query: '%[4]s'
`, service, deps, f.ErrorQuery(service), f.TotalQuery())
	}
	return map[string]string{
		"policy.yaml": `version: slod/v1
kind: Policy
name: pages
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2}
  - {severity: page, long: 6h, short: 30m, budget_percent: 5}
`,
		"payments.yaml": slo(ScenarioPayments, ""),
		"checkout.yaml": slo(ScenarioCheckout, "depends_on: [payments]\n"),
	}
}
