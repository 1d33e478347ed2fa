package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/slo"
)

// TestBudgetMeasureRulesAgreeWithEngine is the budget measure's
// differential test on the day/night history (31 days at 1m, fixed end):
// `sloctl backtest` with the traffic-aware policy, replaying the last week
// from a real Prometheus 2.42, and the rules `sloctl generate` writes for
// it, evaluated by that same Prometheus, page at the same steps within one
// interval (tickets within the 5m base window, as in
// TestBacktestAgreesWithGeneratedRules).
//
// promtool test rules cannot run this history: it evaluates every group
// every evaluation_interval (it ignores a group's interval) with at most
// 10,000 samples a query, so the 30d window over the hourly tier fails
// after 166h40m of a 1m test. Instead the generated recording rules the
// alerts read are backfilled into the server's TSDB with `promtool tsdb
// create-blocks-from rules` (Prometheus's rule evaluation as range
// queries, each group at its own interval), stage by stage in the order
// they read each other, and the alert expressions are then evaluated by
// the server at every minute of the week.
func TestBudgetMeasureRulesAgreeWithEngine(t *testing.T) {
	// Minutes of promtool and Prometheus work: beside the package's other
	// heavy tests, not after them (each has its own server and files).
	t.Parallel()
	promtest.RequireBinaries(t, "prometheus", "promtool")
	d, _, _ := dayNightHistory()
	dir := t.TempDir()
	sloPath := filepath.Join(dir, "slo.yaml")
	if err := os.WriteFile(sloPath, []byte(d.SLOYAML("shop", "checkout", burnrate.TrafficAwarePolicyName)), 0o644); err != nil {
		t.Fatal(err)
	}
	start := d.Start()
	from := d.End.Add(-7 * 24 * time.Hour)
	week := int(d.End.Sub(from) / time.Minute)
	dataDir := filepath.Join(dir, "data")
	ctx := context.Background()
	if err := promtest.CreateBlocks(ctx, strings.NewReader(d.OpenMetrics()), dataDir); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Options{DataDir: dataDir})
	var out, errOut bytes.Buffer
	if code := Main([]string{"backtest", "--prometheus-url", srv.URL, "--from", from.Format(time.RFC3339),
		"--to", d.End.Format(time.RFC3339), "--format", "json", sloPath}, &out, &errOut); code != 0 {
		t.Fatalf("backtest exit %d: %s", code, errOut.String())
	}
	var reports []BacktestReport
	if err := json.Unmarshal(out.Bytes(), &reports); err != nil || len(reports) != 1 || len(reports[0].Instances) != 1 {
		t.Fatalf("backtest output %v: %s", err, out.String())
	}
	// Per severity, whether the engine fires at minute m of the week
	// (m = 1 is the step that ends a minute after from).
	engine := map[burnrate.Severity][]bool{}
	for _, row := range reports[0].Instances[0].Rows {
		if row.Measure != string(burnrate.MeasureBudget) {
			t.Fatalf("row %+v does not use the budget measure", row)
		}
		f := engine[row.Severity]
		if f == nil {
			f = make([]bool, week+1)
			engine[row.Severity] = f
		}
		for _, fi := range row.Firings {
			end := d.End.Add(time.Minute)
			if !fi.Resolved.IsZero() {
				end = fi.Resolved
			}
			for m := int(fi.Fired.Sub(from) / time.Minute); m < int(end.Sub(from)/time.Minute) && m <= week; m++ {
				f[m] = true
			}
		}
	}

	// The rules: generate, then backfill the recording rules the burn
	// alerts read, in stages, each reading only what is already recorded.
	set, diags := slo.Check(sloPath)
	if slo.HasErrors(diags) {
		t.Fatal(diags)
	}
	file, err := rules.Generate(set.SLOs, burnrate.Policies(set), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alertExpr := map[burnrate.Severity]string{}
	var needed []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == rules.DefaultBurnAlert {
				alertExpr[burnrate.Severity(r.Labels["severity"])] = r.Expr
				needed = append(needed, recordedNames.FindAllString(r.Expr, -1)...)
			}
		}
	}
	if !slices.Contains(needed, rules.TotalMeanRate+"30d") {
		t.Fatalf("the alerts do not read events(W): %v", alertExpr)
	}
	stages, full := ruleStages(t, file, needed)
	began := time.Now()
	for i, stage := range stages {
		// The rules the hourly tier reads need the whole history; the
		// others only the week (and the hour before it).
		for _, part := range []struct {
			name string
			from time.Time
			keep bool
		}{{"full", start, true}, {"week", from.Add(-time.Hour), false}} {
			f := &rules.File{Groups: []rules.Group{{Name: stage.Groups[0].Name, Interval: stage.Groups[0].Interval}}}
			for _, r := range stage.Groups[0].Rules {
				if full[r.Record] == part.keep {
					f.Groups[0].Rules = append(f.Groups[0].Rules, r)
				}
			}
			if len(f.Groups[0].Rules) == 0 {
				continue
			}
			path := filepath.Join(dir, fmt.Sprintf("stage%d-%s.yml", i+1, part.name))
			var b bytes.Buffer
			if err := f.Encode(&b, "prometheus"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := promtest.BackfillRules(ctx, srv.URL, path, part.from, d.End, dataDir); err != nil {
				t.Fatal(err)
			}
		}
		srv.Restart(t)
	}
	t.Logf("backfilled %d stages of recording rules in %s", len(stages), time.Since(began).Round(time.Second))

	api, err := promapi.NewClient(promapi.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	for sev, f := range engine {
		expr := alertExpr[sev]
		if expr == "" {
			t.Fatalf("no generated alert for %s", sev)
		}
		val, _, _, err := promv1.NewAPI(api).QueryRange(ctx, expr, promv1.Range{Start: from.Add(time.Minute), End: d.End, Step: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		rf := make([]bool, week+1)
		if m, ok := val.(model.Matrix); ok {
			for _, s := range m {
				for _, p := range s.Values {
					rf[int(p.Timestamp.Time().Sub(from)/time.Minute)] = true
				}
			}
		}
		tol := 1
		if sev == burnrate.SeverityTicket {
			tol = int(rules.DefaultBaseWindow / time.Minute)
		}
		transitions, ruleTransitions := 0, 0
		for m := 1; m <= week; m++ {
			if f[m] != f[m-1] {
				transitions++
			}
			if m > 1 && rf[m] != rf[m-1] {
				ruleTransitions++
			}
			if f[m] == rf[m] {
				continue
			}
			// A disagreement must sit within tol of one of slod's flips.
			near := false
			for k := max(m-tol, 1); k <= min(m+tol, week); k++ {
				near = near || f[k] != f[k-1]
			}
			if !near {
				t.Errorf("%s at %s: slod fires %v, the rules %v", sev, from.Add(time.Duration(m)*time.Minute), f[m], rf[m])
			}
		}
		if transitions != ruleTransitions {
			t.Errorf("%s: slod flips %d times, the rules %d", sev, transitions, ruleTransitions)
		}
		if sev == burnrate.SeverityPage {
			pages = transitions
		}
		t.Logf("%s: %d flips agree within %d interval(s)", sev, transitions, tol)
	}
	if pages < 4 {
		t.Fatalf("slod paged with only %d flips: %+v", pages, reports[0].Instances[0].Rows)
	}
}

// recordedNames finds the series names the generated rules record.
var recordedNames = regexp.MustCompile(`slod:[a-z_]+:[a-z_0-9]+`)

// ruleStages returns the recording rules the names need (and what they
// read in turn), split into stages: each stage reads only raw series and
// what earlier stages record. A stage holds one group interval. full
// names the rules of groups with an interval of their own (the hourly
// tier, which reads the whole SLO window) and what they read.
func ruleStages(t *testing.T, f *rules.File, names []string) (stages []*rules.File, full map[string]bool) {
	t.Helper()
	type rec struct {
		rule  rules.Rule
		group rules.Group
		reads []string
	}
	byName := map[string]rec{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				byName[r.Record] = rec{rule: r, group: g, reads: recordedNames.FindAllString(r.Expr, -1)}
			}
		}
	}
	want := map[string]bool{}
	var add func(string)
	add = func(n string) {
		if want[n] {
			return
		}
		r, ok := byName[n]
		if !ok {
			t.Fatalf("no recording rule for %s", n)
		}
		want[n] = true
		for _, x := range r.reads {
			add(x)
		}
	}
	for _, n := range names {
		add(n)
	}
	full = map[string]bool{}
	var mark func(string)
	mark = func(n string) {
		if !full[n] {
			full[n] = true
			for _, x := range byName[n].reads {
				mark(x)
			}
		}
	}
	for n := range want {
		if byName[n].group.Interval != "" {
			mark(n)
		}
	}
	done := map[string]bool{}
	for len(done) < len(want) {
		byInterval := map[string]*rules.Group{}
		var order []string
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if !want[r.Record] || done[r.Record] {
					continue
				}
				ready := true
				for _, x := range byName[r.Record].reads {
					ready = ready && done[x]
				}
				if !ready {
					continue
				}
				sg := byInterval[g.Interval]
				if sg == nil {
					sg = &rules.Group{Name: g.Name, Interval: g.Interval}
					byInterval[g.Interval] = sg
					order = append(order, g.Interval)
				}
				sg.Rules = append(sg.Rules, r)
			}
		}
		if len(order) == 0 {
			t.Fatalf("recording rules read each other in a cycle")
		}
		for _, iv := range order {
			stages = append(stages, &rules.File{Groups: []rules.Group{*byInterval[iv]}})
			for _, r := range byInterval[iv].Rules {
				done[r.Record] = true
			}
		}
	}
	return stages, full
}
