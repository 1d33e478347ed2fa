package burnrate

import "time"

// budgetWindow is the window the budget figures (WindowBurn,
// BudgetRemaining, WindowErrors, WindowTotal) are summed over at now: the
// rolling SLO window, or for a calendar-aligned SLO the period so far —
// the budget starts afresh at each period start, local midnight in the
// SLO's timezone. The policy rows keep their rolling windows, with burn
// factors relative to the period's nominal length (slo.Calendar).
func (e *Evaluator) budgetWindow(now time.Time) time.Duration {
	c := e.spec.Calendar
	if c == nil {
		return e.spec.Window
	}
	return now.Sub(c.PeriodStart(now))
}
