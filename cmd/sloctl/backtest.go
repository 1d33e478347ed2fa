package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
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
	// now is the clock for defaults (tests set it).
	now func() time.Time
}

var backtestFormats = []string{"text", "json"}

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
spent in the range. Times are RFC 3339 or Unix seconds; --to defaults to
now and --from to 7 days before --to. See docs/evaluator.md.`,
		Example: `  sloctl backtest --prometheus-url http://localhost:9090 --from 2026-09-01T00:00:00Z --to 2026-10-01T00:00:00Z slos/
  sloctl backtest --prometheus-url https://mimir/prometheus --tenant team-a --format json slos/`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
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
	return cmd
}

func parseBacktestTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(secs * 1000)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor Unix seconds", s)
}

// BacktestReport is one SLO in `sloctl backtest --format json`.
type BacktestReport struct {
	SLO       string             `json:"slo"`
	Service   string             `json:"service"`
	Objective float64            `json:"objective"`
	Window    string             `json:"window"`
	Policy    string             `json:"policy"`
	From      time.Time          `json:"from"`
	To        time.Time          `json:"to"`
	Queries   int                `json:"queries"`
	Instances []BacktestInstance `json:"instances"`
	Warnings  []string           `json:"warnings,omitempty"`
	state     map[string]*instanceTrack
	// noData says why no step of the range had data ("" when some did).
	noData string
}

// BacktestInstance is one SLO instance's replay.
type BacktestInstance struct {
	Labels map[string]string `json:"labels"`
	Rows   []BacktestRow     `json:"rows"`
	// Incidents are ordered by start.
	Incidents []burnrate.Incident `json:"incidents"`
	// BudgetRemainingStart/End are the share of W's budget left at the
	// first and last step; BudgetSpent is the errors counted in the range
	// over W's budget at the end.
	// They are null when W holds no data.
	BudgetRemainingStart Float `json:"budget_remaining_start"`
	BudgetRemainingEnd   Float `json:"budget_remaining_end"`
	BudgetSpent          Float `json:"budget_spent"`
}

// Float is a float64 that encodes NaN and ±Inf (no data) as JSON null.
type Float float64

// MarshalJSON writes null for NaN and ±Inf.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// BacktestRow is one policy row's firing intervals.
type BacktestRow struct {
	Severity burnrate.Severity `json:"severity"`
	Long     string            `json:"long"`
	Short    string            `json:"short"`
	Factor   float64           `json:"factor"`
	Firings  []Firing          `json:"firings"`
}

// Firing is one interval during which a row fired; Resolved is absent when
// it still fired at the end of the range.
type Firing struct {
	Fired    time.Time `json:"fired"`
	Resolved time.Time `json:"resolved,omitzero"`
	PeakBurn Float     `json:"peak_burn"`
}

type instanceTrack struct {
	out *BacktestInstance
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
	set, diags := slo.Check(opts.Paths...)
	diags = append(diags, burnrate.Lint(set)...)
	slo.SortDiagnostics(diags)
	for _, d := range diags {
		fmt.Fprintln(opts.IO.Err, d.String())
	}
	if slo.HasErrors(diags) {
		fmt.Fprintln(opts.IO.Err, "sloctl: fix the errors above (see sloctl lint) before backtesting")
		return errFindings
	}
	if len(set.SLOs) == 0 {
		return usageErrorf("no SLOs found in %s", strings.Join(opts.Paths, " "))
	}
	po, err := opts.Prometheus.Options()
	if err != nil {
		return usageErrorf("%v", err)
	}
	src, err := source.NewPrometheus(po)
	if err != nil {
		return usageErrorf("%v", err)
	}
	policies := burnrate.Policies(set)
	ctx := context.Background()
	var reports []*BacktestReport
	for _, spec := range set.SLOs {
		p, ok := burnrate.PolicyFor(spec, policies)
		if !ok {
			continue // lint reported the unknown policy
		}
		rep, err := backtestSLO(ctx, spec, p, src, from, to, opts.Step)
		if err != nil {
			return &exitError{code: exitFail, err: err}
		}
		if rep.noData != "" {
			fmt.Fprintf(opts.IO.Err, "sloctl: slo %s: %s\n", spec.ID, rep.noData)
			if opts.Format == "json" {
				rep.Warnings = append(rep.Warnings, rep.noData)
			}
		}
		reports = append(reports, rep)
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(jsonSafe(reports))
	}
	return writeBacktestText(opts.IO.Out, reports)
}

