package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/notify/notifytest"
)

// TestProcessPagesOncePerRootCause runs the real slod process against a
// real Prometheus and a PagerDuty wire-format server: payments fails for
// 2 minutes and checkout, which depends on it, fails with it; from 12
// minutes on checkout fails on its own. PagerDuty gets one incident for
// the first failure, payments', whose details name checkout, and one for
// the second, checkout's own.
func TestProcessPagesOncePerRootCause(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	fails := map[string][][2]time.Duration{
		"payments": {{0, 2 * time.Minute}},
		"checkout": {{0, 2 * time.Minute}, {12 * time.Minute, 14 * time.Minute}},
	}
	start := processBase.Add(-2 * time.Hour)
	n := int((2*time.Hour + 40*time.Minute) / processStep)
	counters := []promtest.Counter{{Family: "slo_requests", Value: func(i int) float64 { return float64(i) * 100 }}}
	for svc, ivs := range fails {
		counters = append(counters, promtest.Counter{Family: "slo_errors", Labels: map[string]string{"scenario": svc},
			Value: func(i int) float64 {
				ts := start.Add(time.Duration(i) * processStep)
				var v float64
				for _, iv := range ivs {
					for x := processBase.Add(iv[0]); x.Before(processBase.Add(iv[1])) && x.Before(ts); x = x.Add(processStep) {
						v += 100
					}
				}
				return v
			}})
	}
	var om bytes.Buffer
	if err := promtest.WriteOpenMetrics(&om, start, processStep, n, counters...); err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
	pd := notifytest.NewPagerDuty()
	defer pd.Close()

	slo := func(svc, deps string) string {
		return "version: slod/v1\nservice: " + svc + "\n" + deps + "slos:\n  - name: availability\n    objective: 99.9\n    window: 30d\n    policy: fast\n" +
			"    annotations:\n      runbook: https://runbooks.example.com/" + svc + "\n    sli:\n      events:\n" +
			"        error_query: sum(rate(slo_errors_total{scenario=\"" + svc + "\"}[{{.window}}]))\n" +
			"        total_query: sum(rate(slo_requests_total[{{.window}}]))\n"
	}
	dir := sloDir(t, map[string]string{
		"policy.yaml":   "version: slod/v1\nkind: Policy\nname: fast\nrows:\n  - severity: page\n    long: 2m\n    short: 20s\n    budget_percent: 0.5\n",
		"payments.yaml": slo("payments", ""),
		"checkout.yaml": slo("checkout", "depends_on: [payments]\n"),
	})
	listen := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	clock := newVirtualTime(processBase.Add(-20 * time.Second))
	args := []string{"--slo-dir", dir, "--prometheus-url", prom.URL, "--notify-config", pdConfig(t, pd),
		"--state-dir", t.TempDir(), "--listen", listen, "--step", "10s", "--interval", "10s", "--query-delay", "0s",
		"--hold-down", "10s", "--correlation-grace", "20s", "--test.clock-speed", fmt.Sprint(processSpeed),
		"--test.clock-start", clock.now().Format(time.RFC3339Nano)}
	p := startSlod(t, slodBinary(t), []string{pdKeyEnv + "=0123456789abcdef0123456789abcdef"}, args...)
	waitFor(t, "slod ready", 30*time.Second, func() bool { return ready(p.url) }, func() string { return p.stderr.String() })

	payKey := DedupKey("payments-availability", nil, burnrate.ClassBurn)
	coKey := DedupKey("checkout-availability", nil, burnrate.ClassBurn)
	state := func() string {
		return fmt.Sprintf("virtual now %s; PagerDuty incidents %+v; slod log:\n%s", clock.now(), pd.Incidents(), p.stderr.String())
	}
	// While both burn, the API nests checkout under payments.
	waitFor(t, "checkout nested under payments in the API", 40*time.Second, func() bool {
		inc, ok := openIncident(t, p.url, "payments-availability")
		return ok && len(inc.Affected) == 1 && inc.Affected[0].SLO == "checkout-availability" && !inc.Affected[0].Paged
	}, state)
	waitFor(t, "checkout's own failure paged and resolved", 90*time.Second, func() bool {
		incs := incidentsFor(pd, coKey)
		return len(incs) == 1 && incs[0].Resolved
	}, state)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	pay := incidentsFor(pd, payKey)
	if len(pay) != 1 || !pay[0].Resolved {
		t.Fatalf("payments: %d PagerDuty incidents %+v, want 1, resolved", len(pay), pay)
	}
	details := pay[0].Last.Payload.CustomDetails
	affected, _ := json.Marshal(details["affected"])
	if !strings.Contains(string(affected), `"slo":"checkout-availability"`) {
		t.Errorf("payments' page details %v do not name checkout in affected", details)
	}
	co := incidentsFor(pd, coKey)
	if got := co[0].Opened; got.IsZero() {
		t.Errorf("checkout incident %+v has no open time", co[0])
	}
	if _, linked := co[0].Last.Payload.CustomDetails["caused_by"]; linked {
		t.Errorf("checkout's own failure names a cause: %v", co[0].Last.Payload.CustomDetails)
	}
	// The first failure's checkout never reached PagerDuty: a trigger then
	// would have opened an incident of its own, resolved before the second.
	if len(co) != 1 {
		t.Errorf("checkout: %d PagerDuty incidents, want 1 (its own failure only): %+v", len(co), co)
	}
	if !strings.Contains(pay[0].Last.Payload.Summary, "1 dependent SLO") {
		t.Errorf("payments' page summary %q does not say a dependent burns with it", pay[0].Last.Payload.Summary)
	}
	triggers, resolves := pageCounts(pd, coKey)
	if resolves != 1 || triggers < 1 {
		t.Errorf("checkout: %d triggers, %d resolves; want its own incident's trigger(s) and one resolve", triggers, resolves)
	}
	if rej := pd.Rejected(); len(rej) > 0 {
		t.Errorf("PagerDuty rejected events: %v", rej)
	}
	if incs := pd.Incidents(); len(incs) != 2 {
		t.Errorf("PagerDuty has %d incidents, want 2 (one per root cause): %+v", len(incs), incs)
	}
}
