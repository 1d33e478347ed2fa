package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/source"
)

// liveEnd is the fixed end of the live-lint fixture; every run passes
// --at at it.
var liveEnd = time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)

// liveOpenMetrics is two hours before liveEnd scraped every 15 s: the
// histogram http_request_duration_seconds (buckets 0.1, 0.3, +Inf) per
// route, and http_requests_total per route and code (/a never fails).
func liveOpenMetrics(t *testing.T) string {
	t.Helper()
	const n = 480 // 2h of 15 s
	start := liveEnd.Add(-2 * time.Hour)
	var b strings.Builder
	b.WriteString("# TYPE http_request_duration_seconds histogram\n")
	for _, route := range []string{"/a", "/b"} {
		for i := 0; i <= n; i++ {
			ts := start.Add(time.Duration(i) * 15 * time.Second).Unix()
			for _, bk := range []struct {
				le  string
				per int
			}{{"0.1", 100}, {"0.3", 140}, {"+Inf", 150}} {
				fmt.Fprintf(&b, "http_request_duration_seconds_bucket{route=%q,le=%q} %d %d\n", route, bk.le, bk.per*i, ts)
			}
			fmt.Fprintf(&b, "http_request_duration_seconds_count{route=%q} %d %d\n", route, 150*i, ts)
			fmt.Fprintf(&b, "http_request_duration_seconds_sum{route=%q} %g %d\n", route, 15*float64(i), ts)
		}
	}
	// WriteOpenMetrics ends the text with # EOF.
	count := func(per float64) func(int) float64 { return func(i int) float64 { return per * float64(i) } }
	if err := promtest.WriteOpenMetrics(&b, start, 15*time.Second, n,
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"route": "/a", "code": "200"}, Value: count(150)},
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"route": "/b", "code": "200"}, Value: count(135)},
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"route": "/b", "code": "500"}, Value: count(15)},
	); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// liveSLO is a native file with one SLO of service shop; sli is its
// indented SLI block and extra follows it (group_by, ...).
func liveSLO(t *testing.T, name, sli, extra string) (path, text string) {
	t.Helper()
	text = "version: slod/v1\nservice: shop\nslos:\n  - name: " + name + "\n    objective: 99\n" +
		"    annotations: {runbook: https://runbooks.example.com/shop}\n    sli:\n" + sli + extra
	path = filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, text
}

// posOf is the line:col where needle starts in text.
func posOf(t *testing.T, text, needle string) string {
	t.Helper()
	i := strings.Index(text, needle)
	if i < 0 || strings.Count(text, needle) != 1 {
		t.Fatalf("%q is not once in\n%s", needle, text)
	}
	line := strings.Count(text[:i], "\n") + 1
	return fmt.Sprintf("%d:%d", line, i-strings.LastIndex(text[:i], "\n"))
}

