package slo

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// hasPlaceholder reports whether q holds {{.window}} in either spelling.
func hasPlaceholder(q string) bool {
	return strings.Contains(q, WindowPlaceholder) || strings.Contains(q, "{{ .window }}")
}

// ValidLabelName reports whether name is a classic Prometheus label name
// that can be written unquoted in PromQL and is not reserved (__*).
func ValidLabelName(name string) bool {
	return labelNameRE.MatchString(name) && !strings.HasPrefix(name, "__")
}

// QuoteLabelValue renders v as a PromQL string literal: quotes, backslashes
// and control characters are escaped, so no value can end the literal and
// inject PromQL of its own.
func QuoteLabelValue(v string) string {
	return strconv.Quote(v)
}

// LabelMatchers renders equality matchers for ls, sorted by name, as PromQL
// matchers without braces: a="x",b="y". Values are escaped with
// QuoteLabelValue. It returns an error for a label name that is not a valid
// Prometheus label name, since a name cannot be escaped.
func LabelMatchers(ls map[string]string) (string, error) {
	names := make([]string, 0, len(ls))
	for n := range ls {
		if !labelNameRE.MatchString(n) {
			return "", fmt.Errorf("invalid label name %q", n)
		}
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(QuoteLabelValue(ls[n]))
	}
	return b.String(), nil
}

// ErrNoQuery is returned for a query an SLI kind does not have: the total
// query of a raw SLI.
var ErrNoQuery = errors.New("this SLI kind has no such query")

// Queries returns the error and total query templates of the SLI, each
// holding {{.window}}, so that generated rules and the evaluator share one
// definition:
//   - events: the two queries as written (groupBy is not applied: the
//     queries must keep those labels themselves, which lint checks);
//   - raw: the error-ratio query as errorQuery, and an empty totalQuery;
//   - latency: errors = requests slower than the threshold, built from the
//     histogram: sum(rate(M_count{sel}[w])) - sum(rate(M_bucket{sel,le="T"}[w]))
//     and total = sum(rate(M_count{sel}[w])), summed by groupBy when given.
//
// The latency selector is parsed and re-rendered from its matchers, and the
// metric and groupBy names are checked, so the result is always the query
// the fields describe: no field value can inject PromQL.
func (s SLI) Queries(groupBy ...string) (errorQuery, totalQuery string, err error) {
	switch {
	case s.Events != nil:
		return s.Events.ErrorQuery, s.Events.TotalQuery, nil
	case s.Raw != nil:
		return s.Raw.ErrorRatioQuery, "", nil
	case s.Latency != nil:
		return s.Latency.queries(groupBy)
	}
	return "", "", errors.New("SLI has no kind set")
}

// ErrorQuery is the error query template of Queries, or "" when the SLI
// cannot produce one (an invalid latency selector).
func (s SLI) ErrorQuery(groupBy ...string) string {
	q, _, err := s.Queries(groupBy...)
	if err != nil {
		return ""
	}
	return q
}

// TotalQuery is the total query template of Queries ("" for raw SLIs and
// for an SLI that cannot produce one).
func (s SLI) TotalQuery(groupBy ...string) string {
	_, q, err := s.Queries(groupBy...)
	if err != nil {
		return ""
	}
	return q
}

// ErrorQuery is the SLI's error query template, grouped by the SLO's group_by.
func (s *Spec) ErrorQuery() string { return s.SLI.ErrorQuery(s.GroupBy...) }

// TotalQuery is the SLI's total query template, grouped by the SLO's group_by.
func (s *Spec) TotalQuery() string { return s.SLI.TotalQuery(s.GroupBy...) }

// Matchers parses the latency selector into label matchers. Matchers on
// the metric name and on le are rejected: the SLI sets both itself.
func (l *LatencySLI) Matchers() ([]*labels.Matcher, error) {
	if strings.TrimSpace(l.Selector) == "" {
		return nil, nil
	}
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector("{" + l.Selector + "}")
	if err != nil {
		return nil, fmt.Errorf("selector %q is not a list of label matchers: %w", l.Selector, err)
	}
	for _, m := range ms {
		switch m.Name {
		case labels.MetricName:
			return nil, fmt.Errorf("selector must not match on the metric name: set metric instead")
		case "le":
			return nil, fmt.Errorf("selector must not match on le: set threshold instead")
		}
	}
	return ms, nil
}

// LeValue renders a histogram bucket bound as client libraries write the le
// label (shortest float form: 0.3, 1, 2.5).
func LeValue(threshold float64) string {
	return strconv.FormatFloat(threshold, 'g', -1, 64)
}

func (l *LatencySLI) queries(groupBy []string) (string, string, error) {
	if !metricNameRE.MatchString(l.Metric) {
		return "", "", fmt.Errorf("invalid histogram metric name %q", l.Metric)
	}
	if !(l.Threshold > 0) {
		return "", "", fmt.Errorf("threshold must be positive, got %v", l.Threshold)
	}
	for _, g := range groupBy {
		if !labelNameRE.MatchString(g) {
			return "", "", fmt.Errorf("invalid group_by label name %q", g)
		}
	}
	ms, err := l.Matchers()
	if err != nil {
		return "", "", err
	}
	sel := make([]string, 0, len(ms)+1)
	for _, m := range ms {
		sel = append(sel, m.String())
	}
	agg := "sum"
	if len(groupBy) > 0 {
		agg = "sum by (" + strings.Join(groupBy, ", ") + ")"
	}
	rate := func(metric string, matchers []string) string {
		s := metric
		if len(matchers) > 0 {
			s += "{" + strings.Join(matchers, ",") + "}"
		}
		return agg + "(rate(" + s + "[" + WindowPlaceholder + "]))"
	}
	total := rate(l.Metric+"_count", sel)
	good := rate(l.Metric+"_bucket", append(slices.Clip(sel), `le=`+QuoteLabelValue(LeValue(l.Threshold))))
	return total + " - " + good, total, nil
}

// Series returns the selectors of the series the SLI cannot do without, so
// that their absence reads as a broken SLI (NoDataBroken) rather than as
// health: for events SLIs those of the total query (an error series may
// rightly not exist while nothing fails: a code="500" counter appears with
// the first 500), for latency SLIs the _count series and the exact
// _bucket{le="<threshold>"} series (so a threshold that is no bucket bound
// is broken, not 100% good), for raw SLIs every series of the query.
// Selectors are rendered without offset or @ and in first-seen order,
// without duplicates.
func (s SLI) Series() ([]string, error) {
	var queries []string
	switch {
	case s.Events != nil:
		queries = []string{s.Events.TotalQuery}
	case s.Raw != nil:
		queries = []string{s.Raw.ErrorRatioQuery}
	case s.Latency != nil:
		errQ, _, err := s.Latency.queries(nil)
		if err != nil {
			return nil, err
		}
		queries = []string{errQ} // _count − _bucket{le}: both series
	default:
		return nil, errors.New("SLI has no kind set")
	}
	var out []string
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		e, err := p.ParseExpr(ExpandWindow(q, "5m"))
		if err != nil {
			return nil, fmt.Errorf("query %q does not parse: %w", q, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			c := *vs
			c.OriginalOffset, c.Offset, c.Timestamp, c.StartOrEnd = 0, 0, nil, 0
			if sel := c.String(); !slices.Contains(out, sel) {
				out = append(out, sel)
			}
			return nil
		})
	}
	return out, nil
}
