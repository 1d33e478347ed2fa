package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
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
	// Backfilling are the SLOs whose read goes on in the background
	// (Options.ReadWait): they were not evaluated at this tick.
	Backfilling []Backfill
	// Warnings are ingest problems that did not stop the read (instance cap).
	Warnings map[string]error
	// Capped are the SLOs that have dropped label sets over an instance
	// cap, with how many so far and the cap.
	Capped []Capped
	// Read is how long the tick waited for its reads; Evaluate how long
	// it took after them (ingest is done by the reads).
	Read, Evaluate time.Duration
	// Reread is the longest of the background re-reads (Engine.Reread)
	// that ended since the last tick; zero when none ran.
	Reread time.Duration
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
	began := time.Now()
	target := now.Add(-e.o.QueryDelay).Truncate(e.o.Step)
	res := TickResult{Target: target, Failed: map[string]error{}, Warnings: map[string]error{}}
	e.shareInstanceCap()
	reads := make([]*pendingRead, len(e.ids))
	carried := make([]*pendingRead, len(e.ids))
	for i, id := range e.ids {
		r := e.slos[id]
		r.takeCheck(target)
		owed := e.takeReread(id, r, &res)
		if p := r.bg; p != nil {
			select {
			case <-p.done:
				// The backfill finished since the last tick: take what it
				// found, then read the steps that completed meanwhile below
				// and evaluate with them.
				r.bg = nil
				e.collect(id, r, p, &res)
				if p.err != nil {
					res.Failed[id] = p.err
					continue
				}
				carried[i] = p
			default:
				res.Backfilling = append(res.Backfilling, Backfill{SLO: id, From: p.from, To: p.target, Cold: p.cold})
				continue
			}
		}
		if !r.place.mine || (len(r.spec.GroupBy) == 0 && !e.owns(id, burnrate.LabelsKey(nil))) {
			continue // the SLO (or its only instance) belongs to another shard
		}
		last := r.eval.LastStep()
		from := last
		if last.IsZero() || target.Sub(last) > r.spec.History() {
			from = target.Add(-r.spec.History())
		}
		if !target.After(from) {
			if carried[i] != nil {
				reads[i] = &pendingRead{from: target, target: target, done: closed}
			}
			continue
		}
		// Until a read has ended well, a read resumes the cold start (and,
		// as it, is not replayed tick by tick).
		cold := last.IsZero() || !r.synced
		// A steady read with a background to leave its re-read to reads
		// only the new steps; a gap, a cold read or a re-read that did not
		// happen reads them itself.
		later := e.o.ReadWait > 0 && !cold && !owed && carried[i] == nil && target.Sub(last) <= e.o.Interval
		reads[i] = e.startRead(ctx, id, r, from, target, cold, later)
	}
	e.await(reads)
	res.Read = time.Since(began)
	// Roots before dependents (correlate.go).
	for _, i := range e.order {
		id := e.ids[i]
		p := reads[i]
		if p == nil {
			continue
		}
		r := e.slos[id]
		select {
		case <-p.done:
		default:
			// Still reading (a cold backfill, a long gap): it goes on in the
			// background and the SLO is evaluated at the tick after it ends;
			// the others do not wait for it. When it follows a backfill
			// that ended meanwhile, it reports (and is evaluated) as that
			// backfill: its range, cold or not (a cold one is not replayed).
			if c := carried[i]; c != nil {
				p.from, p.cold = c.from, c.cold
			}
			r.bg = p
			res.Backfilling = append(res.Backfilling, Backfill{SLO: id, From: p.from, To: p.target, Cold: p.cold})
			continue
		}
		e.collect(id, r, p, &res)
		if p.err != nil {
			res.Failed[id] = p.err
			continue
		}
		r.rereadDue, r.rereadTo = p.rereadLater, p.from
		from, cold := p.from, p.cold
		if c := carried[i]; c != nil {
			from, cold = c.from, c.cold
		}
		gap := target.Sub(from)
		if gap > e.o.Interval {
			res.Backfills = append(res.Backfills, Backfill{SLO: id, From: from, To: target, Cold: cold})
		}
		times := []time.Time{target}
		if !cold && gap > e.o.Interval {
			times = replayTimes(from, target, e.o.Interval, e.o.MaxReplay)
		}
		for _, at := range times {
			if at.Before(target) && !at.After(r.evaluated) {
				continue // the restored incidents hold it
			}
			res.Changes = append(res.Changes, e.evaluate(id, r, at, at.Equal(target))...)
		}
		for _, key := range r.eval.Prune(target, 0) {
			res.Changes = append(res.Changes, e.correlate("", e.tracker.Forget(id+key, target), target)...)
			delete(e.latest, id+key)
			delete(r.keys, key)
		}
	}
	if e.o.ReadWait == 0 {
		// Nothing goes on in the background (backtest, tests): the live
		// checks started at this tick end with it, after the evaluation.
		for _, id := range e.ids {
			if c := e.slos[id].chk; c != nil {
				<-c.done
				e.slos[id].takeCheck(target)
			}
		}
	}
	for _, id := range e.ids {
		ev := e.slos[id].eval
		if n := ev.Dropped(); n > 0 {
			res.Capped = append(res.Capped, Capped{SLO: id, Dropped: n, Limit: ev.MaxInstances()})
		}
	}
	res.Evaluate = time.Since(began) - res.Read
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
		if ie.Excluded == "" {
			subj := burnrate.Subject{Key: key, SLO: id, Labels: ie.Labels, Window: r.spec.Window,
				NoDataAfter: r.spec.Alerting.NoData}
			changes = append(changes, e.tracker.Observe(subj, ie.Evaluation)...)
		}
		// Inside a budget exclusion the tracker sees nothing: no incident
		// opens, and an open one stays as it is until the exclusion ends.
		if keep {
			e.latest[key] = Latest{SLO: id, Labels: ie.Labels, Evaluation: ie.Evaluation}
		}
	}
	return e.correlate(id, changes, at)
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
