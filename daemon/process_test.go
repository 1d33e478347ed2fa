package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/notify/notifytest"
)

// Tests of the real slod process run it on a virtual clock (the hidden
// --test.clock-* flags) against a real Prometheus holding a fixture with
// a fixed end: minutes of evaluation play out in seconds, and the
// fixture's times do not depend on when the test runs.

// processBase is the fixture's reference time: bursts start here.
var processBase = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

const (
	processStep  = 10 * time.Second
	processSpeed = 20.0
)

// processFixture holds 10s scrapes of slo_requests_total (100 a scrape)
// from processBase−2h to processBase+40m and, per scenario, an
// slo_errors_total that counts every request as failed from processBase
// for that scenario's burn.
func processFixture(t *testing.T, burns map[string]time.Duration) *promtest.Server {
	t.Helper()
	promtest.RequireBinaries(t, "prometheus", "promtool")
	start := processBase.Add(-2 * time.Hour)
	n := int((2*time.Hour + 40*time.Minute) / processStep)
	counters := []promtest.Counter{{Family: "slo_requests", Value: func(i int) float64 { return float64(i) * 100 }}}
	for scenario, burn := range burns {
		counters = append(counters, promtest.Counter{Family: "slo_errors", Labels: map[string]string{"scenario": scenario},
			Value: func(i int) float64 {
				ts := start.Add(time.Duration(i) * processStep)
				var v float64
				for x := processBase; x.Before(processBase.Add(burn)) && x.Before(ts); x = x.Add(processStep) {
					v += 100
				}
				return v
			}})
	}
	var om bytes.Buffer
	if err := promtest.WriteOpenMetrics(&om, start, processStep, n, counters...); err != nil {
		t.Fatal(err)
	}
	return promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
}

// processSLOs is an SLO directory with one SLO, <scenario>-test, on the
// scenario's errors, and a fast policy (page when 0.5% of the budget burns
// in 2m, still burning in 20s) so a burst pages within seconds.
func processSLOs(t *testing.T, scenario string) string {
	t.Helper()
	return sloDir(t, map[string]string{
		"policy.yaml": "version: slod/v1\nkind: Policy\nname: fast\nrows:\n  - severity: page\n    long: 2m\n    short: 20s\n    budget_percent: 0.5\n",
		scenario + ".yaml": "version: slod/v1\nservice: " + scenario + "\nslos:\n  - name: test\n    objective: 99.9\n    window: 30d\n    policy: fast\n" +
			"    annotations:\n      runbook: https://runbooks.example.com/" + scenario + "\n    sli:\n      events:\n" +
			"        error_query: sum(rate(slo_errors_total{scenario=\"" + scenario + "\"}[{{.window}}]))\n" +
			"        total_query: sum(rate(slo_requests_total[{{.window}}]))\n",
	})
}

// virtualTime maps the wall clock onto the fixture's time, the same for
// every slod process a test starts, so a restarted daemon continues where
// the killed one was.
type virtualTime struct {
	start  time.Time
	origin time.Time
}

func newVirtualTime(start time.Time) *virtualTime {
	return &virtualTime{start: start, origin: time.Now()}
}

func (v *virtualTime) now() time.Time {
	return v.start.Add(time.Duration(float64(time.Since(v.origin)) * processSpeed))
}

// processRun describes the slod processes of one scenario.
type processRun struct {
	bin   string
	env   []string
	args  []string
	clock *virtualTime
	state string
	key   string
}

func newProcessRun(t *testing.T, prom *promtest.Server, pd *notifytest.PagerDuty, scenario string) *processRun {
	t.Helper()
	state := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	return &processRun{
		bin:   slodBinary(t),
		env:   []string{pdKeyEnv + "=0123456789abcdef0123456789abcdef"},
		clock: newVirtualTime(processBase.Add(-20 * time.Second)),
		state: state,
		key:   DedupKey(scenario+"-test", nil, burnrate.ClassBurn),
		args: []string{"--slo-dir", processSLOs(t, scenario), "--prometheus-url", prom.URL, "--notify-config", pdConfig(t, pd),
			"--state-dir", state, "--listen", listen, "--step", "10s", "--interval", "10s", "--query-delay", "0s",
			"--hold-down", "10s", "--test.clock-speed", fmt.Sprint(processSpeed)},
	}
}

// start runs slod at the scenario's virtual now and waits until it is ready.
func (r *processRun) start(t *testing.T) *slodProc {
	t.Helper()
	args := append(append([]string{}, r.args...), "--test.clock-start", r.clock.now().Format(time.RFC3339Nano))
	p := startSlod(t, r.bin, r.env, args...)
	waitFor(t, "slod ready", 30*time.Second, func() bool { return ready(p.url) }, func() string { return p.stderr.String() })
	return p
}

// pageCounts counts the trigger and resolve events PagerDuty got for key.
func pageCounts(pd *notifytest.PagerDuty, key string) (triggers, resolves int) {
	for _, ev := range pd.Events() {
		if ev.DedupKey != key {
			continue
		}
		switch ev.EventAction {
		case "trigger":
			triggers++
		case "resolve":
			resolves++
		}
	}
	return triggers, resolves
}

// labelledMetric reads one sample of /metrics whose name and labels (as
// written in the exposition, e.g. `{reason="undecodable"}`) contain want;
// 0 when none does.
func labelledMetric(t *testing.T, url, name, want string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(httpBody(t, url+"/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, want) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	return 0
}
