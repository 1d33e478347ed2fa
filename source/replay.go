package source

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// ReplayOptions configure Replay.
type ReplayOptions struct {
	// Points caps points per series per query (default 10,000).
	Points int
	// Progress, when set, is called after each backfill segment.
	Progress func(Progress)
}

// Replay runs history through an evaluator on a simulated clock: it
// backfills the SLO window that ends at from (tiered, like Sync), then
// reads (from, to] in chunks at the evaluator's step and ingests it one
// step at a time, calling step with the end of each step once it is
// ingested — the moment a live daemon would evaluate. It returns the number
// of range queries sent. from and to are rounded down to the step.
func Replay(ctx context.Context, ev *burnrate.Evaluator, q Querier, from, to time.Time, o ReplayOptions, step func(now time.Time) error) (int, error) {
	st := ev.Step()
	from, to = from.Truncate(st), to.Truncate(st)
	if !to.After(from) {
		return 0, fmt.Errorf("replay: empty range %s..%s", from, to)
	}
	queries, err := Sync(ctx, ev, q, from, SyncOptions{Reread: -1, Points: o.Points, Progress: o.Progress})
	if err != nil {
		var ce *burnrate.CardinalityError
		if !errors.As(err, &ce) {
			return queries, err
		}
	}
	r := &Reader{Querier: q, Spec: ev.Spec(), Step: st, Points: o.Points}
	points := o.Points
	if points <= 0 || points > MaxPoints {
		points = 10000
	}
	chunk := time.Duration(points) * st
	for cs := from; cs.Before(to); cs = cs.Add(chunk) {
		ce := cs.Add(chunk)
		if ce.After(to) {
			ce = to
		}
		b, n, err := r.Read(ctx, cs, ce, st)
		queries += n
		if err != nil {
			return queries, err
		}
		next := make([]int, len(b.Series))
		for now := cs.Add(st); !now.After(ce); now = now.Add(st) {
			one := burnrate.Batch{From: now.Add(-st), To: now, Series: make([]burnrate.Series, 0, len(b.Series))}
			for i, s := range b.Series {
				bs := burnrate.Series{Labels: s.Labels}
				for next[i] < len(s.Steps) && s.Steps[next[i]].End.Before(now) {
					next[i]++
				}
				if next[i] < len(s.Steps) && s.Steps[next[i]].End.Equal(now) {
					bs.Steps = s.Steps[next[i] : next[i]+1]
				}
				one.Series = append(one.Series, bs)
			}
			if err := ev.Ingest(one); err != nil {
				var ce *burnrate.CardinalityError
				if !errors.As(err, &ce) {
					return queries, err
				}
			}
			if err := step(now); err != nil {
				return queries, err
			}
		}
	}
	return queries, nil
}
