package source

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// MaxPoints is Prometheus's limit on points per series in one range query.
const MaxPoints = 11000

// DefaultSampleBudget bounds the points (series × steps) one range query
// returns. Prometheus refuses a query that would load more than
// --query.max-samples (default 50M) samples, and the samples a query loads
// run several times its output (every raw series of a rate window, for
// both codes of a counter); 2M output points keep a wide margin and an
// answer of tens of MB.
const DefaultSampleBudget = 2_000_000

// Reader reads one SLO's step counts from a Querier.
type Reader struct {
	Querier Querier
	Spec    *slo.Spec
	// Step is the evaluator's step.
	Step time.Duration
	// Points caps the points per series of one range query (default
	// 10,000, under Prometheus's 11,000).
	Points int
	// Series is how many series (instances) the SLI's queries return, when
	// known (the evaluator's instance count); 0 lets a long read ask the
	// source first, with one cheap query.
	Series int
	// SampleBudget caps series × points of one query (default
	// DefaultSampleBudget).
	SampleBudget int
	// Partition, when set, narrows every query to one shard's part of the
	// series (a group_by SLO split among shards by query).
	Partition *Partition
}

// Read returns the counts of the steps that end in (from, to] at resolution
// res (a multiple of Step; from and to multiples of res), reading in
// chunks. It returns the number of range queries sent alongside the batch.
func (r *Reader) Read(ctx context.Context, from, to time.Time, res time.Duration) (burnrate.Batch, int, error) {
	all := burnrate.Batch{From: from, To: to, Resolution: res}
	if res == r.Step {
		all.Resolution = 0
	}
	bySeries := map[string]int{}
	n, err := r.ReadChunks(ctx, from, to, res, func(b burnrate.Batch) error {
		for _, s := range b.Series {
			i, ok := bySeries[s.Key]
			if !ok {
				i = len(all.Series)
				bySeries[s.Key] = i
				all.Series = append(all.Series, burnrate.Series{Labels: s.Labels, Key: s.Key})
			}
			all.Series[i].Steps = append(all.Series[i].Steps, s.Steps...)
		}
		return nil
	})
	slices.SortFunc(all.Series, func(a, b burnrate.Series) int { return strings.Compare(a.Key, b.Key) })
	return all, n, err
}

// ReadChunks reads the steps that end in (from, to] at resolution res in
// chunks, oldest first, and hands each chunk to fn as a batch covering its
// own range, so a caller can ingest a long backfill piece by piece and
// keep what it read when a later chunk fails. A chunk holds at most
// Points points per series and SampleBudget points in all (series ×
// points); a chunk the server refuses as too large (too many samples, a
// timeout) is split in two and read again, down to one step. It returns
// the number of range queries sent.
func (r *Reader) ReadChunks(ctx context.Context, from, to time.Time, res time.Duration, fn func(burnrate.Batch) error) (int, error) {
	if !to.After(from) {
		return 0, nil
	}
	if res%r.Step != 0 || res < r.Step {
		return 0, fmt.Errorf("slo %q: resolution %s is not a multiple of step %s", r.Spec.ID, res, r.Step)
	}
	if from.UnixNano()%int64(res) != 0 || to.UnixNano()%int64(res) != 0 {
		return 0, fmt.Errorf("slo %q: range %s..%s is not aligned to %s", r.Spec.ID, from, to, res)
	}
	qs, err := BuildQueries(r.Spec, res)
	if err != nil {
		return 0, err
	}
	if r.Partition != nil {
		if qs, err = r.Partition.Apply(qs); err != nil {
			return 0, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
		}
	}
	points := r.Points
	if points <= 0 || points > MaxPoints {
		points = 10000
	}
	queries := 0
	if want := int(to.Sub(from) / res); want > 16 {
		// A long read: size chunks by the series the SLI returns.
		series := r.Series
		if series <= 0 {
			probe := qs.Total
			if qs.Raw() {
				probe = qs.Errors
			}
			mat, err := r.Querier.QueryRange(ctx, probe, to, to, res)
			queries++
			if err != nil {
				return queries, fmt.Errorf("slo %q: counting series: %w", r.Spec.ID, err)
			}
			series = len(mat)
		}
		budget := r.SampleBudget
		if budget <= 0 {
			budget = DefaultSampleBudget
		}
		points = max(1, min(points, budget/max(series, 1)))
	}
	cache := map[model.Fingerprint]*seriesAcc{}
	for start := from; start.Before(to); {
		end := start.Add(time.Duration(points) * res)
		if end.After(to) {
			end = to
		}
		b, n, err := r.chunk(ctx, qs, start, end, res, cache)
		queries += n
		if err != nil && tooLarge(err) && end.Sub(start) > res {
			// Split: the next chunks are half as long.
			points = max(1, int(end.Sub(start)/res)/2)
			continue
		}
		if err != nil {
			return queries, err
		}
		if err := fn(b); err != nil {
			return queries, err
		}
		start = end
	}
	return queries, nil
}

