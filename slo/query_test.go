package slo

import (
	"slices"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	promql "github.com/prometheus/prometheus/promql/parser"
)

func TestLatencyQueriesAreBuiltFromTheHistogram(t *testing.T) {
	sli := SLI{Latency: &LatencySLI{Metric: "http_request_duration_seconds", Selector: `job="checkout", handler!="/healthz"`, Threshold: 0.3}}
	cases := []struct {
		name        string
		groupBy     []string
		errQ, total string
	}{
		{"without group_by", nil,
			`sum(rate(http_request_duration_seconds_count{job="checkout",handler!="/healthz"}[{{.window}}])) - sum(rate(http_request_duration_seconds_bucket{job="checkout",handler!="/healthz",le="0.3"}[{{.window}}]))`,
			`sum(rate(http_request_duration_seconds_count{job="checkout",handler!="/healthz"}[{{.window}}]))`},
		{"with group_by", []string{"route", "method"},
			`sum by (route, method)(rate(http_request_duration_seconds_count{job="checkout",handler!="/healthz"}[{{.window}}])) - sum by (route, method)(rate(http_request_duration_seconds_bucket{job="checkout",handler!="/healthz",le="0.3"}[{{.window}}]))`,
			`sum by (route, method)(rate(http_request_duration_seconds_count{job="checkout",handler!="/healthz"}[{{.window}}]))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errQ, total, err := sli.Queries(c.groupBy...)
			if err != nil {
				t.Fatal(err)
			}
			if errQ != c.errQ || total != c.total {
				t.Errorf("queries:\n got %s\n     %s\nwant %s\n     %s", errQ, total, c.errQ, c.total)
			}
			for _, q := range []string{errQ, total} {
				if _, err := promql.NewParser(promql.Options{}).ParseExpr(ExpandWindow(q, "5m")); err != nil {
					t.Errorf("%s does not parse: %v", q, err)
				}
			}
		})
	}
	if got := sli.ErrorQuery(); got != cases[0].errQ {
		t.Errorf("ErrorQuery() = %s", got)
	}
	noSel := SLI{Latency: &LatencySLI{Metric: "rpc_seconds", Threshold: 1}}
	if got, want := noSel.TotalQuery(), `sum(rate(rpc_seconds_count[{{.window}}]))`; got != want {
		t.Errorf("TotalQuery() without selector = %s, want %s", got, want)
	}
	if got, want := noSel.ErrorQuery(), `sum(rate(rpc_seconds_count[{{.window}}])) - sum(rate(rpc_seconds_bucket{le="1"}[{{.window}}]))`; got != want {
		t.Errorf("ErrorQuery() without selector = %s, want %s", got, want)
	}
}

func TestEventsAndRawQueriesAreReturnedAsWritten(t *testing.T) {
	ev := SLI{Events: &EventsSLI{ErrorQuery: "e[{{.window}}]", TotalQuery: "t[{{.window}}]"}}
	if e, tq, err := ev.Queries("route"); err != nil || e != "e[{{.window}}]" || tq != "t[{{.window}}]" {
		t.Errorf("events: %q %q %v", e, tq, err)
	}
	raw := SLI{Raw: &RawSLI{ErrorRatioQuery: "r[{{.window}}]"}}
	if e, tq, err := raw.Queries(); err != nil || e != "r[{{.window}}]" || tq != "" {
		t.Errorf("raw: %q %q %v", e, tq, err)
	}
	if _, _, err := (SLI{}).Queries(); err == nil {
		t.Error("an empty SLI returned queries")
	}
}

// selectorsOf parses q and returns the matchers of each vector selector.
func selectorsOf(t *testing.T, q string) [][]*labels.Matcher {
	t.Helper()
	expr, err := promql.NewParser(promql.Options{}).ParseExpr(ExpandWindow(q, "5m"))
	if err != nil {
		t.Fatalf("%s does not parse: %v", q, err)
	}
	var out [][]*labels.Matcher
	promql.Inspect(expr, func(n promql.Node, _ []promql.Node) error {
		if vs, ok := n.(*promql.VectorSelector); ok {
			out = append(out, vs.LabelMatchers)
		}
		return nil
	})
	return out
}

func TestNoFieldValueCanInjectPromQL(t *testing.T) {
	t.Run("selector values with quotes and backslashes stay inside their matcher", func(t *testing.T) {
		// The selector is PromQL: `"a\"b\\c"` is the value a"b\c.
		value := `a"b\c}) or vector(1) #`
		sel := `job=` + strconv.Quote(value)
		sli := SLI{Latency: &LatencySLI{Metric: "m", Selector: sel, Threshold: 0.5}}
		errQ, _, err := sli.Queries()
		if err != nil {
			t.Fatal(err)
		}
		sels := selectorsOf(t, errQ)
		if len(sels) != 2 {
			t.Fatalf("%s has %d selectors, want exactly 2 (count and bucket)", errQ, len(sels))
		}
		for _, ms := range sels {
			var job string
			for _, m := range ms {
				if m.Name == "job" {
					job = m.Value
				}
			}
			if job != value {
				t.Errorf("job matcher value %q, want %q", job, value)
			}
		}
	})
	for _, c := range []struct{ name, metric, selector string }{
		{"a selector that closes the braces", "m", `job="x"}) or vector(1) or (up{job="y"`},
		{"a metric name with PromQL in it", `m{a="b"}) or vector(1) or (m`, ""},
	} {
		t.Run(c.name+" is rejected", func(t *testing.T) {
			sli := SLI{Latency: &LatencySLI{Metric: c.metric, Selector: c.selector, Threshold: 0.5}}
			if q, _, err := sli.Queries(); err == nil {
				t.Errorf("built %s", q)
			}
			if q := sli.ErrorQuery(); q != "" {
				t.Errorf("ErrorQuery() = %s, want empty", q)
			}
		})
	}
	t.Run("a selector that hides text in a comment yields only its matchers", func(t *testing.T) {
		sli := SLI{Latency: &LatencySLI{Metric: "m", Selector: `job="x"} # ) or vector(1)`, Threshold: 0.5}}
		q, want := sli.TotalQuery(), `sum(rate(m_count{job="x"}[{{.window}}]))`
		if q != want {
			t.Errorf("TotalQuery() = %s, want %s", q, want)
		}
	})
	t.Run("group_by names with PromQL in them are rejected", func(t *testing.T) {
		sli := SLI{Latency: &LatencySLI{Metric: "m", Threshold: 0.5}}
		if q, _, err := sli.Queries(`route) (vector(1)) or sum by (x`); err == nil {
			t.Errorf("built %s", q)
		}
	})
	t.Run("LabelMatchers escapes every value", func(t *testing.T) {
		ls := map[string]string{"a": `"}) or vector(1) #`, "b": `back\slash`, "c": "new\nline", "d": "ünïcödé"}
		m, err := LabelMatchers(ls)
		if err != nil {
			t.Fatal(err)
		}
		sels := selectorsOf(t, "x{"+m+"}")
		if len(sels) != 1 {
			t.Fatalf("x{%s}: %d selectors", m, len(sels))
		}
		got := map[string]string{}
		for _, mt := range sels[0] {
			if mt.Name != labels.MetricName {
				got[mt.Name] = mt.Value
			}
		}
		for k, v := range ls {
			if got[k] != v {
				t.Errorf("label %s parsed back as %q, want %q", k, got[k], v)
			}
		}
		if _, err := LabelMatchers(map[string]string{`a="x",b`: "y"}); err == nil {
			t.Error("an invalid label name was rendered")
		}
	})
}

