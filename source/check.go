package source

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The rule IDs of the live checks, documented with an example each in
// docs/lint.md ("Live checks"). They continue slo's SLO001..SLO018 and
// are stable like them; they live here until slo/diag.go takes them over.
const (
	RuleNoSeries           = "SLO019" // the total (or raw ratio) query returns no series
	RuleThresholdBucket    = "SLO020" // latency threshold that is not a bucket of the histogram
	RuleGroupByMissing     = "SLO021" // group_by label missing from the result series
	RuleErrorsWithoutTotal = "SLO022" // error series without a total series of the same group_by labels
	RuleInstanceCap        = "SLO024" // more instances (group_by label sets) than the per-SLO cap
)

// checkSteps is how many steps before the check time Check reads: an hour
// at the default 1m step, as Diagnose probes.
const checkSteps = diagnoseSteps

// Finding is one problem Check found by running an SLO's queries against
// real data. It names the spec field it is about, so that a caller can
// report it at that field's position (Diagnostic does).
type Finding struct {
	// Field is a key of slo.Spec.FieldPos: "sli.events.total_query",
	// "sli.latency.threshold", "group_by[0]", ...
	Field    string
	Severity slo.Severity
	// Rule is one of the Rule* IDs above.
	Rule    string
	Message string
}

// Diagnostic renders f as a lint diagnostic at its field's position in
// spec's file (the SLO's own position when the field was not written).
func (f Finding) Diagnostic(spec *slo.Spec) slo.Diagnostic {
	return slo.Diagnostic{Pos: spec.PosOf(f.Field), Severity: f.Severity, Rule: f.Rule,
		Message: fmt.Sprintf("slo %q: %s", spec.ID, f.Message)}
}

// checkedQuery is one of an SLO's step queries, with the field that
// defines it and how to name it in a message.
type checkedQuery struct {
	name, field, text string
}

// Check runs spec's step queries (BuildQueries at resolution step) against
// q over the checkSteps steps that end at at (truncated to step), and
// reports what would make slod read the SLI wrongly:
//   - RuleNoSeries (error): the total query — the ratio query of a raw SLI —
//     returns no series, so every step is unknown; the message says why
//     (DiagnoseEmpty). An error query without series is fine on its own:
//     code=~"5.." has none while nothing fails.
//   - RuleThresholdBucket (error): a latency threshold that is not an le
//     value of every histogram series of the selector, listing the buckets.
//   - RuleGroupByMissing (error): a group_by label missing from some result
//     series, which then fold into one instance without it.
//   - RuleErrorsWithoutTotal (error): error series whose group_by labels
//     match no total series: their errors are never counted.
//
// It returns an error only when a query fails (the server cannot be asked,
// or refuses the query); findings are what the data says. It sends at most
// three range queries (plus DiagnoseEmpty's probes when the total has no
// series) and keeps no state: sloctl lint calls it per SLO; the daemon can
// call it at start and on reload with its own Querier, step and clock, and
// log the findings (Finding.Diagnostic places them in the SLO's file).
func Check(ctx context.Context, q Querier, spec *slo.Spec, at time.Time, step time.Duration) ([]Finding, error) {
	return CheckWith(ctx, q, spec, at, step, CheckOptions{})
}

// CheckOptions adds checks that need the daemon's settings.
type CheckOptions struct {
	// MaxInstances, when > 0, is slod's per-SLO instance cap
	// (--max-instances-per-slo): an SLO whose total query returns more
	// label sets gets a RuleInstanceCap warning.
	MaxInstances int
	// Resolution, when coarser than the step, reads the hour the checks
	// look at in points of this length instead of one per step: an SLO of
	// 100,000 instances asked for 60 points of each series took minutes
	// and timed out, and what the checks look for (which series exist,
	// their labels) does not depend on it.
	Resolution time.Duration
}

