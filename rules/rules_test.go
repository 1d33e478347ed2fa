package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const day = 24 * time.Hour

// fixtures are the SLOs the golden files, promtool checks and scenarios use.
func fixtures() map[string]*slo.Spec {
	return map[string]*slo.Spec{
		"events": {
			ID: "checkout-availability", Name: "availability", Service: "checkout",
			Objective: 99.9, Window: 30 * day,
			SLI: slo.SLI{Events: &slo.EventsSLI{
				ErrorQuery: `sum(rate(app_errors_total{job="checkout"}[{{.window}}]))`,
				TotalQuery: `sum(rate(app_requests_total{job="checkout"}[{{.window}}]))`,
			}},
			Labels:      map[string]string{"team": "payments"},
			Annotations: map[string]string{"runbook": "https://runbooks.example.com/checkout"},
			Alerting:    slo.Alerting{Collapse: &slo.Collapse{BelowPercent: 10, Baseline: 7 * day, Periods: 1}},
		},
		"group-by": {
			ID: "api-route-availability", Name: "route-availability", Service: "api",
			Objective: 99.5, Window: 28 * day, GroupBy: []string{"route"},
			SLI: slo.SLI{Events: &slo.EventsSLI{
				ErrorQuery: `sum by (route) (rate(app_errors_total{job="api"}[{{.window}}]))`,
				TotalQuery: `sum by (route) (rate(app_requests_total{job="api"}[{{.window}}]))`,
			}},
			Alerting: slo.Alerting{Idle: slo.IdleAlert, Collapse: &slo.Collapse{BelowPercent: 20, Baseline: 7 * day, Periods: 3}},
		},
		"latency": {
			ID: "search-latency", Name: "latency", Service: "search",
			Objective: 99, Window: 7 * day, MinEvents: 100,
			SLI: slo.SLI{Latency: &slo.LatencySLI{
				Metric: "http_request_duration_seconds", Selector: `job="search"`, Threshold: 0.3,
			}},
			Alerting: slo.Alerting{NoData: 30 * time.Minute, Ticket: slo.AlertClass{Disabled: true}},
		},
		"raw": {
			ID: "batch-freshness", Name: "freshness", Service: "batch",
			Objective: 95, Window: 30 * day, Policy: "slow",
			SLI: slo.SLI{Raw: &slo.RawSLI{ErrorRatioQuery: `avg_over_time(batch_stale{job="batch"}[{{.window}}])`}},
		},
		"sloth": {
			ID: "myservice-requests-availability", Name: "requests-availability", Service: "myservice",
			Objective: 99.9, Window: 30 * day, Format: slo.FormatSloth,
			SLI: slo.SLI{Events: &slo.EventsSLI{
				ErrorQuery: `sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))`,
				TotalQuery: `sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))`,
			}},
			Labels: map[string]string{"owner": "myteam"},
			Alerting: slo.Alerting{
				Name:   "MyServiceHighErrorRate",
				Labels: map[string]string{"category": "availability"},
				Annotations: map[string]string{"summary": "High error rate on 'myservice' requests responses",
					"title": "{{$labels.sloth_service}} {{ $labels.sloth_slo }} burning; {{ .NotALabel }} stays text"},
				Page:   slo.AlertClass{Labels: map[string]string{"routing_key": "myteam", "severity": "pageteam"}},
				Ticket: slo.AlertClass{Labels: map[string]string{"severity": "slack"}},
			},
		},
	}
}

// policies holds the default policy and a custom one used by the raw fixture.
func policies() map[string]burnrate.Policy {
	return map[string]burnrate.Policy{
		"slow": {Name: "slow", Rows: []burnrate.Row{
			{Severity: burnrate.SeverityTicket, Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetShare: 0.05},
			{Severity: burnrate.SeverityTicket, Long: 3 * day, Short: 6 * time.Hour, BudgetShare: 0.1},
		}},
	}
}

