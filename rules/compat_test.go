package rules

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// compatGolden are the golden files of the compat modes: a fixture, the
// mode, and the file.
var compatGolden = []struct{ fixture, compat, file string }{
	{"sloth", CompatSloth, "sloth.compat-sloth.rules.yml"},
	{"events", CompatSloth, "events.compat-sloth.rules.yml"},
	{"group-by", CompatPyrra, "group-by.compat-pyrra.rules.yml"},
}

// The compat modes' golden files; TestPromtoolCheckRules runs promtool
// check rules on them with every other golden file.
func TestCompatGoldenFiles(t *testing.T) {
	for _, g := range compatGolden {
		t.Run(g.file, func(t *testing.T) {
			f, err := Generate([]*slo.Spec{fixtures()[g.fixture]}, policies(), Options{Interval: time.Minute, Compat: g.compat})
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := f.Encode(&got, FormatPrometheus); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./rules -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the generated rules; run go test ./rules -update and review the diff", path)
			}
		})
	}
}

func TestUnknownCompatIsRefused(t *testing.T) {
	if _, err := Generate([]*slo.Spec{fixtures()["events"]}, nil, Options{Compat: "nagios"}); err == nil || !strings.Contains(err.Error(), `unknown compat "nagios"`) {
		t.Errorf("err = %v", err)
	}
}

// --compat sloth: Sloth's series names and labels, on every SLO whatever
// its format, and Sloth's labels on every alert.
func TestCompatSlothRecordsSlothsSeriesAndLabels(t *testing.T) {
	spec := fixtures()["events"] // a native SLO
	f, err := Generate([]*slo.Spec{spec}, nil, Options{Compat: CompatSloth})
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]Rule{}
	var alerts []Rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = r
			} else {
				alerts = append(alerts, r)
			}
		}
	}
	for _, name := range []string{"slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate30m", "slo:sli_error:ratio_rate1h",
		"slo:sli_error:ratio_rate2h", "slo:sli_error:ratio_rate6h", "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate3d",
		"slo:sli_error:ratio_rate30d", "slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
		"slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio", "sloth_slo_info"} {
		if _, ok := records[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	// Every recorded series carries Sloth's identity labels: vector()
	// records from their rule, the others from the slod series they read.
	for name, r := range records {
		if r.Labels["slo"] == "" && strings.HasPrefix(r.Expr, "vector(") {
			t.Errorf("%s has no labels", name)
		}
		if r.Labels["slo"] != "" && (r.Labels["sloth_id"] != spec.ID || r.Labels["sloth_service"] != "checkout" || r.Labels["sloth_slo"] != "availability") {
			t.Errorf("%s labels %v, want Sloth's identity labels", name, r.Labels)
		}
	}
	if w := records["slo:sli_error:ratio_rate1h"].Labels["sloth_window"]; w != "1h" {
		t.Errorf("sloth_window %q", w)
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts")
	}
	for _, a := range alerts {
		for _, l := range []string{"sloth_id", "sloth_service", "sloth_slo", "sloth_severity", "slod_severity", "severity"} {
			if a.Labels[l] == "" {
				t.Errorf("alert %s %v lacks %s", a.Alert, a.Labels, l)
			}
		}
	}
}

// --compat pyrra: one alert per row, labelled with its windows, and
// Pyrra's severities unless the SLO sets its own.
func TestCompatPyrraAlertsPerRow(t *testing.T) {
	spec := fixtures()["group-by"]
	spec.Alerting.Ticket.Labels = map[string]string{"severity": "info"}
	f, err := Generate([]*slo.Spec{spec}, nil, Options{Compat: CompatPyrra})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.Groups[0].Rules {
		if r.Alert == DefaultBurnAlert {
			got = append(got, r.Labels["severity"]+" "+r.Labels["long"]+"/"+r.Labels["short"]+" "+r.Labels["exhaustion"]+" "+r.Labels["slod_severity"])
		}
	}
	// exhaustion = W / factor = long / share: 1h / 2% = 50h.
	want := []string{"critical 1h/5m 2d2h page", "critical 6h/30m 5d page", "info 1d/2h 10d ticket", "info 3d/6h 30d ticket"}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %q, want %q", got, want)
	}
}

