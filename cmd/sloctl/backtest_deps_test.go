package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/server"
)

// TestBacktestDependencies: payments fails for 30 minutes and checkout,
// which depends on it, fails with it; later checkout fails on its own.
// The backtest shows one paging incident for payments listing checkout,
// checkout's first incident caused by payments and not paged, and its
// second paging on its own — in JSON and in text.
func TestBacktestDependencies(t *testing.T) {
	end := time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)
	fx := promtest.DependencyScenarios(end)
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	dir := t.TempDir()
	for name, body := range fx.DependencySLOs() {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	from := end.Add(-9 * time.Hour)
	run := func(format string) string {
		var out, errOut bytes.Buffer
		code := Main([]string{"backtest", "--prometheus-url", srv.URL, "--from", from.Format(time.RFC3339), "--to", end.Format(time.RFC3339),
			"--step", "2m", "--format", format, dir}, &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		return out.String()
	}
	var reports []BacktestReport
	if err := json.Unmarshal([]byte(run("json")), &reports); err != nil {
		t.Fatal(err)
	}
	incidents := map[string][]server.IncidentJSON{}
	for _, r := range reports {
		for _, in := range r.Instances {
			incidents[r.SLO] = append(incidents[r.SLO], in.Incidents...)
		}
	}
	pay, co := incidents["payments-availability"], incidents["checkout-availability"]
	if len(pay) != 1 || len(co) != 2 {
		t.Fatalf("incidents: payments %d, checkout %d; want 1 and 2: %+v", len(pay), len(co), incidents)
	}
	first := fx.Scenarios[promtest.ScenarioPayments][0].From
	second := fx.Scenarios[promtest.ScenarioCheckout][1].From
	if p := pay[0]; !p.Paged || p.Severity != "page" || p.CausedBy != nil || p.SymptomCount != 1 || len(p.Symptoms) != 1 ||
		p.Symptoms[0].SLO != "checkout-availability" || p.Start.Sub(first) > 2*time.Minute {
		t.Errorf("payments incident = %+v, want it paged within a step of %s, listing checkout", p, first)
	}
	if c := co[0]; c.Paged || c.CausedBy == nil || c.CausedBy.SLO != "payments-availability" || !c.Suppressed || c.Start.Sub(first) > 2*time.Minute {
		t.Errorf("checkout's first incident = %+v %+v, want caused by payments, suppressed, not paged", c, c.CausedBy)
	}
	if c := co[1]; !c.Paged || c.CausedBy != nil || c.Start.Before(second) || c.Start.Sub(second) > 2*time.Minute {
		t.Errorf("checkout's second incident = %+v, want its own page from %s", c, second)
	}

	text := run("text")
	for _, want := range []string{
		"paged, 1 dependent SLO instance(s) affected: checkout-availability",
		"not paged (caused by payments-availability)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "incident burn page"); n != 3 {
		t.Errorf("text shows %d page incidents, want 3:\n%s", n, text)
	}
}
