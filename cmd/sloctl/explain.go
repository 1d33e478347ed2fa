package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/slo"
)

// ExplainOptions are the inputs of `sloctl explain`.
type ExplainOptions struct {
	IO     IO
	Paths  []string
	Format string
}

var explainFormats = []string{"table", "json"}

// NewCmdExplain builds `sloctl explain`; runF replaces the run function in
// flag tests (nil explains).
func NewCmdExplain(io IO, runF func(*ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "explain [PATH...]",
		Short: "Show, per SLO and policy row, when its alerts fire and reset",
		Long: `Explain loads SLO and policy files and works out every policy row of every
SLO: the burn-rate factor (share × W / long), the error ratio that triggers
it, how long a constant 100%, 10% and 1% error ratio takes to fire it
(share × W × (1 − objective) / error ratio, or "never"), the share of the
budget spent by then, and how long it keeps firing after a 100% outage
stops (the short window draining). See docs/policies.md.`,
		Example: `  sloctl explain examples/slos
  sloctl explain --format json slos/ | jq '.[0].rows[0]'`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
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
	// Calendar describes a calendar-aligned window ("month in
	// Europe/Berlin"); CalendarNote says when in a period a page can fire.
	Calendar     string `json:"calendar,omitempty"`
	CalendarNote string `json:"calendar_note,omitempty"`
	window       time.Duration
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
			window: s.Window,
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
	}
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