// runPromtoolTest writes rules generated from specs with opts and a
// promtool test file (its text after rule_files), and runs promtool test
// rules; annotations are kept, so tests can check them.
func runPromtoolTest(t *testing.T, specs []*slo.Spec, opts Options, test string) {
	t.Helper()
	runPromtoolTestWith(t, specs, nil, opts, test)
}

// runPromtoolTestWith is runPromtoolTest with the policies the SLOs name.
func runPromtoolTestWith(t *testing.T, specs []*slo.Spec, policies map[string]burnrate.Policy, opts Options, test string) {
	t.Helper()
	bin := promtool(t)
	f, err := Generate(specs, policies, opts)
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
	testPath := filepath.Join(dir, "test.yml")
	if err := os.WriteFile(testPath, []byte("rule_files: ["+rulesPath+"]\n"+test), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "test", "rules", testPath).CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\n%s", err, out, test)
	}
}

// perClusterSloth is a Sloth file whose queries aggregate by cluster, as
// a Sloth user writes one SLO for every cluster.
const perClusterSloth = `version: "prometheus/v1"
service: storage
labels:
  team: storage
slos:
  - name: writes
    objective: 99.9
    sli:
      events:
        error_query: sum by (cluster) (rate(app_errors_total[{{.window}}]))
        total_query: sum by (cluster)(rate(app_requests_total[{{.window}}]))
    alerting:
      name: StorageWritesBurn
      annotations:
        title: "{{$labels.sloth_service}}/{{$labels.sloth_slo}} in {{ $labels.cluster }}"
`

func loadSloth(t *testing.T, doc string) *slo.Spec {
	t.Helper()
	set, diags := slo.LoadBytes("storage.yaml", []byte(doc))
	diags = append(diags, slo.Validate(set)...)
	if slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("load: %v", diags)
	}
	return set.SLOs[0]
}

// A Sloth SLO aggregated by cluster: cluster a fails 10% of its requests,
// b is healthy. Sloth pages for cluster="a"; so must the rules slod
// generates, and never for b. 10% errors burn a 99.9% budget 100 times too
// fast: the 1h page row fires after 2% × 30d × 0.001 / 0.1 = 8.64 minutes,
// the 1d ticket row only after 43 minutes.
func TestScenarioSlothPerClusterPagesOnlyTheFailingCluster(t *testing.T) {
	t.Parallel()
	spec := loadSloth(t, perClusterSloth)
	if !slices.Equal(spec.GroupBy, []string{"cluster"}) {
		t.Fatalf("group_by %v, want [cluster]", spec.GroupBy)
	}
	// A clean history as long as the 3d row's window keeps the formula
	// (which assumes one) valid for the ticket rows too.
	step := 5 * time.Minute
	t0 := 3 * day
	a, b := map[string]string{"cluster": "a"}, map[string]string{"cluster": "b"}
	sc := scenario{
		spec: spec, step: step, end: t0 + 15*time.Minute,
		streams: []stream{
			{labels: a, rate: 10, bursts: []burst{{from: t0, to: t0 + time.Hour, ratio: 0.1}}},
			{labels: b, rate: 10},
		},
	}
	page := map[string]string{
		"cluster": "a", "team": "storage", "slo": "storage-writes", "service": "storage",
		"severity": "page", "tier": "1", "slod_severity": "page",
		"sloth_id": "storage-writes", "sloth_service": "storage", "sloth_slo": "writes", "sloth_severity": "page",
	}
	if got := firingSeverities(spec, 0.1, 15*time.Minute); !slices.Equal(got, []burnrate.Severity{burnrate.SeverityPage}) {
		t.Fatalf("the formula predicts %v 15 minutes in, want a page only", got)
	}
	sc.checks = []check{
		{at: t0 + 5*time.Minute, alert: "StorageWritesBurn"},
		{at: t0 + 15*time.Minute, alert: "StorageWritesBurn", want: []map[string]string{page}},
	}
	sc.never = []string{`count_over_time(ALERTS{alertname="StorageWritesBurn",cluster!="a"}[` + secs(sc.end) + `])`}
	sc.run(t)
}

