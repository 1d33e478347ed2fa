package source

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// Prefetch is a Querier for replays on a simulated clock. A range query at
// Step that ends by Until is answered from one read of up to Points steps
// ahead, so an engine ticked step by step over a month sends a query per
// chunk and series query, not one per step. Each point of a range query is
// the expression evaluated at its own timestamp, so a slice of a longer
// read on the same grid is exactly what the shorter query would return.
// Other queries pass through. It is safe for concurrent use.
type Prefetch struct {
	Querier Querier
	Step    time.Duration
	// Until is the end of the replay: nothing is read beyond it.
	Until time.Time
	// Points caps the points per series of one read (default 10,000).
	Points int

	mu      sync.Mutex
	cache   map[string]*prefetched
	queries int
}

type prefetched struct {
	start, end time.Time
	m          model.Matrix
}

// Queries is how many queries were sent to the underlying Querier.
func (p *Prefetch) Queries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.queries
}

// QueryRange implements Querier.
func (p *Prefetch) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	if step != p.Step || end.After(p.Until) || end.Before(start) {
		return p.pass(ctx, query, start, end, step)
	}
	p.mu.Lock()
	c := p.cache[query]
	p.mu.Unlock()
	if c == nil || start.Before(c.start) || end.After(c.end) || start.Sub(c.start)%step != 0 {
		points := p.Points
		if points <= 0 || points > MaxPoints {
			points = 10000
		}
		until := start.Add(time.Duration(points-1) * step)
		if until.After(p.Until) {
			until = p.Until
		}
		until = until.Add(-until.Sub(start) % step)
		if until.Before(end) {
			return p.pass(ctx, query, start, end, step)
		}
		m, err := p.pass(ctx, query, start, until, step)
		if err != nil {
			return nil, err
		}
		c = &prefetched{start: start, end: until, m: m}
		p.mu.Lock()
		if p.cache == nil {
			p.cache = map[string]*prefetched{}
		}
		p.cache[query] = c
		p.mu.Unlock()
	}
	return c.slice(start, end), nil
}

func (p *Prefetch) pass(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	p.mu.Lock()
	p.queries++
	p.mu.Unlock()
	return p.Querier.QueryRange(ctx, query, start, end, step)
}

// slice returns the points in [start, end] of every series, leaving out
// series without any, as the server would.
func (c *prefetched) slice(start, end time.Time) model.Matrix {
	lo, hi := model.TimeFromUnixNano(start.UnixNano()), model.TimeFromUnixNano(end.UnixNano())
	out := make(model.Matrix, 0, len(c.m))
	for _, s := range c.m {
		i := 0
		for i < len(s.Values) && s.Values[i].Timestamp < lo {
			i++
		}
		j := i
		for j < len(s.Values) && s.Values[j].Timestamp <= hi {
			j++
		}
		if j > i {
			out = append(out, &model.SampleStream{Metric: s.Metric, Values: s.Values[i:j]})
		}
	}
	return out
}
