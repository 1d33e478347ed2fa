package slo

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/prometheus/prometheus/promql/parser"
)

// OpenSLO queries read a metric as it stands ("sum(http_requests_total)"),
// while slod's SLI queries read it over a window given by {{.window}} and
// return a per-second rate (EventsSLI) or a ratio over the window (RawSLI).
// windowQuery bridges the two with the PromQL parser.

// How windowQuery reads a metric without a range.
const (
	// readCounter: each bare selector becomes rate(sel[{{.window}}]), the
	// per-second increase an EventsSLI query returns.
	readCounter = "rate"
	// readGauge: each bare selector becomes avg_over_time(sel[{{.window}}]),
	// the time-weighted mean of the gauge over the window.
	readGauge = "avg_over_time"
)

// rangeSentinel stands for {{.window}} while the query is a parsed tree:
// the parser only holds durations. It is replaced in the rendered text
// with the placeholder. Every range becomes the placeholder anyway, so a
// query that happens to use [11h11m11s] loses nothing.
const rangeSentinel = 11*time.Hour + 11*time.Minute + 11*time.Second

// windowQuery rewrites an OpenSLO query into a slod SLI query template:
//   - a query that already holds {{.window}} is returned as written;
//   - every range of a range selector or subquery ([5m]) becomes [{{.window}}];
//   - every other vector selector sel becomes fn(sel[{{.window}}]), fn
//     being readCounter or readGauge;
//   - with sum, a query that is a bare selector is summed, so it returns
//     one series of event counts as OpenSLO's good (or bad) to total ratio
//     implies; ratios and threshold metrics are not summed.
//
// Selectors inside a subquery are left alone: the subquery evaluates them
// at its own steps. Offsets and @ modifiers are kept. The user's text is
// kept and only edited where a selector or range is; a query with offsets,
// @ or subqueries is rendered from its parsed form instead.
func windowQuery(q, fn string, sum bool) (string, error) {
	q = strings.TrimSpace(q)
	if hasPlaceholder(q) {
		return q, nil
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return "", fmt.Errorf("does not parse as PromQL: %s", oneLine(err.Error()))
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		return "", fmt.Errorf("must return an instant vector, it returns a %s", t)
	}
	if out, ok := spliceRanges(q, expr, fn, sum); ok {
		return out, nil
	}
	if _, bare := expr.(*parser.VectorSelector); bare && sum {
		expr = &parser.AggregateExpr{Op: parser.SUM, Expr: expr}
	}
	expr = rewriteRanges(expr, fn)
	sentinel := model.Duration(rangeSentinel).String()
	out := expr.String()
	out = strings.ReplaceAll(out, "["+sentinel+"]", "["+WindowPlaceholder+"]")
	out = strings.ReplaceAll(out, "["+sentinel+":", "["+WindowPlaceholder+":")
	if strings.Contains(out, sentinel) {
		// An offset or subquery step of exactly the sentinel.
		return "", fmt.Errorf("uses the duration %s outside a range, which slod reserves", sentinel)
	}
	return out, nil
}

// spliceRanges applies windowQuery's rules by editing the text of q at the
// positions the parser reports, so the query reads as its author wrote it.
// ok is false when q holds a subquery, an offset or @, whose text a plain
// edit cannot place correctly.
func spliceRanges(q string, expr parser.Expr, fn string, sum bool) (string, bool) {
	type edit struct {
		start, end int
		text       string
	}
	var edits []edit
	plain := func(vs *parser.VectorSelector) bool {
		return vs.OriginalOffset == 0 && vs.OriginalOffsetExpr == nil && vs.Timestamp == nil && vs.StartOrEnd == 0
	}
	ok := true
	parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			ok = false
		case *parser.MatrixSelector:
			vs, isVS := n.VectorSelector.(*parser.VectorSelector)
			if !isVS || !plain(vs) {
				ok = false
				return nil
			}
			start, end := int(vs.PosRange.End), int(n.EndPos)
			if start < 0 || end > len(q) || start >= end || !strings.HasPrefix(strings.TrimSpace(q[start:end]), "[") {
				ok = false
				return nil
			}
			edits = append(edits, edit{start, end, "[" + WindowPlaceholder + "]"})
		case *parser.VectorSelector:
			if len(path) > 0 {
				if _, inMatrix := path[len(path)-1].(*parser.MatrixSelector); inMatrix {
					return nil
				}
			}
			if !plain(n) {
				ok = false
				return nil
			}
			start, end := int(n.PosRange.Start), int(n.PosRange.End)
			if start < 0 || end > len(q) || start >= end {
				ok = false
				return nil
			}
			edits = append(edits, edit{start, start, fn + "("}, edit{end, end, "[" + WindowPlaceholder + "])"})
		}
		return nil
	})
	if !ok {
		return "", false
	}
	slices.SortStableFunc(edits, func(a, b edit) int { return cmp.Compare(b.start, a.start) })
	out := q
	for _, e := range edits {
		out = out[:e.start] + e.text + out[e.end:]
	}
	if _, bare := expr.(*parser.VectorSelector); bare && sum {
		out = "sum(" + out + ")"
	}
	return out, true
}

// rewriteRanges applies windowQuery's rules to e and returns the new tree.
func rewriteRanges(e parser.Expr, fn string) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return &parser.Call{
			Func:     parser.Functions[fn],
			Args:     parser.Expressions{&parser.MatrixSelector{VectorSelector: n, Range: rangeSentinel}},
			PosRange: n.PosRange,
		}
	case *parser.MatrixSelector:
		n.Range, n.RangeExpr = rangeSentinel, nil
	case *parser.SubqueryExpr:
		n.Range, n.RangeExpr = rangeSentinel, nil
	case *parser.AggregateExpr:
		n.Expr = rewriteRanges(n.Expr, fn)
		if n.Param != nil {
			n.Param = rewriteRanges(n.Param, fn)
		}
	case *parser.BinaryExpr:
		n.LHS = rewriteRanges(n.LHS, fn)
		n.RHS = rewriteRanges(n.RHS, fn)
	case *parser.Call:
		for i, a := range n.Args {
			n.Args[i] = rewriteRanges(a, fn)
		}
	case *parser.ParenExpr:
		n.Expr = rewriteRanges(n.Expr, fn)
	case *parser.UnaryExpr:
		n.Expr = rewriteRanges(n.Expr, fn)
	case *parser.StepInvariantExpr:
		n.Expr = rewriteRanges(n.Expr, fn)
	}
	return e
}

// failingOp is the PromQL comparison that holds when a thresholdMetric
// value fails an objective's op: good when value lte 0.3 means bad when
// value > 0.3.
var failingOp = map[string]string{"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}

// thresholdQuery turns a thresholdMetric query and an objective's op and
// value into a raw SLI's error-ratio query: the share of the window in
// which the metric, averaged over the window, fails the objective — 1 or 0
// for one evaluation step, averaged by slod over longer windows.
func thresholdQuery(q, op string, value float64) (string, error) {
	w, err := windowQuery(q, readGauge, false)
	if err != nil {
		return "", err
	}
	cmp, ok := failingOp[op]
	if !ok {
		return "", fmt.Errorf("op %q is not one of lt, lte, gt, gte", op)
	}
	return "(" + w + ") " + cmp + " bool " + formatNumber(value), nil
}

func formatNumber(x float64) string {
	return strconv.FormatFloat(x, 'g', -1, 64)
}
