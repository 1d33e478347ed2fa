package source

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// MaxPoints is Prometheus's limit on points per series in one range query.
const MaxPoints = 11000

// Reader reads one SLO's step counts from a Querier.
type Reader struct {
	Querier Querier
	Spec    *slo.Spec
	// Step is the evaluator's step.
	Step time.Duration
	// Points caps the points per series of one range query (default
	// 10,000, under Prometheus's 11,000).
	Points int
}

// Read returns the counts of the steps that end in (from, to] at resolution
// res (a multiple of Step; from and to multiples of res), reading in
// chunks of at most Points points per series. It returns the number of
// range queries sent alongside the batch.
func (r *Reader) Read(ctx context.Context, from, to time.Time, res time.Duration) (burnrate.Batch, int, error) {
	b := burnrate.Batch{From: from, To: to, Resolution: res}
	if !to.After(from) {
		return b, 0, nil
	}
	if res%r.Step != 0 || res < r.Step {
		return b, 0, fmt.Errorf("slo %q: resolution %s is not a multiple of step %s", r.Spec.ID, res, r.Step)
	}
	if from.UnixNano()%int64(res) != 0 || to.UnixNano()%int64(res) != 0 {
		return b, 0, fmt.Errorf("slo %q: range %s..%s is not aligned to %s", r.Spec.ID, from, to, res)
	}
	if res == r.Step {
		b.Resolution = 0
	}
	qs, err := BuildQueries(r.Spec, res)
	if err != nil {
		return b, 0, err
	}
	points := r.Points
	if points <= 0 || points > MaxPoints {
		points = 10000
	}
	type acc struct {
		labels      map[string]string
		errs, total map[int64]float64
	}
	series := map[string]*acc{}
	get := func(m model.Metric) *acc {
		ls := make(map[string]string, len(r.Spec.GroupBy))
		for _, g := range r.Spec.GroupBy {
			if v, ok := m[model.LabelName(g)]; ok && v != "" {
				ls[g] = string(v)
			}
		}
		k := burnrate.LabelsKey(ls)
		a, ok := series[k]
		if !ok {
			a = &acc{labels: ls, errs: map[int64]float64{}, total: map[int64]float64{}}
			series[k] = a
		}
		return a
	}
	queries := 0
	chunk := time.Duration(points-1) * res
	for start := from.Add(res); !start.After(to); start = start.Add(chunk + res) {
		end := start.Add(chunk)
		if end.After(to) {
			end = to
		}
		for _, q := range []struct {
			text string
			into func(*acc) map[int64]float64
		}{
			{qs.Errors, func(a *acc) map[int64]float64 { return a.errs }},
			{qs.Total, func(a *acc) map[int64]float64 { return a.total }},
		} {
			if q.text == "" {
				continue
			}
			mat, err := r.Querier.QueryRange(ctx, q.text, start, end, res)
			queries++
			if err != nil {
				return b, queries, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
			}
			for _, s := range mat {
				m := q.into(get(s.Metric))
				for _, p := range s.Values {
					m[int64(p.Timestamp)] = float64(p.Value)
				}
			}
		}
	}
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a := series[k]
		ts := make([]int64, 0, len(a.total)+len(a.errs))
		for t := range a.total {
			ts = append(ts, t)
		}
		for t := range a.errs {
			if _, ok := a.total[t]; !ok {
				ts = append(ts, t)
			}
		}
		slices.Sort(ts)
		s := burnrate.Series{Labels: a.labels, Key: k, Steps: make([]burnrate.StepCount, 0, len(ts))}
		for _, t := range ts {
			e, hasE := a.errs[t]
			tot, hasT := a.total[t]
			errs, total := qs.Counts(e, tot, hasE, hasT, r.Step)
			if math.IsNaN(total) {
				continue // unknown: the batch marks steps it does not list
			}
			s.Steps = append(s.Steps, burnrate.StepCount{End: time.UnixMilli(t).UTC(), Errors: errs, Total: total})
		}
		b.Series = append(b.Series, s)
	}
	return b, queries, nil
}
