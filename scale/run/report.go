package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// result is what one run measured; zero values are figures not reached.
type result struct {
	Routes, Series, Burning int
	Began                   time.Time
	Commit                  string
	LoadBefore, LoadAfter   string
	RunDir                  string
	FixtureCached           bool
	FixtureTime             time.Duration

	Ready       time.Duration
	ReadyLogged time.Duration // when slod logged "ready", before its first snapshot
	ReadyErr    string
	ReadyPeak   int64 // slod's VmHWM when it became ready
	Peak        int64 // slod's VmHWM through the steady phase

	Instances             float64
	FirstTick             float64 // seconds; -1 when not told apart
	Ticks, Missed         int
	TickMean              float64 // seconds, every tick of the steady phase
	PlainTicks, SnapTicks ticks   // ticks told apart: without and with a snapshot write
	// Phases is the mean of each tick phase over the steady phase
	// (slod_tick_phase_duration_seconds), in seconds.
	Phases map[string]float64
	// Reread is the mean of the background re-read after each tick
	// (slod_reread_duration_seconds), in seconds.
	Reread float64
	// AllocPerTick is the bytes slod allocated over the steady phase
	// (go_memstats_alloc_bytes_total) per tick: everything the process
	// did, snapshot writes and the driver's scrapes included; PlainAlloc
	// is the same over the ticks told apart that wrote no snapshot.
	AllocPerTick              float64
	PlainAlloc                ticks
	Snapshots, SnapshotErrors int
	SnapshotBytes             float64
	QueryErrors               float64
	Page, API                 fetch
	Incidents                 incidents
	Missing, Extra            []string
	Restart                   time.Duration
	RestartLogged             time.Duration
	RestartErr                string
	RestartPeak               int64
	RestartIncidents          *incidents
	PromPeak                  int64
	LogProblems               []string
	Notes                     []string
}

