package daemon

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// Reader reads an SLO's counts for the intervals of length res ending in
// (from, to]; step is the evaluator's step (res is a multiple of it: coarse
// history is read at the resolution of the ring tier that keeps it).
type Reader interface {
	Read(ctx context.Context, spec *slo.Spec, from, to time.Time, res, step time.Duration) (burnrate.Batch, error)
}

// maxPointsPerQuery keeps every range query under Prometheus's limit of
// 11,000 points per series.
const maxPointsPerQuery = 10_000

// QueryReader reads counts through a source.Querier (the Prometheus HTTP
// API or the embedded engine): the SLI queries expanded for the step, as
// range queries chunked under the points limit.
type QueryReader struct {
	Querier source.Querier

	mu      sync.Mutex
	queries map[queryKey]source.StepQueries
	// Queries counts range queries sent and Steps the points they covered,
	// so tests can assert a restart reads only the gap.
	Queries, Steps int64
}

type queryKey struct {
	spec *slo.Spec
	step time.Duration
}

func (r *QueryReader) stepQueries(spec *slo.Spec, step time.Duration) (source.StepQueries, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if q, ok := r.queries[queryKey{spec, step}]; ok {
		return q, nil
	}
	q, err := source.BuildQueries(spec, step)
	if err != nil {
		return q, err
	}
	if r.queries == nil {
		r.queries = map[queryKey]source.StepQueries{}
	}
	r.queries[queryKey{spec, step}] = q
	return q, nil
}

// Read implements Reader.
func (r *QueryReader) Read(ctx context.Context, spec *slo.Spec, from, to time.Time, res, step time.Duration) (burnrate.Batch, error) {
	b := burnrate.Batch{From: from, To: to, Resolution: res}
	if !to.After(from) {
		return b, nil
	}
	qs, err := r.stepQueries(spec, res)
	if err != nil {
		return b, err
	}
	type acc struct {
		labels           map[string]string
		errs, totals     map[int64]float64
		hasErrs, hasTots map[int64]bool
	}
	sets := map[string]*acc{}
	get := func(m model.Metric) *acc {
		ls := map[string]string{}
		for k, v := range m {
			if k != model.MetricNameLabel {
				ls[string(k)] = string(v)
			}
		}
		key := burnrate.LabelsKey(ls)
		a := sets[key]
		if a == nil {
			a = &acc{labels: ls, errs: map[int64]float64{}, totals: map[int64]float64{},
				hasErrs: map[int64]bool{}, hasTots: map[int64]bool{}}
			sets[key] = a
		}
		return a
	}
	chunk := time.Duration(maxPointsPerQuery) * res
	for start := from; start.Before(to); start = start.Add(chunk) {
		end := start.Add(chunk)
		if end.After(to) {
			end = to
		}
		// The interval ending at t is the query's value at t: its window is (t − res, t].
		mat, err := r.Querier.QueryRange(ctx, qs.Errors, start.Add(res), end, res)
		r.count(start, end, res)
		if err != nil {
			return b, fmt.Errorf("slo %q: errors: %w", spec.ID, err)
		}
		for _, s := range mat {
			a := get(s.Metric)
			for _, p := range s.Values {
				a.errs[int64(p.Timestamp)], a.hasErrs[int64(p.Timestamp)] = float64(p.Value), true
			}
		}
		if qs.Raw() {
			continue
		}
		mat, err = r.Querier.QueryRange(ctx, qs.Total, start.Add(res), end, res)
		r.count(start, end, res)
		if err != nil {
			return b, fmt.Errorf("slo %q: total: %w", spec.ID, err)
		}
		for _, s := range mat {
			a := get(s.Metric)
			for _, p := range s.Values {
				a.totals[int64(p.Timestamp)], a.hasTots[int64(p.Timestamp)] = float64(p.Value), true
			}
		}
	}
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := sets[k]
		ts := map[int64]bool{}
		for t := range a.hasErrs {
			ts[t] = true
		}
		for t := range a.hasTots {
			ts[t] = true
		}
		times := make([]int64, 0, len(ts))
		for t := range ts {
			times = append(times, t)
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		s := burnrate.Series{Labels: a.labels}
		for _, t := range times {
			e, tot := qs.Counts(a.errs[t], a.totals[t], a.hasErrs[t], a.hasTots[t], step)
			if math.IsNaN(tot) {
				continue
			}
			s.Steps = append(s.Steps, burnrate.StepCount{End: time.UnixMilli(t).UTC(), Errors: e, Total: tot})
		}
		b.Series = append(b.Series, s)
	}
	return b, nil
}

func (r *QueryReader) count(start, end time.Time, step time.Duration) {
	r.mu.Lock()
	r.Queries++
	r.Steps += int64(end.Sub(start) / step)
	r.mu.Unlock()
}

// Stats returns the queries sent and the steps they covered so far.
func (r *QueryReader) Stats() (queries, steps int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Queries, r.Steps
}
