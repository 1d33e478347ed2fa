package slo

import (
	"fmt"
	"math"
	"time"
)

// Budgeting methods.
const (
	BudgetOccurrences = "occurrences"
	BudgetTimeslices  = "timeslices"
)

// TimeSlices is time-slice budgeting (OpenSLO Timeslices and
// RatioTimeslices, Datadog's time-slice SLOs): the window is cut into
// slices of Length; a slice is good when its SLI (1 − errors/events over
// the slice) reaches Target, bad when not, and neither when it has no
// data, no events or is excluded. The SLO's objective is then the share
// of good slices among the known ones, and burn rates and budgets count
// slices as events.
type TimeSlices struct {
	Length time.Duration
	// Target is the slice's good share, a ratio in (0, 1].
	Target float64
}

// Count turns one slice's errors and events into what the budget counts:
// one event, an error when the slice misses Target; NaN (unknown) when it
// has no data or no events.
func (t *TimeSlices) Count(errs, total float64) (float64, float64) {
	if math.IsNaN(errs) || math.IsInf(errs, 0) || errs < 0 || math.IsInf(total, 0) || !(total > 0) {
		return math.NaN(), math.NaN()
	}
	if 1-min(errs, total)/total >= t.Target*(1-1e-12) {
		return 0, 1
	}
	return 1, 1
}

// budgeting reads the native budgeting block: {method: occurrences} or
// {method: timeslices, slice: 1m, slice_target: 95} (percent).
func (d *decoder) budgeting(f field, what string, s *Spec) bool {
	what += ": budgeting"
	fs, ok := d.fields(f.val, what, "method", "slice", "slice_target")
	ok = d.required(f.key, fs, what, "method") && ok
	if !ok {
		return false
	}
	m, mok := d.str(fs["method"], what+": method")
	if !mok {
		return false
	}
	_, hasSlice := fs["slice"]
	_, hasTarget := fs["slice_target"]
	switch m {
	case BudgetOccurrences:
		if hasSlice || hasTarget {
			d.errorf(f.val, RuleInvalidField, "%s: slice and slice_target belong to method: timeslices", what)
			return false
		}
		return true
	case BudgetTimeslices:
	default:
		d.errorf(fs["method"].val, RuleInvalidField, "%s: method must be occurrences or timeslices, got %q", what, m)
		return false
	}
	if !d.required(f.key, fs, what, "slice", "slice_target") {
		return false
	}
	ts := &TimeSlices{}
	var lok, tok bool
	ts.Length, lok = d.duration(fs["slice"], what+": slice")
	s.FieldPos["budgeting.slice"] = d.pos(fs["slice"].val)
	var pct float64
	pct, tok = d.num(fs["slice_target"], what+": slice_target")
	if tok && !(pct > 0 && pct <= 100) {
		d.errorf(fs["slice_target"].val, RuleInvalidField, "%s: slice_target must be a percentage in (0, 100], got %v", what, pct)
		tok = false
	}
	ts.Target = pct / 100
	if lok && tok {
		s.TimeSlices = ts
	}
	return lok && tok
}

// String renders the method: "timeslices of 1m at 95%".
func (t *TimeSlices) String() string {
	return fmt.Sprintf("timeslices of %s at %v%%", FormatDuration(t.Length), t.Target*100)
}
