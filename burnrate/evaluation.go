package burnrate

import (
	"time"

	"github.com/slodhq/slod/slo"
)

// RowResult is one policy row evaluated at one instant.
type RowResult struct {
	Row Row
	// Factor is Row.Factor for the SLO's window, kept so readers need not recompute it.
	Factor float64
	// LongBurn and ShortBurn are the burn rates over the row's windows;
	// unknown when the window holds no known step.
	LongBurn  Figure
	ShortBurn Figure
	// Fires is true when both burns reach Factor (and the min_events guard passes).
	Fires bool
}

// Known reports whether both of the row's windows hold a known step: an
// unknown row neither fires nor shows the burn has stopped.
func (r RowResult) Known() bool { return r.LongBurn.Known() && r.ShortBurn.Known() }

// Evaluation is a policy evaluated for one SLO instance at one instant.
// The evaluator produces it; incidents, the status page and the API read it.
type Evaluation struct {
	At   time.Time
	Rows []RowResult
	// WindowBurn is the burn rate over the whole SLO window W; unknown when
	// W holds no known step.
	WindowBurn Figure
	// BudgetRemaining is the fraction of W's error budget not yet spent:
	// 1 − WindowBurn. It goes negative once the budget is overspent, and is
	// unknown when WindowBurn is.
	BudgetRemaining Figure
	// WindowErrors and WindowTotal are the errors and events counted over W
	// (steps without data count neither).
	WindowErrors float64
	WindowTotal  float64
	// WindowEvents is events(W) as the budget measure reads it: W's known
	// events projected to the whole window at their mean rate. Computed
	// only for a policy with a budget row; unknown otherwise and when W
	// holds no known step.
	WindowEvents Figure
	// NoDataFor is how long the SLI has had no known step (0 when the newest step is known).
	NoDataFor time.Duration
	// Quiet is set, by the engine, when an SLO that asks for it (alerting.
	// idle, alerting.collapse) has known data that says nobody is served:
	// idle (zero traffic for the no-data delay) or collapsed (traffic far
	// below its own baseline). Missing data is NoDataFor's, not this.
	Quiet slo.NoDataState
	// Excluded names the budget exclusion (slo.Exclusion) At falls in, ""
	// when none does: the steps it covers count in neither errors nor
	// events, and no incident opens (or changes) while it lasts.
	Excluded string
}

// Known reports whether every row is known: only then can an evaluation
// that fires nothing show that a burn is over.
func (e Evaluation) Known() bool {
	for _, r := range e.Rows {
		if !r.Known() {
			return false
		}
	}
	return true
}

// Severity is the most urgent severity among firing rows, and false when none fires.
func (e Evaluation) Severity() (Severity, bool) {
	var sev Severity
	for _, r := range e.Rows {
		if !r.Fires {
			continue
		}
		if r.Row.Severity == SeverityPage {
			return SeverityPage, true
		}
		sev = r.Row.Severity
	}
	return sev, sev != ""
}
