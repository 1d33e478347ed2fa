package rules

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The Pyrra corpus of the slo package: every indicator kind (ratio,
// latency, latencyNative, bool_gauge), grouping and alerting option yields
// rules that promtool accepts.
func TestPyrraCorpusRulesPassPromtoolCheck(t *testing.T) {
	bin := promtool(t)
	set, diags := slo.Check("../slo/testdata/pyrra")
	if slo.HasErrors(diags) {
		t.Fatalf("corpus does not load: %v", diags)
	}
	kinds := map[slo.SLIKind]bool{}
	for _, s := range set.SLOs {
		kinds[s.SLI.Kind()] = true
	}
	if len(set.SLOs) < 8 || len(kinds) != 3 {
		t.Fatalf("corpus holds %d SLOs of kinds %v", len(set.SLOs), kinds)
	}
	f, err := Generate(set.SLOs, nil, Options{For: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pyrra.rules.yml")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// burnrates: false and absent: false: recording rules, no alert.
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && r.Labels["slo"] == "batch-batch-errors" {
				t.Errorf("batch-errors disables Pyrra's alerts but has %s", r.Alert)
			}
		}
	}
}

// A Pyrra ratio SLO grouped by route, read unchanged: with route /pay
// failing, the page fires for route="/pay" only, under Pyrra's alert name,
// with Pyrra's severity label and the labels Pyrra copies onto its alerts.
func TestScenarioPyrraGroupedRatioPagesPerRoute(t *testing.T) {
	t.Parallel()
	const doc = `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: availability
  namespace: shop
  labels:
    pyrra.dev/team: payments
spec:
  target: "99.9"
  window: 30d
  indicator:
    ratio:
      errors:
        metric: app_errors_total{job="shop"}
      total:
        metric: app_requests_total{job="shop"}
      grouping: [route]
`
	set, diags := slo.LoadBytes("pyrra.yaml", []byte(doc))
	if diags = append(diags, slo.Validate(set)...); slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("%v", diags)
	}
	spec := set.SLOs[0]
	step := 5 * time.Minute
	t0 := 3 * day
	bad := map[string]string{"route": "/pay", "job": "shop"}
	good := map[string]string{"route": "/browse", "job": "shop"}
	sc := scenario{
		spec: spec, step: step, end: t0 + 10*time.Minute,
		streams: []stream{
			{labels: good, rate: 5},
			{labels: bad, rate: 1, bursts: []burst{{from: t0, to: t0 + time.Hour, ratio: 1}}},
		},
	}
	pyrraSeverity := map[burnrate.Severity]string{burnrate.SeverityPage: "critical", burnrate.SeverityTicket: "warning"}
	for _, off := range []time.Duration{0, 5 * time.Minute, 10 * time.Minute} {
		c := check{at: t0 + off, alert: "ErrorBudgetBurn"}
		for _, sev := range firingSeverities(spec, 1, off) {
			c.want = append(c.want, merge(alertLabels(spec, sev, map[string]string{"route": "/pay"}),
				map[string]string{"severity": pyrraSeverity[sev]}))
		}
		sc.checks = append(sc.checks, c)
	}
	if w := sc.checks[1].want; len(w) == 0 || w[0]["severity"] != "critical" || w[0]["team"] != "payments" || w[0]["job"] != "shop" {
		t.Fatalf("formula predicts %v five minutes into the outage, want a critical page", w)
	}
	sc.never = []string{`count_over_time(ALERTS{alertname="ErrorBudgetBurn",route="/browse"}[` + secs(sc.end) + `])`}
	sc.run(t)
}