// tooLarge reports a query the server refused for its size: too many
// samples, or a timeout; a smaller one may pass.
func tooLarge(err error) bool {
	s := err.Error()
	return strings.Contains(s, "too many samples") || strings.Contains(s, "timed out") || strings.Contains(s, "timeout")
}

// seriesAcc collects one series' values of a chunk, by step index; it is
// kept across the chunks of a read, so labels and keys are built once.
type seriesAcc struct {
	labels map[string]string
	key    string
	vals   []float64 // errors at 2i, total at 2i+1
	has    []uint8   // bit 1: errors, bit 2: total
	seen   bool      // in this chunk
}

// chunk reads the steps that end in (from, to] with one range query per
// SLI query. cache holds the series seen by earlier chunks of the read.
func (r *Reader) chunk(ctx context.Context, qs StepQueries, from, to time.Time, res time.Duration, cache map[model.Fingerprint]*seriesAcc) (burnrate.Batch, int, error) {
	b := burnrate.Batch{From: from, To: to, Resolution: res}
	if res == r.Step {
		b.Resolution = 0
	}
	n := int(to.Sub(from) / res)
	first := model.TimeFromUnixNano(from.Add(res).UnixNano())
	resMs := int64(res / time.Millisecond)
	for _, a := range cache {
		a.seen = false
	}
	get := func(m model.Metric) *seriesAcc {
		fp := m.FastFingerprint()
		a, ok := cache[fp]
		if !ok {
			ls := make(map[string]string, len(r.Spec.GroupBy))
			for _, g := range r.Spec.GroupBy {
				if v, ok := m[model.LabelName(g)]; ok && v != "" {
					ls[g] = string(v)
				}
			}
			a = &seriesAcc{labels: ls, key: burnrate.LabelsKey(ls)}
			cache[fp] = a
		}
		if !a.seen {
			a.seen = true
			if cap(a.has) < n {
				a.vals, a.has = make([]float64, 2*n), make([]uint8, n)
			}
			a.vals, a.has = a.vals[:2*n], a.has[:n]
			clear(a.has)
		}
		return a
	}
	// The errors and total queries go out together: the server evaluates
	// them on two cores, which halves a large backfill's wall time when
	// the server is what it waits for.
	texts := [2]string{qs.Errors, qs.Total}
	var mats [2]model.Matrix
	var errs [2]error
	queries := 0
	var wg sync.WaitGroup
	for qi, text := range texts {
		if text == "" {
			continue
		}
		queries++
		wg.Add(1)
		go func() {
			defer wg.Done()
			mats[qi], errs[qi] = r.Querier.QueryRange(ctx, text, from.Add(res), to, res)
		}()
	}
	wg.Wait()
	for qi, mat := range mats {
		if err := errs[qi]; err != nil {
			return b, queries, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
		}
		for _, s := range mat {
			a := get(s.Metric)
			for _, p := range s.Values {
				d := int64(p.Timestamp - first)
				if d < 0 || d%resMs != 0 || d/resMs >= int64(n) {
					continue // off the grid: not a step of this chunk
				}
				i := int(d / resMs)
				a.vals[2*i+qi] = float64(p.Value)
				a.has[i] |= 1 << qi
			}
		}
	}
	// BuildQueries sums by the group_by labels, so each series has a key
	// of its own.
	var accs []*seriesAcc
	for _, a := range cache {
		if a.seen {
			accs = append(accs, a)
		}
	}
	slices.SortFunc(accs, func(x, y *seriesAcc) int { return strings.Compare(x.key, y.key) })
	for _, a := range accs {
		s := burnrate.Series{Labels: a.labels, Key: a.key, Steps: make([]burnrate.StepCount, 0, n)}
		for i := range n {
			if a.has[i] == 0 {
				continue
			}
			errs, total := qs.Counts(a.vals[2*i], a.vals[2*i+1], a.has[i]&1 != 0, a.has[i]&2 != 0, r.Step)
			if math.IsNaN(total) {
				continue // unknown: the batch marks steps it does not list
			}
			s.Steps = append(s.Steps, burnrate.StepCount{End: from.Add(time.Duration(i+1) * res).UTC(), Errors: errs, Total: total})
		}
		b.Series = append(b.Series, s)
	}
	return b, queries, nil
}
