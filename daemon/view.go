package daemon

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// publish builds a new snapshot for the HTTP interface. Its work per
// instance is a map lookup and a copy of the newest evaluation: the order
// of the instances is the previous snapshot's while the set is the same
// (instanceKeys), budgets over the window are drawn for at most chartLimit
// instances, and the states and counts by state are left to the server,
// which works them out once per snapshot, when a page or the API first
// asks.
func (d *Daemon) publish(now time.Time) {
	snap := &server.Snapshot{
		At: now, Ready: d.ready, Shard: d.cfg.Shard.String(),
		Incidents: d.eng.Open(), Recent: d.eng.Recent(),
		Source: d.source, Problems: slices.Clone(d.problems), Banners: d.banners(),
	}
	for _, r := range d.eng.SLOs() {
		if h := r.Hint(); h != "" {
			snap.Problems = append(snap.Problems, server.Problem{Where: "source", Message: "slo " + r.Spec().ID + ": " + h})
		}
	}
	if !d.ready {
		snap.Reason = "backfilling from " + d.source.Name
		if !d.source.Up {
			snap.Reason = d.source.Name + " failing: " + d.source.LastError
		}
	}
	total := 0
	for _, r := range d.eng.SLOs() {
		total += r.Evaluator().Len()
	}
	latest := d.eng.Latest()
	budgets := d.budgets(total, snap.Incidents, latest)
	snap.BudgetForIncidentsOnly = total > chartLimit
	misconfiguredSLO := map[string]bool{}
	for _, r := range d.eng.SLOs() {
		misconfiguredSLO[r.Spec().ID] = r.Misconfigured()
	}
	// The snapshot replaced two publishes ago lends its instances' memory
	// when no request holds it any more: at 100,000 instances that is
	// 19 MB a tick not allocated.
	prev := d.snap.Load()
	var spare map[string][]server.Instance
	if old := d.retired; old != nil && old.Recyclable() {
		spare = make(map[string][]server.Instance, len(old.SLOs))
		for _, sl := range old.SLOs {
			spare[sl.ID] = sl.Instances
		}
	}
	d.retired = prev
	bySLO := instancesBySLO(latest, prev, spare, func(key string, rec engine.Latest) server.Instance {
		in := server.Instance{Key: key, Labels: rec.Labels, Evaluated: true, Evaluation: rec.Evaluation,
			Misconfigured: misconfiguredSLO[rec.SLO]}
		if budgets != nil {
			in.Budget = budgets[key]
		} else if r := d.eng.SLO(rec.SLO); r != nil {
			in.Budget = burndown(r, rec.Labels, rec.At)
		}
		return in
	})
	sevs := map[[2]string]int{}
	for _, inc := range snap.Incidents {
		sevs[[2]string{string(inc.Severity), string(inc.Class)}]++
	}
	for _, s := range []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket} {
		for _, c := range []burnrate.IncidentClass{burnrate.ClassBurn, burnrate.ClassNoData} {
			d.m.incidents.WithLabelValues(string(s), string(c)).Set(float64(sevs[[2]string{string(s), string(c)}]))
		}
	}
	for _, r := range d.eng.SLOs() {
		spec, id := r.Spec(), r.Spec().ID
		s := server.SLO{ID: id, Name: spec.Name, Service: spec.Service, Description: spec.Description,
			Objective: spec.Objective, Window: spec.Window, Policy: r.Policy().Name, Labels: spec.Labels,
			Backfilling: r.Backfilling(), Annotations: spec.Annotations, Runbook: spec.Runbook(spec.Alerting.Page),
			Rings: r.Evaluator()}
		d.m.backfilling.WithLabelValues(id).Set(b2f(r.Backfilling()))
		for _, f := range r.Findings() {
			if f.Severity == slo.SeverityError {
				dg := f.Diagnostic(spec)
				s.Misconfigured = append(s.Misconfigured, dg.String())
				snap.Problems = append(snap.Problems, server.Problem{Where: dg.Pos.String(), Message: dg.Message + " (misconfigured)"})
			}
		}
		misconfigured := r.Misconfigured()
		d.m.misconfigured.WithLabelValues(id).Set(b2f(misconfigured))
		s.Instances = bySLO[id]
		n := len(s.Instances)
		worst := 1.0
		for _, in := range s.Instances {
			if b := in.Evaluation.BudgetRemaining; b.Known() {
				worst = min(worst, float64(b))
			}
		}
		if n == 0 {
			s.Instances = append(s.Instances, server.Instance{Key: id + "{}", Misconfigured: misconfigured})
		}
		if d.metricSLOs == nil {
			d.metricSLOs = map[string]bool{}
		}
		d.metricSLOs[id] = true
		d.m.instances.WithLabelValues(id).Set(float64(n))
		d.m.budgetRemained.WithLabelValues(id).Set(worst)
		snap.SLOs = append(snap.SLOs, s)
	}
	snap.Onsets = d.onsetsOf(snap.Incidents, snap.Recent)
	d.snap.Store(snap)
}