// CheckWith is Check with the checks of o.
func CheckWith(ctx context.Context, q Querier, spec *slo.Spec, at time.Time, step time.Duration, o CheckOptions) ([]Finding, error) {
	res := step
	if o.Resolution > step && o.Resolution%step == 0 {
		res = o.Resolution
	}
	qs, err := BuildQueries(spec, res)
	if err != nil {
		return nil, err
	}
	at = at.Truncate(step)
	span := time.Duration(checkSteps) * step
	start := at.Add(-span + res)
	read := func(cq checkedQuery) (model.Matrix, error) {
		mat, err := q.QueryRange(ctx, cq.text, start, at, res)
		if err != nil {
			return nil, fmt.Errorf("slo %q: check %s: %w", spec.ID, cq.name, err)
		}
		return slices.DeleteFunc(mat, func(s *model.SampleStream) bool { return len(s.Values) == 0 }), nil
	}
	errQ, totalQ := checkedQueries(spec, qs)
	var findings []Finding

	// The total decides whether a step is known; a raw SLI has only its ratio.
	probe := totalQ
	if qs.Raw() {
		probe = errQ
	}
	total, err := read(probe)
	if err != nil {
		return nil, err
	}
	var errs model.Matrix
	if !qs.Raw() {
		if errs, err = read(errQ); err != nil {
			return nil, err
		}
	}
	if len(total) == 0 {
		hint, err := DiagnoseEmpty(ctx, q, spec, step, at)
		if err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("%s returns no series at a step of %s", probe.name, model.Duration(res))
		if hint != "" {
			msg += ": " + hint
		} else {
			msg += fmt.Sprintf(" in the %s before %s", model.Duration(time.Duration(checkSteps)*step), at.UTC().Format(time.RFC3339))
		}
		msg += "; every step of this SLO would be unknown"
		if len(errs) > 0 {
			msg += fmt.Sprintf(" (%s does return series: their errors would never be counted)", errQ.name)
		}
		return append(findings, Finding{Field: probe.field, Severity: slo.SeverityError, Rule: RuleNoSeries, Message: msg}), nil
	}

	findings = append(findings, checkGroupBy(spec, []checkedQuery{probe, errQ}, []model.Matrix{total, errs})...)
	if o.MaxInstances > 0 && len(total) > o.MaxInstances {
		field := "group_by"
		if len(spec.GroupBy) == 0 {
			field = probe.field
		}
		findings = append(findings, Finding{Field: field, Severity: slo.SeverityWarning, Rule: RuleInstanceCap,
			Message: fmt.Sprintf("%s returns %d label sets (instances), over slod's cap of %d per SLO (--max-instances-per-slo): slod would evaluate %d and drop the rest, loudly (log, slod_instances_dropped, a banner); raise the cap or split the SLO",
				probe.name, len(total), o.MaxInstances, o.MaxInstances)})
	}
	if !qs.Raw() {
		if f, ok := checkErrorsWithoutTotal(spec, errQ, totalQ, errs, total); ok {
			findings = append(findings, f)
		}
	}
	if lat := spec.SLI.Latency; lat != nil {
		f, ok, err := checkThreshold(ctx, q, spec, lat, at, step)
		if err != nil {
			return nil, err
		}
		if ok {
			findings = append(findings, f)
		}
	}
	return findings, nil
}

// checkedQueries names spec's error and total queries and the fields that
// define them. A latency SLI's queries are built from the metric.
func checkedQueries(spec *slo.Spec, qs StepQueries) (errQ, totalQ checkedQuery) {
	switch {
	case spec.SLI.Events != nil:
		return checkedQuery{"error_query", "sli.events.error_query", qs.Errors},
			checkedQuery{"total_query", "sli.events.total_query", qs.Total}
	case spec.SLI.Raw != nil:
		return checkedQuery{"error_ratio_query", "sli.raw.error_ratio_query", qs.Errors}, checkedQuery{}
	default:
		m := spec.SLI.Latency.Metric
		return checkedQuery{"the error query of histogram " + m, "sli.latency.metric", qs.Errors},
			checkedQuery{"the total query of histogram " + m + " (" + m + "_count)", "sli.latency.metric", qs.Total}
	}
}

// checkGroupBy reports each group_by label that some result series lack:
// BuildQueries sums by the group_by labels, so series without one fold
// into a single instance that lacks it.
func checkGroupBy(spec *slo.Spec, queries []checkedQuery, results []model.Matrix) []Finding {
	var out []Finding
	for i, g := range spec.GroupBy {
		var in []string
		for j, mat := range results {
			for _, s := range mat {
				if s.Metric[model.LabelName(g)] == "" {
					in = append(in, queries[j].name)
					break
				}
			}
		}
		if len(in) == 0 {
			continue
		}
		out = append(out, Finding{Field: fmt.Sprintf("group_by[%d]", i), Severity: slo.SeverityError, Rule: RuleGroupByMissing,
			Message: fmt.Sprintf("group_by label %q is missing from series of %s: they fold into one instance without it; check the label name against the metric's labels",
				g, strings.Join(in, " and "))})
	}
	return out
}

