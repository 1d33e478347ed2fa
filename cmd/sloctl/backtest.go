package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// BacktestOptions are the inputs of `sloctl backtest`.
type BacktestOptions struct {
	IO    IO
	Paths []string
	// Prometheus holds the same Prometheus flags as slod's.
	Prometheus source.PrometheusFlags
	From, To   string
	Step       time.Duration
	Format     string
	// Grace and DependencyPolicy configure dependency correlation as
	// slod's --correlation-grace and --dependency-policy do.
	Grace            time.Duration
	DependencyPolicy string
	// Compare names policies to replay side by side over the same history
	// (every SLO of the files with each of them instead of its own).
	Compare []string
	// now is the clock for defaults (tests set it).
	now func() time.Time
}

var backtestFormats = []string{"text", "json", "markdown"}

// BacktestDeprecatedFlags maps backtest's old flag names to the ones it
// now shares with slod; the old names still work, hidden.
var BacktestDeprecatedFlags = map[string]string{
	"prometheus": "prometheus-url",
	"timeout":    "query-timeout",
}

// NewCmdBacktest builds `sloctl backtest`; runF replaces the run function
// in flag tests (nil backtests).
func NewCmdBacktest(io IO, runF func(*BacktestOptions) error) *cobra.Command {
	opts := &BacktestOptions{IO: io, now: time.Now, Prometheus: source.PrometheusFlags{QueryTimeout: 2 * time.Minute}}
	cmd := &cobra.Command{
		Use:   "backtest --prometheus-url URL [--from T1] [--to T2] [PATH...]",
		Short: "Replay history through the evaluator: when would each policy row have fired?",
		Long: `Backtest loads SLO files, reads their SLIs from a Prometheus-compatible API
and replays (T1, T2] step by step through slod's evaluator on a simulated
clock, after backfilling the SLO window before T1. Per SLO instance it
prints when each policy row fired and resolved, the incidents slod would
have opened (one per burn, escalating ticket → page), and the budget
spent in the range. Incidents are correlated along depends_on as the
daemon does: each says whether it paged, and a symptom names its root
(caused_by; docs/incidents.md). Times are RFC 3339 or Unix seconds; --to
defaults to now and --from to 7 days before --to. See docs/evaluator.md.`,
		Example: `  sloctl backtest --prometheus-url http://localhost:9090 --from 2026-09-01T00:00:00Z --to 2026-10-01T00:00:00Z slos/
  sloctl backtest --prometheus-url https://mimir/prometheus --tenant team-a --format json slos/`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = nil
			for _, a := range args {
				// --compare a b: a policy name after --compare that is no
				// file or directory is one more policy to compare.
				if _, err := os.Stat(a); err != nil && len(opts.Compare) > 0 && policyName.MatchString(a) {
					opts.Compare = append(opts.Compare, a)
					continue
				}
				opts.Paths = append(opts.Paths, a)
			}
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			if opts.Prometheus.URL == "" {
				return usageErrorf("--prometheus-url is required")
			}
			if err := opts.Prometheus.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if !contains(backtestFormats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(backtestFormats, ", "))
			}
			if opts.Step < time.Second || opts.Step%time.Second != 0 {
				return usageErrorf("--step %s: must be a whole number of seconds", opts.Step)
			}
			if _, err := slo.ParseDependencyPolicy(opts.DependencyPolicy); err != nil {
				return usageErrorf("--dependency-policy: %v", err)
			}
			if runF != nil {
				return runF(opts)
			}
			return runBacktest(opts)
		},
	}
	f := cmd.Flags()
	opts.Prometheus.AddFlags(f)
	source.AddDeprecatedAliases(f, BacktestDeprecatedFlags)
	f.StringVar(&opts.From, "from", "", "start of the replay (RFC 3339 or Unix seconds; default 7 days before --to)")
	f.StringVar(&opts.To, "to", "", "end of the replay (RFC 3339 or Unix seconds; default now)")
	f.DurationVar(&opts.Step, "step", burnrate.DefaultStep, "evaluation step; at least twice the scrape interval (a 1m scrape needs 2m)")
	f.StringVar(&opts.Format, "format", "text", "output format: "+strings.Join(backtestFormats, ", "))
	f.DurationVar(&opts.Grace, "correlation-grace", 0, "as slod's: how much later than a dependent's burn an upstream burn may begin and still be its cause (0: 2m; negative: no grace)")
	f.StringVar(&opts.DependencyPolicy, "dependency-policy", "", "as slod's: suppress (default), annotate or off for depends_on edges that name no policy")
	f.StringSliceVar(&opts.Compare, "compare", nil, "replay every SLO with each of these policies and compare their alert quality side by side (--compare default traffic-aware)")
	return cmd
}

