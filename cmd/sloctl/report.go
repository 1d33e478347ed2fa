package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/report"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// ReportOptions are the inputs of `sloctl report`.
type ReportOptions struct {
	IO         IO
	Paths      []string
	Prometheus source.PrometheusFlags
	Period     string
	Timezone   string
	Step       time.Duration
	Format     string
}

// NewCmdReport builds `sloctl report`; runF replaces the run function in
// flag tests (nil reports).
func NewCmdReport(io IO, runF func(*ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: io, Prometheus: source.PrometheusFlags{QueryTimeout: 2 * time.Minute}}
	cmd := &cobra.Command{
		Use:   "report --period 2026-11 --prometheus-url URL [--timezone ZONE] [PATH...]",
		Short: "Budget report of a month or quarter: SLI achieved, budget spent, exclusions, incidents",
		Long: `Report replays a calendar period (a month such as 2026-11 or a quarter such
as 2026-Q4, from local midnight on its first day in --timezone) through
slod's engine exactly as backtest does — reading the history in chunks,
with progress on stderr — and prints, per SLO and instance: the SLI
achieved over the period's known steps against the objective, met or not,
the period's budget spent and left, the time excluded by budget exclusions
(kind: Exclusion) and the time without data (neither counts as good), and
the incidents slod opened with their duration and severity, and the time
spent paging. See docs/reports.md.`,
		Example: `  sloctl report --period 2026-11 --prometheus-url http://localhost:9090 slos/
  sloctl report --period 2026-Q4 --timezone Europe/Berlin --format markdown --prometheus-url http://localhost:9090 slos/`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			if opts.Period == "" {
				return usageErrorf("--period is required (a month such as 2026-11 or a quarter such as 2026-Q4)")
			}
			if opts.Prometheus.URL == "" {
				return usageErrorf("--prometheus-url is required")
			}
			if err := opts.Prometheus.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if !contains(report.Formats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(report.Formats, ", "))
			}
			if opts.Step < time.Second || opts.Step%time.Second != 0 {
				return usageErrorf("--step %s: must be a whole number of seconds", opts.Step)
			}
			if runF != nil {
				return runF(opts)
			}
			return runReport(opts)
		},
	}
	f := cmd.Flags()
	opts.Prometheus.AddFlags(f)
	source.AddDeprecatedAliases(f, BacktestDeprecatedFlags)
	f.StringVar(&opts.Period, "period", "", "the period: a month (2026-11) or a quarter (2026-Q4)")
	f.StringVar(&opts.Timezone, "timezone", "UTC", "IANA timezone the period's days are in, such as Europe/Berlin")
	f.DurationVar(&opts.Step, "step", burnrate.DefaultStep, "evaluation step; at least twice the scrape interval")
	f.StringVar(&opts.Format, "format", "text", "output format: "+strings.Join(report.Formats, ", "))
	return cmd
}

func runReport(opts *ReportOptions) error {
	loc, err := time.LoadLocation(opts.Timezone)
	if err != nil || opts.Timezone == "Local" || opts.Timezone == "" {
		return usageErrorf("--timezone %q is not an IANA zone such as Europe/Berlin", opts.Timezone)
	}
	period, err := report.ParsePeriod(opts.Period, loc)
	if err != nil {
		return usageErrorf("--period: %v", err)
	}
	if period.From.Unix()%int64(opts.Step/time.Second) != 0 || period.To.Unix()%int64(opts.Step/time.Second) != 0 {
		return usageErrorf("--step %s does not divide the period's edges in %s", opts.Step, opts.Timezone)
	}
	cat, src, err := loadReplay(opts.IO.Err, opts.Paths, &opts.Prometheus, "reporting")
	if err != nil {
		return err
	}
	progress := reportProgress(opts.IO.Err, period.From, opts.Step)
	rep, err := buildReport(context.Background(), cat, src, period, opts.Step, progress)
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	return report.Write(opts.IO.Out, rep, opts.Format)
}

// reportProgress says on stderr how far the replay has come, every tenth.
func reportProgress(w io.Writer, from time.Time, step time.Duration) func(done, total int) {
	last := -1
	return func(done, total int) {
		if pct := 100 * done / max(total, 1); pct/10 != last/10 {
			last = pct
			fmt.Fprintf(w, "sloctl: report at %s (%d%%)\n", from.Add(time.Duration(done)*step).UTC().Format(time.RFC3339), pct)
		}
	}
}

