package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// BacktestReport is one SLO in `sloctl backtest --format json`. Durations
// are in seconds; a figure that is unknown (no data) is null.
type BacktestReport struct {
	SLO           string             `json:"slo"`
	Service       string             `json:"service"`
	Objective     float64            `json:"objective"`
	WindowSeconds float64            `json:"window_seconds"`
	Policy        string             `json:"policy"`
	From          time.Time          `json:"from"`
	To            time.Time          `json:"to"`
	Instances     []BacktestInstance `json:"instances"`
	Warnings      []string           `json:"warnings,omitempty"`
	// noData says why no step of the range had data ("" when some did).
	noData string
}

// BacktestInstance is one SLO instance's replay.
type BacktestInstance struct {
	Labels map[string]string `json:"labels"`
	Rows   []BacktestRow     `json:"rows"`
	// Incidents are ordered by start, encoded as the HTTP API encodes them.
	Incidents []server.IncidentJSON `json:"incidents"`
	// BudgetRemainingStart/End are the share of W's budget left at the
	// first and last step; BudgetSpent is the errors counted in the range
	// over W's budget at the end.
	BudgetRemainingStart burnrate.Figure `json:"budget_remaining_start"`
	BudgetRemainingEnd   burnrate.Figure `json:"budget_remaining_end"`
	BudgetSpent          burnrate.Figure `json:"budget_spent"`
	// Quality is the policy's alert quality over the range.
	Quality BacktestQuality `json:"quality"`
	// incidents are the domain incidents behind Incidents, for the text.
	incidents []burnrate.Incident
}

// BacktestRow is one policy row's firing intervals.
type BacktestRow struct {
	Severity     burnrate.Severity `json:"severity"`
	LongSeconds  float64           `json:"long_seconds"`
	ShortSeconds float64           `json:"short_seconds"`
	Factor       float64           `json:"factor"`
	// Measure is "budget" for a row read with the budget measure, "floor"
	// for a floor row, "ratio" otherwise.
	Measure string   `json:"measure"`
	Firings []Firing `json:"firings"`
	// share is the row's budget share (0 for a floor row).
	share float64
}

// Firing is one interval during which a row fired; Resolved is absent when
// it still fired at the end of the range.
type Firing struct {
	Fired    time.Time       `json:"fired"`
	Resolved time.Time       `json:"resolved,omitzero"`
	PeakBurn burnrate.Figure `json:"peak_burn"`
}

// recorder keeps, per SLO instance, when each policy row fired: it sees
// every evaluation the engine makes in the range.
type recorder struct {
	from      time.Time
	step      time.Duration
	eng       *engine.Engine
	instances map[string]*BacktestInstance // by SLO id + instance key
	logs      map[string]*stepLog          // by SLO id + instance key
	known     map[string]bool              // SLO ids with a known step in the range
}

// logStep appends the step that ends at now to the instance's step log,
// read from its rings: its errors and events, and events(W) projected from
// W's known steps (NaN when unknown). Steps missed in between are unknown.
func (r *recorder) logStep(id, key string, labels map[string]string, now time.Time) {
	s := r.eng.SLO(id)
	if s == nil {
		return
	}
	inst := s.Evaluator().Instance(labels)
	if inst == nil {
		return
	}
	l := r.logs[key]
	if l == nil {
		l = &stepLog{}
		r.logs[key] = l
	}
	i := int(now.Sub(r.from)/r.step) - 1
	if i < len(l.errs) {
		return // this step is logged already
	}
	for len(l.errs) < i {
		l.add(math.NaN(), math.NaN(), math.NaN())
	}
	sc := inst.Window(now, r.step)
	wc := inst.Window(now, s.Spec().Window)
	errs, tots, eventsW := math.NaN(), math.NaN(), math.NaN()
	if sc.Known > 0 {
		errs, tots = sc.Errors, sc.Total
	}
	if wc.Known > 0 {
		eventsW = wc.Total * float64(s.Spec().Window/r.step) / float64(wc.Known)
	}
	l.add(errs, tots, eventsW)
}

func (r *recorder) observe(id string, ie burnrate.InstanceEvaluation) {
	now := ie.At
	if !now.After(r.from) {
		return // the backfill's evaluation at from is before the range
	}
	key := id + ie.Key
	in, ok := r.instances[key]
	if !ok {
		in = &BacktestInstance{Labels: ie.Labels, BudgetRemainingStart: ie.BudgetRemaining}
		for _, row := range ie.Rows {
			m := string(burnrate.MeasureRatio)
			switch {
			case row.Row.Floor():
				m = "floor"
			case row.Row.Budget():
				m = string(burnrate.MeasureBudget)
			}
			in.Rows = append(in.Rows, BacktestRow{Severity: row.Row.Severity, LongSeconds: row.Row.Long.Seconds(),
				ShortSeconds: row.Row.Short.Seconds(), Factor: row.Factor, Measure: m, Firings: []Firing{}, share: row.Row.BudgetShare})
		}
		r.instances[key] = in
	}
	for i, row := range ie.Rows {
		out := &in.Rows[i]
		open := len(out.Firings) > 0 && out.Firings[len(out.Firings)-1].Resolved.IsZero()
		burn := min(row.LongBurn, row.ShortBurn)
		switch {
		case row.Fires && !open:
			out.Firings = append(out.Firings, Firing{Fired: now, PeakBurn: burn})
		case row.Fires:
			f := &out.Firings[len(out.Firings)-1]
			f.PeakBurn = max(f.PeakBurn, burn)
		case open:
			out.Firings[len(out.Firings)-1].Resolved = now
		}
	}
	in.BudgetRemainingEnd = ie.BudgetRemaining
	r.logStep(id, key, ie.Labels, now)
	if ie.NoDataFor == 0 {
		r.known[id] = true
	}
}

