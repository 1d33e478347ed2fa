// Command run is slod's end-to-end scale test: a real Prometheus holding
// days of synthetic per-route history (written by ../fixture), a real slod
// evaluating one group_by: [route] SLO over it (99.9% over 30d), and 1% of
// the routes burning. It reports how long slod takes to become ready, its
// peak resident memory through several state snapshots, the steady tick
// (queries included), a restart from the state directory after SIGKILL,
// the status page's first screen, and whether every burning route has its
// incident.
//
//	cd scale && go run ./run --routes 100000      # or: make scale
//
// Everything is bounded in time; Prometheus and slod die with the driver.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type options struct {
	Routes           int
	Days             int
	End              time.Time
	After            time.Duration
	BurnEvery        int
	BurnFor          time.Duration
	Dir              string
	Repo             string
	Prometheus       string
	ReadyTimeout     time.Duration
	SnapshotInterval time.Duration
	Snapshots        int
	Timeout          time.Duration
	MaxRSS           int64
	MinAvailable     int64
	SlodFlags        []string
	PromFlags        []string
	Keep             bool
	Markdown         string
	args             []string
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("the whole run passed --timeout %s", o.Timeout))
	defer cancel()
	res, err := run(ctx, o)
	res.print(os.Stdout, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	dir := os.Getenv("SCALE_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "slod-scale")
	}
	o := options{
		Routes: 100000, Days: 2, End: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), After: 2 * time.Hour,
		BurnEvery: 100, BurnFor: 30 * time.Minute, Dir: dir, Repo: "..", Prometheus: "/usr/bin/prometheus",
		ReadyTimeout: 15 * time.Minute, SnapshotInterval: 2 * time.Minute, Snapshots: 3, Timeout: 75 * time.Minute,
		args: args,
	}
	end := o.End.Format(time.RFC3339)
	maxRSS, minAvail := 18.0, 1.0
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.IntVar(&o.Routes, "routes", o.Routes, "routes, each one SLO instance (two series)")
	fs.IntVar(&o.Days, "days", o.Days, "days of history before --end")
	fs.StringVar(&end, "end", end, "the fixture's now, where slod's clock starts (RFC 3339, a whole minute)")
	fs.DurationVar(&o.After, "after", o.After, "data the fixture holds after --end, for the run's live ticks")
	fs.IntVar(&o.BurnEvery, "burn-every", o.BurnEvery, "every n-th route burns")
	fs.DurationVar(&o.BurnFor, "burn-for", o.BurnFor, "burning routes fail from this long before --end")
	fs.StringVar(&o.Dir, "dir", o.Dir, "work directory: binaries, cached fixtures, runs ($SCALE_DIR)")
	fs.StringVar(&o.Repo, "repo", o.Repo, "slod's repository root (slod is built from it)")
	fs.StringVar(&o.Prometheus, "prometheus", o.Prometheus, "Prometheus server binary")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", o.ReadyTimeout, "give up on /readyz after this long (each start)")
	fs.DurationVar(&o.SnapshotInterval, "snapshot-interval", o.SnapshotInterval, "slod's --snapshot-interval")
	fs.IntVar(&o.Snapshots, "snapshots", o.Snapshots, "state snapshots to watch in the steady phase")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "bound on the whole run")
	fs.Float64Var(&maxRSS, "max-rss", maxRSS, "SIGKILL slod when its resident memory passes this many GiB")
	fs.Float64Var(&minAvail, "min-available", minAvail, "SIGKILL slod when the machine's available memory falls below this many GiB")
	fs.Var((*listFlag)(&o.SlodFlags), "slod-flag", "extra flag for slod, e.g. --slod-flag=--query-concurrency=4 (repeatable)")
	fs.Var((*listFlag)(&o.PromFlags), "prometheus-flag", "extra flag for Prometheus, e.g. --prometheus-flag=--query.max-samples=200000000 (repeatable)")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the run's Prometheus data and slod state (logs are always kept)")
	fs.StringVar(&o.Markdown, "markdown", o.Markdown, "also append the result's Markdown table row to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	t, err := time.Parse(time.RFC3339, end)
	if err != nil {
		return o, fmt.Errorf("--end: %w", err)
	}
	o.End = t.UTC()
	o.MaxRSS, o.MinAvailable = int64(maxRSS*(1<<30)), int64(minAvail*(1<<30))
	if o.Routes < 1 || o.Days < 1 || o.BurnEvery < 1 || o.Snapshots < 1 {
		return o, errors.New("--routes, --days, --burn-every and --snapshots must be at least 1")
	}
	return o, nil
}