// policyName is what a policy name looks like (and a path seldom does).
var policyName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

func parseBacktestTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(secs * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", s)
}

func runBacktest(opts *BacktestOptions) error {
	to := opts.now().UTC()
	if opts.To != "" {
		t, err := parseBacktestTime(opts.To)
		if err != nil {
			return usageErrorf("--to: %v", err)
		}
		to = t
	}
	from := to.Add(-7 * 24 * time.Hour)
	if opts.From != "" {
		t, err := parseBacktestTime(opts.From)
		if err != nil {
			return usageErrorf("--from: %v", err)
		}
		from = t
	}
	from, to = from.Truncate(opts.Step), to.Truncate(opts.Step)
	if !to.After(from) {
		return usageErrorf("--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	cat, src, err := loadReplay(opts.IO.Err, opts.Paths, &opts.Prometheus, "backtesting")
	if err != nil {
		return err
	}
	corr := engine.Correlation{Policy: slo.DependencyPolicy(opts.DependencyPolicy), Grace: opts.Grace}
	if len(opts.Compare) > 0 || opts.Format == "markdown" {
		return runCompare(opts, cat, src, from, to, corr)
	}
	reports, queries, err := backtest(context.Background(), cat, src, from, to, opts.Step, corr, backtestProgress(opts.IO.Err, from, opts.Step))
	if err != nil {
		return &exitError{code: exitFail, err: err}
	}
	for _, rep := range reports {
		if rep.noData != "" {
			fmt.Fprintf(opts.IO.Err, "sloctl: slo %s: %s\n", rep.SLO, rep.noData)
		}
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if reports == nil {
			reports = []*BacktestReport{}
		}
		return enc.Encode(reports)
	}
	if err := writeBacktestText(opts.IO.Out, reports); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "\n%d range queries\n", queries)
	return err
}

func writeBacktestText(w io.Writer, reports []*BacktestReport) error {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	pctOf := func(f burnrate.Figure) string {
		return f.Text(func(x float64) string { return strconv.FormatFloat(100*x, 'f', 2, 64) + "%" })
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (service %s): objective %s%% over %s, policy %s, %s .. %s\n",
			r.SLO, r.Service, strconv.FormatFloat(r.Objective, 'g', -1, 64), seconds(r.WindowSeconds), r.Policy, ts(r.From), ts(r.To))
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		if len(r.Instances) == 0 {
			fmt.Fprintln(w, "  no instances: the SLI queries returned no series in the range")
		}
		for _, in := range r.Instances {
			fmt.Fprintf(w, "  instance %s: budget remaining %s -> %s, %s of the budget spent in range\n",
				burnrate.LabelsKey(in.Labels), pctOf(in.BudgetRemainingStart), pctOf(in.BudgetRemainingEnd), pctOf(in.BudgetSpent))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    SEVERITY\tLONG/SHORT\tFACTOR\tFIRED\tRESOLVED\tPEAK BURN")
			fired := false
			for _, row := range in.Rows {
				for _, f := range row.Firings {
					fired = true
					res := "(still firing)"
					if !f.Resolved.IsZero() {
						res = ts(f.Resolved)
					}
					fmt.Fprintf(tw, "    %s\t%s/%s\t%s\t%s\t%s\t%s\n", row.Severity, seconds(row.LongSeconds), seconds(row.ShortSeconds),
						strconv.FormatFloat(row.Factor, 'g', 4, 64), ts(f.Fired), res,
						f.PeakBurn.Text(func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }))
				}
			}
			if !fired {
				fmt.Fprintln(tw, "    (no row fired)\t\t\t\t\t")
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, inc := range in.incidents {
				end := "open at the end"
				if !inc.Resolved.IsZero() {
					end = "resolved " + ts(inc.Resolved)
				}
				fmt.Fprintf(w, "    incident %s %s: started %s, %s, budget spent %s%s\n", inc.Class, inc.Severity, ts(inc.Start), end, pctOf(inc.BudgetSpent), correlationText(inc))
			}
			q := in.Quality
			fmt.Fprintf(w, "    quality: %d pages (%s a week, paging %s), %d tickets, %d flaps, %d unwarranted pages, %d misses, %d burn episodes\n",
				q.Pages, strconv.FormatFloat(q.PagesPerWeek, 'f', 1, 64), seconds(q.PagingSeconds), q.Tickets, q.Flaps, q.Unwarranted, q.Misses, len(q.Episodes))
		}
	}
	// The incidents still open at the end, in the order slod would rank them.
	var open []burnrate.Incident
	for _, r := range reports {
		for _, in := range r.Instances {
			for _, inc := range in.incidents {
				if inc.Open() {
					open = append(open, inc)
				}
			}
		}
	}
	if len(open) > 0 {
		burnrate.Rank(open)
		fmt.Fprintf(w, "\nopen at the end, by threat (soonest budget exhaustion first):\n")
		for i, inc := range open {
			if inc.Class == burnrate.ClassNoData {
				fmt.Fprintf(w, "  %d. %s %s %s: no data since %s\n", i+1, inc.SLO, burnrate.LabelsKey(inc.Labels), inc.Severity, ts(inc.Start))
				continue
			}
			fmt.Fprintf(w, "  %d. %s %s %s: budget remaining %s, exhausted in %s\n", i+1, inc.SLO, burnrate.LabelsKey(inc.Labels), inc.Severity,
				pctOf(inc.BudgetRemaining), burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion))
		}
	}
	return nil
}