// A user's severity: critical on the page class (and tier: gold on the
// SLO) survives on the page alert; slod's class is in slod_severity.
func TestScenarioUsersSeveritySurvivesOnThePage(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	spec.Labels = map[string]string{"tier": "gold"}
	spec.Alerting.Page.Labels = map[string]string{"severity": "critical"}
	// A full outage: the page fires at the first evaluation after 51.84 s
	// (TestScenarioFullOutagePagesAtWorkbookTime), before any ticket row.
	step := 10 * time.Second
	t0 := 6 * time.Hour
	sc := scenario{
		spec: spec, step: step, end: t0 + time.Minute,
		streams: []stream{{rate: 1, bursts: []burst{{from: t0, to: 100 * time.Hour, ratio: 1}}}},
	}
	sc.checks = []check{{at: t0 + time.Minute, alert: DefaultBurnAlert, want: []map[string]string{{
		"slo": spec.ID, "service": spec.Service, "severity": "critical", "tier": "gold", "slod_severity": "page",
	}}}}
	sc.run(t)
}

// --compat sloth on the per-cluster Sloth SLO: the page carries Sloth's
// labels and title, rendered by Prometheus from the series' labels, and
// Sloth's series exist per cluster for its dashboards.
func TestCompatSlothRulesCarrySlothLabels(t *testing.T) {
	spec := loadSloth(t, perClusterSloth)
	test := `evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'app_requests_total{cluster="a"}'
        values: '0+600x30'
      - series: 'app_errors_total{cluster="a"}'
        values: '0+600x30'
      - series: 'app_requests_total{cluster="b"}'
        values: '0+600x30'
      - series: 'app_errors_total{cluster="b"}'
        values: '0+0x30'
    alert_rule_test:
      - eval_time: 10m
        alertname: StorageWritesBurn
        exp_alerts:
          - exp_labels: {cluster: a, team: storage, slo: storage-writes, service: storage, severity: page, tier: "1", slod_severity: page,
                         sloth_id: storage-writes, sloth_service: storage, sloth_slo: writes, sloth_severity: page}
            exp_annotations:
              title: storage/writes in a
              summary: SLO writes of storage is burning its error budget too fast
              description: "page: error ratio 100% over the alert's long window; objective 99.9% over 30d."
          - exp_labels: {cluster: a, team: storage, slo: storage-writes, service: storage, severity: ticket, tier: "2", slod_severity: ticket,
                         sloth_id: storage-writes, sloth_service: storage, sloth_slo: writes, sloth_severity: ticket}
            exp_annotations:
              title: storage/writes in a
              summary: SLO writes of storage is burning its error budget too fast
              description: "ticket: error ratio 100% over the alert's long window; objective 99.9% over 30d."
    promql_expr_test:
      - expr: slo:sli_error:ratio_rate5m{sloth_id="storage-writes", sloth_window="5m"}
        eval_time: 10m
        exp_samples:
          - labels: 'slo:sli_error:ratio_rate5m{cluster="a", slo="storage-writes", service="storage", team="storage", sloth_id="storage-writes", sloth_service="storage", sloth_slo="writes", sloth_window="5m"}'
            value: 1
          - labels: 'slo:sli_error:ratio_rate5m{cluster="b", slo="storage-writes", service="storage", team="storage", sloth_id="storage-writes", sloth_service="storage", sloth_slo="writes", sloth_window="5m"}'
            value: 0
      - expr: count(sloth_slo_info{sloth_service="storage", sloth_slo="writes"})
        eval_time: 10m
        exp_samples:
          - value: 1
      - expr: slo:objective:ratio{sloth_id="storage-writes"}
        eval_time: 10m
        exp_samples:
          - labels: 'slo:objective:ratio{slo="storage-writes", service="storage", team="storage", sloth_id="storage-writes", sloth_service="storage", sloth_slo="writes"}'
            value: 0.999
`
	runPromtoolTest(t, []*slo.Spec{spec}, Options{Compat: CompatSloth}, test)
}