// TestLintLive runs `sloctl lint --prometheus-url` against a real
// Prometheus 2.42 over a backfilled fixture, at the fixture's end.
func TestLintLive(t *testing.T) {
	srv := promtest.Start(t, promtest.Options{OpenMetrics: liveOpenMetrics(t)})
	at := liveEnd.Format(time.RFC3339)
	lint := func(args ...string) (int, string, string) {
		return runMain(t, append([]string{"lint", "--prometheus-url", srv.URL, "--at", at}, args...)...)
	}
	const latency = "      latency:\n        metric: http_request_duration_seconds\n        selector: route=\"/a\"\n        threshold: %s\n"
	events := func(errQ, totalQ string) string {
		return "      events:\n        error_query: '" + errQ + "'\n        total_query: '" + totalQ + "'\n"
	}

	t.Run("a threshold between two buckets fails at its line, naming the buckets", func(t *testing.T) {
		path, text := liveSLO(t, "latency", fmt.Sprintf(latency, "0.25"), "")
		code, out, errOut := lint(path)
		want := path + ":" + posOf(t, text, "0.25") + `: error SLO020: slo "shop-latency": threshold 0.25 is no bucket of http_request_duration_seconds (buckets: 0.1, 0.3, +Inf): ` +
			`the error query selects le="0.25", which no series has, so it returns nothing and every step of this SLO reads unknown (no data), never healthy` + "\n"
		if code != exitFail || out != want {
			t.Fatalf("exit %d, stdout\n%s\nwant\n%s\nstderr %s", code, out, want, errOut)
		}
		// Offline, the same file is clean: only the data shows the mistake.
		if code, out, _ := runMain(t, "lint", path); code != exitOK || out != "" {
			t.Errorf("offline: exit %d, stdout %q", code, out)
		}
	})

	t.Run("a threshold that is a bucket is clean", func(t *testing.T) {
		path, _ := liveSLO(t, "latency", fmt.Sprintf(latency, "0.3"), "    group_by: [route]\n")
		code, out, errOut := lint(path)
		if code != exitOK || out != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if want := "sloctl lint: 1 SLO, 0 policies loaded, 1 SLO checked against " + srv.URL + " at " + at + "; 0 errors, 0 warnings\n"; errOut != want {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	})

	t.Run("an error query without series is clean while the total has some", func(t *testing.T) {
		path, _ := liveSLO(t, "availability", events(`sum(rate(http_requests_total{route="/a",code=~"5.."}[{{.window}}]))`,
			`sum(rate(http_requests_total{route="/a"}[{{.window}}]))`), "")
		if code, out, errOut := lint(path); code != exitOK || out != "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("a renamed total metric has no series, reported at total_query", func(t *testing.T) {
		totalQ := `sum(rate(http_requests_all_total[{{.window}}]))`
		path, text := liveSLO(t, "availability", events(`sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`, totalQ), "")
		code, out, _ := lint(path)
		// Offline lint warns that the two queries read different metrics
		// (SLO012); the live check says the total's has no series.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		prefix := path + ":" + posOf(t, text, "'"+totalQ) + `: error SLO019: slo "shop-availability": total_query returns no series at a step of 1m: no series match http_requests_all_total in the 1h before ` + at
		if code != exitFail || len(lines) != 2 || !strings.Contains(lines[0], "warning SLO012") || !strings.HasPrefix(lines[1], prefix) {
			t.Fatalf("exit %d, stdout\n%s\nwant SLO012 and a line starting\n%s", code, out, prefix)
		}
	})

	t.Run("a group_by label the series lack is reported at group_by, also as json", func(t *testing.T) {
		path, text := liveSLO(t, "per-handler", events(`sum by (handler) (rate(http_requests_total{code=~"5.."}[{{.window}}]))`,
			`sum by (handler) (rate(http_requests_total[{{.window}}]))`), "    group_by: [handler]\n")
		code, out, _ := lint("--format", "json", path)
		var diags []lintJSON
		if err := json.Unmarshal([]byte(out), &diags); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		pos := posOf(t, text, "handler]")
		if code != exitFail || len(diags) != 1 || diags[0].Rule != source.RuleGroupByMissing || fmt.Sprintf("%d:%d", diags[0].Line, diags[0].Column) != pos ||
			!strings.Contains(diags[0].Message, `group_by label "handler" is missing from series of total_query and error_query`) {
			t.Fatalf("exit %d, diagnostics %+v; want one SLO021 at %s", code, diags, pos)
		}
	})

	t.Run("errors of a route the total does not select", func(t *testing.T) {
		errQ := `sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))`
		path, text := liveSLO(t, "totals-of-a", events(errQ, `sum by (route) (rate(http_requests_total{route="/a"}[{{.window}}]))`), "    group_by: [route]\n")
		code, out, _ := lint("--format", "github", path)
		want := "::error file=" + ghProperty(path) + ",line=" + strings.Replace(posOf(t, text, "'"+errQ), ":", ",col=", 1) +
			`,title=SLO022::slo "shop-totals-of-a": error_query returns series {route="/b"} that match no series of total_query`
		if code != exitFail || !strings.HasPrefix(out, want) {
			t.Fatalf("exit %d, stdout\n%s\nwant prefix\n%s", code, out, want)
		}
	})

	t.Run("more instances than slod's cap is a warning at group_by", func(t *testing.T) {
		path, text := liveSLO(t, "per-route", events(`sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))`,
			`sum by (route) (rate(http_requests_total[{{.window}}]))`), "    group_by: [route]\n")
		// Two routes: clean under the default cap, a warning over a cap of 1.
		if code, out, errOut := lint(path); code != exitOK || out != "" {
			t.Fatalf("default cap: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		code, out, _ := lint("--max-instances-per-slo", "1", path)
		want := path + ":" + posOf(t, text, "[route]") + `: warning SLO024: slo "shop-per-route": total_query returns 2 label sets (instances), over slod's cap of 1 per SLO (--max-instances-per-slo)`
		if code != exitOK || !strings.HasPrefix(out, want) {
			t.Fatalf("exit %d, stdout\n%s\nwant prefix\n%s", code, out, want)
		}
	})

	t.Run("an SLO of a file with errors is not checked live", func(t *testing.T) {
		path, _ := liveSLO(t, "latency", fmt.Sprintf(latency, "0.25"), "    window: 6h\n")
		code, out, _ := lint(path)
		if code != exitFail || !strings.Contains(out, "error SLO007") || strings.Contains(out, "SLO020") {
			t.Fatalf("exit %d, stdout %q; want SLO007 only", code, out)
		}
	})
}

func TestLintLiveUnreachablePrometheusIsOneLine(t *testing.T) {
	path, _ := liveSLO(t, "latency", "      latency: {metric: http_request_duration_seconds, threshold: 0.3}\n", "")
	url := "http://127.0.0.1:" + itoa(promtest.FreePort(t))
	code, out, errOut := runMain(t, "lint", "--prometheus-url", url, "--query-timeout", "1s", path)
	prefix := "sloctl: live checks against " + url + `: slo "shop-latency": check the total query of histogram http_request_duration_seconds`
	if code != exitFail || out != "" || !strings.HasPrefix(errOut, prefix) || !strings.HasSuffix(errOut, "connection refused\n") || strings.Count(errOut, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want one line starting %q", code, out, errOut, prefix)
	}
}

// lint takes the Prometheus flags of slod and backtest, with the same
// help, and checks --at and --step before it runs.
func TestLintLiveFlags(t *testing.T) {
	var got *LintOptions
	cmd := NewCmdLint(IO{Out: io.Discard, Err: io.Discard}, nil, func(o *LintOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--prometheus-url", "https://mimir.example/prometheus", "--tenant", "team-a", "--query-timeout", "5s",
		"--at", "2026-09-30T00:00:00Z", "--step", "2m", "."})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	po, err := got.Prometheus.Options()
	if err != nil {
		t.Fatal(err)
	}
	if po.URL != "https://mimir.example/prometheus" || po.Headers[source.TenantHeader] != "team-a" || po.Timeout != 5*time.Second ||
		got.At != "2026-09-30T00:00:00Z" || got.Step != 2*time.Minute {
		t.Errorf("options %+v, prometheus %+v", got, po)
	}
	var ref pflag.FlagSet
	new(source.PrometheusFlags).AddFlags(&ref)
	ref.VisitAll(func(f *pflag.Flag) {
		if l := cmd.Flags().Lookup(f.Name); l == nil || l.Usage != f.Usage || l.Hidden {
			t.Errorf("flag --%s missing, hidden or with other help", f.Name)
		}
	})

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--at", "2026-09-30T00:00:00Z", "."}, "--at needs --prometheus-url"},
		{[]string{"--prometheus-url", "http://p:9090", "--at", "yesterday", "."}, `--at: "yesterday" is neither RFC 3339 nor Unix seconds`},
		{[]string{"--prometheus-url", "http://p:9090", "--step", "1500ms", "."}, "--step 1.5s: must be a whole number of seconds"},
		{[]string{"--prometheus-url", "p:9090", "."}, `--prometheus-url "p:9090": want an http:// or https:// URL`},
	} {
		code, out, errOut := runMain(t, append([]string{"lint"}, tc.args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, exitUsage, tc.want)
		}
	}
	// Without --prometheus-url nothing is asked of any server.
	var b bytes.Buffer
	if code := Main([]string{"lint", "--query-timeout", "1s", "../../examples/slos"}, io.Discard, &b); code != exitOK || strings.Contains(b.String(), "checked against") {
		t.Errorf("offline: exit %d, stderr %q", code, b.String())
	}
}
