package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/slo"
)

// TestBacktestAgreesWithGeneratedRules is the differential test: on the
// same synthetic history, the alerts Prometheus's rule engine raises from
// `sloctl generate` output (run by `promtool test rules`) and the firings
// `sloctl backtest` reports (replayed from a real Prometheus 2.42 holding
// the same history) flip at the same steps within one evaluation interval.
//
// History: 1,000 requests a minute for 30 hours; a full outage from hour 24
// for two hours; then four clean hours. The pages fire and resolve; the
// 3d/6h ticket (its 3d window holds only the one day there is) fires and
// is still firing at the end.
func TestBacktestAgreesWithGeneratedRules(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	const minutes = 30 * 60
	outageFrom, outageTo := 24*60, 26*60
	fx := promtest.SLOFixture{End: start.Add(minutes * time.Minute), Length: minutes * time.Minute, RequestsPerMinute: 1000,
		Scenarios: map[string][]promtest.Burn{"outage": {{From: start.Add(time.Duration(outageFrom) * time.Minute),
			To: start.Add(time.Duration(outageTo) * time.Minute), ErrorsPerMinute: 1000}}}}
	dir := t.TempDir()
	sloPath := filepath.Join(dir, "slo.yaml")
	if err := os.WriteFile(sloPath, []byte(fx.SLOYAML("fixture", 99.9, "30d", "outage")), 0o644); err != nil {
		t.Fatal(err)
	}

	// slod's side: backtest over the whole history.
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.OpenMetrics()})
	var out, errOut bytes.Buffer
	if code := Main([]string{"backtest", "--prometheus", srv.URL, "--from", start.Format(time.RFC3339),
		"--to", fx.End.Format(time.RFC3339), "--format", "json", sloPath}, &out, &errOut); code != 0 {
		t.Fatalf("backtest exit %d: %s", code, errOut.String())
	}
	var reports []BacktestReport
	if err := json.Unmarshal(out.Bytes(), &reports); err != nil || len(reports) != 1 || len(reports[0].Instances) != 1 {
		t.Fatalf("backtest output %v: %s", err, out.String())
	}
	// Per severity class, the minutes (since start) at which it fires.
	firing := map[burnrate.Severity][]bool{}
	for _, row := range reports[0].Instances[0].Rows {
		f := firing[row.Severity]
		if f == nil {
			f = make([]bool, minutes+1)
			firing[row.Severity] = f
		}
		for _, fi := range row.Firings {
			end := fx.End.Add(time.Minute)
			if !fi.Resolved.IsZero() {
				end = fi.Resolved
			}
			for m := int(fi.Fired.Sub(start) / time.Minute); m < int(end.Sub(start)/time.Minute) && m <= minutes; m++ {
				f[m] = true
			}
		}
	}

	// The rules' side: generate, then let promtool's rule engine evaluate
	// them every minute over the same series.
	set, diags := slo.Check(sloPath)
	if slo.HasErrors(diags) {
		t.Fatal(diags)
	}
	file, err := rules.Generate(set.SLOs, burnrate.Policies(set), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rulesYAML bytes.Buffer
	if err := file.Encode(&rulesYAML, "prometheus"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), rulesYAML.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	alertExpr := map[burnrate.Severity]string{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == rules.DefaultBurnAlert {
				if r.For != "" {
					t.Fatalf("alert has for: %s; the comparison assumes none", r.For)
				}
				alertExpr[burnrate.Severity(r.Labels["severity"])] = r.Expr
			}
		}
	}

	// Checks: around every transition slod reports, the rule's state one
	// interval before the earliest allowed flip and at the latest allowed
	// flip. Pages must agree within one interval. The generated rules
	// derive windows over 6h (the ticket rows' 1d and 3d) from 5m rates
	// recorded every minute, so a minute's errors reach them spread over
	// the next five evaluations: tickets may flip up to that base window
	// later than slod's exact per-step counts (reported to the rules owner).
	tolerance := map[burnrate.Severity]int{
		burnrate.SeverityPage:   1,
		burnrate.SeverityTicket: int(rules.DefaultBaseWindow / time.Minute),
	}
	var checks strings.Builder
	transitions := 0
	for sev, f := range firing {
		tol := tolerance[sev]
		expr, ok := alertExpr[sev]
		if !ok {
			t.Fatalf("no generated alert for %s", sev)
		}
		check := func(m int, fires bool) {
			if m < 1 || m > minutes {
				return
			}
			want := "[]"
			if fires {
				want = "\n          - labels: '{}'\n            value: 1"
			}
			fmt.Fprintf(&checks, "      - expr: |\n          count(\n%s\n          )\n        eval_time: %dm\n        exp_samples: %s\n",
				indent(expr, "            "), m, want)
		}
		for m := 1; m <= minutes; m++ {
			if f[m] != f[m-1] {
				transitions++
				// slod flips at m; the rules must flip within tol intervals:
				// still in the old state at m−1−tol, in the new one at m+tol.
				check(m-1-tol, f[m-1])
				check(m+tol, f[m])
			}
		}
		// And well inside every stretch: the same state.
		for m := 30; m <= minutes-tol; m += 97 {
			same := true
			for d := -tol - 1; d <= tol; d++ {
				same = same && f[m+d] == f[m]
			}
			if same {
				check(m, f[m])
			}
		}
	}
	if transitions < 3 {
		t.Fatalf("backtest reported only %d transitions: %+v", transitions, reports[0].Instances[0].Rows)
	}
	test := fmt.Sprintf(`rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'slo_requests_total'
        values: '0+1000x%d'
      - series: 'slo_errors_total{scenario="outage"}'
        values: '0x%d 1000+1000x%d %dx%d'
    promql_expr_test:
%s`, minutes, outageFrom, outageTo-outageFrom-1, (outageTo-outageFrom)*1000, minutes-outageTo, checks.String())
	testPath := filepath.Join(dir, "differential_test.yml")
	if err := os.WriteFile(testPath, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("promtool", "test", "rules", testPath)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, b)
	}
	t.Logf("%d transitions agree (pages within one interval, tickets within %d)", transitions, tolerance[burnrate.SeverityTicket])
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
