package daemon

import (
	"context"
	"strconv"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/server"
)

// tick drives one engine tick at now: it reads and evaluates every SLO
// (backfilling gaps and replaying missed ticks, see engine.Tick), pages
// the incident changes, tracks the source's health and readiness, writes
// the state snapshot when something changed, and publishes the view.
func (d *Daemon) tick(ctx context.Context, now time.Time) {
	began := time.Now()
	d.gate.shut()
	defer d.gate.open()
	if d.opts.BeforeTick != nil {
		d.opts.BeforeTick(now)
	}
	before := d.eng.Stats()
	res := d.eng.Tick(ctx, now)
	if ctx.Err() != nil {
		return
	}
	d.lastTarget = res.Target
	after := d.eng.Stats()
	d.m.stepsRead.Add(float64(after.Steps - before.Steps))
	for id, err := range res.Warnings {
		d.log.Warn("ingest", "slo", id, "err", err)
	}
	d.capped = res.Capped
	for _, c := range res.Capped {
		d.m.dropped.WithLabelValues(c.SLO).Set(float64(c.Dropped))
	}
	for _, b := range res.Backfilling {
		if !d.backfilling[b.SLO] {
			d.log.Info("backfilling in the background; the slo is evaluated once it is done", "slo", b.SLO, "from", b.From, "to", b.To, "cold", b.Cold)
		}
	}
	d.backfilling = map[string]bool{}
	for _, b := range res.Backfilling {
		d.backfilling[b.SLO] = true
	}
	for _, b := range res.Backfills {
		steps := int64(b.To.Sub(b.From) / d.cfg.Step)
		d.m.backfillSteps.Add(float64(steps))
		d.log.Info("backfilled", "slo", b.SLO, "from", b.From, "to", b.To, "steps", steps, "cold", b.Cold)
	}
	if err := res.Err(); err != nil {
		d.m.queryErrors.Add(float64(len(res.Failed)))
		if d.source.Up {
			d.log.Error("source failed, evaluation waits for it", "err", err)
		}
		d.source.Up, d.source.LastError = false, err.Error()
	} else {
		if !d.source.Up {
			d.log.Info("source recovered, gap backfilled")
		}
		d.source.Up, d.source.LastError, d.source.LastSuccess = true, "", d.now()
		if !d.ready && len(res.Backfilling) == 0 {
			d.ready = true
			d.m.ready.Set(1)
			d.log.Info("ready", "evaluating_slos", len(d.eng.SLOs()), "step", res.Target)
		}
	}
	d.m.tickPhase.WithLabelValues("read").Observe(res.Read.Seconds())
	d.m.tickPhase.WithLabelValues("evaluate").Observe(res.Evaluate.Seconds())
	phase := time.Now()
	d.handle(res.Changes)
	if d.ready && !d.reconciled {
		d.reconcile(ctx)
	}
	oldest := d.eng.OldestStep()
	if !oldest.IsZero() {
		d.m.lastStepTime.Set(float64(oldest.Unix()))
	}
	d.source.Lag = now.Add(-d.cfg.QueryDelay).Sub(oldest)
	d.m.sourceUp.Set(b2f(d.source.Up))
	d.flushPending(ctx)
	phase = d.observePhase("page", phase)
	d.persist(now)
	phase = d.observePhase("persist", phase)
	d.publish(now)
	d.observePhase("publish", phase)
	d.m.tickDuration.Observe(time.Since(began).Seconds())
	if res.Reread > 0 {
		d.m.reread.Observe(res.Reread.Seconds())
	}
	// The steady reads left their re-read of the newest steps (late
	// samples) to now, when the tick no longer waits for it.
	d.eng.Reread(ctx)
}

// observePhase records the tick phase that began at since and returns now.
func (d *Daemon) observePhase(name string, since time.Time) time.Time {
	now := time.Now()
	d.m.tickPhase.WithLabelValues(name).Observe(now.Sub(since).Seconds())
	return now
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// handle counts incident changes, turns them into pages and queues them.
func (d *Daemon) handle(changes []burnrate.Change) {
	for _, c := range changes {
		d.dirty = true
		d.m.changes.WithLabelValues(string(c.Kind)).Inc()
		inc := c.Incident
		d.log.Info("incident "+string(c.Kind), "slo", inc.SLO, "labels", burnrate.LabelsKey(inc.Labels),
			"class", inc.Class, "severity", inc.Severity, "burn", figure(inc.Burn), "silent", c.Silent(), "caused_by", causeText(inc.CausedBy),
			"budget_remaining", figure(inc.BudgetRemaining),
			"time_to_exhaustion", burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion))
		if c.Silent() {
			// A symptom whose root's page speaks for it, or a page held
			// for the correlation grace (docs/incidents.md).
			continue
		}
		var spec = d.specOf(inc.SLO)
		if p, ok := PageFor(c, spec); ok {
			d.pending = append(d.pending, p)
		}
	}
	if len(changes) > 0 {
		d.flushPending(context.Background())
	}
}

// reconcile settles, once after start-up, what each receiver was last told
// with the live incidents: every key a receiver believes open that no open
// incident owns is resolved, and every open incident a receiver was not
// told is triggered (notify.Dispatcher.Reconcile). Dedup keys make both
// idempotent. It matters after damage: a lost state snapshot forgets
// incidents the receivers still hold open; a lost outbox forgets what they
// were told. It waits for pages the outbox refused, which are not told yet.
func (d *Daemon) reconcile(ctx context.Context) {
	if d.dispatcher == nil || len(d.pending) > 0 {
		return
	}
	var live []notify.Page
	for _, inc := range d.eng.Open() {
		c := burnrate.Change{Kind: burnrate.ChangeOpened, Incident: inc}
		if c.Silent() {
			continue // a symptom or a held page: no receiver holds it open
		}
		if p, ok := PageFor(c, d.specOf(inc.SLO)); ok {
			live = append(live, p)
		}
	}
	res, err := d.dispatcher.Reconcile(ctx, live)
	if err != nil {
		d.log.Error("reconciling receivers with the live incidents failed, retrying next tick", "err", err)
		return
	}
	d.reconciled = true
	d.log.Info("receivers reconciled with the live incidents", "open_incidents", len(live),
		"resolves_queued", res.Resolves, "triggers_queued", res.Triggers)
}

// flushPending commits queued pages to the outbox, in order; a page that
// fails stays queued (with those after it) for the next tick, and the state
// snapshot carries it so a crash does not lose it. A committed page marks
// the state dirty, so the next snapshot stops carrying it.
func (d *Daemon) flushPending(ctx context.Context) {
	if d.dispatcher == nil {
		return
	}
	defer func() {
		if len(d.pending) == 0 {
			d.pendingSince = time.Time{}
		} else if d.pendingSince.IsZero() {
			d.pendingSince = d.now()
		}
		// Refused pages count where operators look: outbox depth and age.
		d.dispatcher.SetRefused(len(d.pending), d.pendingSince)
	}()
	for len(d.pending) > 0 {
		p := d.pending[0]
		if err := d.dispatcher.Enqueue(ctx, p); err != nil {
			d.m.pageErrors.Inc()
			d.log.Error("page not queued, retrying next tick", "dedup_key", p.DedupKey, "err", err)
			return
		}
		d.m.pages.WithLabelValues(string(p.Action)).Inc()
		d.pending = d.pending[1:]
		d.dirty = true
	}
}

// figure is a log value: the number to six significant digits, or
// "unknown" when the incident has no data for it.
func figure(f burnrate.Figure) string {
	return f.Text(func(x float64) string { return strconv.FormatFloat(server.Round(x), 'g', -1, 64) })
}
