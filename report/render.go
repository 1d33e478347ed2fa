package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Formats are the renderings Write knows.
var Formats = []string{"text", "markdown", "csv", "json"}

// Write renders the report in one of Formats.
func Write(w io.Writer, r *Report, format string) error {
	switch format {
	case "text":
		return writeText(w, r)
	case "markdown":
		return writeMarkdown(w, r)
	case "csv":
		return writeCSV(w, r)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// pct renders a ratio as a percentage with enough digits for 99.95%
// objectives; unknown figures read "unknown".
func pct(f burnrate.Figure, digits int) string {
	return f.Text(func(x float64) string { return strconv.FormatFloat(100*x, 'f', digits, 64) + "%" })
}

func dur(seconds float64) string {
	if seconds == 0 {
		return "0s"
	}
	return slo.FormatDuration(time.Duration(seconds * float64(time.Second)).Round(time.Second))
}

func (r *Report) localTime(t time.Time) string {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

func objective(o float64) string { return strconv.FormatFloat(o, 'f', -1, 64) + "%" }

func writeText(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "SLO report %s (%s): %s .. %s\n", r.Period, r.Timezone, r.localTime(r.From), r.localTime(r.To))
	for _, s := range r.SLOs {
		fmt.Fprintf(w, "\n%s (service %s): objective %s, policy %s\n", s.SLO, s.Service, objective(s.Objective), s.Policy)
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warn)
		}
		for _, x := range s.Exclusions {
			fmt.Fprintf(w, "  excluded %s .. %s: %s (%s) %s\n", r.localTime(x.From), r.localTime(x.To), x.Name, cmpOr(x.Category, "no category"), x.Reason)
		}
		if len(s.Instances) == 0 {
			fmt.Fprintln(w, "  no instances: the SLI queries returned no series in the period")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  INSTANCE\tSLI\tVERDICT\tBUDGET SPENT\tREMAINING\tEXCLUDED\tNO DATA\tINCIDENTS\tPAGING")
		for _, in := range s.Instances {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", burnrate.LabelsKey(in.Labels), pct(in.SLI, 4), in.Verdict,
				pct(in.BudgetSpent, 1), pct(in.BudgetRemaining, 1), dur(in.ExcludedSeconds), dur(in.UnknownSeconds), len(in.Incidents), dur(in.PagingSeconds))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, in := range s.Instances {
			for _, inc := range in.Incidents {
				end := "still open"
				if !inc.End.IsZero() {
					end = "resolved " + r.localTime(inc.End)
				}
				fmt.Fprintf(w, "  incident %s %s %s: started %s, %s, %s in the period\n", burnrate.LabelsKey(in.Labels), inc.Class, inc.Severity,
					r.localTime(inc.Start), end, dur(inc.DurationSeconds))
			}
		}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mdEscape keeps a value from breaking a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func writeMarkdown(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "# SLO report %s\n\n%s to %s (%s)\n", r.Period, r.localTime(r.From), r.localTime(r.To), r.Timezone)
	for _, s := range r.SLOs {
		fmt.Fprintf(w, "\n## %s\n\nService %s, objective %s, policy %s.\n", mdEscape(s.SLO), mdEscape(s.Service), objective(s.Objective), mdEscape(s.Policy))
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "\n> warning: %s\n", mdEscape(warn))
		}
		if len(s.Exclusions) > 0 {
			fmt.Fprintf(w, "\nExcluded (%s in all):\n\n", dur(s.ExcludedSeconds))
			for _, x := range s.Exclusions {
				fmt.Fprintf(w, "- %s to %s: **%s** (%s): %s\n", r.localTime(x.From), r.localTime(x.To), mdEscape(x.Name), mdEscape(cmpOr(x.Category, "no category")), mdEscape(x.Reason))
			}
		}
		fmt.Fprintf(w, "\n| Instance | SLI | Verdict | Budget spent | Remaining | Excluded | No data | Incidents | Paging |\n")
		fmt.Fprintf(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, in := range s.Instances {
			fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s | %s | %d | %s |\n", mdEscape(burnrate.LabelsKey(in.Labels)), pct(in.SLI, 4), in.Verdict,
				pct(in.BudgetSpent, 1), pct(in.BudgetRemaining, 1), dur(in.ExcludedSeconds), dur(in.UnknownSeconds), len(in.Incidents), dur(in.PagingSeconds))
		}
		var any bool
		for _, in := range s.Instances {
			for _, inc := range in.Incidents {
				if !any {
					fmt.Fprintf(w, "\n| Instance | Incident | Severity | Started | Resolved | In period |\n|---|---|---|---|---|---:|\n")
					any = true
				}
				end := "still open"
				if !inc.End.IsZero() {
					end = r.localTime(inc.End)
				}
				fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s |\n", mdEscape(burnrate.LabelsKey(in.Labels)), inc.Class, inc.Severity,
					r.localTime(inc.Start), end, dur(inc.DurationSeconds))
			}
		}
	}
	return nil
}

// writeCSV writes one row per SLO instance; figures are plain numbers
// (ratios, seconds), unknown ones empty.
func writeCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	num := func(f burnrate.Figure) string {
		if !f.Known() {
			return ""
		}
		return strconv.FormatFloat(float64(f), 'g', -1, 64)
	}
	sec := func(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) }
	if err := cw.Write([]string{"period", "slo", "service", "instance", "objective", "sli", "verdict", "errors", "events",
		"budget_spent", "budget_remaining", "excluded_seconds", "no_data_seconds", "incidents", "paging_seconds"}); err != nil {
		return err
	}
	for _, s := range r.SLOs {
		for _, in := range s.Instances {
			if err := cw.Write([]string{r.Period, s.SLO, s.Service, burnrate.LabelsKey(in.Labels), strconv.FormatFloat(s.Objective/100, 'g', -1, 64),
				num(in.SLI), string(in.Verdict), sec(in.Errors), sec(in.Events), num(in.BudgetSpent), num(in.BudgetRemaining),
				sec(in.ExcludedSeconds), sec(in.UnknownSeconds), strconv.Itoa(len(in.Incidents)), sec(in.PagingSeconds)}); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
