package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	// chunkenc and chunks are leaf packages that storage itself imports (a
	// storage.Series iterator is a chunkenc.Iterator); they do not link the tsdb
	// engine or any cloud SDK (go list -deps ./source shows it).
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// Embedded answers PromQL range queries with Prometheus's own engine over
// a small in-memory store of float samples. It serves tests and the
// daemon's demo mode through exactly the code path of the HTTP source.
type Embedded struct {
	engine *promql.Engine
	store  *memStore
}

// NewEmbedded returns an engine over an empty store.
func NewEmbedded() *Embedded {
	return &Embedded{
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples: 50_000_000,
			// A zero timeout makes every query fail (FACTS.md).
			Timeout:       2 * time.Minute,
			LookbackDelta: 5 * time.Minute,
		}),
		store: &memStore{series: map[uint64]*memSeries{}},
	}
}

// LoadSeries adds samples written in the series notation of promtool and
// promqltest, one series per line (`x{a="b"} 0+10x60`: the i-th value at
// start + i×interval; `_` omits one). Blank lines and # comments are skipped.
func (e *Embedded) LoadSeries(start time.Time, interval time.Duration, text string) error {
	p := parser.NewParser(parser.Options{})
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lset, vals, err := p.ParseSeriesDesc(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		samples := make([]sample, 0, len(vals))
		for j, v := range vals {
			if v.Omitted || v.Histogram != nil {
				continue
			}
			samples = append(samples, sample{t: start.Add(time.Duration(j) * interval).UnixMilli(), f: v.Value})
		}
		e.store.add(lset, samples)
	}
	return nil
}

// Append adds one float sample to a series; samples of a series must come
// in time order. It lets the demo generate live traffic.
func (e *Embedded) Append(lset labels.Labels, t time.Time, v float64) error {
	return e.store.append(lset, sample{t: t.UnixMilli(), f: v})
}

// QueryRange evaluates a range query at step resolution.
func (e *Embedded) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	q, err := e.engine.NewRangeQuery(ctx, e.store, nil, query, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", query, res.Err)
	}
	mat, err := res.Matrix()
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	out := make(model.Matrix, 0, len(mat))
	for _, s := range mat {
		ss := &model.SampleStream{Metric: model.Metric{}, Values: make([]model.SamplePair, 0, len(s.Floats))}
		s.Metric.Range(func(l labels.Label) { ss.Metric[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
		for _, p := range s.Floats {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)})
		}
		out = append(out, ss)
	}
	return out, nil
}

// memStore is a storage.Queryable holding float series in memory.
type memStore struct {
	mu     sync.RWMutex
	series map[uint64]*memSeries
}

// memSeries holds its samples boxed once, as the chunks.Sample values
// storage.NewListSeries iterates: a query slices them without copying or
// boxing each sample again (that was most of a demo backfill's cost).
type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

func boxed(samples []sample) []chunks.Sample {
	out := make([]chunks.Sample, len(samples))
	for i, s := range samples {
		out[i] = s
	}
	return out
}

func byTime(a, b chunks.Sample) int { return cmp.Compare(a.T(), b.T()) }

func atOrAfter(a chunks.Sample, t int64) int { return cmp.Compare(a.T(), t) }

func (m *memStore) add(lset labels.Labels, samples []sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := lset.Hash()
	if s, ok := m.series[h]; ok {
		s.samples = append(s.samples, boxed(samples)...)
		slices.SortStableFunc(s.samples, byTime)
		return
	}
	m.series[h] = &memSeries{lset: lset, samples: boxed(samples)}
}

var errOutOfOrder = errors.New("sample out of order")

func (m *memStore) append(lset labels.Labels, smp sample) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := lset.Hash()
	s, ok := m.series[h]
	if !ok {
		m.series[h] = &memSeries{lset: lset, samples: []chunks.Sample{smp}}
		return nil
	}
	if n := len(s.samples); n > 0 && s.samples[n-1].T() >= smp.t {
		return fmt.Errorf("series %s at %d: %w", lset, smp.t, errOutOfOrder)
	}
	s.samples = append(s.samples, smp)
	return nil
}

func (m *memStore) Querier(mint, maxt int64) (storage.Querier, error) {
	return &memQuerier{store: m, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	store      *memStore
	mint, maxt int64
}

func (q *memQuerier) Select(_ context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	q.store.mu.RLock()
	defer q.store.mu.RUnlock()
	var out []storage.Series
	for _, s := range q.store.series {
		if !matches(s.lset, ms) {
			continue
		}
		lo, _ := slices.BinarySearchFunc(s.samples, mint, atOrAfter)
		hi, _ := slices.BinarySearchFunc(s.samples, maxt+1, atOrAfter)
		if lo >= hi {
			continue
		}
		// Appends never change the samples of this slice (they go past
		// its end, or to a new array), so the series may share it.
		out = append(out, storage.NewListSeries(s.lset, s.samples[lo:hi:hi]))
	}
	// The engine expects series sorted by labels.
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &listSet{series: out, i: -1}
}

func matches(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (q *memQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.store.mu.RLock()
	defer q.store.mu.RUnlock()
	var vals []string
	for _, s := range q.store.series {
		if v := s.lset.Get(name); v != "" && matches(s.lset, ms) {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	return slices.Compact(vals), nil, nil
}

func (q *memQuerier) LabelNames(_ context.Context, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	q.store.mu.RLock()
	defer q.store.mu.RUnlock()
	var names []string
	for _, s := range q.store.series {
		if matches(s.lset, ms) {
			s.lset.Range(func(l labels.Label) { names = append(names, l.Name) })
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil, nil
}

func (q *memQuerier) Close() error { return nil }

type listSet struct {
	series []storage.Series
	i      int
}

func (s *listSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *listSet) At() storage.Series                { return s.series[s.i] }
func (s *listSet) Err() error                        { return nil }
func (s *listSet) Warnings() annotations.Annotations { return nil }

// sample is one float sample, as chunks.Sample.
type sample struct {
	t int64
	f float64
}

func (s sample) T() int64                      { return s.t }
func (s sample) ST() int64                     { return 0 }
func (s sample) F() float64                    { return s.f }
func (s sample) H() *histogram.Histogram       { return nil }
func (s sample) FH() *histogram.FloatHistogram { return nil }
func (s sample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s sample) Copy() chunks.Sample           { return s }
