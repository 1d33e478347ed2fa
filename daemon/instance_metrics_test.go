package daemon

import (
	"compress/gzip"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
)

// scrape reads h's /metrics as Prometheus 2.42 asks for it (gzip, its
// Accept header) and parses the answer with the text format's own parser,
// strictly (legacy names): the families, sorted by name.
func scrape(t testing.TB, h http.Handler) []*dto.MetricFamily {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	if ce := rec.Header().Get("Content-Encoding"); ce != "gzip" {
		t.Fatalf("/metrics Content-Encoding %q for a scraper that accepts gzip", ce)
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	byName, err := p.TextToMetricFamilies(zr)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	var out []*dto.MetricFamily
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		mf := byName[name]
		// A series written twice: Prometheus keeps the first sample and
		// silently drops the other; the parser keeps both.
		seen := map[string]bool{}
		for _, m := range mf.Metric {
			var ls []string
			for _, lp := range m.Label {
				if lp.GetValue() != "" { // empty is absent
					ls = append(ls, lp.GetName()+"="+lp.GetValue())
				}
			}
			slices.Sort(ls)
			if id := strings.Join(ls, "\xff"); seen[id] {
				t.Errorf("/metrics has %s{%s} twice", name, strings.Join(ls, ","))
			} else {
				seen[id] = true
			}
		}
		out = append(out, mf)
	}
	return out
}

// gathered is every sample of family name on h's /metrics, by its labels
// rendered as k=v pairs, sorted by name.
func gathered(t *testing.T, h *harness, name string) map[string]float64 {
	t.Helper()
	for _, mf := range scrape(t, h.d.Handler()) {
		if mf.GetName() == name {
			return byLabels(mf)
		}
	}
	return map[string]float64{}
}

// byLabels is a family's samples by their labels rendered as k=v pairs,
// sorted by name.
func byLabels(mf *dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, m := range mf.Metric {
		var ls []string
		for _, lp := range m.Label {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		slices.Sort(ls)
		out[strings.Join(ls, ",")] = value(m)
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return math.NaN()
}

func TestPerInstanceGaugesDuringTheDemoOutage(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	h.runTo(demoStart.Add(2*time.Minute + 30*time.Second))
	burn := gathered(t, h, "slod_instance_burn_rate")
	// checkout: a full outage for 90 s: the 5m window burns far above the
	// 1h/5m row's 14.4×; the group_by SLO's route label is a label of its
	// own, empty (absent) for SLOs without it.
	if b := burn["route=,slo=checkout-availability,window=5m"]; !(b > 14.4) {
		t.Errorf("checkout's 5m burn %v, want above 14.4 (samples: %d)", b, len(burn))
	}
	if _, ok := burn["route=/v1/orders,slo=api-gateway-route-availability,window=1h"]; !ok {
		t.Error("no burn of the /v1/orders route's 1h window")
	}
	if n := len(burn); n < 7*5 {
		t.Errorf("%d burn samples, want each policy window of every instance", n)
	}
	state := gathered(t, h, "slod_instance_state")
	if state["route=,slo=checkout-availability,state=page"] != 1 || state["route=,slo=checkout-latency,state=ok"] != 1 {
		t.Errorf("states %v", state)
	}
	for _, name := range []string{"slod_instance_sli_ratio", "slod_instance_budget_remaining_ratio", "slod_instance_time_to_exhaustion_seconds"} {
		got := gathered(t, h, name)
		v, ok := got["route=,slo=checkout-availability"]
		if !ok || math.IsNaN(v) {
			t.Errorf("%s of checkout: %v (present %v)", name, v, ok)
		}
	}
	if sli := gathered(t, h, "slod_instance_sli_ratio")["route=,slo=checkout-availability"]; !(sli > 0.99 && sli < 1) {
		t.Errorf("checkout's SLI %v", sli)
	}
	if o := gathered(t, h, "slod_slo_objective_ratio")["slo=checkout-availability"]; o != 0.999 {
		t.Errorf("objective %v, want 0.999", o)
	}
}

func TestPerInstanceGaugesCanBeTurnedOff(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.MetricsPerInstance = false }, nil)
	h.runTo(demoStart)
	for _, name := range []string{"slod_instance_burn_rate", "slod_instance_state", "slod_instance_sli_ratio"} {
		if got := gathered(t, h, name); len(got) > 0 {
			t.Errorf("--metrics-per-instance=false still exports %s: %d series", name, len(got))
		}
	}
	if len(gathered(t, h, "slod_slo_objective_ratio")) != 7 {
		t.Error("the per-SLO objective is not exported")
	}
}

// TestPerInstanceGaugesStopAboveTheirMax: above --metrics-per-instance-max
// instances the per-instance families are not exported (100,000 instances
// would be 1.1 million series) and slod_instance_metrics_suppressed says so;
// at or under it they are, and it reads 0.
func TestPerInstanceGaugesStopAboveTheirMax(t *testing.T) {
	for _, tc := range []struct {
		max        int
		suppressed float64
	}{{max: 8, suppressed: 1}, {max: 9, suppressed: 0}} { // the demo has 9 instances
		h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.MetricsPerInstanceMax = tc.max }, nil)
		h.runTo(demoStart)
		states := len(gathered(t, h, "slod_instance_state"))
		if got := gathered(t, h, "slod_instance_metrics_suppressed"); len(got) != 1 || got[""] != tc.suppressed {
			t.Errorf("max %d: slod_instance_metrics_suppressed %v, want %v", tc.max, got, tc.suppressed)
		}
		if (states == 0) != (tc.suppressed == 1) {
			t.Errorf("max %d: %d slod_instance_state series, suppressed %v", tc.max, states, tc.suppressed)
		}
	}
}

