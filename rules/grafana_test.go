package rules

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/slo"
)

// TestGrafanaDashboardQueriesReturnDataFromTheGeneratedRules loads the
// rules of two SLOs (one with an outage 30 minutes ago) into a real
// Prometheus over two hours of history ending now, lets it evaluate them
// every second, and runs every query of the generated dashboard: each
// parses, and each returns data.
func TestGrafanaDashboardQueriesReturnDataFromTheGeneratedRules(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	end := time.Now().UTC().Truncate(time.Minute)
	fx := promtest.SLOFixture{End: end, Length: 2 * time.Hour, RequestsPerMinute: 1000, Scenarios: map[string][]promtest.Burn{
		"outage": {{From: end.Add(-30 * time.Minute), To: end.Add(-20 * time.Minute), ErrorsPerMinute: 1000}},
		"steady": nil,
	}}
	set, diags := slo.LoadBytes("shop.yaml", []byte(fx.SLOYAML("shop", 99.9, "30d", "outage", "steady")))
	for _, d := range diags {
		if d.Severity == slo.SeverityError {
			t.Fatal(d)
		}
	}
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The same rules, every group evaluated every second: the hourly
	// budget groups would otherwise first run up to an hour from now.
	for i := range f.Groups {
		f.Groups[i].Interval = "1s"
	}
	dash, err := Dashboard(f)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := DashboardQueries(dash)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 10 {
		t.Fatalf("%d queries", len(queries))
	}
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "slo.rules.yml")
	w, err := os.Create(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Encode(w, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics(),
		Config: "global:\n  scrape_interval: 1m\n  evaluation_interval: 1s\nrule_files:\n  - " + rulesPath + "\n"})
	p := parser.NewParser(parser.Options{})
	empty := map[string]bool{}
	for _, q := range queries {
		expanded := strings.ReplaceAll(q, "$slo", ".*")
		if _, err := p.ParseExpr(expanded); err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		empty[expanded] = true
	}
	// The rules need an evaluation or two; give them 30 s.
	deadline := time.Now().Add(30 * time.Second)
	for len(empty) > 0 && time.Now().Before(deadline) {
		for q := range empty {
			if n := resultCount(t, srv.URL, q); n > 0 {
				delete(empty, q)
			}
		}
		if len(empty) > 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	for q := range empty {
		t.Errorf("the dashboard's query returns nothing: %s", q)
	}
	// The outage's SLO burns: its 1h burn is far above 1.
	if n := resultCount(t, srv.URL, `slod:sli_error:ratio_rate1h{slo="shop-outage"} / on(slo) group_left() slod:error_budget:ratio > 10`); n != 1 {
		t.Errorf("the outage's 1h burn is not above 10×: %d series", n)
	}
}

func resultCount(t *testing.T, base, q string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {q}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("%s: %s", q, r.Error)
	}
	return len(r.Data.Result)
}

func TestGrafanaDashboardIsProvisioningReady(t *testing.T) {
	set, _ := slo.LoadBytes("shop.yaml", []byte(promtest.SLOFixture{}.SLOYAML("shop", 99.5, "28d", "a")))
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dash, err := Dashboard(f)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(dash, &m); err != nil {
		t.Fatal(err)
	}
	if m["uid"] != DashboardUID || m["id"] != nil || m["schemaVersion"] != 39.0 {
		t.Errorf("uid %v, id %v, schemaVersion %v", m["uid"], m["id"], m["schemaVersion"])
	}
	if !strings.Contains(string(dash), `1 - slod:sli_error:ratio_rate28d{slo=~\"$slo\"}`) {
		t.Error("no SLI over the SLO's 28d window")
	}
	if _, err := Dashboard(&File{}); err == nil {
		t.Error("a dashboard of no rules is made")
	}
}