func generateFixture(t testing.TB, name string) (*File, []byte) {
	t.Helper()
	f, err := Generate([]*slo.Spec{fixtures()[name]}, policies(), Options{Interval: time.Minute})
	if err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	return f, buf.Bytes()
}

func TestGoldenFiles(t *testing.T) {
	for name := range fixtures() {
		t.Run(name, func(t *testing.T) {
			_, got := generateFixture(t, name)
			path := filepath.Join("testdata", name+".rules.yml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./rules -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the generated rules; run go test ./rules -update and review the diff\ngot:\n%s", path, got)
			}
		})
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	var specs []*slo.Spec
	for _, s := range fixtures() { // map order varies between runs
		specs = append(specs, s)
	}
	var first []byte
	for i := range 5 {
		f, err := Generate(specs, policies(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := f.Encode(&buf, FormatPrometheusRule); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatal("two runs over the same SLOs gave different output")
		}
	}
}

func TestEveryExpressionParses(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for name := range fixtures() {
		f, _ := generateFixture(t, name)
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if _, err := p.ParseExpr(r.Expr); err != nil {
					t.Errorf("%s: %s%s: %v\n%s", name, r.Record, r.Alert, err, r.Expr)
				}
			}
		}
	}
}

func TestNoFloatArtifacts(t *testing.T) {
	// 99.9% leaves a budget of 0.0009999999999999432 in float64 arithmetic.
	s := fixtures()["events"]
	s.Objective = 99.9
	f, _ := generateFixture(t, "events")
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if strings.Contains(r.Expr, "99999") || strings.Contains(r.Expr, "00000") {
				t.Errorf("float artifact in %s%s: %s", r.Record, r.Alert, r.Expr)
			}
		}
	}
	for in, want := range map[float64]string{1 - 0.999: "0.001", 14.4 * (1 - 0.999): "0.0144", 0.1 + 0.2: "0.3", 1e-5: "1e-05"} {
		if got := formatFloat(in); got != want {
			t.Errorf("formatFloat(%v) = %s, want %s", in, got, want)
		}
	}
}

func TestGroupByLabelsSurviveEveryRule(t *testing.T) {
	f, _ := generateFixture(t, "group-by")
	for _, r := range f.Groups[0].Rules {
		if r.Record == "" || strings.HasPrefix(r.Expr, "vector(") || !strings.Contains(r.Expr, "rate(app_") {
			continue
		}
		// Every aggregation straight over the SLI keeps route.
		if strings.Count(r.Expr, "sum by (route)") != strings.Count(r.Expr, "sum") {
			t.Errorf("%s drops route: %s", r.Record, r.Expr)
		}
	}
}

func TestLongWindowsAreSummedFromRecordedCounts(t *testing.T) {
	f, _ := generateFixture(t, "events")
	byName := map[string]string{}
	for _, r := range f.Groups[0].Rules {
		byName[r.Record] = r.Expr
	}
	for w, tier := range map[string]string{"1d": "5m", "3d": "5m", "30d": "1h"} {
		e := byName[ErrorRatio+w]
		if !strings.Contains(e, "sum_over_time("+ErrorsRate+tier) || !strings.Contains(e, "sum_over_time("+TotalRate+tier) ||
			strings.Contains(e, "app_requests_total") || strings.Contains(e, "avg_over_time") {
			t.Errorf("window %s is not a ratio of summed recorded %s counts: %s", w, tier, e)
		}
	}
	// The hourly tier the 30d window reads is the mean of the 5m rates.
	if len(f.Groups) != 2 || f.Groups[1].Interval != "1h" ||
		f.Groups[1].Rules[0].Expr != `avg_over_time(slod:sli_errors:rate5m{slo="checkout-availability"}[1h])` {
		t.Errorf("budget group: %+v", f.Groups[1:])
	}
	if e := byName[ErrorRatio+"1h"]; !strings.Contains(e, "[1h]") || !strings.Contains(e, "app_errors_total") {
		t.Errorf("1h window should read the SLI directly: %s", e)
	}
}

