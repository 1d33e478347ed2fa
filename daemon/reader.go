package daemon

import (
	"context"
	"sync"
	"time"

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

// QueryReader reads counts through a source.Querier (the Prometheus HTTP
// API or the embedded engine) with source.Reader, and counts what it read
// so tests can assert that a restart reads only the gap.
type QueryReader struct {
	Querier source.Querier

	mu      sync.Mutex
	queries int64
	steps   int64
}

// Read implements Reader.
func (r *QueryReader) Read(ctx context.Context, spec *slo.Spec, from, to time.Time, res, step time.Duration) (burnrate.Batch, error) {
	sr := &source.Reader{Querier: r.Querier, Spec: spec, Step: step}
	b, n, err := sr.Read(ctx, from, to, res)
	r.mu.Lock()
	r.queries += int64(n)
	if err == nil {
		r.steps += int64(to.Sub(from) / step)
	}
	r.mu.Unlock()
	return b, err
}

// Stats returns the range queries sent so far and the evaluator steps
// covered by successful reads.
func (r *QueryReader) Stats() (queries, steps int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.queries, r.steps
}
