// Package burnrate holds the multi-window multi-burn-rate policy math shared
// by the generated Prometheus rules and the slod daemon, the incremental
// ring-buffer evaluator, and incidents with their ranking. It does no I/O.
package burnrate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/slodhq/slod/slo"
)

// Severity is the class of an alert: a page wakes someone, a ticket waits.
type Severity string

// The severity classes, most urgent first.
const (
	SeverityPage   Severity = "page"
	SeverityTicket Severity = "ticket"
)

// Measure is how a row turns a window's counts into a burn rate.
type Measure string

// The measures. MeasureRatio is the Workbook's: burn(w) = error ratio over
// w / (1 − objective), which equals the budget spent only under steady
// traffic. MeasureBudget is exact under uneven traffic: burn′(w) =
// errors(w) / ((1 − objective) × events(W)) × W / w, the share of the
// window's budget actually spent in w, scaled to a rate. Equivalently
// burn′(w) = burn(w) × (traffic rate over w ÷ mean traffic rate over W).
const (
	MeasureRatio  Measure = "ratio"
	MeasureBudget Measure = "budget"
)

// Valid reports whether m is a known measure ("" reads as ratio).
func (m Measure) Valid() bool { return m == "" || m == MeasureRatio || m == MeasureBudget }

// Row is one line of a policy: it fires when the burn rate over both its
// long and its short window reaches Factor, i.e. when BudgetShare of the
// error budget of the SLO window would be spent within Long.
type Row struct {
	Severity Severity
	Long     time.Duration
	Short    time.Duration
	// BudgetShare is the fraction of the window's error budget (0.02 = 2%)
	// that a burn at the threshold spends within Long.
	BudgetShare float64
	// Measure is the row's burn measure; "" is MeasureRatio.
	Measure Measure
	// FloorRatio, when > 0, makes the row a floor: it fires when the error
	// ratio over both windows reaches FloorRatio (0.5 = 50% of requests
	// fail), whatever the traffic and the budget. BudgetShare is unused
	// and the measure is always the ratio.
	FloorRatio float64
}

// Budget reports whether the row reads its windows with the budget measure.
func (r Row) Budget() bool { return r.Measure == MeasureBudget && r.FloorRatio == 0 }

// Floor reports whether the row is a floor row (FloorRatio).
func (r Row) Floor() bool { return r.FloorRatio > 0 }

// Threshold is the burn rate at which the row fires for an SLO window and
// error budget: Factor, or for a floor row FloorRatio / (1 − objective).
func (r Row) Threshold(window time.Duration, errorBudget float64) float64 {
	if r.Floor() {
		return r.FloorRatio / errorBudget
	}
	return r.Factor(window)
}

// Factor is the burn-rate threshold of the row for an SLO window W:
// share × W / long. Spending share of the budget within long means burning
// share × W / long times faster than the rate that spends it all in exactly W.
// For W = 30d the default rows give 14.4, 6, 3 and 1.
func (r Row) Factor(window time.Duration) float64 {
	return r.BudgetShare * float64(window) / float64(r.Long)
}

// Policy is a named list of rows.
type Policy struct {
	Name string
	Rows []Row
}

// DefaultPolicyName names the Google SRE Workbook policy.
const DefaultPolicyName = "default"

// TrafficAwarePolicyName names the Workbook policy read with the budget measure.
const TrafficAwarePolicyName = "traffic-aware"

// TrafficAwarePolicy returns the Workbook's rows (DefaultPolicy) with the
// budget measure: a row pages when its share of the window's budget was
// actually spent, so a quiet night with a high error ratio but few errors
// does not page, and an outage at peak traffic pages sooner.
func TrafficAwarePolicy() Policy {
	p := DefaultPolicy()
	p.Name = TrafficAwarePolicyName
	for i := range p.Rows {
		p.Rows[i].Measure = MeasureBudget
	}
	return p
}

// HasBudget reports whether any row of the policy uses the budget measure.
func (p Policy) HasBudget() bool {
	for _, r := range p.Rows {
		if r.Budget() {
			return true
		}
	}
	return false
}

// DefaultPolicy returns the multi-window multi-burn-rate policy of the Google
// SRE Workbook ("Alerting on SLOs"): pages at 2% of budget in 1h and 5% in 6h,
// tickets at 10% in 1d and 10% in 3d.
func DefaultPolicy() Policy {
	return Policy{
		Name: DefaultPolicyName,
		Rows: []Row{
			{Severity: SeverityPage, Long: time.Hour, Short: 5 * time.Minute, BudgetShare: 0.02},
			{Severity: SeverityPage, Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetShare: 0.05},
			{Severity: SeverityTicket, Long: 24 * time.Hour, Short: 2 * time.Hour, BudgetShare: 0.10},
			{Severity: SeverityTicket, Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, BudgetShare: 0.10},
		},
	}
}

// Burn is the burn rate of an error ratio against an error budget
// (1 − objective): 1 spends the budget exactly over the SLO window.
func Burn(errorRatio, errorBudget float64) float64 {
	return errorRatio / errorBudget
}

