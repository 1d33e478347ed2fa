package daemon

import (
	"bufio"
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
// TestCrashRestart SIGKILLs the slod binary ten times while an incident is
// open, on a virtual clock against a real Prometheus with a fixed fixture
// (a 5-minute full outage). The local PagerDuty server must see one
// incident, opened once under one dedup key, and one resolve; every
// restarted daemon restores its state (showing the first run's incident,
// same start) and reads only the gap, never the 30-day window again.
func TestCrashRestart(t *testing.T) {
	const burn = 5 * time.Minute
	prom := processFixture(t, map[string]time.Duration{"crash": burn})
	pd := notifytest.NewPagerDuty()
	defer pd.Close()
	r := newProcessRun(t, prom, pd, "crash")

	var firstStart time.Time
	for run := 0; run < 10; run++ {
		p := r.start(t)
		steps := metric(t, p.url, "slod_steps_read_total")
		if run == 0 {
			if steps < float64(30*24*time.Hour/processStep) {
				t.Fatalf("cold start read %v steps, want the whole 30d window", steps)
			}
			waitFor(t, "the page at PagerDuty", 30*time.Second, func() bool { return len(incidentsFor(pd, r.key)) == 1 })
			// The page can reach PagerDuty before the tick publishes its view.
			var inc server.IncidentJSON
			waitFor(t, "the open incident in the API", 10*time.Second, func() bool {
				var ok bool
				inc, ok = openIncident(t, p.url, "crash-test")
				return ok
			})
			firstStart = inc.Start
		} else {
			if steps > 60 {
				t.Fatalf("run %d read %v steps after a restart: the state was not restored (log:\n%s)", run, steps, p.stderr.String())
			}
			inc, ok := openIncident(t, p.url, "crash-test")
			if !ok || !inc.Start.Equal(firstStart) {
				t.Fatalf("run %d at %s shows incident %+v (open %v), want the restored one of %s (log:\n%s)",
					run, r.clock.now(), inc, ok, firstStart, p.stderr.String())
			}
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
	}
	if now := r.clock.now(); !now.Before(processBase.Add(burn)) {
		t.Fatalf("the ten runs took until %s, past the burn's end: the machine is too slow for this timeline", now)
	}
	last := r.start(t)
	waitFor(t, "the resolve at PagerDuty", time.Minute, func() bool {
		incs := incidentsFor(pd, r.key)
		return len(incs) == 1 && incs[0].Resolved
	}, func() string {
		return fmt.Sprintf("PagerDuty incidents %+v, slod log:\n%s", pd.Incidents(), last.stderr.String())
	})
	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := last.cmd.Wait(); err != nil {
		t.Errorf("graceful shutdown: %v\n%s", err, last.stderr.String())
	}
	if incs := pd.Incidents(); len(incs) != 1 {
		t.Fatalf("PagerDuty has %d incidents, want 1: %+v", len(incs), incs)
	}
	if rej := pd.Rejected(); len(rej) > 0 {
		t.Errorf("PagerDuty rejected events: %v", rej)
	}
	triggers, resolves := pageCounts(pd, r.key)
	t.Logf("PagerDuty saw %d triggers (merged into one incident) and %d resolves across 11 runs", triggers, resolves)
	if resolves != 1 {
		t.Errorf("%d resolves, want 1", resolves)
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
