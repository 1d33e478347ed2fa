package engine

import (
	"context"
	"errors"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// The reads of a tick and what runs beside it: the SLOs' reads (in the
// background when they outlast Options.ReadWait), the live checks, and the
// re-read of the newest steps after a steady tick (Reread).

// closed is a done channel that is already closed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// pendingRead is one SLO's read of (from, target]. Its goroutine writes
// the fields before closing done; the engine reads them only after.
type pendingRead struct {
	from, target time.Time
	cold         bool
	done         chan struct{}
	cancel       context.CancelFunc
	err, warn    error
	queries      int
	steps        int64
	// rereadLater: the read left its re-read of the newest steps to
	// Engine.Reread; took is how long a re-read took.
	rereadLater bool
	took        time.Duration
	// What the first read after a load found (Options.Diagnose), applied
	// to the SLO when the read is collected.
	diagnosed bool
	hint      string
}

// pendingCheck is the live checks (Options.Check) of an SLO, run beside
// its evaluation rather than before it: they read an hour of every series
// the SLI names, which at 100,000 series takes minutes, and an SLO that
// waited for them would not be evaluated (nor a restart ready) meanwhile.
// What they find only marks the SLO misconfigured: evaluation does not
// depend on it (a missing bucket or series already reads as unknown).
type pendingCheck struct {
	done     chan struct{}
	cancel   context.CancelFunc
	ok       bool
	findings []source.Finding
}

// startCheck runs the live checks of an SLO once its read (done) has
// ended, so they do not compete with it for the source, holding a read
// slot (Options.Concurrency) while they run.
func (e *Engine) startCheck(ctx context.Context, id string, spec *slo.Spec, target time.Time, read <-chan struct{}, instances func() int) *pendingCheck {
	ctx, cancel := context.WithCancel(ctx)
	c := &pendingCheck{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		defer cancel()
		select {
		case <-read:
		case <-ctx.Done():
			return
		}
		if e.acquire(ctx) != nil {
			return
		}
		defer e.release()
		instances := instances()
		co := source.CheckOptions{MaxInstances: e.o.MaxInstancesPerSLO}
		if instances >= CheckCoarseInstances {
			co.Resolution = 10 * e.o.Step
		}
		findings, err := source.CheckWith(ctx, e.o.Querier, spec, target, e.o.Step, co)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Warn("live check of the slo failed", "slo", id, "err", err)
			}
			return
		}
		for _, f := range findings {
			e.log.Warn("slo misconfigured", "slo", id, "finding", f.Diagnostic(spec).String())
		}
		c.findings, c.ok = findings, true
	}()
	return c
}

// CheckCoarseInstances: the live checks of an SLO with at least this
// many instances read their hour at 10 steps a point.
const CheckCoarseInstances = 10_000

// takeCheck applies the SLO's live checks once they have ended: their
// findings when they ran, or (they failed) nothing, and a read at or
// after checkAgain runs them again — 5 minutes after a first failure,
// doubling up to an hour, so checks that keep failing (a loaded server)
// do not add a large query to every tick.
func (s *SLO) takeCheck(at time.Time) {
	c := s.chk
	if c == nil {
		return
	}
	select {
	case <-c.done:
	default:
		return
	}
	s.chk = nil
	if c.ok {
		s.findings, s.checked, s.checkFails = c.findings, true, 0
		return
	}
	s.checkFails++
	s.checkAgain = at.Add(min(time.Hour, 5*time.Minute<<min(s.checkFails-1, 4)))
}

// startRead reads an SLO's steps in (from, target] through source.Sync in
// a goroutine, at most Options.Concurrency at once across ticks.
func (e *Engine) startRead(ctx context.Context, id string, r *SLO, from, target time.Time, cold, rereadLater bool) *pendingRead {
	p := &pendingRead{from: from, target: target, cold: cold, done: make(chan struct{}), rereadLater: rereadLater}
	if !r.checked && e.o.Check && r.chk == nil && !target.Before(r.checkAgain) {
		r.chk = e.startCheck(ctx, id, r.spec, target, p.done, r.eval.Len)
	}
	ctx, p.cancel = context.WithCancel(ctx)
	cancel := p.cancel
	diagnose := !r.diagnosed && e.o.Diagnose
	synced := r.synced
	go func() {
		defer func() {
			close(p.done)
			if e.o.ReadDone != nil {
				e.o.ReadDone()
			}
		}()
		defer cancel()
		if p.err = e.acquire(ctx); p.err != nil {
			return
		}
		defer e.release()
		opts := e.syncOptions(id, r)
		opts.Cold = !synced
		if rereadLater {
			opts.Reread = -1
		}
		opts.Progress = func(pr source.Progress) {
			p.steps += int64(pr.To.Sub(pr.From) / e.o.Step)
			if e.o.Progress != nil {
				e.o.Progress(pr)
			}
		}
		n, err := source.Sync(ctx, r.eval, e.o.Querier, target, opts)
		p.queries = n
		var ce *burnrate.CardinalityError
		if errors.As(err, &ce) || errors.Is(err, burnrate.ErrStepTooOld) {
			p.warn, err = err, nil
		}
		p.err = err
		if err != nil {
			return
		}
		if diagnose {
			hint, derr := source.Diagnose(ctx, e.o.Querier, r.eval, target)
			if derr != nil {
				e.log.Warn("no-data diagnosis failed", "slo", id, "err", derr)
			} else if hint != "" {
				e.log.Warn("no recent step has data", "slo", id, "hint", hint)
			}
			p.hint, p.diagnosed = hint, derr == nil
		}
	}()
	return p
}

