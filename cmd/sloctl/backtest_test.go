package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
)

func TestBacktestFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, *BacktestOptions)
	}{
		{name: "prometheus is required", args: []string{"x.yaml"}, wantErr: "--prometheus-url is required"},
		{name: "an unknown format is refused", args: []string{"--prometheus-url", "http://p", "--format", "xml"}, wantErr: "--format"},
		{name: "a header needs a name and a value", args: []string{"--prometheus-url", "http://p", "--header", "X-Scope-OrgID"}, wantErr: "NAME=VALUE"},
		{name: "a sub-second step is refused", args: []string{"--prometheus-url", "http://p", "--step", "500ms"}, wantErr: "--step"},
		{
			name: "flags are captured",
			args: []string{"--prometheus-url", "http://p:9090", "--from", "2026-09-01T00:00:00Z", "--to", "1790000000", "--header", "X-Scope-OrgID=a=b", "--format", "json", "slos/"},
			check: func(t *testing.T, o *BacktestOptions) {
				if o.Prometheus.URL != "http://p:9090" || o.From != "2026-09-01T00:00:00Z" || o.To != "1790000000" ||
					o.Format != "json" || len(o.Paths) != 1 || o.Paths[0] != "slos/" || o.Prometheus.Headers.Map()["X-Scope-OrgID"] != "a=b" ||
					o.Step != time.Minute || o.Prometheus.QueryTimeout != 2*time.Minute {
					t.Fatalf("options %+v", o)
				}
			},
		},
		{
			name: "policy names after --compare are compared, paths stay paths",
			args: []string{"--prometheus-url", "http://p", "--format", "markdown", "--compare", "default", "traffic-aware", "slos/"},
			check: func(t *testing.T, o *BacktestOptions) {
				if len(o.Compare) != 2 || o.Compare[0] != "default" || o.Compare[1] != "traffic-aware" || len(o.Paths) != 1 || o.Paths[0] != "slos/" || o.Format != "markdown" {
					t.Fatalf("compare %q, paths %q, format %s", o.Compare, o.Paths, o.Format)
				}
			},
		},
		{
			name: "the old --prometheus and --timeout still work",
			args: []string{"--prometheus", "http://p:9090", "--timeout", "5s"},
			check: func(t *testing.T, o *BacktestOptions) {
				if o.Prometheus.URL != "http://p:9090" || o.Prometheus.QueryTimeout != 5*time.Second {
					t.Fatalf("options %+v", o.Prometheus)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *BacktestOptions
			cmd := NewCmdBacktest(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(o *BacktestOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
	for in, want := range map[string]time.Time{
		"2026-09-01T00:00:00Z":      time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		"2026-09-01T02:00:00+02:00": time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC),
		"1790000000":                time.Unix(1790000000, 0).UTC(),
	} {
		if got, err := parseBacktestTime(in); err != nil || !got.Equal(want) {
			t.Errorf("parseBacktestTime(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// TestBacktestScenarios replays five days of a promtool-backfilled fixture
// with a fixed end through `sloctl backtest` against a real Prometheus
// 2.42, for a 99.9%/30d SLO per scenario with the default policy.
func TestBacktestScenarios(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	fx := promtest.BurnScenarios(end, 36*24*time.Hour)
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	dir := t.TempDir()
	path := filepath.Join(dir, "fixture.yaml")
	yaml := fx.SLOYAML("fixture", 99.9, "30d", promtest.ScenarioOutage, promtest.ScenarioBurn2x, promtest.ScenarioSpike)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	from := end.Add(-5 * 24 * time.Hour)
	var out, errOut bytes.Buffer
	code := Main([]string{"backtest", "--prometheus", srv.URL, "--from", from.Format(time.RFC3339), "--to", end.Format(time.RFC3339),
		"--format", "json", path}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var reports []BacktestReport
	if err := json.Unmarshal(out.Bytes(), &reports); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	bySLO := map[string]BacktestInstance{}
	for _, r := range reports {
		if len(r.Instances) != 1 {
			t.Fatalf("%s: %d instances, want 1", r.SLO, len(r.Instances))
		}
		bySLO[r.SLO] = r.Instances[0]
	}
	firings := func(in BacktestInstance, sev burnrate.Severity) (n int, first time.Time) {
		for _, row := range in.Rows {
			if row.Severity != sev {
				continue
			}
			for _, f := range row.Firings {
				if n == 0 || f.Fired.Before(first) {
					first = f.Fired
				}
				n++
			}
		}
		return n, first
	}

	t.Run("a full outage pages at the Workbook time", func(t *testing.T) {
		in := bySLO["fixture-outage"]
		outage := fx.Scenarios[promtest.ScenarioOutage][0].From
		page := in.Rows[0] // page 1h/5m, factor 14.4
		if page.LongSeconds != 3600 || page.Factor != 14.4 || len(page.Firings) != 1 {
			t.Fatalf("page row %+v", page)
		}
		// t = share × W × (1 − objective) / error ratio = 0.02 × 30d × 0.001 = 51.84 s;
		// the first evaluation at or after it is the step that ends 1m in.
		workbook := time.Duration(0.02 * float64(30*24*time.Hour) * 0.001)
		after := page.Firings[0].Fired.Sub(outage)
		if after < workbook || after > workbook+time.Minute {
			t.Fatalf("page fired %s after the outage began, want within one step of %s", after, workbook)
		}
		// It resolves once the 5m window is clean again, after the outage.
		res := page.Firings[0].Resolved
		stop := fx.Scenarios[promtest.ScenarioOutage][0].To
		if res.Before(stop) || res.After(stop.Add(10*time.Minute)) {
			t.Fatalf("page resolved at %s, outage stopped at %s", res, stop)
		}
		if len(in.Incidents) != 1 || in.Incidents[0].Severity != string(burnrate.SeverityPage) || !in.Incidents[0].Start.Equal(page.Firings[0].Fired) {
			t.Fatalf("incidents %+v, want one page incident from the first firing", in.Incidents)
		}
		// 120,000 errors against a budget of 0.001 × 43.2M events: 277.8%.
		if in.BudgetSpent < 2.77 || in.BudgetSpent > 2.78 {
			t.Fatalf("budget spent %v, want 2.778", in.BudgetSpent)
		}
	})
	t.Run("a 2x burn for 3 days raises a ticket and never pages", func(t *testing.T) {
		in := bySLO["fixture-burn2x"]
		if n, _ := firings(in, burnrate.SeverityPage); n != 0 {
			t.Fatalf("page rows fired %d times: %+v", n, in.Rows)
		}
		n, first := firings(in, burnrate.SeverityTicket)
		if n == 0 {
			t.Fatalf("no ticket row fired: %+v", in.Rows)
		}
		// The 3d/6h row (factor 1) needs a 3d burn of 1: 1.5 days of 2×.
		start := fx.Scenarios[promtest.ScenarioBurn2x][0].From
		if want := start.Add(36 * time.Hour); first.Before(want) || first.After(want.Add(time.Minute)) {
			t.Fatalf("ticket fired at %s, want within one step after %s", first, want)
		}
		if len(in.Incidents) != 1 || in.Incidents[0].Severity != string(burnrate.SeverityTicket) {
			t.Fatalf("incidents %+v, want one ticket", in.Incidents)
		}
	})
	t.Run("a 5-minute 20x spike fires nothing", func(t *testing.T) {
		in := bySLO["fixture-spike"]
		for _, sev := range []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket} {
			if n, _ := firings(in, sev); n != 0 {
				t.Fatalf("%s rows fired: %+v", sev, in.Rows)
			}
		}
		if len(in.Incidents) != 0 {
			t.Fatalf("incidents %+v", in.Incidents)
		}
		if in.BudgetSpent <= 0 {
			t.Fatalf("budget spent %v: the spike's 100 errors were not counted", in.BudgetSpent)
		}
	})

	t.Run("an SLI without data reports null budgets and a no-data incident", func(t *testing.T) {
		nodata := filepath.Join(dir, "nodata.yaml")
		doc := strings.ReplaceAll(fx.SLOYAML("fixture", 99.9, "30d", "gone"), "slo_requests_total", "no_such_metric_total")
		if err := os.WriteFile(nodata, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := Main([]string{"backtest", "--prometheus", srv.URL, "--from", end.Add(-time.Hour).Format(time.RFC3339),
			"--to", end.Format(time.RFC3339), "--format", "json", nodata}, &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), `"budget_remaining_end": null`) {
			t.Fatalf("no null budget in\n%s", out.String())
		}
		var reps []BacktestReport
		if err := json.Unmarshal(out.Bytes(), &reps); err != nil {
			t.Fatal(err)
		}
		in := reps[0].Instances[0]
		if len(in.Incidents) != 1 || in.Incidents[0].Class != string(burnrate.ClassNoData) {
			t.Fatalf("incidents %+v, want one no-data incident", in.Incidents)
		}
		// stderr and the report's warnings say the series do not exist.
		want := "sloctl: slo fixture-gone: no step from 2026-09-29T23:00:00Z to 2026-09-30T00:00:00Z has data: no series match no_such_metric_total"
		if !strings.Contains(errOut.String(), want) || len(reps[0].Warnings) != 1 || !strings.Contains(reps[0].Warnings[0], "no series match") {
			t.Fatalf("stderr %q, warnings %q; want %q", errOut.String(), reps[0].Warnings, want)
		}
		// The text format says unknown, not a made-up 0.00%.
		var txt bytes.Buffer
		if code := Main([]string{"backtest", "--prometheus", srv.URL, "--from", end.Add(-time.Hour).Format(time.RFC3339),
			"--to", end.Format(time.RFC3339), nodata}, &txt, io.Discard); code != 0 {
			t.Fatalf("text: exit %d", code)
		}
		if !strings.Contains(txt.String(), "budget spent unknown") || strings.Contains(txt.String(), "budget spent 0.00%") {
			t.Errorf("text output of a no-data incident:\n%s", txt.String())
		}
	})

	t.Run("the text format names every firing", func(t *testing.T) {
		var txt, errTxt bytes.Buffer
		code := Main([]string{"backtest", "--prometheus", srv.URL, "--from", end.Add(-13 * time.Hour).Format(time.RFC3339),
			"--to", end.Format(time.RFC3339), path}, &txt, &errTxt)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errTxt.String())
		}
		s := txt.String()
		t.Log("\n" + s)
		for _, want := range []string{"fixture-outage (service fixture)", "page      1h/5m", "2026-09-29T12:01:00Z", "incident burn page", "(no row fired)", "open at the end, by threat", "1. fixture-outage {} page"} {
			if !strings.Contains(s, want) {
				t.Errorf("text output lacks %q:\n%s", want, s)
			}
		}
	})
}

func TestBacktestUnreachablePrometheusFails(t *testing.T) {
	dir := t.TempDir()
	fx := promtest.BurnScenarios(time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), time.Hour)
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(fx.SLOYAML("fixture", 99.9, "30d", "outage")), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + itoa(promtest.FreePort(t))
	var out, errOut bytes.Buffer
	code := Main([]string{"backtest", "--prometheus", url, "--timeout", "1s", "--from", "2026-09-29T00:00:00Z", "--to", "2026-09-29T01:00:00Z", path}, &out, &errOut)
	if code != exitFail || !strings.Contains(errOut.String(), "connection refused") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBacktestDiagnosesSparseScrape replays counters sampled every minute
// at 17 s past the minute, as a 1m scrape lands, against Prometheus 2.42:
// with the default 1m step no step has two samples and backtest says so on
// stderr; with --step 2m every step has data and nothing is printed there.
func TestBacktestDiagnosesSparseScrape(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	start := end.Add(-6 * time.Hour).Add(17 * time.Second)
	var om strings.Builder
	if err := promtest.WriteOpenMetrics(&om, start, time.Minute, 6*60-1,
		promtest.Counter{Family: "slo_requests", Value: func(i int) float64 { return float64(1000 * i) }},
		promtest.Counter{Family: "slo_errors", Labels: map[string]string{"scenario": "sparse"}, Value: func(i int) float64 { return float64(i) }},
	); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
	path := filepath.Join(t.TempDir(), "sparse.yaml")
	if err := os.WriteFile(path, []byte(promtest.SLOFixture{}.SLOYAML("fixture", 99.9, "30d", "sparse")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		step string
		// hint is what stderr must say after lint's warnings ("": nothing).
		hint string
	}{
		{name: "the default 1m step has no data and says why", step: "1m",
			hint: "sloctl: slo fixture-sparse: no step from 2026-09-29T22:00:00Z to 2026-09-29T23:00:00Z has data: series slo_requests_total exist but are sampled about every 1m; a step of 1m needs at least two samples per step (rate needs two): set --step 2m (or scrape every 30s or faster)\n"},
		{name: "a 2m step has data", step: "2m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main([]string{"backtest", "--prometheus", srv.URL, "--step", tc.step, "--from", end.Add(-2 * time.Hour).Format(time.RFC3339),
				"--to", end.Add(-time.Hour).Format(time.RFC3339), path}, &out, &errOut)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			// Lint's warnings come first; then at most the hint.
			_, hint, _ := strings.Cut(errOut.String(), "sloctl: ")
			if hint != strings.TrimPrefix(tc.hint, "sloctl: ") {
				t.Fatalf("stderr %q, want it to end in %q", errOut.String(), tc.hint)
			}
			// With the 1m step the steps of the range are unknown, and so
			// are the page rows' windows: nothing pages. (The cold start
			// read the hours before the range at 10 minutes, where the
			// scrape is dense enough: the budget and the 3d/6h ticket row
			// know those hours — source.Plan.)
			if tc.hint != "" && regexp.MustCompile(`(?m)^\s+page\s+\d`).MatchString(out.String()) {
				t.Fatalf("a page row fired on unknown steps:\n%s", out.String())
			}
			if tc.hint == "" && strings.Contains(out.String(), "budget remaining unknown") {
				t.Fatalf("budget unknown with data:\n%s", out.String())
			}
		})
	}
}