// run does the whole test. res holds what was measured even when run fails
// half-way; a phase that cannot be measured says why in res.Notes.
func run(ctx context.Context, o options) (res result, err error) {
	res = result{Routes: o.Routes, Began: time.Now().UTC(), LoadBefore: loadAverage()}
	defer func() { res.LoadAfter = loadAverage() }()
	repo, err := filepath.Abs(o.Repo)
	if err != nil {
		return res, err
	}
	res.Commit = gitCommit(repo)
	bin := filepath.Join(o.Dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return res, err
	}
	slod, fixture := filepath.Join(bin, "slod"), filepath.Join(bin, "fixture")
	step(ctx, "building slod and the fixture writer")
	if err := command(ctx, 10*time.Minute, repo, "go", "build", "-o", slod, "./cmd/slod"); err != nil {
		return res, err
	}
	if err := command(ctx, 10*time.Minute, filepath.Join(repo, "scale"), "go", "build", "-o", fixture, "./fixture"); err != nil {
		return res, err
	}

	// The fixture, cached by its parameters.
	key := fmt.Sprintf("routes%d-days%d-end%s-after%s-burn%d-for%s-v1", o.Routes, o.Days,
		o.End.Format("20060102T1504Z"), o.After, o.BurnEvery, o.BurnFor)
	blocks := filepath.Join(o.Dir, "fixtures", key)
	if _, err := os.Stat(filepath.Join(blocks, "complete")); err == nil {
		res.FixtureCached = true
	} else {
		step(ctx, "writing the fixture "+key)
		partial := blocks + ".partial"
		_ = os.RemoveAll(partial)
		began := time.Now()
		if err := command(ctx, 45*time.Minute, "", fixture, "--routes", fmt.Sprint(o.Routes), "--days", fmt.Sprint(o.Days),
			"--end", o.End.Format(time.RFC3339), "--after", o.After.String(), "--burn-every", fmt.Sprint(o.BurnEvery),
			"--burn-for", o.BurnFor.String(), "--block", "24h", "--out", partial); err != nil {
			return res, err
		}
		res.FixtureTime = time.Since(began)
		if err := os.WriteFile(filepath.Join(partial, "complete"), nil, 0o644); err != nil {
			return res, err
		}
		_ = os.RemoveAll(blocks)
		if err := os.Rename(partial, blocks); err != nil {
			return res, err
		}
	}

	runDir := filepath.Join(o.Dir, "runs", fmt.Sprintf("%d-%s", o.Routes, res.Began.Format("20060102T150405")))
	res.RunDir = runDir
	data, state, slos := filepath.Join(runDir, "prometheus"), filepath.Join(runDir, "state"), filepath.Join(runDir, "slos")
	for _, d := range []string{state, slos} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, err
		}
	}
	if !o.Keep {
		defer os.RemoveAll(data)
		defer os.RemoveAll(state)
	}
	// Prometheus never changes a block's files, so the run links them.
	if err := linkTree(blocks, data); err != nil {
		return res, fmt.Errorf("link fixture: %w", err)
	}

	prom, promURL, err := startPrometheus(ctx, o, runDir, data)
	if err != nil {
		return res, err
	}
	defer func() {
		prom.stop(30 * time.Second)
		res.PromPeak = prom.peak()
	}()
	go prom.watch(ctx, time.Second, 0, 0)

	// Which routes should page, asked of Prometheus itself: those failing
	// more than 1% over the 10 minutes before --end.
	step(ctx, "asking Prometheus which routes burn")
	all, err := promVector(ctx, promURL, `count by (route) (http_requests_total)`, o.End)
	if err != nil {
		return res, err
	}
	burning, err := promVector(ctx, promURL,
		`sum by (route) (rate(http_requests_total{code="500"}[10m])) / sum by (route) (rate(http_requests_total[10m])) > 0.01`, o.End)
	if err != nil {
		return res, err
	}
	res.Series, res.Burning = 2*len(all), len(burning)

	if err := os.WriteFile(filepath.Join(slos, "routes.yaml"), []byte(sloFile), 0o644); err != nil {
		return res, err
	}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	args := append([]string{"--slo-dir", slos, "--prometheus-url", promURL, "--state-dir", state,
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--step", "1m", "--interval", "1m", "--query-delay", "0s",
		"--snapshot-interval", o.SnapshotInterval.String(), "--test.clock-speed", "1"}, o.SlodFlags...)
	origin := time.Now()
	clockAt := func() string { return o.End.Add(time.Since(origin)).Format(time.RFC3339Nano) }

	// First start: cold, the whole window backfilled from Prometheus.
	step(ctx, "starting slod (cold) and waiting for /readyz")
	first, err := start("slod", filepath.Join(runDir, "slod-1.log"), slod, append(args, "--test.clock-start", clockAt())...)
	if err != nil {
		return res, err
	}
	defer first.kill()
	go first.watch(ctx, 500*time.Millisecond, o.MaxRSS, o.MinAvailable)
	res.Ready, err = waitReady(ctx, first, base+"/readyz", o.ReadyTimeout)
	res.ReadyLogged = loggedReady(filepath.Join(runDir, "slod-1.log"), origin)
	if err != nil {
		res.ReadyErr = describe(err, first)
		if m, err := scrape(ctx, base); err == nil {
			res.Instances, res.QueryErrors = m.sum("slod_instances"), m["slod_query_errors_total"]
		}
		first.kill()
		res.Peak = first.peak()
		res.LogProblems = logProblems(filepath.Join(runDir, "slod-1.log"))
		res.Notes = append(res.Notes, "last lines of slod's log:\n"+tail(filepath.Join(runDir, "slod-1.log"), 3))
		return res, nil
	}
	res.ReadyPeak = first.peak()

	step(ctx, fmt.Sprintf("steady phase: %d state snapshots", o.Snapshots))
	if err := steady(ctx, o, first, base, &res); err != nil {
		res.Notes = append(res.Notes, "steady phase: "+describe(err, first))
	}
	res.Peak = first.peak()
	if first.running() {
		step(ctx, "status page and incidents")
		if f, err := get(ctx, base+"/", 2*time.Minute); err != nil {
			res.Notes = append(res.Notes, "status page: "+err.Error())
		} else {
			res.Page = f
			res.Page.Body = nil
		}
		if f, err := get(ctx, base+"/api/v1/incidents", 2*time.Minute); err != nil {
			res.Notes = append(res.Notes, "incidents: "+err.Error())
		} else {
			res.API = f
			res.Incidents, err = parseIncidents(f.Body)
			res.API.Body = nil
			if err != nil {
				res.Notes = append(res.Notes, err.Error())
			}
			res.Missing, res.Extra = compare(burning, res.Incidents.Burn)
		}
		res.Peak = first.peak()
	}
	res.LogProblems = logProblems(filepath.Join(runDir, "slod-1.log"))

	// Restart: SIGKILL, then the same state directory, the clock going on.
	if !first.running() {
		return res, errors.New("slod exited before the restart: " + describe(errExited, first))
	}
	step(ctx, "SIGKILL and restart on the same state")
	first.kill()
	restarted := time.Now()
	second, err := start("slod", filepath.Join(runDir, "slod-2.log"), slod, append(args, "--test.clock-start", clockAt())...)
	if err != nil {
		return res, err
	}
	defer second.kill()
	go second.watch(ctx, 500*time.Millisecond, o.MaxRSS, o.MinAvailable)
	res.Restart, err = waitReady(ctx, second, base+"/readyz", o.ReadyTimeout)
	res.RestartLogged = loggedReady(filepath.Join(runDir, "slod-2.log"), restarted)
	res.RestartPeak = second.peak()
	if err != nil {
		res.RestartErr = describe(err, second)
	} else if f, err := get(ctx, base+"/api/v1/incidents", 2*time.Minute); err == nil {
		if inc, err := parseIncidents(f.Body); err == nil {
			res.RestartIncidents = &inc
		}
	}
	second.stop(time.Minute)
	res.RestartPeak = max(res.RestartPeak, second.peak())
	if time.Since(origin) > o.After {
		res.Notes = append(res.Notes, fmt.Sprintf("the run outlasted the fixture's %s of data after --end: the last ticks read no data", o.After))
	}
	return res, nil
}

