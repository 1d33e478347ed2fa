package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// TickResult is what one tick did.
type TickResult struct {
	// Target is the newest step evaluated: now − QueryDelay, down to the step.
	Target time.Time
	// Changes are incident transitions, in evaluation order.
	Changes []burnrate.Change
	// Failed maps the SLOs whose read failed to the error; they were not
	// evaluated and their rings keep what they had.
	Failed map[string]error
	// Backfills are the SLOs that read more than one interval.
	Backfills []Backfill
	// Warnings are ingest problems that did not stop the read (instance cap).
	Warnings map[string]error
	// Capped are the SLOs that have dropped label sets over an instance
	// cap, with how many so far and the cap.
	Capped []Capped
}

// Capped is an SLO whose instance cap refused new label sets.
type Capped struct {
	SLO            string
	Dropped, Limit int
}

// Backfill is one SLO's read of a gap (or, Cold, of its whole window).
type Backfill struct {
	SLO      string
	From, To time.Time
	Cold     bool
}

// Err is the first read failure of the tick (by SLO id), or nil.
func (r TickResult) Err() error {
	for _, id := range sortedKeys(r.Failed) {
		return fmt.Errorf("slo %q: %w", id, r.Failed[id])
	}
	return nil
}

// Tick reads, for every SLO, the steps that completed since the last tick
// (the whole window on a cold start, the gap after a restart or an outage)
// through source.Sync, several SLOs at once; then, in SLO order, evaluates
// every instance — at every missed tick when a gap was filled, so a burn
// that happened while the source was down still opens (and resolves) its
// incident — and folds the evaluations into incidents.
func (e *Engine) Tick(ctx context.Context, now time.Time) TickResult {
	target := now.Add(-e.o.QueryDelay).Truncate(e.o.Step)
	res := TickResult{Target: target, Failed: map[string]error{}, Warnings: map[string]error{}}
	type read struct {
		from      time.Time
		cold, ran bool
		err, warn error
		queries   int
		steps     int64
	}
	e.shareInstanceCap()
	reads := make([]read, len(e.ids))
	sem := make(chan struct{}, e.o.Concurrency)
	var wg sync.WaitGroup
	for i, id := range e.ids {
		r := e.slos[id]
		if len(r.spec.GroupBy) == 0 && !e.owns(id, burnrate.LabelsKey(nil)) {
			continue // the SLO's only instance belongs to another shard
		}
		last := r.eval.LastStep()
		from := last
		if last.IsZero() || target.Sub(last) > r.spec.Window {
			from = target.Add(-r.spec.Window)
		}
		if !target.After(from) {
			continue
		}
		reads[i] = read{from: from, cold: last.IsZero(), ran: true}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rd := &reads[i]
			opts := source.SyncOptions{Reread: Rereads, Progress: func(p source.Progress) {
				rd.steps += int64(p.To.Sub(p.From) / e.o.Step)
				if e.o.Progress != nil {
					e.o.Progress(p)
				}
			}}
			if e.o.Owns != nil {
				opts.Keep = func(key string) bool { return e.o.Owns(id, key) }
			}
			n, err := source.Sync(ctx, r.eval, e.o.Querier, target, opts)
			rd.queries = n
			var ce *burnrate.CardinalityError
			if errors.As(err, &ce) || errors.Is(err, burnrate.ErrStepTooOld) {
				rd.warn, err = err, nil
			}
			rd.err = err
			if err == nil && !r.checked && e.o.Check {
				findings, cerr := source.Check(ctx, e.o.Querier, r.spec, target, e.o.Step)
				if cerr != nil {
					e.log.Warn("live check of the slo failed", "slo", id, "err", cerr)
				} else {
					for _, f := range findings {
						e.log.Warn("slo misconfigured", "slo", id, "finding", f.Diagnostic(r.spec).String())
					}
					r.findings, r.checked = findings, true
				}
			}
			if err == nil && !r.diagnosed && e.o.Diagnose {
				hint, derr := source.Diagnose(ctx, e.o.Querier, r.eval, target)
				if derr != nil {
					e.log.Warn("no-data diagnosis failed", "slo", id, "err", derr)
				} else if hint != "" {
					e.log.Warn("no recent step has data", "slo", id, "hint", hint)
				}
				r.hint, r.diagnosed = hint, derr == nil
			}
		}()
	}
	wg.Wait()
	for i, id := range e.ids {
		rd := reads[i]
		if !rd.ran {
			continue
		}
		e.stats.Queries += int64(rd.queries)
		e.stats.Steps += rd.steps
		if rd.warn != nil {
			res.Warnings[id] = rd.warn
		}
		if rd.err != nil {
			res.Failed[id] = rd.err
			continue
		}
		r := e.slos[id]
		gap := target.Sub(rd.from)
		if gap > e.o.Interval {
			res.Backfills = append(res.Backfills, Backfill{SLO: id, From: rd.from, To: target, Cold: rd.cold})
		}
		times := []time.Time{target}
		if !rd.cold && gap > e.o.Interval {
			times = replayTimes(rd.from, target, e.o.Interval, e.o.MaxReplay)
		}
		for _, at := range times {
			if at.Before(target) && !at.After(r.evaluated) {
				continue // the restored incidents hold it
			}
			res.Changes = append(res.Changes, e.evaluate(id, r, at, at.Equal(target))...)
		}
		for _, key := range r.eval.Prune(target, 0) {
			res.Changes = append(res.Changes, e.tracker.Forget(id+key, target)...)
			delete(e.latest, id+key)
			delete(r.keys, key)
		}
	}
	for _, id := range e.ids {
		ev := e.slos[id].eval
		if n := ev.Dropped(); n > 0 {
			res.Capped = append(res.Capped, Capped{SLO: id, Dropped: n, Limit: ev.MaxInstances()})
		}
	}
	if ctx.Err() != nil {
		// A cancelled tick is no source failure.
		for id, err := range res.Failed {
			if errors.Is(err, context.Canceled) {
				delete(res.Failed, id)
			}
		}
	}
	return res
}