// acquire takes one of the read slots (Options.Concurrency) that reads,
// re-reads and live checks share, or returns ctx's error if it ends
// first; release gives it back.
func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) release() { <-e.sem }

// syncOptions are what every read of an SLO shares: the re-reads, its
// series cache, and its shard's part of the series.
func (e *Engine) syncOptions(id string, r *SLO) source.SyncOptions {
	opts := source.SyncOptions{Reread: Rereads, Cache: &r.reads}
	// The partition selects in the query; Keep holds what comes back to
	// the same rule, so no shard ingests another's instance.
	place, owns := r.place, e.o.Owns
	opts.Partition = place.part
	if place.part != nil || owns != nil {
		opts.Keep = func(key string) bool { return place.owns(key) && (owns == nil || owns(id, key)) }
	}
	return opts
}

// Reread starts, in the background, the re-read of the newest steps
// (Rereads) that the last tick's steady reads left to it, so late samples
// are picked up without the tick waiting for them. Call it after the
// tick's work is done; the next tick takes what it found before reading.
// A re-read still running then is cancelled, and that tick's read re-reads
// the steps itself, as does the tick after a Reread that was not called.
func (e *Engine) Reread(ctx context.Context) {
	for _, id := range e.ids {
		r := e.slos[id]
		if !r.rereadDue || r.rr != nil || r.bg != nil {
			continue
		}
		r.rereadDue = false
		// The steps before the tick's new ones: each step is read when new
		// and twice after, at the two ticks that follow, as a tick that
		// re-reads them itself does.
		target := r.rereadTo
		p := &pendingRead{from: target.Add(-Rereads * e.o.Step), target: target, done: make(chan struct{})}
		rctx, cancel := context.WithCancel(ctx)
		p.cancel = cancel
		opts := e.syncOptions(id, r)
		opts.RereadOnly = true
		r.rr = p
		go func() {
			defer close(p.done)
			defer cancel()
			if p.err = e.acquire(rctx); p.err != nil {
				return
			}
			defer e.release()
			began := time.Now()
			n, err := source.Sync(rctx, r.eval, e.o.Querier, target, opts)
			p.queries, p.took = n, time.Since(began)
			var ce *burnrate.CardinalityError
			if errors.As(err, &ce) || errors.Is(err, burnrate.ErrStepTooOld) {
				err = nil
			}
			p.err = err
		}()
	}
}

// takeReread ends the SLO's background re-read before the tick reads it:
// it is collected when done, cancelled when still running. It reports
// whether the newest steps are still owed a re-read (it failed, was
// cancelled, or never started), which the tick's read then does itself.
func (e *Engine) takeReread(id string, r *SLO, res *TickResult) bool {
	owed := r.rereadDue
	r.rereadDue = false
	p := r.rr
	if p == nil {
		return owed
	}
	r.rr = nil
	select {
	case <-p.done:
	default:
		p.cancel()
		<-p.done
	}
	e.stats.Queries += int64(p.queries)
	res.Reread = max(res.Reread, p.took)
	if p.err != nil {
		if !errors.Is(p.err, context.Canceled) {
			e.log.Warn("re-read of the newest steps failed; this tick reads them again", "slo", id, "err", p.err)
		}
		return true
	}
	return owed
}

// await waits for the tick's reads: all of them, or (Options.ReadWait > 0)
// until that much time has passed; reads still running then go on in the
// background.
func (e *Engine) await(reads []*pendingRead) {
	var deadline <-chan time.Time
	if e.o.ReadWait > 0 {
		t := time.NewTimer(e.o.ReadWait)
		defer t.Stop()
		deadline = t.C
	}
	for _, p := range reads {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
		case <-deadline:
			return
		}
	}
}

// collect folds a finished read into the SLO and the tick's result.
func (e *Engine) collect(id string, r *SLO, p *pendingRead, res *TickResult) {
	e.stats.Queries += int64(p.queries)
	e.stats.Steps += p.steps
	if p.err == nil {
		r.synced = true
	}
	if p.warn != nil {
		res.Warnings[id] = p.warn
	}
	if p.diagnosed {
		r.hint, r.diagnosed = p.hint, true
	}
}

// stopRead cancels the SLO's background read and live checks, if any,
// and waits for them.
func (s *SLO) stopRead() {
	if s.rr != nil {
		s.rr.cancel()
		<-s.rr.done
		s.rr = nil
	}
	if s.bg != nil {
		s.bg.cancel()
		<-s.bg.done
		s.bg = nil
	}
	if s.chk != nil {
		s.chk.cancel()
		<-s.chk.done
		s.chk = nil
	}
}

// Backfilling reports whether the SLO's read (a cold backfill, a long gap)
// is still running in the background: it is not evaluated until it ends.
func (s *SLO) Backfilling() bool { return s.bg != nil }
