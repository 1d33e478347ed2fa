package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/source"
)

// CompareReport is `sloctl backtest --compare --format json`: the alert
// quality of each policy on each SLO instance over the same history.
type CompareReport struct {
	From      time.Time         `json:"from"`
	To        time.Time         `json:"to"`
	Policies  []string          `json:"policies"`
	Instances []CompareInstance `json:"instances"`
}

// CompareInstance is one SLO instance's quality per policy, in the order
// of CompareReport.Policies.
type CompareInstance struct {
	SLO     string            `json:"slo"`
	Labels  map[string]string `json:"labels"`
	Quality []BacktestQuality `json:"quality"`
}

// withPolicy returns the catalogue with every SLO's policy replaced by the
// one named (resolved as burnrate.PolicyFor resolves it: another tool's
// SLO drops the rows that can never fire at its objective).
func withPolicy(cat *engine.Catalogue, name string) (*engine.Catalogue, error) {
	policies := cat.Policies()
	out := *cat
	out.Entries = nil
	for _, e := range cat.Entries {
		spec := *e.Spec
		spec.Policy = name
		p, ok := burnrate.PolicyFor(&spec, policies)
		if !ok {
			return nil, usageErrorf("--compare: unknown policy %q (and no such file)", name)
		}
		out.Entries = append(out.Entries, engine.Entry{Spec: e.Spec, Policy: p})
	}
	return &out, nil
}

// runCompare replays the history once per policy and prints the quality
// side by side. Without --compare (--format markdown) it compares each
// SLO's own policy with nothing: a one-column table.
func runCompare(opts *BacktestOptions, cat *engine.Catalogue, src source.Querier, from, to time.Time, corr engine.Correlation) error {
	rep, err := compare(context.Background(), cat, src, opts.Compare, from, to, opts.Step, corr, opts.IO.Err)
	if err != nil {
		return err
	}
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "markdown":
		return writeCompareMarkdown(opts.IO.Out, rep)
	}
	return writeCompareText(opts.IO.Out, rep)
}

func compare(ctx context.Context, cat *engine.Catalogue, src source.Querier, names []string, from, to time.Time, step time.Duration,
	corr engine.Correlation, stderr io.Writer) (*CompareReport, error) {
	rep := &CompareReport{From: from, To: to, Policies: names, Instances: []CompareInstance{}}
	if len(names) == 0 {
		rep.Policies = []string{"(own)"}
	}
	byKey := map[string]*CompareInstance{}
	var keys []string
	for i, name := range rep.Policies {
		c := cat
		if len(names) > 0 {
			var err error
			if c, err = withPolicy(cat, name); err != nil {
				return nil, err
			}
		}
		reports, _, err := backtest(ctx, c, src, from, to, step, corr, backtestProgress(stderr, from, step))
		if err != nil {
			return nil, &exitError{code: exitFail, err: err}
		}
		for _, r := range reports {
			for _, in := range r.Instances {
				k := r.SLO + burnrate.LabelsKey(in.Labels)
				ci := byKey[k]
				if ci == nil {
					ci = &CompareInstance{SLO: r.SLO, Labels: in.Labels, Quality: make([]BacktestQuality, len(rep.Policies))}
					byKey[k] = ci
					keys = append(keys, k)
				}
				ci.Quality[i] = in.Quality
			}
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		rep.Instances = append(rep.Instances, *byKey[k])
	}
	return rep, nil
}

// compareRows are the lines of the side-by-side table: a name and how
// each policy's quality reads in it.
var compareRows = []struct {
	name string
	cell func(BacktestQuality) string
}{
	{"pages", func(q BacktestQuality) string { return strconv.Itoa(q.Pages) }},
	{"tickets", func(q BacktestQuality) string { return strconv.Itoa(q.Tickets) }},
	{"pages per week", func(q BacktestQuality) string { return strconv.FormatFloat(q.PagesPerWeek, 'f', 1, 64) }},
	{"time paging", func(q BacktestQuality) string { return seconds(q.PagingSeconds) }},
	{"flaps", func(q BacktestQuality) string { return strconv.Itoa(q.Flaps) }},
	{"unwarranted pages", func(q BacktestQuality) string { return strconv.Itoa(q.Unwarranted) }},
	{"misses", func(q BacktestQuality) string { return strconv.Itoa(q.Misses) }},
	{"burn episodes", func(q BacktestQuality) string { return strconv.Itoa(len(q.Episodes)) }},
	{"time to detect", func(q BacktestQuality) string {
		var ds []string
		for _, e := range q.Episodes {
			ds = append(ds, e.DetectSeconds.Text(seconds))
		}
		if len(ds) == 0 {
			return "-"
		}
		return strings.Join(ds, " ")
	}},
	{"budget spent per page", func(q BacktestQuality) string {
		var ds []string
		for _, p := range q.PageList {
			ds = append(ds, p.BudgetSpent.Text(func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }))
		}
		if len(ds) == 0 {
			return "-"
		}
		if len(ds) > 8 {
			ds = append(ds[:8], fmt.Sprintf("… (%d)", len(q.PageList)))
		}
		return strings.Join(ds, " ")
	}},
}

func writeCompareText(w io.Writer, rep *CompareReport) error {
	fmt.Fprintf(w, "alert quality from %s to %s\n", rep.From.UTC().Format(time.RFC3339), rep.To.UTC().Format(time.RFC3339))
	for _, in := range rep.Instances {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s %s\t%s\n", in.SLO, burnrate.LabelsKey(in.Labels), strings.Join(rep.Policies, "\t"))
		for _, r := range compareRows {
			cells := make([]string, len(in.Quality))
			for i, q := range in.Quality {
				cells[i] = r.cell(q)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", r.name, strings.Join(cells, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func writeCompareMarkdown(w io.Writer, rep *CompareReport) error {
	fmt.Fprintf(w, "Alert quality from %s to %s\n", rep.From.UTC().Format(time.RFC3339), rep.To.UTC().Format(time.RFC3339))
	for _, in := range rep.Instances {
		fmt.Fprintf(w, "\n**%s** `%s`\n\n", in.SLO, burnrate.LabelsKey(in.Labels))
		fmt.Fprintf(w, "| | %s |\n|---|%s\n", strings.Join(rep.Policies, " | "), strings.Repeat("---|", len(rep.Policies)))
		for _, r := range compareRows {
			cells := make([]string, len(in.Quality))
			for i, q := range in.Quality {
				cells[i] = strings.ReplaceAll(r.cell(q), "|", `\|`)
			}
			fmt.Fprintf(w, "| %s | %s |\n", r.name, strings.Join(cells, " | "))
		}
	}
	return nil
}