// checkErrorsWithoutTotal reports error series whose group_by labels match
// no total series in the checked range: a step without a total is unknown,
// so those errors are never counted. Series that lack a group_by label are
// left to checkGroupBy.
func checkErrorsWithoutTotal(spec *slo.Spec, errQ, totalQ checkedQuery, errs, total model.Matrix) (Finding, bool) {
	key := func(m model.Metric) (string, bool) {
		ls := make(map[string]string, len(spec.GroupBy))
		for _, g := range spec.GroupBy {
			v := m[model.LabelName(g)]
			if v == "" {
				return "", false
			}
			ls[g] = string(v)
		}
		return burnrate.LabelsKey(ls), true
	}
	totals := map[string]bool{}
	for _, s := range total {
		if k, ok := key(s.Metric); ok {
			totals[k] = true
		}
	}
	var orphans []string
	for _, s := range errs {
		if k, ok := key(s.Metric); ok && !totals[k] {
			orphans = append(orphans, k)
		}
	}
	if len(orphans) == 0 {
		return Finding{}, false
	}
	slices.Sort(orphans)
	shown := orphans
	if len(shown) > 3 {
		shown = shown[:3]
	}
	more := ""
	if n := len(orphans) - len(shown); n > 0 {
		more = fmt.Sprintf(" and %d more", n)
	}
	by := "group_by labels"
	if len(spec.GroupBy) == 0 {
		by = "no group_by labels"
	}
	return Finding{Field: errQ.field, Severity: slo.SeverityError, Rule: RuleErrorsWithoutTotal,
		Message: fmt.Sprintf("%s returns series %s%s that match no series of %s (by %s): a step without a total is unknown, so their errors are never counted; select the same series in both queries",
			errQ.name, strings.Join(shown, ", "), more, totalQ.name, by)}, true
}

// checkThreshold reports a latency threshold that is not an le value of
// every histogram bucket series of the selector in the checked range. The
// SLI selects le="<threshold>" as text; without that bucket the good-request
// term is empty, the error query returns nothing, and slod counts no error.
func checkThreshold(ctx context.Context, q Querier, spec *slo.Spec, lat *slo.LatencySLI, at time.Time, step time.Duration) (Finding, bool, error) {
	ms, err := lat.Matchers()
	if err != nil {
		return Finding{}, false, fmt.Errorf("slo %q: %w", spec.ID, err)
	}
	sel := make([]string, 0, len(ms))
	for _, m := range ms {
		sel = append(sel, m.String())
	}
	bucket := lat.Metric + "_bucket"
	if len(sel) > 0 {
		bucket += "{" + strings.Join(sel, ",") + "}"
	}
	window := model.Duration(time.Duration(checkSteps) * step).String()
	query := "count by (le) (last_over_time(" + bucket + "[" + window + "]))"
	mat, err := q.QueryRange(ctx, query, at, at, step)
	if err != nil {
		return Finding{}, false, fmt.Errorf("slo %q: check histogram buckets: %w", spec.ID, err)
	}
	counts := map[string]float64{}
	series := 0.0 // histogram series of the selector: the most series of one le
	for _, s := range mat {
		if len(s.Values) == 0 {
			continue
		}
		n := float64(s.Values[len(s.Values)-1].Value)
		counts[string(s.Metric["le"])] = n
		series = math.Max(series, n)
	}
	f := Finding{Field: "sli.latency.threshold", Severity: slo.SeverityError, Rule: RuleThresholdBucket}
	want := slo.LeValue(lat.Threshold)
	if len(counts) == 0 {
		f.Message = fmt.Sprintf("histogram %s has no bucket series (%s) in the %s before %s, only %s_count: a latency SLI needs a histogram (a summary has no buckets)",
			lat.Metric, bucket, window, at.UTC().Format(time.RFC3339), lat.Metric)
		return f, true, nil
	}
	les := slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(cmp.Compare(parseLe(a), parseLe(b)), cmp.Compare(a, b))
	})
	buckets := strings.Join(les, ", ")
	n, found := counts[want]
	switch {
	case found && n >= series:
		return Finding{}, false, nil
	case found:
		f.Message = fmt.Sprintf("threshold %s is a bucket of only %g of the %g series of histogram %s (buckets: %s): the others would be counted wrongly (every request as slow when summed with the rest, unknown in an instance of their own); give every series the bucket or narrow the selector",
			want, n, series, lat.Metric, buckets)
	default:
		f.Message = fmt.Sprintf("threshold %s is no bucket of %s (buckets: %s): the error query selects le=%q, which no series has, so it returns nothing and every step of this SLO reads unknown (no data), never healthy",
			want, lat.Metric, buckets, want)
		for _, le := range les {
			if parseLe(le) == lat.Threshold {
				f.Message = fmt.Sprintf("threshold %s is bucket le=%q of %s only as a number (buckets: %s): the error query selects le=%q, which no series has, so it returns nothing and every step of this SLO reads unknown (no data), never healthy",
					want, le, lat.Metric, buckets, want)
			}
		}
	}
	return f, true, nil
}

// parseLe reads an le label value; one that is not a number sorts last.
func parseLe(le string) float64 {
	v, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return math.Inf(1)
	}
	return v
}
