package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/rules"
)

// TestGeneratedRulesAgreeWithTheReport backfills the generated rules of
// the November fixture's SLO (its exclusion indicator, then the base rates
// it weighs) into the same Prometheus with `promtool tsdb create-blocks-from
// rules`, and compares the SLI they record over November with the exact
// one the report gives: they agree within the recording lag (a base
// window after the exclusion is dropped whole, and the 5m windows at the
// month's edges straddle them).
func TestGeneratedRulesAgreeWithTheReport(t *testing.T) {
	// Minutes of promtool and Prometheus work: beside the package's other
	// heavy tests, not after them (each has its own server and files).
	t.Parallel()
	promtest.RequireBinaries(t, "prometheus", "promtool")
	fx := newNovemberFixture()
	data := filepath.Join(t.TempDir(), "data")
	if err := promtest.CreateBlocks(context.Background(), strings.NewReader(fx.openMetrics(t)), data); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Options{DataDir: data})
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	xFrom, xTo := time.Date(2026, 11, 14, 2, 0, 0, 0, time.UTC), time.Date(2026, 11, 14, 3, 0, 0, 0, time.UTC)
	wantSLI, _, _ := fx.exact(from, to, xFrom, xTo)

	cat := engine.Load("testdata/report/shop.yaml")
	if cat.HasErrors() {
		t.Fatal(cat.Diagnostics)
	}
	f, err := rules.Generate(cat.Set.SLOs, cat.Policies(), rules.Options{Exclusions: cat.Set.ExclusionsFor})
	if err != nil {
		t.Fatal(err)
	}
	pick := func(names ...string) []rules.Rule {
		var out []rules.Rule
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				for _, n := range names {
					if r.Record == n {
						out = append(out, r)
					}
				}
			}
		}
		if len(out) != len(names) {
			t.Fatalf("rules %v: found %d", names, len(out))
		}
		return out
	}
	// The rates read the indicator: it must be in the TSDB first.
	backfill(t, srv, data, from.Add(-time.Hour), to, pick(rules.Included))
	backfill(t, srv, data, from.Add(-time.Hour), to, pick(rules.ErrorsRate+"5m", rules.TotalRate+"5m"))

	q := fmt.Sprintf(`1 - sum_over_time(%s5m{slo="shop-availability"}[30d]) / sum_over_time(%s5m{slo="shop-availability"}[30d])`, rules.ErrorsRate, rules.TotalRate)
	got := instant(t, srv.URL, q, to)
	if rel := math.Abs(got-wantSLI) / wantSLI; rel > 1e-6 {
		t.Errorf("the rules record an SLI of %v over November, the report's exact one is %v (relative difference %.2g)", got, wantSLI, rel)
	}
	withMaint, _, _ := fx.exact(from, to, time.Time{}, time.Time{})
	t.Logf("rules %.9f, report (exact) %.9f, with the maintenance counted %.9f", got, wantSLI, withMaint)
	// The indicator reads 0 at the evaluations inside (from, to + 5m): 65
	// of the group's minutely evaluations (64 if they fell on whole
	// minutes), and 1 before and after. promtool evaluates a group at its
	// own offset within the minute, as the rule manager does.
	zeros := instant(t, srv.URL, fmt.Sprintf(`sum_over_time((1 - %s{slo="shop-availability"})[3h:1m])`, rules.Included), xTo.Add(time.Hour))
	if zeros != 64 && zeros != 65 {
		t.Errorf("%v evaluations excluded around the maintenance, want the hour and the 5m lag (64 or 65)", zeros)
	}
	if v := instant(t, srv.URL, rules.Included+`{slo="shop-availability"}`, xTo.Add(10*time.Minute)); v != 1 {
		t.Errorf("%s = %v ten minutes after the maintenance", rules.Included, v)
	}
}

// backfill evaluates recording rules over [start, end] with promtool and
// adds the blocks to the server's data directory (a restart loads them).
func backfill(t *testing.T, srv *promtest.Server, data string, start, end time.Time, rs []rules.Rule) {
	t.Helper()
	dir := t.TempDir()
	doc := map[string]any{"groups": []map[string]any{{"name": "backfill", "interval": "1m", "rules": rs}}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "blocks")
	cmd := exec.Command("promtool", "tsdb", "create-blocks-from", "rules", "--quiet", "--url", srv.URL,
		"--start", start.Format(time.RFC3339), "--end", end.Format(time.RFC3339), "--eval-interval", "1m", "--output-dir", out, file)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, b)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for _, e := range entries {
		if err := os.Rename(filepath.Join(out, e.Name()), filepath.Join(data, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	srv.Start(t)
}

// instant is the value of a one-series instant query at at.
func instant(t *testing.T, base, q string, at time.Time) float64 {
	t.Helper()
	vs, err := promtest.InstantValues(context.Background(), base, q, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%s at %s: %d series", q, at, len(vs))
	}
	return vs[0]
}