// correlationText says, for the backtest's text, whether an incident
// paged and how it is correlated: ", paged", ", not paged (caused by
// payments-availability)", ", paged, 2 dependent SLOs affected: ...".
func correlationText(inc burnrate.Incident) string {
	var b strings.Builder
	if inc.Paged {
		b.WriteString(", paged")
	} else {
		b.WriteString(", not paged")
	}
	if c := inc.CausedBy; c != nil {
		fmt.Fprintf(&b, " (caused by %s%s", c.SLO, labelsText(c.Labels))
		if !c.RootResolved.IsZero() && !c.RootResolved.Equal(inc.Resolved) {
			// It outlived its root and, if it still burned, paged.
			fmt.Fprintf(&b, " until it resolved %s", c.RootResolved.UTC().Format(time.RFC3339))
		}
		b.WriteString(")")
	}
	if len(inc.Symptoms) > 0 {
		var names []string
		for _, s := range inc.Symptoms {
			names = append(names, s.SLO+labelsText(s.Labels))
		}
		fmt.Fprintf(&b, ", %d dependent SLO instance(s) affected: %s", inc.SymptomCount, strings.Join(names, ", "))
	}
	return b.String()
}

func labelsText(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	return burnrate.LabelsKey(l)
}

// seconds formats a duration given in seconds.
func seconds(s float64) string {
	return slo.FormatDuration(time.Duration(s * float64(time.Second)))
}

// backtestProgress reports, on stderr, every tenth of a long replay.
func backtestProgress(w io.Writer, from time.Time, step time.Duration) func(done, total int) {
	last := -1
	return func(done, total int) {
		if total < 10000 {
			return // a week at 1m: quick enough to say nothing
		}
		if pct := 100 * done / total; pct/10 != last/10 && pct < 100 {
			last = pct
			fmt.Fprintf(w, "sloctl: backtest at %s (%d%%)\n", from.Add(time.Duration(done)*step).UTC().Format(time.RFC3339), pct)
		}
	}
}

// loadReplay loads the SLO files a replay (backtest, report) runs over,
// printing their diagnostics, and connects to the Prometheus they are read
// from. verb says what errors in the files stop ("backtesting").
func loadReplay(stderr io.Writer, paths []string, flags *source.PrometheusFlags, verb string) (*engine.Catalogue, source.Querier, error) {
	cat := engine.Load(paths...)
	for _, d := range cat.Diagnostics {
		fmt.Fprintln(stderr, d.String())
	}
	if cat.HasErrors() {
		fmt.Fprintf(stderr, "sloctl: fix the errors above (see sloctl lint) before %s\n", verb)
		return nil, nil, errFindings
	}
	if len(cat.Entries) == 0 {
		return nil, nil, usageErrorf("no SLOs found in %s", strings.Join(paths, " "))
	}
	po, err := flags.Options()
	if err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	src, err := source.NewPrometheus(po)
	if err != nil {
		return nil, nil, usageErrorf("%v", err)
	}
	return cat, src, nil
}
