package source

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// diagnoseSteps is how many steps before the diagnosis time are probed.
const diagnoseSteps = 60

// Diagnose explains why an evaluator knows none of the 60 steps before at
// (the newest, read at the step; older history is read at coarser
// resolutions where a sparse scrape may still give data): it returns ""
// when some instance knows one of them, else the hint of DiagnoseEmpty. The
// daemon calls it after a cold backfill.
func Diagnose(ctx context.Context, q Querier, ev *burnrate.Evaluator, at time.Time) (string, error) {
	at = at.Truncate(ev.Step())
	w := time.Duration(diagnoseSteps) * ev.Step()
	for _, ie := range ev.Evaluate(at) {
		if in := ev.Instance(ie.Labels); in != nil && in.Window(at, w).Known > 0 {
			return "", nil
		}
	}
	return DiagnoseEmpty(ctx, q, ev.Spec(), ev.Step(), at)
}

// DiagnoseEmpty tells apart why an SLO's SLI has no known step at the given
// step in the hour (60 steps) before at, for a human: the series the SLI
// reads do not exist, or they exist but are sampled too sparsely for the
// step — rate over a range of one step needs two samples in it, so the step
// must be at least twice the scrape interval —, or they are dense enough and
// the query itself returns nothing. It returns "" when the SLI's query does
// return data there (some step is known), and an error only when a probe
// query fails. It sends one range query for the SLI and one
// count_over_time query per distinct series selector in it.
func DiagnoseEmpty(ctx context.Context, q Querier, spec *slo.Spec, step time.Duration, at time.Time) (string, error) {
	qs, err := BuildQueries(spec, step)
	if err != nil {
		return "", err
	}
	// The total decides whether a step is known; a raw SLI has only its ratio.
	probe := qs.Total
	if qs.Raw() {
		probe = qs.Errors
	}
	at = at.Truncate(step)
	start := at.Add(-time.Duration(diagnoseSteps-1) * step)
	mat, err := q.QueryRange(ctx, probe, start, at, step)
	if err != nil {
		return "", fmt.Errorf("slo %q: diagnose: %w", spec.ID, err)
	}
	for _, s := range mat {
		if len(s.Values) > 0 {
			return "", nil
		}
	}
	sels, err := selectors(probe)
	if err != nil {
		return "", fmt.Errorf("slo %q: diagnose: %w", spec.ID, err)
	}
	if len(sels) == 0 {
		return fmt.Sprintf("the SLI query %s reads no series and returns nothing at a step of %s", probe, model.Duration(step)), nil
	}
	var missing []string
	type density struct {
		sel string
		// maxPerStep is the most samples of one series in one step;
		// interval is the spacing of the densest series (0: under two samples).
		maxPerStep int
		interval   time.Duration
	}
	var dens []density
	for _, sel := range sels {
		cq := "count_over_time(" + sel + "[" + model.Duration(step).String() + "])"
		mat, err := q.QueryRange(ctx, cq, start, at, step)
		if err != nil {
			return "", fmt.Errorf("slo %q: diagnose: %w", spec.ID, err)
		}
		d := density{sel: sel}
		found := false
		for _, s := range mat {
			first, last, n := -1, -1, 0
			for _, p := range s.Values {
				c := int(p.Value)
				if c <= 0 {
					continue
				}
				i := int(time.UnixMilli(int64(p.Timestamp)).Sub(start) / step)
				if first < 0 {
					first = i
				}
				last = i
				n += c
				d.maxPerStep = max(d.maxPerStep, c)
			}
			if n == 0 {
				continue
			}
			found = true
			// n samples regularly spaced from the first step that has one
			// to the last span n−1 intervals, give or take a step.
			if n >= 2 {
				iv := time.Duration(last-first) * step / time.Duration(n-1)
				if d.interval == 0 || iv < d.interval {
					d.interval = iv
				}
			}
		}
		if !found {
			missing = append(missing, sel)
			continue
		}
		dens = append(dens, d)
	}
	hour := model.Duration(time.Duration(diagnoseSteps) * step)
	if len(missing) > 0 {
		return fmt.Sprintf("no series match %s in the %s before %s: check the metric name and labels in the SLI, and that Prometheus scrapes them",
			strings.Join(missing, ", "), hour, at.UTC().Format(time.RFC3339)), nil
	}
	slices.SortFunc(dens, func(a, b density) int { return a.maxPerStep - b.maxPerStep })
	if d := dens[0]; d.maxPerStep < 2 {
		every := "at most once per " + model.Duration(step).String()
		want := 2 * step
		if d.interval > 0 {
			iv := roundInterval(d.interval)
			every = "about every " + model.Duration(iv).String()
			want = suggestStep(iv)
		}
		return fmt.Sprintf("series %s exist but are sampled %s; a step of %s needs at least two samples per step (rate needs two): set --step %s (or scrape every %s or faster)",
			d.sel, every, model.Duration(step), model.Duration(want), model.Duration(step/2)), nil
	}
	every := "at least twice per " + model.Duration(step).String()
	if iv := dens[0].interval; iv > 0 {
		every = "about every " + model.Duration(roundInterval(iv)).String()
	}
	return fmt.Sprintf("series %s exist and are sampled %s, but the SLI query returns nothing at a step of %s: check the query %s",
		dens[0].sel, every, model.Duration(step), probe), nil
}

// selectors returns the distinct series selectors of a PromQL expression,
// without offsets or @ modifiers, in the order they appear.
func selectors(query string) ([]string, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(query)
	if err != nil {
		return nil, err
	}
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			s := (&parser.VectorSelector{Name: vs.Name, LabelMatchers: vs.LabelMatchers}).String()
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return nil
	})
	return out, nil
}

// roundInterval rounds an estimated scrape interval to whole seconds, and
// to 5 seconds from 30s on (scrape intervals are round; the estimate is
// off by up to a step over the number of samples).
func roundInterval(d time.Duration) time.Duration {
	if d >= 30*time.Second {
		return max(d.Round(5*time.Second), 5*time.Second)
	}
	return max(d.Round(time.Second), time.Second)
}

// suggestStep is twice the scrape interval, rounded up to whole minutes
// from a minute on and to 10 seconds below.
func suggestStep(interval time.Duration) time.Duration {
	s := 2 * interval
	unit := 10 * time.Second
	if s > time.Minute {
		unit = time.Minute
	}
	return (s + unit - 1) / unit * unit
}
