package burnrate

import (
	"encoding/json"
	"time"

	"github.com/slodhq/slod/slo"
)

// ExplainRatios are the constant error ratios Explain reports detection for
// when the caller names none: a full outage, 10% and 1% of events failing.
var ExplainRatios = []float64{1, 0.1, 0.01}

// Detection is how one policy row reacts to a constant error ratio that
// starts on a clean history and keeps going.
type Detection struct {
	// ErrorRatio is the constant share of failing events (1 = full outage).
	ErrorRatio float64 `json:"error_ratio"`
	// Fires is false when the ratio never reaches the row's factor.
	Fires bool `json:"fires"`
	// After is the time from the start of the errors to the alert:
	// share × W × (1 − objective) / error ratio.
	After time.Duration `json:"-"`
	// BudgetSpent is the fraction of the window's error budget spent when
	// the alert fires: error ratio × After / ((1 − objective) × W). With the
	// formula above it equals the row's budget share.
	BudgetSpent float64 `json:"budget_spent"`
	// Reset is how long the row keeps firing after the errors stop, once the
	// burn has lasted at least the short window: the short window's error
	// ratio decays linearly from e to 0 over the short window and drops
	// under the threshold after short × (1 − threshold / e).
	Reset time.Duration `json:"-"`
	// Traffic is the traffic during the burn as a multiple of its mean
	// over W (1: steady). A budget row's burn is the ratio's times Traffic,
	// so it detects in After / Traffic.
	Traffic float64 `json:"traffic"`
}

// RowExplanation is one policy row worked out for an SLO.
type RowExplanation struct {
	Row Row `json:"-"`
	// Severity, Long, Short and BudgetShare repeat the row for JSON readers.
	Severity    Severity `json:"severity"`
	Long        string   `json:"long"`
	Short       string   `json:"short"`
	BudgetShare float64  `json:"budget_share"`
	// Measure is ratio, budget or floor.
	Measure string `json:"measure"`
	// Factor is the burn-rate threshold, share × W / long.
	Factor float64 `json:"factor"`
	// ErrorRatio is the error ratio that triggers the row, factor × (1 − objective).
	ErrorRatio float64 `json:"error_ratio"`
	// CanFire is false when ErrorRatio exceeds 1: the row can never fire.
	CanFire    bool        `json:"can_fire"`
	Detections []Detection `json:"detections"`
}

// Explain works out every row of the policy for an SLO with the given window
// and error budget (1 − objective): its factor, the error ratio that
// triggers it, and detection for each of ratios (ExplainRatios when none).
func (p Policy) Explain(window time.Duration, errorBudget float64, ratios ...float64) []RowExplanation {
	return p.ExplainAt(window, errorBudget, 1, ratios...)
}

// ExplainAt is Explain for a burn during which traffic runs at traffic
// times its mean over W: budget rows detect in time / traffic (sooner at
// peak, later at night); ratio and floor rows do not depend on it.
func (p Policy) ExplainAt(window time.Duration, errorBudget, traffic float64, ratios ...float64) []RowExplanation {
	if len(ratios) == 0 {
		ratios = ExplainRatios
	}
	out := make([]RowExplanation, 0, len(p.Rows))
	for _, r := range p.Rows {
		threshold := r.ErrorRatio(window, errorBudget)
		x := RowExplanation{
			Row:         r,
			Severity:    r.Severity,
			Long:        slo.FormatDuration(r.Long),
			Short:       slo.FormatDuration(r.Short),
			BudgetShare: r.BudgetShare,
			Measure:     string(MeasureRatio),
			Factor:      r.Threshold(window, errorBudget),
			ErrorRatio:  threshold,
			CanFire:     r.CanFire(window, errorBudget),
		}
		tr := 1.0
		switch {
		case r.Floor():
			x.Measure = "floor"
		case r.Budget():
			x.Measure, tr = string(MeasureBudget), traffic
		}
		for _, e := range ratios {
			d := Detection{ErrorRatio: e, Traffic: tr}
			if t, ok := r.DetectionTimeAt(window, errorBudget, e, tr); ok {
				d.Fires = true
				d.After = t
				// Errors run at e × traffic × the mean rate: the budget
				// spent by then is the row's share (for a budget row).
				d.BudgetSpent = e * tr * t.Seconds() / (errorBudget * window.Seconds())
				d.Reset = time.Duration(float64(r.Short) * (1 - threshold/(e*tr)))
			}
			x.Detections = append(x.Detections, d)
		}
		out = append(out, x)
	}
	return out
}

// MarshalJSON writes durations in seconds (after_seconds, reset_seconds),
// the unit dashboards and scripts expect.
func (d Detection) MarshalJSON() ([]byte, error) {
	type plain Detection
	return json.Marshal(struct {
		plain
		AfterSeconds float64 `json:"after_seconds"`
		ResetSeconds float64 `json:"reset_seconds"`
	}{plain(d), d.After.Seconds(), d.Reset.Seconds()})
}