// shareInstanceCap hands each SLO its cap: the per-SLO cap, or what is
// left of the total cap shared evenly among the SLOs, whichever is lower.
// A tick's new instances may overshoot the total by less than a share.
func (e *Engine) shareInstanceCap() {
	total := 0
	for _, r := range e.slos {
		total += r.eval.Len()
	}
	share := max(e.o.MaxInstances-total, 0) / max(len(e.slos), 1)
	for _, r := range e.slos {
		r.eval.SetMaxInstances(max(1, min(e.o.MaxInstancesPerSLO, r.eval.Len()+share)))
	}
}

func (e *Engine) evaluate(id string, r *SLO, at time.Time, keep bool) []burnrate.Change {
	var changes []burnrate.Change
	var evs []burnrate.InstanceEvaluation
	if keep {
		r.cur ^= 1
		r.bufs[r.cur] = r.eval.EvaluateInto(r.bufs[r.cur], at)
		evs = r.bufs[r.cur]
	} else {
		r.scratch = r.eval.EvaluateInto(r.scratch, at)
		evs = r.scratch
	}
	if r.keys == nil {
		r.keys = map[string]string{}
	}
	quiet := r.spec.Alerting.Idle == slo.IdleAlert || r.spec.Alerting.Collapse != nil
	for i := range evs {
		ie := &evs[i]
		if !e.owns(id, ie.Key) {
			continue
		}
		if quiet {
			ie.Quiet = quietState(r, ie.Labels, at)
		}
		if e.o.Observe != nil {
			e.o.Observe(id, *ie)
		}
		key, ok := r.keys[ie.Key]
		if !ok {
			key = id + ie.Key
			r.keys[ie.Key] = key
		}
		subj := burnrate.Subject{Key: key, SLO: id, Labels: ie.Labels, Window: r.spec.Window,
			NoDataAfter: r.spec.Alerting.NoData}
		changes = append(changes, e.tracker.Observe(subj, ie.Evaluation)...)
		if keep {
			e.latest[key] = Latest{SLO: id, Labels: ie.Labels, Evaluation: ie.Evaluation}
		}
	}
	return changes
}

// quietState tells, for an SLO that alerts on them, whether an instance is
// idle (its known steps over the no-data delay hold no traffic) or
// collapsed (its traffic over the delay fell under alerting.collapse's
// share of its baseline: the rate over the hour ending Baseline ago, the
// median over Periods such hours), as the generated rules tell them.
func quietState(r *SLO, labels map[string]string, at time.Time) slo.NoDataState {
	in := r.eval.Instance(labels)
	if in == nil {
		return ""
	}
	a := r.spec.Alerting
	after := a.NoData
	if after <= 0 {
		after = burnrate.DefaultNoDataAfter
	}
	cur := in.Window(at, after)
	if cur.Known == 0 {
		return "" // missing data is broken, NoDataFor's business
	}
	if c := a.Collapse; c != nil {
		var base []float64
		for i := 1; i <= c.PeriodCount(); i++ {
			if w := in.Window(at.Add(-c.BaselineAt(i)), time.Hour); w.Known > 0 {
				base = append(base, w.Total/time.Hour.Seconds())
			}
		}
		if len(base) > 0 {
			sort.Float64s(base)
			median := base[len(base)/2]
			if len(base)%2 == 0 {
				median = (base[len(base)/2-1] + base[len(base)/2]) / 2
			}
			if median > 0 && cur.Total/after.Seconds() < c.BelowPercent/100*median {
				return slo.NoDataCollapsed
			}
		}
	}
	if a.Idle == slo.IdleAlert && cur.Total == 0 {
		return slo.NoDataIdle
	}
	return ""
}

// replayTimes are the tick times in (from, to], at most maxReplay back, and to.
func replayTimes(from, to time.Time, interval, maxReplay time.Duration) []time.Time {
	if maxReplay > 0 && to.Sub(from) > maxReplay {
		from = to.Add(-maxReplay)
	}
	var out []time.Time
	for t := from.Truncate(interval).Add(interval); t.Before(to); t = t.Add(interval) {
		out = append(out, t)
	}
	return append(out, to)
}