// A Pyrra bool_gauge SLO (a raw SLI over the share of 0 samples): the
// probe of instance a fails, b keeps succeeding; the page fires for a only.
func TestScenarioPyrraBoolGaugePagesForTheFailingProbe(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	const doc = `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: homepage-probe
  namespace: web
spec:
  target: "99"
  window: 7d
  indicator:
    bool_gauge:
      metric: probe_success{job="blackbox"}
      grouping: [instance]
`
	set, diags := slo.LoadBytes("pyrra.yaml", []byte(doc))
	if diags = append(diags, slo.Validate(set)...); slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("%v", diags)
	}
	spec := set.SLOs[0]
	f, err := Generate(set.SLOs, nil, Options{})
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
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// One sample a minute: 2h of success, then instance a fails for 30m.
	// The 1h page row's threshold is 2% × 7d / 1h × 1% = 3.36% bad samples
	// in both 1h and 5m: reached after 3 bad minutes of the hour.
	// The ticket rows' thresholds are lower still: a ticket fires too.
	a := map[string]string{"instance": "a"}
	page := merge(alertLabels(spec, burnrate.SeverityPage, a), map[string]string{"severity": "critical"})
	ticket := merge(alertLabels(spec, burnrate.SeverityTicket, a), map[string]string{"severity": "warning"})
	test := `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'probe_success{job="blackbox",instance="a"}'
        values: '1x120 0x30'
      - series: 'probe_success{job="blackbox",instance="b"}'
        values: '1x150'
    alert_rule_test:
      - eval_time: 121m
        alertname: ErrorBudgetBurn
        exp_alerts: []
      - eval_time: 130m
        alertname: ErrorBudgetBurn
        exp_alerts:
          - exp_labels: ` + flowMap(page) + `
          - exp_labels: ` + flowMap(ticket) + `
`
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "test", "rules", "test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, buf.String())
	}
}

// A Pyrra SLO grouped by service and method, read unchanged: each series'
// own service label is the alert's (slod sets no service of its own), so
// the series of services a and b, which share a method, do not collide,
// and with service a failing the page fires for service="a" only.
func TestScenarioPyrraGroupedByServicePagesPerService(t *testing.T) {
	t.Parallel()
	const doc = `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: rpc-availability
  namespace: mesh
  labels:
    pyrra.dev/team: platform
spec:
  target: "99.9"
  window: 30d
  indicator:
    ratio:
      errors:
        metric: app_errors_total{job="mesh"}
      total:
        metric: app_requests_total{job="mesh"}
      grouping: [service, method]
`
	set, diags := slo.LoadBytes("pyrra.yaml", []byte(doc))
	if diags = append(diags, slo.Validate(set)...); slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("%v", diags)
	}
	spec := set.SLOs[0]
	if !spec.ServiceFromInstance() || spec.Service != "mesh" {
		t.Fatalf("service %q, from instance %v", spec.Service, spec.ServiceFromInstance())
	}
	step := 5 * time.Minute
	t0 := 3 * day
	bad := map[string]string{"service": "a", "method": "Get", "job": "mesh"}
	sc := scenario{
		spec: spec, step: step, end: t0 + 10*time.Minute,
		streams: []stream{
			{labels: map[string]string{"service": "b", "method": "Get", "job": "mesh"}, rate: 5},
			{labels: map[string]string{"service": "a", "method": "Put", "job": "mesh"}, rate: 5},
			{labels: bad, rate: 1, bursts: []burst{{from: t0, to: t0 + time.Hour, ratio: 1}}},
		},
	}
	pyrraSeverity := map[burnrate.Severity]string{burnrate.SeverityPage: "critical", burnrate.SeverityTicket: "warning"}
	for _, off := range []time.Duration{0, 5 * time.Minute, 10 * time.Minute} {
		c := check{at: t0 + off, alert: "ErrorBudgetBurn"}
		for _, sev := range firingSeverities(spec, 1, off) {
			c.want = append(c.want, merge(alertLabels(spec, sev, nil),
				map[string]string{"service": "a", "method": "Get", "severity": pyrraSeverity[sev]}))
		}
		sc.checks = append(sc.checks, c)
	}
	if w := sc.checks[1].want; len(w) == 0 || w[0]["severity"] != "critical" || w[0]["service"] != "a" || w[0]["team"] != "platform" {
		t.Fatalf("formula predicts %v five minutes into the outage, want a critical page for service a", w)
	}
	sc.never = []string{
		`count_over_time(ALERTS{alertname="ErrorBudgetBurn",service!="a"}[` + secs(sc.end) + `])`,
		`count_over_time(ALERTS{alertname="ErrorBudgetBurn",method!="Get"}[` + secs(sc.end) + `])`,
		// One recorded series per instance, none with the SLO's service.
		`count(slod:sli_error:ratio_rate5m{slo="mesh-rpc-availability"}) != 3`,
		`slod:sli_error:ratio_rate5m{service="mesh"}`,
	}
	sc.run(t)
}
