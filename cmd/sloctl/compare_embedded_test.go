package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/source"
)

// TestCompareFromTheEmbeddedEngine runs the policy comparison on the
// embedded PromQL engine (source.Embedded, the demo's source) instead of a
// Prometheus server: three days of the day/night history at 30 s with a
// night outage; the last day is compared. The default policy pages that
// night as well as the one before; traffic-aware pages the outage only.
func TestCompareFromTheEmbeddedEngine(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	outage := promtest.Burn{From: end.Add(-22 * time.Hour), To: end.Add(-22*time.Hour + 30*time.Minute)} // 02:00
	d := promtest.DayNight{End: end, Length: 3 * 24 * time.Hour, Outages: []promtest.Burn{outage}}
	req, errs := d.SeriesValuesHalfMinute()
	emb := source.NewEmbedded()
	if err := emb.LoadSeries(d.Start(), 30*time.Second, "slo_requests_total "+req+"\nslo_errors_total "+errs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "daynight.yaml")
	if err := os.WriteFile(path, []byte(d.SLOYAML("shop", "checkout", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := engine.Load(path)
	if cat.HasErrors() {
		t.Fatal(cat.Diagnostics)
	}
	rep, err := compare(context.Background(), cat, emb, []string{"default", "traffic-aware"}, end.Add(-24*time.Hour), end, time.Minute, engine.Correlation{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Instances) != 1 {
		t.Fatalf("instances %+v", rep.Instances)
	}
	def, ta := rep.Instances[0].Quality[0], rep.Instances[0].Quality[1]
	if ta.Pages != 1 || ta.Unwarranted != 0 || len(ta.PageList) != 1 {
		t.Fatalf("traffic-aware: %+v", ta)
	}
	// Two days of history project events(W) at the day/night mean: 2% of
	// the budget is 9.07 minutes of the night's 500 failing requests.
	if got := ta.PageList[0].Start.Sub(outage.From); got < 9*time.Minute || got > 10*time.Minute {
		t.Errorf("traffic-aware paged %s after the outage began, want 9m–10m", got)
	}
	if def.Pages < 1 || def.PageList[0].Start.After(outage.From) {
		t.Errorf("default: %+v; want a page open before the outage (the nightly one)", def.PageList)
	}
}
