package slo

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	promql "github.com/prometheus/prometheus/promql/parser"
)

// FuzzLoad feeds arbitrary bytes to the loaders (every format and
// policies) and validation. A failure is a panic, a file that loads or
// validates differently the second time, or a file that lints clean but
// yields a query that does not parse.
func FuzzLoad(f *testing.F) {
	for _, glob := range []string{"../examples/slos/*.yaml", "testdata/good/*.yaml", "testdata/formats/*.yaml", "testdata/sloth/*.yaml", "testdata/bad/*.yaml", "testdata/pyrra/*.yaml", "testdata/openslo/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	p := promql.NewParser(promql.Options{})
	f.Fuzz(func(t *testing.T, data []byte) {
		set, diags := LoadBytes("fuzz.yaml", data)
		diags = append(diags, Validate(set)...)
		SortDiagnostics(diags)

		set2, diags2 := LoadBytes("fuzz.yaml", data)
		diags2 = append(diags2, Validate(set2)...)
		SortDiagnostics(diags2)
		if !reflect.DeepEqual(diags, diags2) || len(set.SLOs) != len(set2.SLOs) || len(set.Policies) != len(set2.Policies) {
			t.Fatalf("second load differs:\n%v\n%v", diags, diags2)
		}
		for _, d := range diags {
			if strings.HasPrefix(d.Message, internalError) {
				t.Fatalf("recovered panic: %s", d.Message)
			}
			if d.Pos.File != "fuzz.yaml" || d.Pos.Line < 1 || d.Pos.Column < 1 || d.Rule == "" || d.Message == "" {
				t.Fatalf("malformed diagnostic %#v", d)
			}
		}
		if HasErrors(diags) {
			return
		}
		for _, s := range set.SLOs {
			errQ, totalQ, err := s.SLI.Queries(s.GroupBy...)
			if err != nil {
				t.Fatalf("%s lints clean but has no queries: %v", s.ID, err)
			}
			for _, q := range []string{errQ, totalQ} {
				if q == "" {
					continue
				}
				if _, err := p.ParseExpr(ExpandWindow(q, "1m")); err != nil {
					t.Fatalf("%s lints clean but %q does not parse: %v", s.ID, q, err)
				}
			}
			series, err := s.SLI.Series()
			if err != nil || len(series) == 0 {
				t.Fatalf("%s lints clean but its broken state reads no series: %v, %v", s.ID, series, err)
			}
			for _, sel := range series {
				if _, err := p.ParseExpr("absent(" + sel + ")"); err != nil {
					t.Fatalf("%s: series selector %q does not parse: %v", s.ID, sel, err)
				}
			}
		}
	})
}

// FuzzLatencySelector checks that whatever a latency selector holds, the
// generated queries either are refused or hold exactly two selectors (the
// count and the bucket) carrying exactly the selector's matchers: no
// selector can add PromQL of its own.
func FuzzLatencySelector(f *testing.F) {
	for _, s := range []string{
		`job="checkout"`, `job="a\"b",path=~"C:\\\\.*"`, `job="x"}) or vector(1) or (up{job="y"`,
		`job="x"} # `, `a!~"x|y", b!=""`, `"utf8.name"="v"`, `__name__="x"`, `le="0.3"`, ``,
	} {
		f.Add(s, 0.3)
	}
	p := promql.NewParser(promql.Options{})
	f.Fuzz(func(t *testing.T, selector string, threshold float64) {
		sli := SLI{Latency: &LatencySLI{Metric: "http_request_duration_seconds", Selector: selector, Threshold: threshold}}
		errQ, totalQ, err := sli.Queries("route")
		if err != nil {
			return
		}
		want, err := sli.Latency.Matchers()
		if err != nil {
			t.Fatalf("Queries succeeded but Matchers failed: %v", err)
		}
		for qi, q := range []string{errQ, totalQ} {
			expr, err := p.ParseExpr(ExpandWindow(q, "5m"))
			if err != nil {
				t.Fatalf("%q does not parse: %v", q, err)
			}
			var sels [][]*labels.Matcher
			promql.Inspect(expr, func(n promql.Node, _ []promql.Node) error {
				if vs, ok := n.(*promql.VectorSelector); ok {
					sels = append(sels, vs.LabelMatchers)
				}
				return nil
			})
			if wantN := 2 - qi; len(sels) != wantN {
				t.Fatalf("%q has %d selectors, want %d", q, len(sels), wantN)
			}
			for _, ms := range sels {
				var got []string
				for _, m := range ms {
					if m.Name != labels.MetricName && m.Name != "le" {
						got = append(got, m.String())
					}
				}
				var exp []string
				for _, m := range want {
					exp = append(exp, m.String())
				}
				if strings.Join(got, ",") != strings.Join(exp, ",") {
					t.Fatalf("%q carries matchers %v, want %v", q, got, exp)
				}
			}
		}
	})
}

// FuzzLabelMatchers checks that any UTF-8 label value survives rendering
// and parsing unchanged.
func FuzzLabelMatchers(f *testing.F) {
	for _, v := range []string{"", "plain", `"}) or vector(1) #`, `a\b`, "new\nline", "\x00", "ünï"} {
		f.Add(v)
	}
	p := promql.NewParser(promql.Options{})
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			return
		}
		m, err := LabelMatchers(map[string]string{"l": v})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := p.ParseMetricSelector("{" + m + "}")
		if err != nil {
			t.Fatalf("{%s} does not parse: %v", m, err)
		}
		if len(ms) != 1 || ms[0].Name != "l" || ms[0].Value != v {
			t.Fatalf("{%s} parsed as %v, want l=%q", m, ms, v)
		}
	})
}