// backtestSLO replays one SLO and records row firings and incidents.
func backtestSLO(ctx context.Context, spec *slo.Spec, p burnrate.Policy, q source.Querier, from, to time.Time, step time.Duration) (*BacktestReport, error) {
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec, Policy: p, Step: step})
	if err != nil {
		return nil, err
	}
	rep := &BacktestReport{SLO: spec.ID, Service: spec.Service, Objective: spec.Objective, Window: burnrate.FormatDuration(spec.Window),
		Policy: p.Name, From: from, To: to, Instances: []BacktestInstance{}, state: map[string]*instanceTrack{}}
	tracker := burnrate.NewTracker(burnrate.TrackerOptions{NoDataAfter: spec.Alerting.NoData, KeepResolved: math.MaxInt32})
	var last []burnrate.InstanceEvaluation
	known := false // some instance had data at some step of the range
	n, err := source.Replay(ctx, ev, q, from, to, source.ReplayOptions{}, func(now time.Time) error {
		last = ev.EvaluateInto(last, now) // nothing of it is kept past this step
		for _, ie := range last {
			st, ok := rep.state[ie.Key]
			if !ok {
				st = &instanceTrack{out: &BacktestInstance{Labels: ie.Labels, BudgetRemainingStart: Float(ie.BudgetRemaining)}}
				for _, r := range ie.Rows {
					st.out.Rows = append(st.out.Rows, BacktestRow{Severity: r.Row.Severity, Long: burnrate.FormatDuration(r.Row.Long),
						Short: burnrate.FormatDuration(r.Row.Short), Factor: r.Factor, Firings: []Firing{}})
				}
				rep.state[ie.Key] = st
			}
			for i, r := range ie.Rows {
				row := &st.out.Rows[i]
				open := len(row.Firings) > 0 && row.Firings[len(row.Firings)-1].Resolved.IsZero()
				switch {
				case r.Fires && !open:
					row.Firings = append(row.Firings, Firing{Fired: now, PeakBurn: Float(math.Min(r.LongBurn, r.ShortBurn))})
				case r.Fires:
					f := &row.Firings[len(row.Firings)-1]
					f.PeakBurn = Float(math.Max(float64(f.PeakBurn), math.Min(r.LongBurn, r.ShortBurn)))
				case open:
					row.Firings[len(row.Firings)-1].Resolved = now
				}
			}
			st.out.BudgetRemainingEnd = Float(ie.BudgetRemaining)
			known = known || ie.NoDataFor == 0
			tracker.Observe(burnrate.Subject{Key: spec.ID + ie.Key, SLO: spec.ID, Labels: ie.Labels, Window: spec.Window}, ie.Evaluation)
		}
		return nil
	})
	rep.Queries = n
	if err != nil {
		return nil, err
	}
	if !known {
		// Say why rather than report instances without data: a scrape too
		// sparse for the step, or series that do not exist.
		hint, err := source.DiagnoseEmpty(ctx, q, spec, step, to)
		switch {
		case err != nil:
			rep.noData = fmt.Sprintf("no step from %s to %s has data (diagnosis failed: %v)", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		case hint == "":
			rep.noData = fmt.Sprintf("no step from %s to %s has data", from.Format(time.RFC3339), to.Format(time.RFC3339))
		default:
			rep.noData = fmt.Sprintf("no step from %s to %s has data: %s", from.Format(time.RFC3339), to.Format(time.RFC3339), hint)
		}
	}
	if d := ev.Dropped(); d > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d label sets over the instance cap were dropped", d))
	}
	incidents := append(tracker.Recent(), tracker.Open()...)
	sort.SliceStable(incidents, func(i, j int) bool { return incidents[i].Start.Before(incidents[j].Start) })
	keys := make([]string, 0, len(rep.state))
	for k := range rep.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out := rep.state[k].out
		out.Incidents = []burnrate.Incident{}
		for _, inc := range incidents {
			if inc.Key == spec.ID+k {
				out.Incidents = append(out.Incidents, inc)
			}
		}
		out.BudgetSpent = Float(math.NaN())
		if in := ev.Instance(out.Labels); in != nil {
			rng := in.Window(to, to.Sub(from))
			w := in.Window(to, spec.Window)
			if w.Total > 0 {
				out.BudgetSpent = Float(rng.Errors / (spec.ErrorBudget() * w.Total))
			}
		}
		rep.Instances = append(rep.Instances, *out)
	}
	return rep, nil
}

