package slo

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// RuleQueryGroupBy is the rule ID of a query whose outer aggregation keeps
// labels the SLO does not group by: in a native file, labels group_by does
// not name (slod would sum them away); in Sloth, Pyrra or OpenSLO files,
// error and total queries that aggregate by different labels.
const RuleQueryGroupBy = "SLO023"

// OuterGrouping returns the labels the outermost aggregation of an SLI query
// keeps, `sum by (cluster) (...)` giving [cluster], in the order written:
// the labels that tell the query's result series apart. It follows the
// query's result through parentheses, functions, vector-scalar arithmetic
// and the left-hand side of vector matching, and keeps only labels that
// survive the whole expression (keepsLabel). ok is false when the query
// does not parse or the result has no such aggregation: a bare selector, a
// `without` aggregation (whose labels the query does not name), or a plain
// `sum (...)`, which returns one series (nil labels, ok true).
func OuterGrouping(query string) (labels []string, ok bool) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(ExpandWindow(query, "5m"))
	if err != nil {
		return nil, false
	}
	return outerGrouping(e)
}

func outerGrouping(e parser.Expr) ([]string, bool) {
	agg := resultAggregation(e)
	if agg == nil || agg.Without {
		return nil, false
	}
	var out []string
	for _, l := range agg.Grouping {
		if keepsLabel(e, l) && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, true
}

// resultAggregation descends from e along the path that decides its result
// labels and returns the first aggregation met (nil when there is none).
func resultAggregation(e parser.Expr) *parser.AggregateExpr {
	for {
		switch n := e.(type) {
		case *parser.ParenExpr:
			e = n.Expr
		case *parser.UnaryExpr:
			e = n.Expr
		case *parser.StepInvariantExpr:
			e = n.Expr
		case *parser.AggregateExpr:
			switch n.Op.String() {
			case "topk", "bottomk", "limitk", "limit_ratio":
				e = n.Expr // these keep their argument's labels
				continue
			}
			return n
		case *parser.BinaryExpr:
			if n.LHS.Type() == parser.ValueTypeVector {
				e = n.LHS
			} else {
				e = n.RHS
			}
		case *parser.Call:
			var next parser.Expr
			for _, a := range n.Args {
				if a.Type() == parser.ValueTypeVector {
					next = a
					break
				}
			}
			if next == nil {
				return nil
			}
			e = next
		default:
			return nil
		}
	}
}

// groupByFromQueries makes the labels a foreign SLO's queries aggregate by
// its group_by, so that `sum by (cluster) (...)` in a Sloth, Pyrra or
// OpenSLO file alerts per cluster as it did in that tool, instead of being
// summed into one instance. It leaves native SLOs, SLOs with a group_by
// and latency SLIs (built by slod) alone. Error and total queries that
// aggregate by different labels are a RuleQueryGroupBy error at the error
// query. The group_by position is the query's, so later diagnostics about
// those labels point at the query that named them.
func (d *decoder) groupByFromQueries(specs []*Spec) {
	for _, s := range specs {
		if s.Format == FormatNative || len(s.GroupBy) > 0 {
			continue
		}
		var field string
		var labels []string
		switch {
		case s.SLI.Events != nil:
			el, eok := OuterGrouping(s.SLI.Events.ErrorQuery)
			tl, tok := OuterGrouping(s.SLI.Events.TotalQuery)
			if !eok || !tok {
				continue // unparsable (SLO010) or not aggregated by named labels
			}
			if !sameLabels(el, tl) {
				d.diags = append(d.diags, Diagnostic{Pos: s.PosOf("sli.events.error_query"), Severity: SeverityError, Rule: RuleQueryGroupBy,
					Message: fmt.Sprintf("slo %q: error query aggregates by (%s) but total query by (%s): slod makes these labels the SLO's instances, so both queries must aggregate by the same labels",
						s.ID, strings.Join(el, ", "), strings.Join(tl, ", "))})
				continue
			}
			field, labels = "sli.events.total_query", tl
		case s.SLI.Raw != nil:
			l, ok := OuterGrouping(s.SLI.Raw.ErrorRatioQuery)
			if !ok {
				continue
			}
			field, labels = "sli.raw.error_ratio_query", l
		default:
			continue
		}
		if len(labels) == 0 {
			continue
		}
		s.GroupBy = labels
		if s.FieldPos == nil {
			s.FieldPos = map[string]Position{}
		}
		pos := s.PosOf(field)
		s.FieldPos["group_by"] = pos
		for i := range labels {
			s.FieldPos[fmt.Sprintf("group_by[%d]", i)] = pos
		}
	}
}

// sameLabels reports whether a and b hold the same labels, in any order.
func sameLabels(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// ungroupedLabels returns the labels the outer aggregation of a native
// SLO's query keeps that its group_by does not name: slod sums every query
// by group_by, so those would be summed away (RuleQueryGroupBy).
func ungroupedLabels(e parser.Expr, groupBy []string) []string {
	labels, ok := outerGrouping(e)
	if !ok {
		return nil
	}
	var out []string
	for _, l := range labels {
		if !slices.Contains(groupBy, l) {
			out = append(out, l)
		}
	}
	return out
}
