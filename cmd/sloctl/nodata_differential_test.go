package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/source"
)

// TestNoDataStatesAgreeWithGeneratedRules extends the differential test to
// no data. One series description feeds both sides: the engine (through the
// embedded PromQL engine) and the generated rules (through promtool's rule
// engine). Scenarios, each its own SLO with a 10m no-data delay:
//   - gap: the app's series stop for 30 minutes, then come back;
//   - bucket: a latency threshold (0.25) that is no bucket of the histogram;
//   - renamed: the SLI names a metric that does not exist;
//   - idle: traffic drops to zero with the series still there (idle: alert);
//   - quiet: the same idle traffic without idle: alert — no alert on either side.
//
// For every no-data incident the engine opens (and closes), the rules' no-data
// alert of the same state must be inactive just before and active a recording
// lag after it opens, and inactive again a lag after it closes; where the engine
// raises nothing, the rules raise nothing either.
func TestNoDataStatesAgreeWithGeneratedRules(t *testing.T) {
	promtest.RequireBinaries(t, "promtool")
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	const (
		samples = 20 * 60 // 10 hours at 30s
		gapAt   = 8 * 60  // minute of the gap's start (sample 960)
		gapLen  = 30      // minutes
		idleAt  = 8 * 60  // minute the idle traffic starts
	)
	series := strings.Join([]string{
		fmt.Sprintf(`app_requests_total{scenario="gap"} 0+500x%d _x%d %d+500x%d`, 2*gapAt-1, 2*gapLen, 500*2*gapAt, samples-2*gapAt-2*gapLen),
		fmt.Sprintf(`app_errors_total{scenario="gap"} 0x%d`, samples),
		fmt.Sprintf(`lat_seconds_bucket{le="0.1"} 0x%d`, samples),
		fmt.Sprintf(`lat_seconds_bucket{le="0.3"} 0+400x%d`, samples),
		fmt.Sprintf(`lat_seconds_bucket{le="+Inf"} 0+500x%d`, samples),
		fmt.Sprintf(`lat_seconds_count 0+500x%d`, samples),
		fmt.Sprintf(`app_requests_total{scenario="idle"} 0+500x%d %dx%d`, 2*idleAt-1, 500*2*idleAt, samples-2*idleAt),
		fmt.Sprintf(`app_requests_total{scenario="quiet"} 0+500x%d %dx%d`, 2*idleAt-1, 500*2*idleAt, samples-2*idleAt),
	}, "\n")
	events := func(name, scenario, metric, extra string) string {
		return fmt.Sprintf(`  - name: %s
    objective: 99.9
    annotations:
      runbook: https://runbooks.example.com/app
    alerting:
      no_data: 10m
%s    sli:
      events:
        error_query: sum(rate(app_errors_total{scenario="%s"}[{{.window}}]))
        total_query: sum(rate(%s{scenario="%s"}[{{.window}}]))
`, name, extra, scenario, metric, scenario)
	}
	doc := "version: slod/v1\nservice: app\nslos:\n" +
		events("gap", "gap", "app_requests_total", "") +
		events("renamed", "gap", "app_requests_renamed_total", "") +
		events("idle", "idle", "app_requests_total", "      idle: alert\n") +
		events("quiet", "quiet", "app_requests_total", "") +
		`  - name: bucket
    objective: 99
    annotations:
      runbook: https://runbooks.example.com/app
    alerting:
      no_data: 10m
    sli:
      latency:
        metric: lat_seconds
        threshold: 0.25
`
	dir := t.TempDir()
	sloPath := filepath.Join(dir, "app.yaml")
	if err := os.WriteFile(sloPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := engine.Load(sloPath)
	if cat.HasErrors() {
		t.Fatal(cat.Diagnostics)
	}

	// The engine's side, ticking every minute.
	emb := source.NewEmbedded()
	if err := emb.LoadSeries(start, 30*time.Second, series); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Querier: emb})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Apply(cat, start); err != nil {
		t.Fatal(err)
	}
	type span struct {
		state      string
		open, shut int // minutes; shut -1 while open
	}
	spans := map[string][]span{}
	const from, to = 120, 10*60 - 1
	for m := from; m <= to; m++ {
		res := eng.Tick(context.Background(), start.Add(time.Duration(m)*time.Minute))
		for _, c := range res.Changes {
			if c.Incident.Class != burnrate.ClassNoData {
				continue
			}
			id := c.Incident.SLO
			switch c.Kind {
			case burnrate.ChangeOpened:
				spans[id] = append(spans[id], span{state: string(c.Incident.NoDataState), open: m, shut: -1})
			case burnrate.ChangeResolved:
				spans[id][len(spans[id])-1].shut = m
			}
		}
	}
	// What the engine must have seen, before comparing with the rules.
	want := map[string]string{"app-gap": "broken", "app-renamed": "broken", "app-idle": "idle", "app-bucket": "broken"}
	for id, state := range want {
		if len(spans[id]) == 0 || spans[id][0].state != state {
			t.Fatalf("engine no-data incidents of %s: %+v, want one %s", id, spans[id], state)
		}
	}
	if len(spans["app-quiet"]) != 0 {
		t.Fatalf("engine raised %+v for idle traffic without idle: alert", spans["app-quiet"])
	}
	if g := spans["app-gap"][0]; g.open < gapAt+9 || g.open > gapAt+12 || g.shut < gapAt+gapLen || g.shut > gapAt+gapLen+2 {
		t.Fatalf("engine gap incident %+v, want open about 10m after the gap starts at %d, closed when it ends at %d", g, gapAt, gapAt+gapLen)
	}

	// The rules' side.
	file, err := rules.Generate(cat.Set.SLOs, cat.Policies(), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rulesYAML strings.Builder
	if err := file.Encode(&rulesYAML, "prometheus"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(rulesYAML.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	type alert struct {
		name                string
		labels, annotations map[string]string
	}
	noData := map[string]alert{} // by slo + "/" + state
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" && r.Labels[burnrate.NoDataStateLabel] != "" {
				noData[r.Labels["slo"]+"/"+r.Labels[burnrate.NoDataStateLabel]] = alert{r.Alert, r.Labels, r.Annotations}
			}
		}
	}
	// The rules see missing data through 5m recorded rates and hold it for
	// the delay: they may raise it up to one base window (5m) after the
	// engine, and drop it up to that much later too.
	lag := int(rules.DefaultBaseWindow/time.Minute) + 1
	type expAlert struct {
		ExpLabels      map[string]string `yaml:"exp_labels"`
		ExpAnnotations map[string]string `yaml:"exp_annotations"`
	}
	type check struct {
		EvalTime  string     `yaml:"eval_time"`
		Alertname string     `yaml:"alertname"`
		ExpAlerts []expAlert `yaml:"exp_alerts"`
	}
	var checks []check
	// firing is the engine's no-data state of an SLO at minute m.
	firing := func(id string, m int) (string, bool) {
		for _, sp := range spans[id] {
			if m >= sp.open && (sp.shut < 0 || m < sp.shut) {
				return sp.state, true
			}
		}
		return "", false
	}
	ids := []string{"app-bucket", "app-gap", "app-idle", "app-quiet", "app-renamed"}
	// A check at m is fair when no SLO's engine state changed within the
	// lag before it: then the rules must show exactly the engine's alerts.
	stable := func(m int) bool {
		for _, id := range ids {
			s0, f0 := firing(id, m)
			for d := 1; d <= lag; d++ {
				if s, f := firing(id, m-d); s != s0 || f != f0 {
					return false
				}
			}
		}
		return true
	}
	times := map[int]bool{}
	for _, id := range ids {
		for _, sp := range spans[id] {
			times[sp.open-1], times[sp.open+lag] = true, true
			if sp.shut >= 0 {
				times[sp.shut-1], times[sp.shut+lag] = true, true
			}
		}
	}
	for m := from + lag + 1; m < to; m += 37 {
		times[m] = true
	}
	var ms []int
	for m := range times {
		if m > from+lag && m < to && stable(m) {
			ms = append(ms, m)
		}
	}
	sort.Ints(ms)
	for _, m := range ms {
		c := check{EvalTime: fmt.Sprintf("%dm", m), Alertname: rules.DefaultNoDataAlert, ExpAlerts: []expAlert{}}
		for _, id := range ids {
			state, on := firing(id, m)
			if !on {
				continue
			}
			a, ok := noData[id+"/"+state]
			if !ok {
				t.Fatalf("no generated %s no-data alert for %s", state, id)
			}
			c.ExpAlerts = append(c.ExpAlerts, expAlert{ExpLabels: a.labels, ExpAnnotations: a.annotations})
		}
		checks = append(checks, c)
	}
	if len(checks) < 10 {
		t.Fatalf("only %d fair check times", len(checks))
	}
	body, err := yaml.Marshal(map[string]any{
		"rule_files":          []string{"rules.yml"},
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":        "30s",
			"input_series":    inputSeries(series),
			"alert_rule_test": checks,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	testPath := filepath.Join(dir, "nodata_test.yml")
	if err := os.WriteFile(testPath, body, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "test", "rules", testPath)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s\nengine spans %+v", err, out, spans)
	}
	t.Logf("%d checks agree; engine no-data incidents %+v", len(checks), spans)
}

// inputSeries turns series-notation lines into promtool's input_series.
func inputSeries(text string) []map[string]string {
	var out []map[string]string
	for _, line := range strings.Split(text, "\n") {
		i := strings.LastIndex(line, "} ")
		if i < 0 {
			i = strings.Index(line, " ") - 1
		}
		out = append(out, map[string]string{"series": line[:i+1], "values": strings.TrimSpace(line[i+1:])})
	}
	return out
}