// jsonSafe replaces any NaN and ±Inf left in incidents with 0, since
// encoding/json cannot encode them; figures unknown for lack of data are
// flagged in Incident.Unknown. Our own figures use Float (null).
func jsonSafe(reports []*BacktestReport) []*BacktestReport {
	fix := func(x *float64) {
		if math.IsNaN(*x) || math.IsInf(*x, 0) {
			*x = 0
		}
	}
	for _, r := range reports {
		for i := range r.Instances {
			in := &r.Instances[i]
			for j := range in.Incidents {
				inc := &in.Incidents[j]
				fix(&inc.BudgetAtStart)
				fix(&inc.BudgetSpent)
				fix(&inc.BudgetRemaining)
				fix(&inc.Burn)
				for k := range inc.PeakBurn {
					fix(&inc.PeakBurn[k].Burn)
				}
			}
		}
	}
	if reports == nil {
		return []*BacktestReport{}
	}
	return reports
}

func writeBacktestText(w io.Writer, reports []*BacktestReport) error {
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	pctOf := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "n/a"
		}
		return strconv.FormatFloat(100*x, 'f', 2, 64) + "%"
	}
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (service %s): objective %s%% over %s, policy %s, %s .. %s (%d queries)\n",
			r.SLO, r.Service, strconv.FormatFloat(r.Objective, 'g', -1, 64), r.Window, r.Policy, ts(r.From), ts(r.To), r.Queries)
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		if len(r.Instances) == 0 {
			fmt.Fprintln(w, "  no instances: the SLI queries returned no series in the range")
		}
		for _, in := range r.Instances {
			fmt.Fprintf(w, "  instance %s: budget remaining %s -> %s, %s of the budget spent in range\n",
				burnrate.LabelsKey(in.Labels), pctOf(float64(in.BudgetRemainingStart)), pctOf(float64(in.BudgetRemainingEnd)), pctOf(float64(in.BudgetSpent)))
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
					fmt.Fprintf(tw, "    %s\t%s/%s\t%s\t%s\t%s\t%s\n", row.Severity, row.Long, row.Short,
						strconv.FormatFloat(row.Factor, 'g', 4, 64), ts(f.Fired), res, strconv.FormatFloat(float64(f.PeakBurn), 'f', 2, 64))
				}
			}
			if !fired {
				fmt.Fprintln(tw, "    (no row fired)\t\t\t\t\t")
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, inc := range in.Incidents {
				end := "open at the end"
				if !inc.Resolved.IsZero() {
					end = "resolved " + ts(inc.Resolved)
				}
				spent := pctOf(inc.BudgetSpent)
				if inc.Unknown.BudgetSpent {
					spent = "unknown"
				}
				fmt.Fprintf(w, "    incident %s %s: started %s, %s, budget spent %s\n", inc.Class, inc.Severity, ts(inc.Start), end, spent)
			}
		}
	}
	// The incidents still open at the end, in the order slod would rank them.
	var open []burnrate.Incident
	for _, r := range reports {
		for _, in := range r.Instances {
			for _, inc := range in.Incidents {
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
			tte, rem := "never", pctOf(inc.BudgetRemaining)
			switch {
			case inc.Unknown.TimeToExhaustion:
				tte = "unknown"
			case inc.TimeToExhaustion != burnrate.Never:
				tte = inc.TimeToExhaustion.Round(time.Minute).String()
			}
			if inc.Unknown.BudgetRemaining {
				rem = "unknown"
			}
			fmt.Fprintf(w, "  %d. %s %s %s: budget remaining %s, exhausted in %s\n", i+1, inc.SLO, burnrate.LabelsKey(inc.Labels), inc.Severity, rem, tte)
		}
	}
	return nil
}
