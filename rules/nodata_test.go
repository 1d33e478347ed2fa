package rules

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// noDataOf returns the no-data alert rules of spec by state.
func noDataOf(t *testing.T, spec *slo.Spec, opts Options) map[string]Rule {
	t.Helper()
	f, err := Generate([]*slo.Spec{spec}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Rule{}
	for _, r := range f.Groups[0].Rules {
		if r.Alert == "" || r.Labels[burnrate.NoDataStateLabel] == "" {
			continue
		}
		if r.Alert != burnrate.AlertName(spec, burnrate.ClassNoData) {
			t.Errorf("no-data alert named %s, want %s", r.Alert, burnrate.AlertName(spec, burnrate.ClassNoData))
		}
		state := r.Labels[burnrate.NoDataStateLabel]
		if _, dup := out[state]; dup {
			t.Errorf("two %s rules", state)
		}
		out[state] = r
	}
	return out
}

func states(m map[string]Rule) []string { return slices.Sorted(maps.Keys(m)) }

func TestNoDataAlerts(t *testing.T) {
	t.Run("by default only broken, after the daemon's delay", func(t *testing.T) {
		nd := noDataOf(t, availability(99.9), Options{})
		if got := states(nd); !slices.Equal(got, []string{"broken"}) {
			t.Fatalf("states %v, want [broken]", got)
		}
		if nd["broken"].For != slo.FormatDuration(burnrate.DefaultNoDataAfter) || DefaultNoData != burnrate.DefaultNoDataAfter {
			t.Errorf("for %s, want the daemon's %s", nd["broken"].For, burnrate.DefaultNoDataAfter)
		}
	})
	t.Run("alerting.no_data wins over Options.NoData, which wins over the default", func(t *testing.T) {
		spec := availability(99.9)
		if got := noDataOf(t, spec, Options{NoData: 20 * time.Minute})["broken"].For; got != "20m" {
			t.Errorf("for %s, want 20m", got)
		}
		spec.Alerting.NoData = 30 * time.Minute
		if got := noDataOf(t, spec, Options{NoData: 20 * time.Minute})["broken"].For; got != "30m" {
			t.Errorf("for %s, want 30m", got)
		}
	})
	t.Run("idle and collapsed only when configured", func(t *testing.T) {
		spec := availability(99.9)
		spec.Alerting.Idle = slo.IdleAlert
		if got := states(noDataOf(t, spec, Options{})); !slices.Equal(got, []string{"broken", "idle"}) {
			t.Errorf("with idle: alert, states %v", got)
		}
		spec.Alerting.Collapse = &slo.Collapse{BelowPercent: 10}
		nd := noDataOf(t, spec, Options{})
		if got := states(nd); !slices.Equal(got, []string{"broken", "collapsed", "idle"}) {
			t.Errorf("with collapse too, states %v", got)
		}
		if !strings.Contains(nd["idle"].Expr, "unless") {
			t.Errorf("idle does not give way to collapsed: %s", nd["idle"].Expr)
		}
	})
	t.Run("both classes disabled: no no-data alert, as in the daemon", func(t *testing.T) {
		spec := availability(99.9)
		spec.Alerting.Idle = slo.IdleAlert
		spec.Alerting.Page.Disabled, spec.Alerting.Ticket.Disabled = true, true
		if nd := noDataOf(t, spec, Options{}); len(nd) != 0 {
			t.Errorf("states %v, want none", states(nd))
		}
	})
	t.Run("tickets disabled: the no-data alert pages with the page class's labels", func(t *testing.T) {
		spec := availability(99.9)
		spec.Alerting.Ticket.Disabled = true
		spec.Alerting.Page.Labels = map[string]string{"routing": "pager"}
		l := noDataOf(t, spec, Options{})["broken"].Labels
		if l["severity"] != "page" || l["tier"] != "1" || l["routing"] != "pager" {
			t.Errorf("labels %v", l)
		}
	})
	t.Run("the no-data alert has its own summary, not the burn's", func(t *testing.T) {
		spec := availability(99.9)
		spec.Annotations = map[string]string{"summary": "Checkout API is failing requests", "runbook": "https://runbooks.example.com/x"}
		spec.Alerting.Annotations = map[string]string{"description": "burning"}
		spec.Alerting.Name = "CheckoutAvailability"
		a := noDataOf(t, spec, Options{})["broken"].Annotations
		if strings.Contains(a["summary"], "failing") || a["description"] == "burning" || !strings.Contains(a["summary"], "broken") {
			t.Errorf("annotations %v", a)
		}
		if a["runbook"] != "https://runbooks.example.com/x" {
			t.Errorf("the runbook is lost: %v", a)
		}
	})
	t.Run("a latency SLI's broken state reads the exact bucket", func(t *testing.T) {
		spec := &slo.Spec{ID: "api-latency", Service: "api", Objective: 99, Window: 30 * day,
			SLI: slo.SLI{Latency: &slo.LatencySLI{Metric: "h", Selector: `job="api"`, Threshold: 0.25}}}
		e := noDataOf(t, spec, Options{})["broken"].Expr
		for _, want := range []string{`absent(h_count{job="api"})`, `absent(h_bucket{job="api",le="0.25"})`} {
			if !strings.Contains(e, want) {
				t.Errorf("broken expr lacks %s:\n%s", want, e)
			}
		}
	})
	t.Run("an events SLI's broken state does not read the error series", func(t *testing.T) {
		spec := availability(99.9)
		e := noDataOf(t, spec, Options{})["broken"].Expr
		if strings.Contains(e, "app_errors_total") || !strings.Contains(e, "absent(app_requests_total)") {
			t.Errorf("broken expr:\n%s", e)
		}
	})
	t.Run("a raw SLI has only broken, on its recorded ratio and its series", func(t *testing.T) {
		spec := fixtures()["raw"]
		spec.Policy = ""
		nd := noDataOf(t, spec, Options{})
		e := nd["broken"].Expr
		if got := states(nd); !slices.Equal(got, []string{"broken"}) ||
			!strings.Contains(e, `absent(slod:sli_error:ratio_rate5m{slo="batch-freshness"})`) || !strings.Contains(e, `absent(batch_stale{job="batch"})`) {
			t.Errorf("states %v, broken expr:\n%s", states(nd), e)
		}
	})
}

// The rules label their alerts with burnrate.AlertLabels, as the daemon
// labels its pages.
func TestAlertLabelsComeFromBurnrate(t *testing.T) {
	for name, spec := range fixtures() {
		f, _ := generateFixture(t, name)
		for _, r := range f.Groups[0].Rules {
			if r.Alert == "" {
				continue
			}
			sev := burnrate.Severity(r.Labels["severity"])
			if sev != burnrate.SeverityPage && sev != burnrate.SeverityTicket {
				sev = burnrate.SeverityTicket // Sloth's own severity names
				if r.Labels["tier"] == "1" {
					sev = burnrate.SeverityPage
				}
			}
			want := burnrate.AlertLabels(spec, sev)
			if state := r.Labels[burnrate.NoDataStateLabel]; state != "" {
				want = burnrate.NoDataLabels(spec, sev, slo.NoDataState(state))
			}
			if !maps.Equal(r.Labels, want) {
				t.Errorf("%s: %s labels %v, want %v", name, r.Alert, r.Labels, want)
			}
		}
	}
}

func TestLiteralRendersAsItselfInPrometheusTemplates(t *testing.T) {
	for _, s := range []string{"", "plain", "{{ $labels.route }}", "{{", "}}", "}} {{", "{{{", "{{{{", "a{{b}}c{{", `{{ "{{" }}`, "{{-", "-}}", "{{/* x */}}"} {
		exp := template.NewTemplateExpander(context.Background(), "{{$value := .Value}}"+literal(s), "t",
			template.AlertTemplateData(nil, nil, "", promql.Sample{}), 0, nil, nil, nil)
		got, err := exp.Expand()
		if err != nil || got != s {
			t.Errorf("literal(%q) = %q expands to %q, %v", s, literal(s), got, err)
		}
	}
}

// User text holding {{ }} (label values, annotations, a selector in the
// broken alert's description) stays literal: promtool accepts the file and
// the firing alert carries the text as written.
func TestUserTemplatesStayLiteral(t *testing.T) {
	bin := promtool(t)
	spec := availability(99.9)
	spec.Labels = map[string]string{"team": "{{ .Team }}"}
	spec.Alerting.Labels = map[string]string{"note": "}} {{ $value"}
	spec.Annotations = map[string]string{"runbook": "https://wiki/{{page}}"}
	spec.SLI.Events.TotalQuery = `sum(rate(app_requests_total{tmpl!="{{x}}"}[{{.window}}]))`
	f, err := Generate([]*slo.Spec{spec}, nil, Options{})
	if err != nil {
		t.Fatal(err)
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
	if out, err := exec.Command(bin, "check", "rules", rulesPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// No series at all: the broken alert fires after the delay, with the
	// literal labels and annotations.
	want := merge(noDataLabels(spec, slo.NoDataBroken), spec.Alerting.Labels)
	if want["team"] != "{{ .Team }}" || want["note"] != "}} {{ $value" {
		t.Fatalf("expected labels %v", want)
	}
	var broken Rule
	for _, r := range f.Groups[0].Rules {
		if r.Labels[burnrate.NoDataStateLabel] == "broken" {
			broken = r
		}
	}
	test := `rule_files: [` + rulesPath + `]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'unrelated{job="x"}'
        values: '0+1x60'
    alert_rule_test:
      - eval_time: 20m
        alertname: SLONoData
        exp_alerts:
          - exp_labels: ` + flowMap(want) + `
            exp_annotations: ` + flowMap(map[string]string{
		"summary":     "SLO shop-availability of shop is broken: its SLI reads no data",
		"description": strings.ReplaceAll(broken.Annotations["description"], `{{ "{{" }}`, "{{"),
		"runbook":     "https://wiki/{{page}}",
	}) + "\n"
	if !strings.Contains(test, `tmpl!=\"{{x}}\"`) {
		t.Fatalf("the description should quote the selector as written: %s", broken.Annotations["description"])
	}
	testPath := filepath.Join(dir, "test.yml")
	if err := os.WriteFile(testPath, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "test", "rules", testPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, test)
	}
}

// flowMap writes m as a YAML flow mapping of double-quoted strings.
func flowMap(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, scalarQ(k)+": "+scalarQ(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func scalarQ(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// FuzzLiteral: whatever a user writes, Prometheus renders literal(s) as s.
func FuzzLiteral(f *testing.F) {
	for _, s := range []string{"", "{{", "}}", "{{ $value }}", "{{{", `{{ "{{" }}`, "{{-", "{{/*", "a{{b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		exp := template.NewTemplateExpander(context.Background(), "{{$value := .Value}}"+literal(s), "t",
			template.AlertTemplateData(nil, nil, "", promql.Sample{}), 0, nil, nil, nil)
		got, err := exp.Expand()
		if err != nil || got != s {
			t.Fatalf("literal(%q) = %q expands to %q, %v", s, literal(s), got, err)
		}
	})
}
