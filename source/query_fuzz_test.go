package source

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/slo"
)

// FuzzBuildQueries feeds arbitrary group_by names, latency selector values
// and thresholds through query building: whatever comes in, the result is
// either refused or one aggregation that parses, whose matchers keep the
// value verbatim (nothing escaped its quotes).
func FuzzBuildQueries(f *testing.F) {
	f.Add("route", "checkout", 0.3)
	f.Add(`route) or vector(1`, `a"}) or vector(1) #`, 1.0)
	f.Add("le", "\\\"\n\x00", 2.5)
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, group, value string, threshold float64) {
		spec := &slo.Spec{ID: "fuzz", Objective: 99, Window: 30 * 24 * time.Hour, GroupBy: []string{group},
			SLI: slo.SLI{Latency: &slo.LatencySLI{Metric: "http_request_duration_seconds",
				Selector: "job=" + slo.QuoteLabelValue(value), Threshold: threshold}}}
		q, err := BuildQueries(spec, time.Minute)
		if err != nil {
			return
		}
		for _, text := range []string{q.Errors, q.Total} {
			expr, err := p.ParseExpr(text)
			if err != nil {
				t.Fatalf("%q does not parse: %v", text, err)
			}
			agg, ok := expr.(*parser.AggregateExpr)
			if !ok || len(agg.Grouping) != 1 || agg.Grouping[0] != group {
				t.Fatalf("%q is not one sum by (%s)", text, group)
			}
			found := false
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					for _, m := range vs.LabelMatchers {
						if m.Name == "job" {
							found = true
							if m.Value != value {
								t.Fatalf("job matcher %q, want %q in %s", m.Value, value, text)
							}
						}
						if m.Name != "job" && m.Name != "le" && m.Name != "__name__" {
							t.Fatalf("unexpected matcher %s in %s", m, text)
						}
					}
				}
				return nil
			})
			if !found && strings.Contains(text, "job") {
				t.Fatalf("no job matcher parsed from %s", text)
			}
		}
	})
}