// writeFleet writes n SLOs as files of ten SLOs each, mixing events,
// latency, raw and group_by SLOs as a real fleet would.
func writeFleet(tb testing.TB, dir string, n int) {
	tb.Helper()
	for file := 0; file*10 < n; file++ {
		var b strings.Builder
		fmt.Fprintf(&b, "version: slod/v1\nservice: svc-%03d\nlabels:\n  team: team-%d\nslos:\n", file, file%7)
		for i := 0; i < 10 && file*10+i < n; i++ {
			fmt.Fprintf(&b, "  - name: slo-%d\n    objective: 99.%d\n    window: 30d\n", i, 5+i%4)
			switch i % 4 {
			case 0:
				fmt.Fprintf(&b, "    sli:\n      events:\n        error_query: sum(rate(http_requests_total{job=\"svc-%03d\",code=~\"5..\"}[{{.window}}]))\n        total_query: sum(rate(http_requests_total{job=\"svc-%03d\"}[{{.window}}]))\n", file, file)
			case 1:
				fmt.Fprintf(&b, "    sli:\n      latency:\n        metric: http_request_duration_seconds\n        selector: job=\"svc-%03d\",handler!=\"/healthz\"\n        threshold: 0.25\n", file)
			case 2:
				fmt.Fprintf(&b, "    sli:\n      raw:\n        error_ratio_query: 1 - avg(avg_over_time(probe_success{job=\"svc-%03d\"}[{{.window}}]))\n", file)
			case 3:
				fmt.Fprintf(&b, "    sli:\n      events:\n        error_query: sum by (route) (rate(http_requests_total{job=\"svc-%03d\",code=~\"5..\"}[{{.window}}]))\n        total_query: sum by (route) (rate(http_requests_total{job=\"svc-%03d\"}[{{.window}}]))\n    group_by: [route]\n", file, file)
			}
			fmt.Fprintf(&b, "    annotations:\n      runbook: https://runbooks.example.com/svc-%03d/slo-%d\n", file, i)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("svc-%03d.yaml", file)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestTheBenchmarkFleetLintsClean(t *testing.T) {
	dir := t.TempDir()
	writeFleet(t, dir, 1000)
	set, diags := Check(dir)
	if len(diags) != 0 || len(set.SLOs) != 1000 {
		t.Fatalf("%d SLOs, diagnostics %v", len(set.SLOs), diags[:min(len(diags), 5)])
	}
}

// BenchmarkLoadAndValidate1000 loads and validates 1,000 SLOs from 100
// files, what `sloctl lint` does on a large repository.
func BenchmarkLoadAndValidate1000(b *testing.B) {
	dir := b.TempDir()
	writeFleet(b, dir, 1000)
	b.ResetTimer()
	for b.Loop() {
		set, diags := Check(dir)
		if len(set.SLOs) != 1000 || len(diags) != 0 {
			b.Fatalf("%d SLOs, %d diagnostics", len(set.SLOs), len(diags))
		}
	}
}