// backtest replays (from, to] through the engine on a simulated clock,
// one step per tick, exactly as the daemon would have ticked: the first
// tick at from backfills the window before it, each later one reads its
// newest steps (answered from chunked reads by source.Prefetch).
func backtest(ctx context.Context, cat *engine.Catalogue, q source.Querier, from, to time.Time, step time.Duration,
	corr engine.Correlation, progress func(done, total int)) ([]*BacktestReport, int, error) {
	return replay(ctx, cat, q, from, to, step, corr, progress, nil)
}

// replayHooks let a command that replays as backtest does (report) see
// every evaluation, with the engine, and the engine once the replay ended.
type replayHooks struct {
	observe func(eng *engine.Engine, id string, ie burnrate.InstanceEvaluation)
	done    func(eng *engine.Engine)
}

// replay is backtest with hooks (nil: none).
func replay(ctx context.Context, cat *engine.Catalogue, q source.Querier, from, to time.Time, step time.Duration,
	corr engine.Correlation, progress func(done, total int), hooks *replayHooks) ([]*BacktestReport, int, error) {
	pf := &source.Prefetch{Querier: q, Step: step, Until: to}
	rec := &recorder{from: from, step: step, instances: map[string]*BacktestInstance{}, logs: map[string]*stepLog{}, known: map[string]bool{}}
	var eng *engine.Engine
	observe := rec.observe
	if hooks != nil && hooks.observe != nil {
		observe = func(id string, ie burnrate.InstanceEvaluation) {
			rec.observe(id, ie)
			hooks.observe(eng, id, ie)
		}
	}
	eng, err := engine.New(engine.Options{Querier: pf, Step: step, KeepResolved: math.MaxInt32, Observe: observe, Correlation: corr})
	if err != nil {
		return nil, 0, err
	}
	rec.eng = eng
	if _, _, err := eng.Apply(cat, from); err != nil {
		return nil, 0, err
	}
	warnings := map[string][]string{}
	total := int(to.Sub(from) / step)
	for i, now := 0, from; !now.After(to); i, now = i+1, now.Add(step) {
		res := eng.Tick(ctx, now)
		if err := res.Err(); err != nil {
			return nil, pf.Queries(), err
		}
		for id, w := range res.Warnings {
			warnings[id] = appendOnce(warnings[id], w.Error())
		}
		if progress != nil {
			progress(i, total)
		}
	}
	if hooks != nil && hooks.done != nil {
		hooks.done(eng)
	}
	incidents := append(eng.Recent(), eng.Open()...)
	sort.SliceStable(incidents, func(i, j int) bool { return incidents[i].Start.Before(incidents[j].Start) })
	var reports []*BacktestReport
	for _, s := range eng.SLOs() {
		spec := s.Spec()
		rep := &BacktestReport{SLO: spec.ID, Service: spec.Service, Objective: spec.Objective, WindowSeconds: spec.Window.Seconds(),
			Policy: s.Policy().Name, From: from, To: to, Instances: []BacktestInstance{}, Warnings: warnings[spec.ID]}
		if !rec.known[spec.ID] {
			rep.noData = noDataReason(ctx, q, spec, step, from, to)
			rep.Warnings = append(rep.Warnings, rep.noData)
		}
		if d := s.Evaluator().Dropped(); d > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d label sets over the instance cap were dropped", d))
		}
		var keys []string
		for k := range rec.instances {
			if strings.HasPrefix(k, spec.ID+"{") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			in := rec.instances[k]
			in.Incidents = []server.IncidentJSON{}
			for _, inc := range incidents {
				if inc.Key == k {
					in.incidents = append(in.incidents, inc)
					in.Incidents = append(in.Incidents, server.NewIncidentJSON(inc, 0))
				}
			}
			in.BudgetSpent = burnrate.Unknown()
			if inst := s.Evaluator().Instance(in.Labels); inst != nil {
				rng := inst.Window(to, to.Sub(from))
				w := inst.Window(to, spec.Window)
				if w.Total > 0 {
					in.BudgetSpent = burnrate.Figure(rng.Errors / (spec.ErrorBudget() * w.Total))
				}
			}
			log := rec.logs[k]
			if log == nil {
				log = &stepLog{}
			}
			in.Quality = quality(spec, in, log, from, to, step)
			rep.Instances = append(rep.Instances, *in)
		}
		reports = append(reports, rep)
	}
	return reports, pf.Queries(), nil
}

// noDataReason says why no step of the range had data: a scrape too
// sparse for the step, or series that do not exist.
func noDataReason(ctx context.Context, q source.Querier, spec *slo.Spec, step time.Duration, from, to time.Time) string {
	rng := fmt.Sprintf("no step from %s to %s has data", from.Format(time.RFC3339), to.Format(time.RFC3339))
	hint, err := source.DiagnoseEmpty(ctx, q, spec, step, to)
	switch {
	case err != nil:
		return fmt.Sprintf("%s (diagnosis failed: %v)", rng, err)
	case hint == "":
		return rng
	default:
		return rng + ": " + hint
	}
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
