package burnrate

import (
	"fmt"
	"math"
	"time"

	"github.com/slodhq/slod/slo"
)

// checkTimeSlices refuses a time-slice SLO whose slice is not the
// evaluator's step: each step is judged as one slice as it is ingested.
func checkTimeSlices(spec *slo.Spec, step time.Duration) error {
	ts := spec.TimeSlices
	if ts == nil || ts.Length == step {
		return nil
	}
	return fmt.Errorf("slo %q: time slices of %s need the evaluator step (--step) to be %s, not %s",
		spec.ID, slo.FormatDuration(ts.Length), slo.FormatDuration(ts.Length), slo.FormatDuration(step))
}

// slice turns the counts of one step of a time-slice SLO into one slice
// (slo.TimeSlices.Count): an event, an error when the slice misses its
// target, unknown without data or events. A coarse interval of per > 1
// steps cannot be judged slice by slice and is unknown (source.Plan reads
// a time-slice SLO at the step). Other SLOs' counts pass unchanged.
func (e *Evaluator) slice(errs, total float64, per int64) (float64, float64) {
	ts := e.spec.TimeSlices
	if ts == nil {
		return errs, total
	}
	if per > 1 {
		return math.NaN(), math.NaN()
	}
	return ts.Count(errs, total)
}