// onsetsOf are the burn onsets of the incidents the status page shows
// (the first maxOnsets open ones and the recent ones), read back from the
// rings once per incident (burnrate.Evaluator.Onset at its detection)
// and kept while the incident is listed.
func (d *Daemon) onsetsOf(open, recent []burnrate.Incident) map[string]burnrate.Onset {
	const maxOnsets = 1000
	out := map[string]burnrate.Onset{}
	seen := map[string]bool{}
	if d.onsets == nil {
		d.onsets = map[string]*burnrate.Onset{}
	}
	for i, list := range [][]burnrate.Incident{open, recent} {
		for j, inc := range list {
			if i == 0 && j == maxOnsets {
				break
			}
			if inc.Class != burnrate.ClassBurn {
				continue
			}
			k := server.OnsetKey(inc)
			seen[k] = true
			o, done := d.onsets[k]
			if !done {
				if r := d.eng.SLO(inc.SLO); r != nil {
					if on, ok := r.Evaluator().Onset(inc.Labels, inc.Start); ok {
						o = &on
					}
				}
				d.onsets[k] = o // nil: none found; not looked for again
			}
			if o != nil {
				out[k] = *o
			}
		}
	}
	for k := range d.onsets {
		if !seen[k] {
			delete(d.onsets, k)
		}
	}
	return out
}

// chartLimit is the most instances whose budget over the window publish
// draws: every instance of a fleet that small; in a larger one, those of
// the highest-ranked open incidents, which are what the status page's
// first screen shows. Each chart reads 61 windows of its instance.
const chartLimit = 500

// budgets are the charts of a fleet larger than chartLimit: the burndown
// of the instances of the highest-ranked open incidents, by instance key.
// It is nil for a smaller fleet, whose every instance is drawn.
func (d *Daemon) budgets(total int, incidents []burnrate.Incident, latest map[string]engine.Latest) map[string][]server.BudgetPoint {
	if total <= chartLimit {
		return nil
	}
	out := map[string][]server.BudgetPoint{}
	for _, inc := range incidents {
		if len(out) == chartLimit {
			break
		}
		rec, ok := latest[inc.Key]
		r := d.eng.SLO(inc.SLO)
		if _, done := out[inc.Key]; done || !ok || r == nil {
			continue
		}
		out[inc.Key] = burndown(r, rec.Labels, rec.At)
	}
	return out
}

