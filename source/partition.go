package source

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Partition is one shard's part of a group_by SLO's series, selected in
// the query itself so that the server evaluates and returns only that part.
//
// A series belongs to the shard given by the value of one label, Label:
// each of the value's last two characters maps to a class (an ASCII
// character c to c mod Count, every other character to 0; a missing
// character, in a value shorter than two, to 0), and the shard is the sum
// of the two classes mod Count. A series without the label (the empty
// value) belongs to shard 0. The partition is exact (every value has one
// shard) and stable (a value's shard depends on that value only, not on
// the others), and it is a plain regular expression, so a `=~` matcher on
// the SLI's selectors selects it on Prometheus, Thanos, Mimir/Cortex and
// VictoriaMetrics alike: no server offers hash-mod selection of series in
// a query (Prometheus's hashmod is a relabelling action, at scrape time).
type Partition struct {
	Label        string
	Index, Count int
}

// class is the class of one character.
func (p Partition) class(r rune) int {
	if r >= 0 && r < utf8.RuneSelf {
		return int(r) % p.Count
	}
	return 0
}

// Shard is the shard that owns a label value.
func (p Partition) Shard(value string) int {
	if p.Count <= 1 {
		return 0
	}
	last, n := utf8.DecodeLastRuneInString(value)
	if n == 0 {
		return 0
	}
	sum := p.class(last)
	if prev, m := utf8.DecodeLastRuneInString(value[:len(value)-n]); m > 0 {
		sum += p.class(prev)
	}
	return sum % p.Count
}

// Owns reports whether the partition holds the label value.
func (p Partition) Owns(value string) bool { return p.Shard(value) == p.Index }

// OwnsKey reports whether the partition holds the instance whose key is
// labelsKey (burnrate.LabelsKey of its labels). A key that does not parse
// is not owned.
func (p Partition) OwnsKey(labelsKey string) bool {
	v, ok := keyLabel(labelsKey, p.Label)
	return ok && p.Owns(v)
}

// keyLabel reads the value of label name from a burnrate.LabelsKey
// ({a="x",b="y"}, values quoted by strconv.Quote); a label that is not in
// the key has the empty value.
func keyLabel(key, name string) (string, bool) {
	if !strings.HasPrefix(key, "{") || !strings.HasSuffix(key, "}") {
		return "", false
	}
	rest := key[1 : len(key)-1]
	for rest != "" {
		n, after, ok := strings.Cut(rest, "=")
		if !ok {
			return "", false
		}
		q, err := strconv.QuotedPrefix(after)
		if err != nil {
			return "", false
		}
		if n == name {
			v, err := strconv.Unquote(q)
			return v, err == nil
		}
		rest = strings.TrimPrefix(after[len(q):], ",")
	}
	return "", true
}

// charClass is the bracketed class of the characters in class c.
func (p Partition) charClass(c int) string {
	var b strings.Builder
	b.WriteByte('[')
	for r := rune(0); r < utf8.RuneSelf; r++ {
		if int(r)%p.Count != c {
			continue
		}
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\x%02x`, r)
		}
	}
	if c == 0 {
		b.WriteString(`\x{80}-\x{10ffff}`)
	}
	b.WriteByte(']')
	return b.String()
}

// Regex is the regular expression (RE2, anchored by the server as every
// PromQL regex matcher is) of the label values the partition holds.
func (p Partition) Regex() string {
	if p.Count <= 1 {
		return "(?s:.*)"
	}
	var alts []string
	for a := range p.Count {
		b := ((p.Index-a)%p.Count + p.Count) % p.Count
		alts = append(alts, p.charClass(a)+p.charClass(b))
	}
	re := "(?s:.*)(?:" + strings.Join(alts, "|") + ")|" + p.charClass(p.Index)
	if p.Index == 0 {
		re += "|" // the empty value: series without the label
	}
	return re
}

// Matcher is the label matcher that selects the partition.
func (p Partition) Matcher() *labels.Matcher {
	return labels.MustNewMatcher(labels.MatchRegexp, p.Label, p.Regex())
}

// Select rewrites a PromQL query so that every vector selector in it
// (inside functions, aggregations, subqueries and binary operations)
// selects only the partition's series. The label must be on every series
// the query selects, as it is for the SLI of a group_by SLO that
// aggregates by it.
func (p Partition) Select(query string) (string, error) {
	if query == "" || p.Count <= 1 {
		return query, nil
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(query)
	if err != nil {
		return "", fmt.Errorf("partition: %w", err)
	}
	m := p.Matcher()
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, m)
		}
		return nil
	})
	return expr.String(), nil
}

// Apply partitions a SLO's step queries.
func (p Partition) Apply(qs StepQueries) (StepQueries, error) {
	var err error
	if qs.Errors, err = p.Select(qs.Errors); err != nil {
		return qs, err
	}
	if qs.Total, err = p.Select(qs.Total); err != nil {
		return qs, err
	}
	return qs, nil
}

// String renders the partition as label=~shard i/n.
func (p Partition) String() string {
	return fmt.Sprintf("%s shard %d/%d", p.Label, p.Index, p.Count)
}

// Splittable reports whether a query may be split into partitions of
// label with no change to what the parts return together: it is
// aggregations by groupings that keep label, over function calls of one
// series each and selectors only (sum by (route) (rate(x[5m])), as BuildQueries writes a
// latency SLI's). A binary operation inside could match a series of one
// partition with a series of another (one side without the label), so a
// query with one is never split; --shard-split takes that on the
// operator's word, a split of slod's own does not.
func Splittable(query, label string) bool {
	agg, ok := outerAggregate(query)
	if !ok || agg.Without || !slices.Contains(agg.Grouping, label) {
		return false
	}
	safe := true
	parser.Inspect(agg.Expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.Call:
			safe = safe && perSeries(n.Func.Name)
		case *parser.AggregateExpr:
			// BuildQueries wraps the SLI's aggregation in its own; any
			// aggregation by the label keeps each group in one part.
			safe = safe && !n.Without && n.Param == nil && slices.Contains(n.Grouping, label)
		case nil, *parser.MatrixSelector, *parser.VectorSelector, *parser.ParenExpr,
			*parser.NumberLiteral, parser.Expressions: // nil: the walk's end of a node's children
		default:
			safe = false
		}
		return nil
	})
	return safe
}

// perSeries reports a function whose every output series is one input
// series with its labels (no label rewriting, no series made up).
func perSeries(name string) bool {
	switch name {
	case "rate", "irate", "increase", "delta", "idelta", "resets", "changes":
		return true
	}
	return strings.HasSuffix(name, "_over_time") && name != "absent_over_time"
}

// Split is p's part j of parts: the partitions of p.Label whose union is
// p (or, p nil, every series of label). A value's class sum mod (n×parts)
// mod n is its class sum mod n, so the parts of shard i of n are the
// shards i, i+n, … of n×parts.
func Split(p *Partition, label string, j, parts int) Partition {
	if p == nil {
		return Partition{Label: label, Index: j, Count: parts}
	}
	return Partition{Label: p.Label, Index: p.Index + j*p.Count, Count: p.Count * parts}
}