// sloFile is the SLO under test: one instance per route.
const sloFile = `version: slod/v1
service: scale
slos:
  - name: route-availability
    objective: 99.9
    window: 30d
    group_by: [route]
    annotations:
      runbook: https://runbooks.example.com/scale/route-availability
    sli:
      events:
        error_query: sum by (route) (rate(http_requests_total{code="500"}[{{.window}}]))
        total_query: sum by (route) (rate(http_requests_total[{{.window}}]))
`

func startPrometheus(ctx context.Context, o options, runDir, data string) (*proc, string, error) {
	cfg := filepath.Join(runDir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		return nil, "", err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Blocks are 24h long; a max block duration of 24h keeps Prometheus
	// from compacting them while slod runs.
	args := append([]string{"--config.file=" + cfg, "--storage.tsdb.path=" + data,
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--storage.tsdb.retention.time=4000d",
		"--storage.tsdb.max-block-duration=24h"}, o.PromFlags...)
	step(ctx, "starting Prometheus")
	p, err := start("prometheus", filepath.Join(runDir, "prometheus.log"), o.Prometheus, args...)
	if err != nil {
		return nil, "", err
	}
	if _, err := waitReady(ctx, p, u+"/-/ready", 5*time.Minute); err != nil {
		p.kill()
		return nil, "", fmt.Errorf("prometheus: %s\n%s", describe(err, p), tail(filepath.Join(runDir, "prometheus.log"), 10))
	}
	return p, u, nil
}

// steady watches slod after it became ready: it skips the first tick
// (which may replay the minutes the backfill took), then follows ticks
// until o.Snapshots state snapshots have been written and at least three
// ticks timed, or the phase's bound passes.
func steady(ctx context.Context, o options, p *proc, base string, res *result) error {
	bound := time.Duration(o.Snapshots)*o.SnapshotInterval + 5*time.Minute
	ctx, cancel := context.WithTimeoutCause(ctx, bound, fmt.Errorf("steady phase passed its bound of %s", bound))
	defer cancel()
	const (
		count = "slod_tick_duration_seconds_count"
		sum   = "slod_tick_duration_seconds_sum"
		snaps = `slod_state_snapshots_total{result="ok"}`
		alloc = "go_memstats_alloc_bytes_total"
	)
	var prev metrics
	first := -1.0 // tick count once the first post-ready tick is done
	var start metrics
	for {
		m, err := scrape(ctx, base)
		if err == nil {
			if m[count] >= 1 && prev == nil {
				prev = m
			}
			if prev != nil && first < 0 && m[count] > prev[count] {
				first, start = m[count], m
				res.FirstTick = m[sum] - prev[sum]
				if m[count]-prev[count] > 1 {
					res.FirstTick = -1 // two ticks in one poll: not told apart
				}
			}
			if start != nil {
				if m[count] == prev[count]+1 && prev[count] >= first {
					// One tick since the last poll: its own duration.
					if m[snaps] > prev[snaps] {
						res.SnapTicks.add(m[sum] - prev[sum])
					} else {
						res.PlainTicks.add(m[sum] - prev[sum])
						res.PlainAlloc.add(m[alloc] - prev[alloc])
					}
				}
				res.Ticks = int(m[count] - start[count])
				if res.Ticks > 0 {
					res.TickMean = (m[sum] - start[sum]) / float64(res.Ticks)
					res.Phases = map[string]float64{}
					for _, ph := range []string{"read", "evaluate", "page", "persist", "publish"} {
						k := `slod_tick_phase_duration_seconds_sum{phase="` + ph + `"}`
						c := `slod_tick_phase_duration_seconds_count{phase="` + ph + `"}`
						if n := m[c] - start[c]; n > 0 {
							res.Phases[ph] = (m[k] - start[k]) / n
						}
					}
				}
				res.AllocPerTick = (m[alloc] - start[alloc]) / float64(max(res.Ticks, 1))
				if n := m["slod_reread_duration_seconds_count"] - start["slod_reread_duration_seconds_count"]; n > 0 {
					res.Reread = (m["slod_reread_duration_seconds_sum"] - start["slod_reread_duration_seconds_sum"]) / n
				}
				res.Snapshots = int(m[snaps] - start[snaps])
				res.SnapshotErrors = int(m[`slod_state_snapshots_total{result="error"}`] - start[`slod_state_snapshots_total{result="error"}`])
				res.SnapshotBytes = m["slod_state_snapshot_bytes"]
				res.Missed = int(m["slod_ticks_missed_total"] - start["slod_ticks_missed_total"])
				res.Instances = m.sum("slod_instances")
				res.QueryErrors = m["slod_query_errors_total"]
				if res.Snapshots >= o.Snapshots && res.Ticks >= 3 {
					return nil
				}
			}
			prev = m
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-p.exited:
			return errExited
		case <-time.After(2 * time.Second):
		}
	}
}

// compare lists the burning routes without a burn incident and the routes
// with one that do not burn.
func compare(burning map[string]float64, got map[string]int) (missing, extra []string) {
	for r := range burning {
		if got[r] == 0 {
			missing = append(missing, r)
		}
	}
	for r := range got {
		if _, ok := burning[r]; !ok {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	return missing, extra
}

// describe explains a wait that failed, with the watcher's kill reason and
// the process's exit status when it has gone.
func describe(err error, p *proc) string {
	msg := err.Error()
	if why := p.killedBecause(); why != "" {
		msg += "; killed by the driver: " + why
	} else if !p.running() {
		msg += fmt.Sprintf("; %s exited: %v", p.name, p.err)
	}
	return msg
}

// logProblems returns the first warnings and errors of a slod log.
func logProblems(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "level=WARN") && !strings.Contains(line, "level=ERROR") {
			continue
		}
		_, msg, _ := strings.Cut(line, " msg=")
		k, _, _ := strings.Cut(msg, " ")
		if seen[k] || strings.Contains(line, "virtual clock") {
			continue
		}
		seen[k] = true
		if len(line) > 400 {
			line = line[:400] + "…"
		}
		out = append(out, line)
		if len(out) == 5 {
			break
		}
	}
	return out
}

// loggedReady is how long after since slod logged that it was ready
// (before it writes its first snapshot and publishes /readyz); 0 when it
// did not.
func loggedReady(path string, since time.Time) time.Duration {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, " msg=ready ") || !strings.HasPrefix(line, "time=") {
			continue
		}
		ts, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return t.Sub(since)
		}
	}
	return 0
}

// command runs a build or the fixture writer, its output on stderr.
func command(ctx context.Context, timeout time.Duration, dir, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}

// linkTree hard-links every file under src into dst.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if rel == "complete" {
			return nil
		}
		return os.Link(p, filepath.Join(dst, rel))
	})
}

func gitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "+dirty"
	}
	return c
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	return f[0]
}

func step(ctx context.Context, msg string) {
	if ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "scale: %s %s\n", time.Now().Format("15:04:05"), msg)
	}
}