// periodCounter sums, per SLO instance, the step counts of the period as
// the engine stored them (excluded steps are stored unknown): each step
// once it is final — a tick reads its Rereads newest steps again, so the
// step Rereads steps before a tick is read for the last time at that tick.
type periodCounter struct {
	from, to time.Time
	step     time.Duration
	counts   map[string]*report.Counts // by SLO id + instance key
	labels   map[string]map[string]string
	excluded map[string][]slo.Interval // by SLO id
}

func (c *periodCounter) add(eng *engine.Engine, id string, labels map[string]string, key string, end time.Time) {
	if !end.After(c.from) || end.After(c.to) {
		return
	}
	r := eng.SLO(id)
	if r == nil {
		return
	}
	in := r.Evaluator().Instance(labels)
	if in == nil {
		return
	}
	k := id + key
	cn := c.counts[k]
	if cn == nil {
		cn = &report.Counts{}
		c.counts[k], c.labels[k] = cn, labels
	}
	w := in.Window(end, c.step)
	switch {
	case w.Known > 0:
		cn.Errors += w.Errors
		cn.Events += w.Total
		cn.Known++
	case c.isExcluded(eng, id, end):
		cn.Excluded++
	default:
		cn.Unknown++
	}
}

// isExcluded reports whether the step ending at end overlaps an exclusion.
func (c *periodCounter) isExcluded(eng *engine.Engine, id string, end time.Time) bool {
	xs, ok := c.excluded[id]
	if !ok {
		xs = eng.Excluded(id, c.from.Add(-c.step), c.to)
		c.excluded[id] = xs
	}
	for _, iv := range xs {
		if iv.Overlap(end.Add(-c.step), end) > 0 {
			return true
		}
	}
	return false
}

// buildReport replays the period through the engine (the backtest's
// replay) and works out the report's figures.
func buildReport(ctx context.Context, cat *engine.Catalogue, q source.Querier, p report.Period, step time.Duration,
	progress func(done, total int)) (*report.Report, error) {
	from, to := p.From.UTC(), p.To.UTC()
	c := &periodCounter{from: from, to: to, step: step, counts: map[string]*report.Counts{},
		labels: map[string]map[string]string{}, excluded: map[string][]slo.Interval{}}
	hooks := &replayHooks{
		observe: func(eng *engine.Engine, id string, ie burnrate.InstanceEvaluation) {
			c.add(eng, id, ie.Labels, ie.Key, ie.At.Add(-time.Duration(engine.Rereads)*step))
		},
		done: func(eng *engine.Engine) {
			// The last Rereads steps are final only now.
			for _, r := range eng.SLOs() {
				id := r.Spec().ID
				for _, ie := range r.Evaluator().Evaluate(to) {
					for j := engine.Rereads - 1; j >= 0; j-- {
						c.add(eng, id, ie.Labels, ie.Key, to.Add(-time.Duration(j)*step))
					}
				}
			}
			for _, r := range eng.SLOs() {
				c.excluded[r.Spec().ID] = eng.Excluded(r.Spec().ID, from, to)
			}
		},
	}
	bts, _, err := replay(ctx, cat, q, from, to, step, engine.Correlation{}, progress, hooks)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{Period: p.Name, Timezone: p.Location.String(), From: from, To: to, StepSeconds: step.Seconds(), SLOs: []report.SLO{}}
	entries := map[string]engine.Entry{}
	for _, en := range cat.Entries {
		entries[en.Spec.ID] = en
	}
	for _, bt := range bts {
		en := entries[bt.SLO]
		s := report.SLO{SLO: bt.SLO, Service: bt.Service, Objective: bt.Objective, Policy: bt.Policy,
			Exclusions: report.ExclusionsIn(en.Exclusions, from, to), Instances: []report.Instance{}, Warnings: bt.Warnings}
		for _, iv := range c.excluded[bt.SLO] {
			s.ExcludedSeconds += iv.Overlap(from, to).Seconds()
		}
		for _, in := range bt.Instances {
			k := bt.SLO + burnrate.LabelsKey(in.Labels)
			cn := c.counts[k]
			if cn == nil {
				cn = &report.Counts{}
			}
			s.Instances = append(s.Instances, report.NewInstance(in.Labels, bt.Objective, *cn, step, in.incidents, p))
		}
		rep.SLOs = append(rep.SLOs, s)
	}
	return rep, nil
}