// Instances of one SLO whose label sets differ only by an empty label
// against an absent one, and SLOs grouped by different labels: every
// family has one set of label names and no duplicate, so the scrape works.
func TestPerInstanceGaugesOfMixedLabelSetsGatherCleanly(t *testing.T) {
	snap := &server.Snapshot{SLOs: []server.SLO{
		{ID: "a", Objective: 99, Instances: []server.Instance{
			{Key: `{route=""}`, Labels: map[string]string{"route": ""}},
			{Key: `{}`},
			{Key: `{route="/x"}`, Labels: map[string]string{"route": "/x"}},
		}},
		{ID: "b", Objective: 99.5, Instances: []server.Instance{{Key: `{slo="x"}`, Labels: map[string]string{"slo": "x"}}}},
	}}
	mfs := scrape(t, metricsServer(t, snap))
	states := 0
	for _, mf := range mfs {
		if mf.GetName() != "slod_instance_state" {
			continue
		}
		for _, m := range mf.Metric {
			states++
			var names []string
			for _, lp := range m.Label {
				names = append(names, lp.GetName())
			}
			slices.Sort(names)
			if got := strings.Join(names, ","); got != "exported_slo,route,slo,state" {
				t.Errorf("labels %s", got)
			}
		}
	}
	if states != 3 {
		t.Errorf("%d state series, want 3 (the empty route exported once)", states)
	}
}

// TestPerInstanceGaugesKeepEveryLabelAndFigure: label values with quotes,
// backslashes, line feeds and non-ASCII come back from the text
// exposition as they were; an instance not evaluated yet reads NaN (never
// 0 or 1), one with budget left and no burn +Inf to exhaustion, one
// overspent a negative budget and 0 to exhaustion, and each distinct
// policy window of an instance is one burn series.
func TestPerInstanceGaugesKeepEveryLabelAndFigure(t *testing.T) {
	odd := "/a \"quoted\" \\path\\\nnext line — ünïcode"
	rows := []burnrate.RowResult{
		{Row: burnrate.Row{Long: time.Hour, Short: 5 * time.Minute}, LongBurn: 0, ShortBurn: 0},
		{Row: burnrate.Row{Long: 6 * time.Hour, Short: 5 * time.Minute}, LongBurn: 0, ShortBurn: 0},
	}
	snap := &server.Snapshot{SLOs: []server.SLO{{ID: `slo"with\quote`, Objective: 99.9, Window: 30 * 24 * time.Hour, Instances: []server.Instance{
		{Key: "odd", Labels: map[string]string{"route": odd}, Evaluated: true,
			Evaluation: burnrate.Evaluation{BudgetRemaining: 0.25, WindowErrors: 1, WindowTotal: 4000, Rows: rows}},
		{Key: "pending", Labels: map[string]string{"route": "/pending"}},
		{Key: "spent", Labels: map[string]string{"route": "/spent"}, Evaluated: true,
			Evaluation: burnrate.Evaluation{BudgetRemaining: -1.5, WindowErrors: 10, WindowTotal: 4000,
				Rows: []burnrate.RowResult{{Row: burnrate.Row{Long: time.Hour, Short: 5 * time.Minute}, LongBurn: 20, ShortBurn: burnrate.Unknown()}}}},
	}}}}
	fams := map[string]map[string]float64{}
	for _, mf := range scrape(t, metricsServer(t, snap)) {
		fams[mf.GetName()] = byLabels(mf)
	}
	id := `slo=slo"with\quote`
	at := func(route string, extra ...string) string {
		return strings.Join(append([]string{"route=" + route, id}, extra...), ",")
	}
	want := []struct {
		family, series string
		v              float64 // NaN: want NaN
	}{
		{"slod_instance_sli_ratio", at(odd), 1 - 1.0/4000},
		{"slod_instance_budget_remaining_ratio", at(odd), 0.25},
		{"slod_instance_time_to_exhaustion_seconds", at(odd), math.Inf(1)},
		{"slod_instance_burn_rate", at(odd, "window=1h"), 0},
		{"slod_instance_burn_rate", at(odd, "window=5m"), 0},
		{"slod_instance_burn_rate", at(odd, "window=6h"), 0},
		{"slod_instance_state", at(odd, "state=ok"), 1},
		{"slod_instance_sli_ratio", at("/pending"), math.NaN()},
		{"slod_instance_budget_remaining_ratio", at("/pending"), math.NaN()},
		{"slod_instance_time_to_exhaustion_seconds", at("/pending"), math.NaN()},
		{"slod_instance_state", at("/pending", "state=pending"), 1},
		{"slod_instance_budget_remaining_ratio", at("/spent"), -1.5},
		{"slod_instance_time_to_exhaustion_seconds", at("/spent"), 0},
		{"slod_instance_burn_rate", at("/spent", "window=1h"), 20},
		{"slod_instance_burn_rate", at("/spent", "window=5m"), math.NaN()},
	}
	for _, w := range want {
		got, ok := fams[w.family][w.series]
		switch {
		case !ok:
			t.Errorf("%s{%s} missing; the family has %v", w.family, w.series, fams[w.family])
		case math.IsNaN(w.v) != math.IsNaN(got) || (!math.IsNaN(w.v) && got != w.v):
			t.Errorf("%s{%s} = %v, want %v", w.family, w.series, got, w.v)
		}
	}
	if n := len(fams["slod_instance_burn_rate"]); n != 5 {
		t.Errorf("%d burn series, want 5 (3 windows of one instance, 2 of another, none of the pending one)", n)
	}
}
