package daemon

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/source"
)

// TestOwnDashboardQueriesReturnDataOnTheDemo runs every query of
// docs/grafana/slod.json, with the real PromQL engine, over two scrapes
// of the demo daemon's own /metrics taken during the checkout
// outage: each parses, names only series slod exports, and returns data.
func TestOwnDashboardQueriesReturnDataOnTheDemo(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "grafana", "slod.json"))
	if err != nil {
		t.Fatal(err)
	}
	queries, err := rules.DashboardQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 20 {
		t.Fatalf("%d queries", len(queries))
	}
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	store := source.NewEmbedded()
	exported := map[string]bool{}
	scrape := func(at time.Time) {
		h.runTo(at)
		for _, mf := range scrape(t, h.d.Handler()) {
			for name, samples := range flatten(mf) {
				exported[name] = true
				for _, s := range samples {
					if err := store.Append(s.lset, at, s.v); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	scrape(demoStart.Add(2 * time.Minute))
	at := demoStart.Add(2*time.Minute + 30*time.Second)
	scrape(at)
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		expanded := strings.NewReplacer("$slo", ".*", "$window", ".*").Replace(q)
		expr, err := p.ParseExpr(expanded)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && !exported[vs.Name] {
				t.Errorf("%s: slod exports no %s", q, vs.Name)
			}
			return nil
		})
		m, err := store.QueryRange(context.Background(), expanded, at, at, time.Minute)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		if len(m) == 0 {
			t.Errorf("the dashboard's query returns nothing on the demo: %s", q)
		}
	}
}

type sample struct {
	lset labels.Labels
	v    float64
}

// flatten turns a scraped family into the series Prometheus would
// scrape: a histogram into _bucket (with le), _sum and _count.
func flatten(mf *dto.MetricFamily) map[string][]sample {
	out := map[string][]sample{}
	for _, m := range mf.Metric {
		base := map[string]string{}
		for _, lp := range m.Label {
			base[lp.GetName()] = lp.GetValue()
		}
		add := func(name string, v float64, extra ...string) {
			ls := map[string]string{"__name__": name}
			for k, val := range base {
				ls[k] = val
			}
			for i := 0; i+1 < len(extra); i += 2 {
				ls[extra[i]] = extra[i+1]
			}
			out[name] = append(out[name], sample{labels.FromMap(ls), v})
		}
		switch {
		case m.Counter != nil:
			add(mf.GetName(), m.Counter.GetValue())
		case m.Gauge != nil:
			add(mf.GetName(), m.Gauge.GetValue())
		case m.Untyped != nil:
			add(mf.GetName(), m.Untyped.GetValue())
		case m.Histogram != nil:
			hs := m.Histogram
			for _, b := range hs.Bucket {
				add(mf.GetName()+"_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
			}
			// client_golang leaves the +Inf bucket implicit; a parsed text
			// exposition lists it.
			if n := len(hs.Bucket); n == 0 || !math.IsInf(hs.Bucket[n-1].GetUpperBound(), 1) {
				add(mf.GetName()+"_bucket", float64(hs.GetSampleCount()), "le", strconv.FormatFloat(math.Inf(1), 'g', -1, 64))
			}
			add(mf.GetName()+"_sum", hs.GetSampleSum())
			add(mf.GetName()+"_count", float64(hs.GetSampleCount()))
		}
	}
	return out
}