func TestKeepsLabelFollowsPromQLAggregation(t *testing.T) {
	cases := []struct {
		query string
		keeps bool
	}{
		{`rate(x[5m])`, true},
		{`sum(rate(x[5m]))`, false},
		{`sum by (route) (rate(x[5m]))`, true},
		{`sum by (method) (rate(x[5m]))`, false},
		{`sum without (instance) (rate(x[5m]))`, true},
		{`sum without (route) (rate(x[5m]))`, false},
		{`sum by (route) (sum by (method) (x))`, false},
		{`topk(3, sum by (route) (x))`, true},
		{`count_values("route", x)`, true},
		{`sum by (route) (a) / sum by (route) (b)`, true},
		{`sum by (route) (a) / on () group_left sum(b)`, true},
		{`sum by (route) (a) / on (method) sum by (method) (b)`, false},
		{`a / ignoring (route) b`, false},
		{`sum(a) * on () group_right (route) b`, true},
		{`sum by (route) (a) > 0`, true},
		{`1 - sum by (route) (a)`, true},
		{`1 - sum(a)`, false},
		{`sum by (route) (a) or sum(b)`, false},
		{`sum by (route) (a) and sum(b)`, true},
		{`label_replace(sum(a), "route", "$1", "path", "(.*)")`, true},
		{`clamp_max(sum by (route) (a), 1)`, true},
		{`histogram_quantile(0.9, sum by (le, route) (rate(h[5m])))`, true},
		{`vector(1)`, false},
		{`avg_over_time(sum by (route) (x)[1h:5m])`, true},
	}
	p := promql.NewParser(promql.Options{})
	for _, c := range cases {
		expr, err := p.ParseExpr(c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if got := keepsLabel(expr, "route"); got != c.keeps {
			t.Errorf("keepsLabel(%s, route) = %v, want %v", c.query, got, c.keeps)
		}
	}
}

func TestSeriesAreWhatTheSLICannotDoWithout(t *testing.T) {
	tests := []struct {
		name string
		sli  SLI
		want []string
	}{
		{"events: the total query's series, never the error query's",
			SLI{Events: &EventsSLI{
				ErrorQuery: `sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))`,
				TotalQuery: `sum(rate(http_requests_total{job="checkout"}[{{.window}}]))`,
			}},
			[]string{`http_requests_total{job="checkout"}`}},
		{"events: every selector of the total query once, without offset",
			SLI{Events: &EventsSLI{
				ErrorQuery: `sum(rate(e[{{.window}}]))`,
				TotalQuery: `sum(rate(a{x="1"}[{{.window}}] offset 1h)) + sum(rate(b[{{.window}}])) + sum(rate(a{x="1"}[{{.window}}]))`,
			}},
			[]string{`a{x="1"}`, `b`}},
		{"latency: the _count series and the exact bucket of the threshold",
			SLI{Latency: &LatencySLI{Metric: "http_request_duration_seconds", Selector: `job="api"`, Threshold: 0.25}},
			[]string{`http_request_duration_seconds_count{job="api"}`, `http_request_duration_seconds_bucket{job="api",le="0.25"}`}},
		{"raw: every series of the query",
			SLI{Raw: &RawSLI{ErrorRatioQuery: `1 - avg_over_time(probe_success{job="search"}[{{.window}}])`}},
			[]string{`probe_success{job="search"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sli.Series()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Series() = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := (SLI{Events: &EventsSLI{TotalQuery: "sum(rate(x[{{.window}}])"}}).Series(); err == nil {
		t.Error("a total query that does not parse gives no error")
	}
}
