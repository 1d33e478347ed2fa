package burnrate

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/slodhq/slod/slo"
)

// Figure is a measured quantity (a burn rate, a share of the error budget,
// a time in seconds) that may be unknown. An unknown figure is NaN: the
// windows it needs hold no known step, as for an SLI without data. Keeping
// "unknown" inside the value, rather than in a flag beside a 0, means no
// reader can show an unmeasured figure as a measured 0; each output renders
// it in one place: MarshalJSON for JSON, Text for text.
type Figure float64

// Unknown returns the figure that could not be measured (NaN). It is a
// function, not a variable, so that nothing can reassign it.
func Unknown() Figure { return Figure(math.NaN()) }

// Known reports whether f was measured. ±Inf is known: a time to
// exhaustion of +Inf says the budget never runs out.
func (f Figure) Known() bool { return !math.IsNaN(float64(f)) }

// MarshalJSON writes an unknown figure as null, a finite one as a JSON
// number, and ±Inf as the strings "+Inf" and "-Inf" (as Prometheus's HTTP
// API writes them), because JSON numbers cannot hold NaN or infinities.
func (f Figure) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte("null"), nil
	case math.IsInf(x, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON is the inverse of MarshalJSON: null reads as unknown,
// "+Inf" and "-Inf" as the infinities, a number as itself.
func (f *Figure) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		*f = Unknown()
		return nil
	case `"+Inf"`:
		*f = Figure(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Figure(math.Inf(-1))
		return nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("figure %s: want a number, null, \"+Inf\" or \"-Inf\": %w", b, err)
	}
	*f = Figure(x)
	return nil
}

// Text is the one text rendering of a figure: "unknown" when it is
// unknown, else format applied to its value (strconv's shortest form when
// format is nil). Callers choose the unit (percent, ×, a duration); none
// decides again how unknown reads.
func (f Figure) Text(format func(float64) string) string {
	if !f.Known() {
		return "unknown"
	}
	if format == nil {
		return strconv.FormatFloat(float64(f), 'g', -1, 64)
	}
	return format(float64(f))
}

// FormatTimeToExhaustion renders an incident's time to exhaustion (a
// Figure of seconds): "unknown", "never" for +Inf, else slo.FormatDuration
// of it ("0s" once the budget is gone).
func FormatTimeToExhaustion(f Figure) string {
	return f.Text(func(s float64) string { return slo.FormatDuration(secondsDuration(s)) })
}

// secondsDuration converts seconds to a Duration, saturating at the
// largest Duration (which slo.FormatDuration writes as "never") and at 0.
func secondsDuration(s float64) time.Duration {
	ns := s * float64(time.Second)
	switch {
	case ns >= math.MaxInt64:
		return time.Duration(math.MaxInt64)
	case ns <= 0:
		return 0
	}
	return time.Duration(ns)
}
