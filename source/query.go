// Package source reads per-step error and event counts for SLOs from a
// Prometheus-compatible HTTP API or from an embedded PromQL engine, and
// feeds them to burnrate evaluators: the newest steps on every tick, and
// the whole gap, chunked and tiered, at start-up and after an outage.
package source

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/slo"
)

// StepQueries are the PromQL queries that count one SLO's errors and events
// at one resolution.
type StepQueries struct {
	// Errors and Total return per-second rates over one resolution interval
	// (events and latency SLIs), one series per group_by label set. For a
	// raw SLI, Errors returns the error ratio and Total is empty.
	Errors, Total string
	// Resolution is the interval each query result covers (the {{.window}}).
	Resolution time.Duration
	// ErrorsRequired is set when the error query always has a series while
	// the SLI's series exist (a latency SLI: count − the threshold's
	// bucket), so a missing one means a missing bucket, not zero errors.
	ErrorsRequired bool
}

// Raw reports whether the queries measure an error ratio (a raw SLI).
func (q StepQueries) Raw() bool { return q.Total == "" }

// Counts turns one step's query values into errors and events.
// Events and latency SLIs: value × resolution seconds. A step where the
// total has a value but the error query returned nothing counts zero
// errors (a selector such as code=~"5.." has no series while nothing
// fails), except for a latency SLI, whose error query has a series
// whenever its bucket exists; a step without a total is unknown (NaN). Raw SLIs count each step
// of the evaluator as one event whose error share is the ratio, clamped to
// [0, 1], so a coarse interval of n steps counts n events.
func (q StepQueries) Counts(errs, total float64, hasErrs, hasTotal bool, step time.Duration) (float64, float64) {
	if q.Raw() {
		if !hasErrs || math.IsNaN(errs) {
			return math.NaN(), math.NaN()
		}
		n := float64(q.Resolution / step)
		return math.Min(math.Max(errs, 0), 1) * n, n
	}
	if !hasTotal {
		return math.NaN(), math.NaN()
	}
	if !hasErrs {
		if q.ErrorsRequired {
			// A latency threshold whose bucket is absent: every request
			// would read good. Unknown, never healthy.
			return math.NaN(), math.NaN()
		}
		errs = 0
	}
	s := q.Resolution.Seconds()
	return errs * s, total * s
}

// BuildQueries expands an SLO's SLI templates for one resolution:
// {{.window}} becomes the resolution (a PromQL duration such as 1m), and the
// result is summed by the SLO's group_by labels (sum by (route) (...)), or
// summed to one series without group_by, so that every query returns at most
// one series per instance. Raw ratios are averaged instead of summed.
// group_by names must be valid label names: a name cannot be escaped, so
// one that is not is refused rather than templated into PromQL. Label
// values reach PromQL only through slo's latency builder, which quotes them.
func BuildQueries(spec *slo.Spec, resolution time.Duration) (StepQueries, error) {
	if resolution < time.Second || resolution%time.Second != 0 {
		return StepQueries{}, fmt.Errorf("slo %q: resolution %s is not a whole number of seconds", spec.ID, resolution)
	}
	for _, g := range spec.GroupBy {
		if !slo.ValidLabelName(g) {
			return StepQueries{}, fmt.Errorf("slo %q: group_by label %q is not a valid label name", spec.ID, g)
		}
	}
	errQ, totalQ, err := spec.SLI.Queries(spec.GroupBy...)
	if err != nil {
		return StepQueries{}, fmt.Errorf("slo %q: %w", spec.ID, err)
	}
	w := model.Duration(resolution).String()
	agg := "sum"
	if totalQ == "" {
		agg = "avg"
	}
	wrap := func(q string) string {
		q = slo.ExpandWindow(q, w)
		if aggregatedBy(q, agg, spec.GroupBy) {
			// Already one series per instance: a second aggregation
			// would change nothing but cost the server (at 100,000
			// series, 0.4–0.8 s of CPU a query).
			return q
		}
		if len(spec.GroupBy) == 0 {
			return agg + " (" + q + ")"
		}
		return agg + " by (" + strings.Join(spec.GroupBy, ", ") + ") (" + q + ")"
	}
	out := StepQueries{Errors: wrap(errQ), Resolution: resolution, ErrorsRequired: spec.SLI.Latency != nil}
	if totalQ != "" {
		out.Total = wrap(totalQ)
	}
	return out, nil
}

// aggregatedBy reports whether query is already the aggregation op by
// exactly the labels groupBy (in any order; none: op without grouping),
// so wrapping it in the same aggregation would return the same series.
func aggregatedBy(query, op string, groupBy []string) bool {
	a, ok := outerAggregate(query)
	if !ok || a.Op.String() != op || a.Without || a.Param != nil || len(a.Grouping) != len(groupBy) {
		return false
	}
	for _, g := range groupBy {
		if !slices.Contains(a.Grouping, g) {
			return false
		}
	}
	return true
}

// outerAggregate is the aggregation a query is, parentheses aside; false
// when it is anything else or does not parse.
func outerAggregate(query string) (*parser.AggregateExpr, bool) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(query)
	if err != nil {
		return nil, false
	}
	for {
		p, ok := expr.(*parser.ParenExpr)
		if !ok {
			break
		}
		expr = p.Expr
	}
	a, ok := expr.(*parser.AggregateExpr)
	return a, ok
}