func TestUnknownPolicyAndImpossibleRows(t *testing.T) {
	s := fixtures()["events"]
	s.Policy = "nope"
	if _, err := Generate([]*slo.Spec{s}, nil, Options{}); err == nil || !strings.Contains(err.Error(), `unknown policy "nope"`) {
		t.Errorf("err = %v", err)
	}
	// A 90% SLO: the 1h page row would need a 144% error ratio; only the
	// 6h row (60%) can page, and the alert must not mention the 1h row.
	s = fixtures()["events"]
	s.Objective = 90
	f, err := Generate([]*slo.Spec{s}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Groups[0].Rules {
		if r.Alert == DefaultBurnAlert && r.Labels["severity"] == "page" {
			if strings.Contains(r.Expr, "ratio_rate1h") || !strings.Contains(r.Expr, "ratio_rate6h{slo=\"checkout-availability\"} >= 0.6") {
				t.Errorf("page alert of a 90%% SLO: %s", r.Expr)
			}
		}
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool not found; the test command installs Debian's prometheus package")
		}
		t.Skip("promtool not found (install Debian's prometheus package); skipping")
	}
	return p
}

func TestPromtoolCheckRules(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	var specs []*slo.Spec
	for _, s := range fixtures() {
		specs = append(specs, s)
	}
	f, err := Generate(specs, policies(), Options{For: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "all.rules.yml")
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(all, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	golden, _ := filepath.Glob("testdata/*.rules.yml")
	if len(golden) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range append(golden, all) {
		out, err := exec.Command(bin, "check", "rules", file).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules %s: %v\n%s", file, err, out)
		}
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	var specs []*slo.Spec
	for _, s := range fixtures() {
		specs = append(specs, s)
	}
	f, err := Generate(specs, policies(), Options{Interval: time.Minute, For: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Awkward user text: YAML indicators, reserved words, numbers, quotes,
	// trailing spaces, tabs, non-ASCII, a template.
	weird := []string{"", "true", "no", "1", "0x10", "1e3", "1_000", "1:20", "12 34", "5m", "- x", "a: b", "a #b", "x:", "'q'", `"dq"`, "tail ", " lead",
		"two\nlines", "trailing \nspace", "tab\there", "naïve", "{{ $labels.route }} is slow", "%d", "@x", "~", "[1]", "\n", "a\n"}
	g := &f.Groups[0]
	for i, w := range weird {
		g.Rules[len(g.Rules)-1].Annotations[fmt.Sprintf("k%02d", i)] = w
		g.Rules[len(g.Rules)-1].Annotations[w+"key"] = "v"
	}
	for _, format := range []string{FormatPrometheus, FormatPrometheusRule} {
		var buf bytes.Buffer
		if err := f.Encode(&buf, format); err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(&buf)
		var got File
		for {
			var doc struct {
				File `yaml:",inline"`
				Spec *File `yaml:"spec"`
			}
			if err := dec.Decode(&doc); err != nil {
				break
			}
			if doc.Spec != nil {
				got.Groups = append(got.Groups, doc.Spec.Groups...)
			} else {
				got.Groups = append(got.Groups, doc.Groups...)
			}
		}
		want := *f
		if format == FormatPrometheusRule { // grouped by service
			want = File{}
			for _, svc := range f.Services() {
				want.Groups = append(want.Groups, f.ForService(svc).Groups...)
			}
		}
		for i := range want.Groups {
			want.Groups[i].Service = ""
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded output differs from the File", format)
			for i := range want.Groups {
				if i < len(got.Groups) && !reflect.DeepEqual(got.Groups[i], want.Groups[i]) {
					t.Errorf("group %d:\ngot  %#v\nwant %#v", i, got.Groups[i], want.Groups[i])
					break
				}
			}
		}
	}
}
