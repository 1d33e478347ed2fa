// Package burnrate holds the multi-window multi-burn-rate policy math shared
// by the generated Prometheus rules and the slod daemon, the incremental
// ring-buffer evaluator, and incidents with their ranking. It does no I/O.
package burnrate

import (
	"time"
)

// Severity is the class of an alert: a page wakes someone, a ticket waits.
type Severity string

// The severity classes, most urgent first.
const (
	SeverityPage   Severity = "page"
	SeverityTicket Severity = "ticket"
)

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
	t := r.Factor(window) * errorBudget * float64(r.Long) / errorRatio
	if t > float64(r.Long) {
		return 0, false
	}
	return time.Duration(t), true
}