// instancesBySLO are the snapshot's instances, made by build from
// latest, by SLO, each SLO's by key. The set of instances seldom changes
// from one tick to the next, so while the previous snapshot holds exactly
// the keys of latest its order is taken as it is: a tick then costs one
// lookup per instance, not a sort of 100,000 keys as well. spare, when
// set, is memory no snapshot reads any more, by SLO, to build in.
func instancesBySLO(latest map[string]engine.Latest, prev *server.Snapshot, spare map[string][]server.Instance,
	build func(key string, rec engine.Latest) server.Instance) map[string][]server.Instance {
	alloc := func(id string, n int) []server.Instance {
		if s := spare[id]; cap(s) >= n {
			delete(spare, id)
			clear(s[:cap(s)]) // hold no labels or budgets of old instances
			return s[:0]
		}
		return make([]server.Instance, 0, n)
	}
	if prev != nil {
		out := make(map[string][]server.Instance, len(prev.SLOs))
		n, same := 0, true
		for _, sl := range prev.SLOs {
			ins := alloc(sl.ID, len(sl.Instances))
			for _, in := range sl.Instances {
				if !in.Evaluated {
					continue // the placeholder of an SLO without instances
				}
				rec, ok := latest[in.Key]
				if same = ok && rec.SLO == sl.ID; !same {
					break
				}
				ins = append(ins, build(in.Key, rec))
			}
			if !same {
				break
			}
			out[sl.ID] = ins
			n += len(ins)
		}
		// Every key of prev is in latest, under the same SLO: as many
		// means the same set.
		if same && n == len(latest) {
			return out
		}
	}
	keys := map[string][]string{}
	for key, rec := range latest {
		keys[rec.SLO] = append(keys[rec.SLO], key)
	}
	out := make(map[string][]server.Instance, len(keys))
	for id, ks := range keys {
		slices.Sort(ks)
		ins := alloc(id, len(ks))
		for _, key := range ks {
			ins = append(ins, build(key, latest[key]))
		}
		out[id] = ins
	}
	return out
}

// burndown is the budget remaining over the current window: at each of 61
// points from the window's start to now, 1 − errors since the start ÷ the
// budget of the whole window (objective's error ratio × events in W).
func burndown(r *engine.SLO, labels map[string]string, now time.Time) []server.BudgetPoint {
	in := r.Evaluator().Instance(labels)
	if in == nil || now.IsZero() {
		return nil
	}
	w := r.Spec().Window
	start := now.Add(-w)
	all := in.Window(now, w)
	budget := r.Spec().ErrorBudget() * all.Total
	if budget <= 0 {
		return nil
	}
	const n = 60
	out := make([]server.BudgetPoint, 0, n+1)
	for i := 0; i <= n; i++ {
		t := start.Add(time.Duration(int64(w) / n * int64(i)))
		spent := 0.0
		if i > 0 {
			spent = in.Window(t, t.Sub(start)).Errors
		}
		out = append(out, server.BudgetPoint{At: t, Remaining: 1 - spent/budget})
	}
	return out
}

// banners are the loud messages of the status page and /readyz: damage
// slod recovered from that an operator must know about.
func (d *Daemon) banners() []string {
	var out []string
	if d.stateDamage != "" {
		out = append(out, d.stateDamage)
	}
	if d.dispatcher != nil {
		for _, dm := range d.dispatcher.Damage() {
			out = append(out, fmt.Sprintf("notify outbox %s unreadable (%s): moved aside to %s at %s; started a new one and reconciled with the receivers",
				filepath.Base(dm.File), dm.Reason, filepath.Base(dm.MovedTo), dm.At.UTC().Format(time.RFC3339)))
		}
	}
	for _, c := range d.capped {
		out = append(out, fmt.Sprintf("slo %s: %d new label sets dropped at its instance cap of %d: narrow its group_by or raise --max-instances-per-slo / --max-instances",
			c.SLO, c.Dropped, c.Limit))
	}
	if n := len(d.pending); n > 0 {
		out = append(out, fmt.Sprintf("%d page(s) not delivered: the notify outbox refuses them since %s (retried every tick, kept in the state snapshot)",
			n, d.pendingSince.UTC().Format(time.RFC3339)))
	}
	return out
}
