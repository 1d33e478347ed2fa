package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/server"
)

var (
	buildOnce sync.Once
	binDir    string // removed by TestMain
	binPath   string
	buildErr  error
)

// slodBinary builds cmd/slod once per test process, into binDir.
func slodBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "slod-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "slod")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/slod").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// slodProc is one run of the slod binary.
type slodProc struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	url    string
}

func startSlod(t *testing.T, bin string, env []string, args ...string) *slodProc {
	t.Helper()
	p := &slodProc{stderr: &lockedBuffer{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &lockedBuffer{}, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	for i, a := range args {
		if a == "--listen" {
			p.url = "http://" + args[i+1]
		}
	}
	return p
}

// metric reads one unlabelled sample from /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(httpBody(t, url+"/metrics")))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("metric %s not exported", name)
	return 0
}

func ready(url string) bool {
	c := httpClient()
	resp, err := c.Get(url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// TestCrashRestart SIGKILLs the slod binary ten times while an incident is
// open against a real Prometheus whose fixture runs on in wall-clock time
// (10s samples, a full outage from −1m to +30s around the test start). The
// local PagerDuty server must see one incident, opened once under one dedup
// key, and its resolve; every restarted daemon restores its state and reads
// only the gap, never the 30-day window again, and restarts that come while
// the burn lasts show the first run's incident still open, with its start.
//
// The test waits on wall time: slod evaluates "now", so the resolve comes
// about 20s after the burn ends (the 20s short window empties, then the 10s
// hold-down). The burn ends 30s after t0; the restarts take a second or two
// after the first page (about t0+6s here).
func TestCrashRestart(t *testing.T) {
	promtest.RequireBinaries(t, "prometheus", "promtool")
	bin := slodBinary(t)
	const step = 10 * time.Second
	now := time.Now().UTC()
	t0 := now.Truncate(step)
	start := t0.Add(-2 * time.Hour)
	n := int((2*time.Hour + 10*time.Minute) / step)
	burnFrom, burnTo := t0.Add(-time.Minute), t0.Add(30*time.Second)
	errorsAt := func(i int) float64 {
		ts := start.Add(time.Duration(i) * step)
		var v float64
		for x := burnFrom; x.Before(burnTo) && x.Before(ts); x = x.Add(step) {
			v += 100
		}
		return v
	}
	var om bytes.Buffer
	if err := promtest.WriteOpenMetrics(&om, start, step, n,
		promtest.Counter{Family: "slo_requests", Value: func(i int) float64 { return float64(i) * 100 }},
		promtest.Counter{Family: "slo_errors", Labels: map[string]string{"scenario": "crash"}, Value: errorsAt},
	); err != nil {
		t.Fatal(err)
	}
	prom := promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
	pd := notifytest.NewPagerDuty()
	defer pd.Close()
	slos := sloDir(t, map[string]string{
		"policy.yaml": "version: slod/v1\nkind: Policy\nname: fast\nrows:\n  - severity: page\n    long: 2m\n    short: 20s\n    budget_percent: 0.5\n",
		"crash.yaml": "version: slod/v1\nservice: crash\nslos:\n  - name: test\n    objective: 99.9\n    window: 30d\n    policy: fast\n" +
			"    annotations:\n      runbook: https://runbooks.example.com/crash\n    sli:\n      events:\n" +
			"        error_query: sum(rate(slo_errors_total{scenario=\"crash\"}[{{.window}}]))\n" +
			"        total_query: sum(rate(slo_requests_total[{{.window}}]))\n",
	})
	state := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	env := []string{pdKeyEnv + "=0123456789abcdef0123456789abcdef"}
	args := []string{"--slo-dir", slos, "--prometheus-url", prom.URL, "--notify-config", pdConfig(t, pd),
		"--state-dir", state, "--listen", listen, "--step", "10s", "--interval", "10s", "--query-delay", "0s",
		"--hold-down", "10s"}
	key := DedupKey("crash-test", nil, burnrate.ClassBurn)

	began := time.Now()
	var firstStart time.Time
	restoredOpen := 0
	for run := 0; run < 10; run++ {
		p := startSlod(t, bin, env, args...)
		waitFor(t, fmt.Sprintf("run %d ready", run), 30*time.Second, func() bool { return ready(p.url) })
		steps := metric(t, p.url, "slod_steps_read_total")
		if run == 0 {
			if steps < float64(30*24*time.Hour/step) {
				t.Fatalf("cold start read %v steps, want the whole 30d window", steps)
			}
			waitFor(t, "the page at PagerDuty", 30*time.Second, func() bool { return len(incidentsFor(pd, key)) == 1 })
			t.Logf("paged %s after the first start (t0%+.1fs)", time.Since(began).Round(100*time.Millisecond), time.Since(t0).Seconds())
			inc, ok := openIncident(t, p.url, "crash-test")
			if !ok {
				t.Fatal("paged, but the API shows no open incident")
			}
			firstStart = inc.Start
		} else if steps > 50 {
			t.Fatalf("run %d read %v steps after a restart: the state was not restored (log:\n%s)", run, steps, p.stderr.String())
		}
		if run > 0 {
			inc, ok := openIncident(t, p.url, "crash-test")
			switch {
			case ok && !inc.Start.Equal(firstStart):
				t.Fatalf("run %d shows an incident started at %s, want the restored one of %s", run, inc.Start, firstStart)
			case ok:
				restoredOpen++
			case time.Now().Before(burnTo):
				t.Fatalf("run %d, during the burn, shows no open incident: the state was not restored (log:\n%s)", run, p.stderr.String())
			}
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}
	t.Logf("10 runs done %s after the first start (t0%+.1fs); %d of 9 restarts restored the open incident",
		time.Since(began).Round(100*time.Millisecond), time.Since(t0).Seconds(), restoredOpen)
	if restoredOpen == 0 {
		t.Fatal("no restart came while the incident was open: the machine is too slow for this timeline")
	}
	last := startSlod(t, bin, env, args...)
	waitFor(t, "the resolve at PagerDuty", 3*time.Minute, func() bool {
		incs := incidentsFor(pd, key)
		return len(incs) == 1 && incs[0].Resolved
	}, func() string {
		return fmt.Sprintf("PagerDuty incidents %+v, slod log:\n%s", pd.Incidents(), last.stderr.String())
	})
	t.Logf("resolved %s after the first start (t0%+.1fs)", time.Since(began).Round(100*time.Millisecond), time.Since(t0).Seconds())
	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := last.cmd.Wait(); err != nil {
		t.Errorf("graceful shutdown: %v\n%s", err, last.stderr.String())
	}
	incs := pd.Incidents()
	if len(incs) != 1 {
		t.Fatalf("PagerDuty has %d incidents, want 1: %+v", len(incs), incs)
	}
	if rej := pd.Rejected(); len(rej) > 0 {
		t.Errorf("PagerDuty rejected events: %v", rej)
	}
	var triggers, resolves int
	for _, ev := range pd.Events() {
		switch ev.EventAction {
		case "trigger":
			triggers++
		case "resolve":
			resolves++
		}
	}
	t.Logf("PagerDuty saw %d triggers (merged into one incident) and %d resolves across 11 runs", triggers, resolves)
	if resolves == 0 {
		t.Error("no resolve")
	}
}

// openIncident returns the open incident of an SLO that slod's API lists.
func openIncident(t *testing.T, url, slo string) (server.IncidentJSON, bool) {
	t.Helper()
	var body server.IncidentsResponse
	if err := json.Unmarshal([]byte(httpBody(t, url+"/api/v1/incidents")), &body); err != nil {
		t.Fatal(err)
	}
	for _, inc := range body.Incidents {
		if inc.SLO == slo && inc.Resolved == nil {
			return inc, true
		}
	}
	return server.IncidentJSON{}, false
}