// DetectionTime is how long a constant error ratio e, starting from a clean
// history, takes to make the row's long window reach its factor:
// burn over long after t is e×t/(long×budget), which equals factor at
// t = factor × budget × long / e = share × W × budget / e. The short window,
// shorter than t in every useful case, is already saturated by then.
// It returns false when the row can never fire at that ratio.
func (r Row) DetectionTime(window time.Duration, errorBudget, errorRatio float64) (time.Duration, bool) {
	if errorRatio <= 0 || errorBudget <= 0 {
		return 0, false
	}
	t := r.Threshold(window, errorBudget) * errorBudget * float64(r.Long) / errorRatio
	if t > float64(r.Long) {
		return 0, false
	}
	// Round to the nanosecond: 1 − 0.999 is 0.0009999999999999432 in
	// float64, and truncation would report 51.839999999s.
	return time.Duration(math.Round(t)), true
}

// DetectionTimeAt is DetectionTime for a burn during which traffic runs at
// traffic times its mean over W (1: steady traffic). A budget row reads
// burn′ = burn × traffic, so it fires after t / traffic: sooner at peak,
// later at night; a ratio or floor row ignores traffic.
func (r Row) DetectionTimeAt(window time.Duration, errorBudget, errorRatio, traffic float64) (time.Duration, bool) {
	if !r.Budget() || traffic == 1 {
		return r.DetectionTime(window, errorBudget, errorRatio)
	}
	if errorRatio <= 0 || errorBudget <= 0 || !(traffic > 0) {
		return 0, false
	}
	t := r.Threshold(window, errorBudget) * errorBudget * float64(r.Long) / (errorRatio * traffic)
	if t > float64(r.Long) {
		return 0, false
	}
	return time.Duration(math.Round(t)), true
}

// ErrorRatio is the error ratio at which the row's burn reaches its factor:
// factor × (1 − objective) (FloorRatio for a floor row). A row whose
// ErrorRatio exceeds 1 can never fire, since no more than every event can
// fail. For a budget row it is the ratio at steady traffic.
func (r Row) ErrorRatio(window time.Duration, errorBudget float64) float64 {
	if r.Floor() {
		return r.FloorRatio
	}
	return r.Factor(window) * errorBudget
}

// CanFire reports whether any error ratio, up to a full outage, reaches the
// row's factor: factor ≤ 1/(1 − objective).
func (r Row) CanFire(window time.Duration, errorBudget float64) bool {
	// A little slack so that a row tuned to fire exactly at a 100% error
	// ratio is not rejected for a rounding error in share × W / long.
	return r.ErrorRatio(window, errorBudget) <= 1+1e-9
}

// Windows returns every distinct window the policy's rows use, shortest first.
func (p Policy) Windows() []time.Duration {
	var ws []time.Duration
	for _, r := range p.Rows {
		ws = append(ws, r.Long, r.Short)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// Severities returns the severity classes the policy uses, most urgent first.
func (p Policy) Severities() []Severity {
	var out []Severity
	for _, s := range []Severity{SeverityPage, SeverityTicket} {
		for _, r := range p.Rows {
			if r.Severity == s {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// Tier numbers a severity class by urgency (page 1, ticket 2), so that an
// Alertmanager inhibit rule can let a lower tier silence a higher one.
func (s Severity) Tier() int {
	switch s {
	case SeverityPage:
		return 1
	case SeverityTicket:
		return 2
	}
	return 0
}

// Validate checks the policy on its own and against an SLO window: at least
// one row, a known severity, 0 < share ≤ 1 and 0 < short < long ≤ window.
// It reports every problem, not just the first. Whether a row can fire at
// the SLO's objective is a separate question (CanFire), reported by lint.
func (p Policy) Validate(window time.Duration) error {
	var errs []error
	if len(p.Rows) == 0 {
		errs = append(errs, fmt.Errorf("policy %q: no rows", p.Name))
	}
	for i, r := range p.Rows {
		pre := fmt.Sprintf("policy %q: row %d (%s %s/%s)", p.Name, i+1, r.Severity, slo.FormatDuration(r.Long), slo.FormatDuration(r.Short))
		if r.Severity.Tier() == 0 {
			errs = append(errs, fmt.Errorf("%s: severity %q is neither page nor ticket", pre, r.Severity))
		}
		if !r.Measure.Valid() {
			errs = append(errs, fmt.Errorf("%s: measure %q is neither ratio nor budget", pre, r.Measure))
		}
		if r.Floor() && r.FloorRatio > 1 {
			errs = append(errs, fmt.Errorf("%s: floor %v is over 100%%", pre, r.FloorRatio))
		}
		if !r.Floor() && !(r.BudgetShare > 0 && r.BudgetShare <= 1) {
			errs = append(errs, fmt.Errorf("%s: budget share %v is outside (0, 100%%]", pre, r.BudgetShare))
		}
		if r.Short <= 0 || r.Short >= r.Long {
			errs = append(errs, fmt.Errorf("%s: short window must be positive and shorter than the long window", pre))
		}
		if window > 0 && r.Long > window {
			errs = append(errs, fmt.Errorf("%s: long window is longer than the SLO window %s", pre, slo.FormatDuration(window)))
		}
	}
	return errors.Join(errs...)
}