func (r result) print(w io.Writer, o options) {
	fmt.Fprintf(w, "\nslod end to end at scale: %d routes (%d series in Prometheus, %d burning), %d days of 1m history ending %s\n",
		r.Routes, r.Series, r.Burning, o.Days, o.End.Format(time.RFC3339))
	fmt.Fprintf(w, "commit %s, %s UTC, load average %s -> %s; run directory %s\n\n",
		r.Commit, r.Began.Format("2006-01-02 15:04"), r.LoadBefore, r.LoadAfter, r.RunDir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	if r.FixtureCached {
		row("fixture", "cached")
	} else if r.FixtureTime > 0 {
		row("fixture", "written in "+r.FixtureTime.Round(time.Second).String())
	}
	row("time to ready (cold start)", r.readyText())
	if r.ReadyLogged > 0 {
		row("  of which until slod logged ready (backfill)", r.ReadyLogged.Round(100*time.Millisecond).String())
	}
	row("peak RSS at ready", gibOr(r.ReadyPeak))
	row(fmt.Sprintf("peak RSS through %d snapshots", r.Snapshots), gibOr(r.Peak))
	row("SLO instances tracked", fmt.Sprintf("%.0f of %d routes", r.Instances, r.Routes))
	if r.FirstTick > 0 {
		row("first tick after ready", secs(r.FirstTick))
	}
	row("steady tick (with queries)", r.tickText())
	row("  ticks that wrote no snapshot", r.PlainTicks.String())
	if r.PlainTicks.N > 0 {
		row("    each, sorted (s)", r.PlainTicks.each())
	}
	if len(r.Phases) > 0 {
		var parts []string
		for _, ph := range []string{"read", "evaluate", "page", "persist", "publish"} {
			if v, ok := r.Phases[ph]; ok {
				parts = append(parts, fmt.Sprintf("%s %s", ph, secs(v)))
			}
		}
		row("  mean by phase", strings.Join(parts, ", "))
	}
	if r.Reread > 0 {
		row("  background re-read after a tick (mean)", secs(r.Reread))
	}
	if r.AllocPerTick > 0 {
		s := bytesText(r.AllocPerTick) + " per tick over the steady phase (whole process)"
		if r.PlainAlloc.N > 0 {
			s += fmt.Sprintf("; %s per tick that wrote no snapshot", bytesText(r.PlainAlloc.Sum/float64(r.PlainAlloc.N)))
		}
		row("  allocated", s)
	}
	row("  ticks that wrote a snapshot", r.SnapTicks.String())
	row("ticks missed (steady phase)", fmt.Sprint(r.Missed))
	row("state snapshot", fmt.Sprintf("%s (newest); %d written, %d failed in the steady phase", bytesText(r.SnapshotBytes), r.Snapshots, r.SnapshotErrors))
	row("query errors (slod_query_errors_total)", fmt.Sprintf("%.0f", r.QueryErrors))
	row("status page / (first screen)", fetchText(r.Page))
	row("/api/v1/incidents", fetchText(r.API))
	row("burning routes with a burn incident", r.incidentText())
	row("restart (SIGKILL, same state) to ready", r.restartText())
	if r.RestartLogged > 0 {
		row("  of which until slod logged ready", r.RestartLogged.Round(100*time.Millisecond).String())
	}
	row("peak RSS of the restarted slod", gibOr(r.RestartPeak))
	if r.RestartIncidents != nil {
		row("open burn incidents after the restart", fmt.Sprint(len(r.RestartIncidents.Burn)))
	}
	row("Prometheus peak RSS", gibOr(r.PromPeak))
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if len(r.LogProblems) > 0 {
		fmt.Fprintln(w, "\nfirst warnings and errors in slod's log:")
		for _, l := range r.LogProblems {
			fmt.Fprintln(w, "  "+l)
		}
	}
	md := r.markdown()
	fmt.Fprintf(w, "\nMarkdown (docs/performance.md), command: cd scale && go run ./run %s\n\n%s\n%s\n", strings.Join(o.args, " "), markdownHeader, md)
	if o.Markdown != "" {
		f, err := os.OpenFile(o.Markdown, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintln(f, md)
			f.Close()
		}
	}
}

const markdownHeader = `| date (UTC) | commit | routes | time to ready | peak RSS | steady tick | state snapshot | restart to ready | status page | burning routes paged | load avg |
|---|---|--:|---|---|---|---|---|---|---|---|`

func (r result) markdown() string {
	return fmt.Sprintf("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s–%s |",
		r.Began.Format("2006-01-02 15:04"), r.Commit, r.Routes, r.readyText(), gibOr(max(r.Peak, r.ReadyPeak)),
		r.tickText(), bytesText(r.SnapshotBytes), r.restartText(), fetchText(r.Page), r.incidentText(), r.LoadBefore, r.LoadAfter)
}

func (r result) readyText() string {
	if r.ReadyErr != "" {
		return "never: " + r.ReadyErr
	}
	return r.Ready.Round(100 * time.Millisecond).String()
}

func (r result) restartText() string {
	switch {
	case r.RestartErr != "":
		return "never: " + r.RestartErr
	case r.Restart == 0:
		return "not reached"
	}
	return r.Restart.Round(100 * time.Millisecond).String()
}

func (r result) tickText() string {
	if r.Ticks == 0 {
		return "not measured"
	}
	s := fmt.Sprintf("%s mean of %d", secs(r.TickMean), r.Ticks)
	if r.PlainTicks.N > 0 {
		s += fmt.Sprintf("; %s without a snapshot", secs(r.PlainTicks.Sum/float64(r.PlainTicks.N)))
	}
	return s
}

func (r result) incidentText() string {
	if r.API.Status == 0 {
		return "not measured"
	}
	s := fmt.Sprintf("%d of %d", r.Burning-len(r.Missing), r.Burning)
	if len(r.Missing) > 0 {
		s += fmt.Sprintf(", %d missing (e.g. %s)", len(r.Missing), strings.Join(r.Missing[:min(3, len(r.Missing))], " "))
	}
	if len(r.Extra) > 0 {
		s += fmt.Sprintf(", %d on routes that do not burn", len(r.Extra))
	}
	if n := len(r.Incidents.Burn); n > 0 && r.Incidents.Pages != n {
		s += fmt.Sprintf(", %d of %d at page severity", r.Incidents.Pages, n)
	}
	return s
}

func fetchText(f fetch) string {
	if f.Status == 0 {
		return "not measured"
	}
	s := fmt.Sprintf("%s, %s", f.Duration.Round(time.Millisecond), bytesText(float64(f.Bytes)))
	if f.Status != 200 {
		s += fmt.Sprintf(", status %d", f.Status)
	}
	return s
}

func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

func gibOr(b int64) string {
	if b == 0 {
		return "not measured"
	}
	return gib(b)
}

func bytesText(b float64) string {
	switch {
	case b == 0:
		return "not measured"
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// ticks summarises tick durations in seconds.
type ticks struct {
	N             int
	Sum, Min, Max float64
	All           []float64
}

func (t *ticks) add(d float64) {
	t.All = append(t.All, d)
	if t.N == 0 || d < t.Min {
		t.Min = d
	}
	t.Max = max(t.Max, d)
	t.Sum += d
	t.N++
}

func (t ticks) String() string {
	if t.N == 0 {
		return "none timed"
	}
	return fmt.Sprintf("%s mean of %d (%s–%s), median %s", secs(t.Sum/float64(t.N)), t.N, secs(t.Min), secs(t.Max), secs(t.median()))
}

func (t ticks) median() float64 {
	all := slices.Sorted(slices.Values(t.All))
	if len(all) == 0 {
		return 0
	}
	if len(all)%2 == 1 {
		return all[len(all)/2]
	}
	return (all[len(all)/2-1] + all[len(all)/2]) / 2
}

// each lists the durations, sorted, in seconds.
func (t ticks) each() string {
	var parts []string
	for _, d := range slices.Sorted(slices.Values(t.All)) {
		parts = append(parts, fmt.Sprintf("%.2f", d))
	}
	return strings.Join(parts, " ")
}
