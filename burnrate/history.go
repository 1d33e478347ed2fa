package burnrate

import (
	"time"
)

// Counts reads one instance's rings for charts: for each end time, the
// window of length w that ends there (Instance.Window). It holds the
// evaluator's lock, so the status page may call it while ticks ingest; it
// returns false when the evaluator has no instance of the label set.
func (e *Evaluator) Counts(labels map[string]string, ends []time.Time, w time.Duration) ([]WindowCount, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.index[LabelsKey(labels)]
	if !ok {
		return nil, false
	}
	in := e.instances[i]
	out := make([]WindowCount, len(ends))
	for j, t := range ends {
		out[j] = in.Window(t, w)
	}
	return out, true
}

// Onset is when a burn began, read back from the rings.
type Onset struct {
	// At is the start of the first step, inside the long window of a row
	// firing at detection, whose own error ratio reached that row's
	// threshold (factor × error budget).
	At time.Time
	// BudgetRemaining is the share of W's budget left at At.
	BudgetRemaining Figure
}

// Onset finds when the burn detected at at began: among the rows firing
// at at, each row's long window is scanned oldest step first for the first
// step at or above the row's threshold ratio, at the resolution of the
// finest tier that still holds the whole long window; the earliest such
// step of any firing row is the onset (down to the step where the fine
// tier still holds it). It returns false when no row fires
// at at, or the instance is unknown.
func (e *Evaluator) Onset(labels map[string]string, at time.Time) (Onset, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.index[LabelsKey(labels)]
	if !ok {
		return Onset{}, false
	}
	in := e.instances[i]
	ev := e.evaluate(in, e.plan(at), make([]RowResult, len(e.policy.Rows)))
	budget := e.spec.ErrorBudget()
	end := time.Unix(floorDiv(at.Unix(), int64(e.step/time.Second))*int64(e.step/time.Second), 0).UTC()
	var onset time.Time
	for _, r := range ev.Rows {
		if !r.Fires {
			continue
		}
		// The resolution at which the long window's steps are still held
		// one by one (a coarse tier sums several steps into one bucket).
		tiers := e.Tiers()
		res := e.step
		for _, t := range tiers {
			res = t.Resolution
			if t.Span >= r.Row.Long {
				break
			}
		}
		// A step burns at the row's threshold when its error ratio reaches
		// factor × budget (burn = ratio ÷ budget).
		threshold := r.Factor * budget
		above := func(t time.Time, w time.Duration) bool {
			c := in.Window(t, w)
			return c.Known > 0 && c.Total > 0 && c.Errors/c.Total >= threshold
		}
		for t := end.Add(-r.Row.Long).Add(res); !t.After(end); t = t.Add(res) {
			if !above(t, res) {
				continue
			}
			s := t.Add(-res)
			// Within a coarse bucket the fine tier still holds, find the
			// step itself.
			if res > e.step && end.Sub(s) <= tiers[0].Span {
				for u := s.Add(e.step); u.Before(t); u = u.Add(e.step) {
					if above(u, e.step) {
						break
					}
					s = u
				}
			}
			if onset.IsZero() || s.Before(onset) {
				onset = s
			}
			break
		}
	}
	if onset.IsZero() {
		return Onset{}, false
	}
	c := in.Window(onset, e.spec.Window)
	rem := Unknown()
	if c.Known > 0 {
		rem = Figure(1 - Burn(c.ErrorRatio(), budget))
	}
	return Onset{At: onset, BudgetRemaining: rem}, true
}
