package daemon

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// publish builds a new snapshot for the HTTP interface.
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
	charts := total <= 500
	latest := d.eng.Latest()
	bySLO := map[string][]string{}
	for key, rec := range latest {
		bySLO[rec.SLO] = append(bySLO[rec.SLO], key)
	}
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
			Objective: spec.Objective, Window: spec.Window, Policy: r.Policy().Name, Labels: spec.Labels}
		for _, f := range r.Findings() {
			if f.Severity == slo.SeverityError {
				dg := f.Diagnostic(spec)
				s.Misconfigured = append(s.Misconfigured, dg.String())
				snap.Problems = append(snap.Problems, server.Problem{Where: dg.Pos.String(), Message: dg.Message + " (misconfigured)"})
			}
		}
		misconfigured := r.Misconfigured()
		d.m.misconfigured.WithLabelValues(id).Set(b2f(misconfigured))
		keys := bySLO[id]
		sort.Strings(keys)
		worst := 1.0
		for _, key := range keys {
			rec := latest[key]
			in := server.Instance{Key: key, Labels: rec.Labels, Evaluated: true, Evaluation: rec.Evaluation, Misconfigured: misconfigured}
			if charts {
				in.Budget = burndown(r, rec.Labels, rec.At)
			}
			if b := rec.BudgetRemaining; b.Known() {
				worst = min(worst, float64(b))
			}
			s.Instances = append(s.Instances, in)
		}
		if len(keys) == 0 {
			s.Instances = append(s.Instances, server.Instance{Key: id + "{}", Misconfigured: misconfigured})
		}
		if d.metricSLOs == nil {
			d.metricSLOs = map[string]bool{}
		}
		d.metricSLOs[id] = true
		d.m.instances.WithLabelValues(id).Set(float64(len(keys)))
		d.m.budgetRemained.WithLabelValues(id).Set(worst)
		snap.SLOs = append(snap.SLOs, s)
	}
	d.snap.Store(snap)
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
