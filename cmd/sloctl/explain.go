package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
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

// ExplainOptions are the inputs of `sloctl explain`.
type ExplainOptions struct {
	IO     IO
	Paths  []string
	Format string
	// Prometheus, when its URL is set, is read for each SLO's traffic over
	// the week before At: detection of budget rows at its busiest and
	// quietest hour.
	Prometheus source.PrometheusFlags
	At         string
	now        func() time.Time
}

var explainFormats = []string{"table", "json"}

// NewCmdExplain builds `sloctl explain`; runF replaces the run function in
// flag tests (nil explains).
func NewCmdExplain(io IO, runF func(*ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: io, now: time.Now, Prometheus: source.PrometheusFlags{QueryTimeout: time.Minute}}
	cmd := &cobra.Command{
		Use:   "explain [PATH...]",
		Short: "Show, per SLO and policy row, when its alerts fire and reset",
		Long: `Explain loads SLO and policy files and works out every policy row of every
SLO: the burn-rate factor (share × W / long), the error ratio that triggers
it, how long a constant 100%, 10% and 1% error ratio takes to fire it
(share × W × (1 − objective) / error ratio, or "never"), the share of the
budget spent by then, and how long it keeps firing after a 100% outage
stops (the short window draining). A budget-measure row (traffic-aware)
detects sooner when traffic is above its mean over W and later below it:
with --prometheus-url, explain reads each SLO's traffic over the week
before --at and shows detection at its busiest and its quietest hour.
See docs/policies.md.`,
		Example: `  sloctl explain examples/slos
  sloctl explain --format json slos/ | jq '.[0].rows[0]'`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			if opts.Prometheus.URL != "" {
				if err := opts.Prometheus.Validate(); err != nil {
					return usageErrorf("%v", err)
				}
			}
			if !contains(explainFormats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(explainFormats, ", "))
			}
			for _, p := range opts.Paths {
				if _, err := os.Stat(p); err != nil {
					return usageErrorf("%s: no such file or directory", p)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runExplain(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "table", "output format: "+strings.Join(explainFormats, ", "))
	opts.Prometheus.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.At, "at", "", "end of the week whose traffic is read (RFC 3339 or Unix seconds; default now)")
	return cmd
}

// sloExplanation is one SLO in `sloctl explain --format json`.
type sloExplanation struct {
	SLO         string                    `json:"slo"`
	Service     string                    `json:"service"`
	Objective   float64                   `json:"objective"`
	Window      string                    `json:"window"`
	ErrorBudget float64                   `json:"error_budget"`
	Policy      string                    `json:"policy"`
	Rows        []burnrate.RowExplanation `json:"rows"`
	// Traffic is set when a source was read (--prometheus-url).
	Traffic *trafficExplanation `json:"traffic,omitempty"`
	window  time.Duration
	spec    *slo.Spec
	policy  burnrate.Policy
	// Calendar describes a calendar-aligned window ("month in
	// Europe/Berlin"); CalendarNote says when in a period a page can fire.
	Calendar     string `json:"calendar,omitempty"`
	CalendarNote string `json:"calendar_note,omitempty"`
}

// trafficExplanation is detection at the SLO's busiest and quietest hour
// of the week read, each as a multiple of the mean traffic over W.
type trafficExplanation struct {
	BusiestHour   time.Time                 `json:"busiest_hour"`
	Busiest       float64                   `json:"busiest"`
	QuietestHour  time.Time                 `json:"quietest_hour"`
	Quietest      float64                   `json:"quietest"`
	BusiestRows   []burnrate.RowExplanation `json:"busiest_rows"`
	QuietestRows  []burnrate.RowExplanation `json:"quietest_rows"`
	MeanPerSecond float64                   `json:"mean_per_second"`
}

func explainSet(set *slo.Set) []sloExplanation {
	policies := burnrate.Policies(set)
	var out []sloExplanation
	for _, s := range set.SLOs {
		p, ok := burnrate.PolicyFor(s, policies)
		if !ok {
			continue // lint reported the unknown policy
		}
		out = append(out, sloExplanation{
			SLO: s.ID, Service: s.Service, Objective: s.Objective, Window: slo.FormatDuration(s.Window),
			ErrorBudget: s.ErrorBudget(), Policy: p.Name,
			Rows:   p.Explain(s.Window, s.ErrorBudget(), burnrate.ExplainRatios...),
			window: s.Window, spec: s, policy: p,
		})
		if s.Calendar != nil {
			x := &out[len(out)-1]
			x.Calendar, x.CalendarNote = s.Calendar.String(), calendarNote(s, x.Rows)
		}
	}
	return out
}

// calendarNote says how early in a calendar period a page can fire: the
// budget figures restart at each period start, but the policy rows read
// rolling windows (their factors scaled to the period's nominal length),
// so a full outage pages as early in a period as anywhere else — after
// the fastest page row's detection time — and a burn that began before
// the period start still counts in the rows' windows.
func calendarNote(s *slo.Spec, rows []burnrate.RowExplanation) string {
	fastest := time.Duration(-1)
	for _, r := range rows {
		if r.Severity != burnrate.SeverityPage {
			continue
		}
		for _, d := range r.Detections {
			if d.ErrorRatio == 1 && d.Fires && (fastest < 0 || d.After < fastest) {
				fastest = d.After
			}
		}
	}
	note := fmt.Sprintf("budget resets at each %s start (local midnight in %s); factors use a %s period; the rows' windows roll across the period start",
		s.Calendar.Unit, s.Calendar.Location, slo.FormatDuration(s.Window))
	if fastest < 0 {
		return note + "; no page row can fire"
	}
	return note + fmt.Sprintf(", so a full outage pages %s into a period at the earliest", fmtDur(fastest))
}

func runExplain(opts *ExplainOptions) error {
	// Unlike generate, explain goes on after lint errors: it is the tool
	// that shows why a row can never fire (its trigger ratio above 100%).
	cat := engine.Load(opts.Paths...)
	set := cat.Set
	for _, d := range cat.Diagnostics {
		fmt.Fprintln(opts.IO.Err, d.String())
	}
	if len(set.SLOs) == 0 {
		return usageErrorf("no SLOs found in %s", strings.Join(opts.Paths, " "))
	}
	xs := explainSet(set)
	if opts.Prometheus.URL != "" {
		at := opts.now().UTC()
		if opts.At != "" {
			t, err := parseBacktestTime(opts.At)
			if err != nil {
				return usageErrorf("--at: %v", err)
			}
			at = t
		}
		po, err := opts.Prometheus.Options()
		if err != nil {
			return usageErrorf("%v", err)
		}
		src, err := source.NewPrometheus(po)
		if err != nil {
			return usageErrorf("%v", err)
		}
		for i := range xs {
			if err := explainTraffic(context.Background(), src, &xs[i], at.Truncate(time.Hour)); err != nil {
				return &exitError{code: exitFail, err: fmt.Errorf("slo %q: %w", xs[i].SLO, err)}
			}
		}
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if xs == nil {
			xs = []sloExplanation{}
		}
		return enc.Encode(xs)
	}
	return writeExplainTable(opts.IO.Out, xs)
}

func writeExplainTable(w io.Writer, xs []sloExplanation) error {
	for i, x := range xs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s (service %s): objective %s%% over %s, policy %s; a full outage spends the whole budget in %s\n",
			x.SLO, x.Service, strconv.FormatFloat(x.Objective, 'g', -1, 64), x.Window, x.Policy,
			fmtDur(time.Duration(x.ErrorBudget*float64(x.window))))
		if x.Calendar != "" {
			fmt.Fprintf(w, "calendar window: %s; %s\n", x.Calendar, x.CalendarNote)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEVERITY\tLONG\tSHORT\tBUDGET\tFACTOR\tFIRES AT\tAT 100%\tAT 10%\tAT 1%\tSPENT\tRESET")
		for _, r := range x.Rows {
			cells := []string{string(r.Severity), r.Long, r.Short, pct(r.BudgetShare), fmtNum(r.Factor), pct(r.ErrorRatio)}
			spent, reset := "-", "-"
			for _, d := range r.Detections {
				if !d.Fires {
					cells = append(cells, "never")
					continue
				}
				cells = append(cells, fmtDur(d.After))
				spent = pct(d.BudgetSpent)
				if d.ErrorRatio == 1 {
					reset = fmtDur(d.Reset)
				}
			}
			if !r.CanFire {
				spent = "-"
			}
			cells = append(cells, spent, reset)
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if tr := x.Traffic; tr != nil {
			ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04Z") }
			fmt.Fprintf(w, "traffic over the week read: busiest hour (ending %s) %s× the mean over %s, quietest (ending %s) %s×\n",
				ts(tr.BusiestHour), fmtNum(tr.Busiest), x.Window, ts(tr.QuietestHour), fmtNum(tr.Quietest))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEVERITY\tLONG\tSHORT\tMEASURE\tBUSIEST 100%\t10%\t1%\tQUIETEST 100%\t10%\t1%")
			for i, r := range tr.BusiestRows {
				cells := []string{string(r.Severity), r.Long, r.Short, r.Measure}
				for _, rows := range [][]burnrate.RowExplanation{tr.BusiestRows, tr.QuietestRows} {
					for _, d := range rows[i].Detections {
						if d.Fires {
							cells = append(cells, fmtDur(d.After))
						} else {
							cells = append(cells, "never")
						}
					}
				}
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// explainTraffic reads an SLO's hourly traffic over the week before at and
// its mean over W, and works out detection at the busiest and the quietest
// hour. An SLO without an event count (a raw SLI) or without traffic is
// left without (its detection does not depend on traffic).
func explainTraffic(ctx context.Context, q source.Querier, x *sloExplanation, at time.Time) error {
	_, total, err := x.spec.SLI.Queries()
	if err != nil || total == "" {
		return nil
	}
	hourly, err := q.QueryRange(ctx, "sum("+slo.ExpandWindow(total, "1h")+")", at.Add(-7*24*time.Hour+time.Hour), at, time.Hour)
	if err != nil {
		return err
	}
	mean, err := q.QueryRange(ctx, "sum("+slo.ExpandWindow(total, slo.FormatDuration(x.window))+")", at, at, time.Minute)
	if err != nil {
		return err
	}
	if len(hourly) == 0 || len(mean) == 0 || len(mean[0].Values) == 0 {
		return nil
	}
	m := float64(mean[0].Values[len(mean[0].Values)-1].Value)
	if !(m > 0) {
		return nil
	}
	tr := &trafficExplanation{MeanPerSecond: m, Quietest: math.Inf(1)}
	for _, p := range hourly[0].Values {
		v := float64(p.Value) / m
		if v > tr.Busiest {
			tr.Busiest, tr.BusiestHour = v, p.Timestamp.Time()
		}
		if v < tr.Quietest {
			tr.Quietest, tr.QuietestHour = v, p.Timestamp.Time()
		}
	}
	budget := x.spec.ErrorBudget()
	tr.BusiestRows = x.policy.ExplainAt(x.window, budget, tr.Busiest, burnrate.ExplainRatios...)
	tr.QuietestRows = x.policy.ExplainAt(x.window, budget, tr.Quietest, burnrate.ExplainRatios...)
	x.Traffic = tr
	return nil
}

func pct(x float64) string {
	return strconv.FormatFloat(x*100, 'g', 4, 64) + "%"
}

func fmtNum(x float64) string {
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// fmtDur rounds a duration for reading: tenths of seconds under a minute,
// seconds under a day, minutes beyond.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < 24*time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}
