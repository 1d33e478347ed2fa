package rules

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/slo"
)

// BenchmarkRuleCost measures, on a real Prometheus 2.42 with stats=all, how
// many samples each generated rule of one 99.9%/30d SLO reads per
// evaluation, on 30 days of history at 1m spacing: the raw counters the SLI
// reads and the recorded 5m rates the long windows sum. It reports the
// total as samples/eval and logs the per-rule figures (docs/rules.md).
// Backfilling takes ~30 s: run it alone,
//
//	go test ./rules -run '^$' -bench RuleCost -benchtime=1x -v
func BenchmarkRuleCost(b *testing.B) {
	promtest.RequireBinaries(b, "prometheus", "promtool")
	spec := fixtures()["events"]
	f, err := Generate([]*slo.Spec{spec}, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const step = time.Minute
	end := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	n := int((30*day + 2*time.Hour) / step)
	start := end.Add(-time.Duration(n) * step)

	var om bytes.Buffer
	w := bufio.NewWriter(&om)
	series := func(typ, family, name, labels string, value func(i int) float64) {
		fmt.Fprintf(w, "# TYPE %s %s\n", family, typ)
		every := 1
		if strings.HasSuffix(name, "rate1h") { // the budget group runs hourly
			every = 60
		}
		for i := 0; i <= n; i += every {
			fmt.Fprintf(w, "%s%s %s %d\n", name, labels, strconv.FormatFloat(value(i), 'g', -1, 64), start.Add(time.Duration(i)*step).Unix())
		}
	}
	// 10 requests/s, 0.05% errors.
	series("counter", "app_requests", "app_requests_total", `{job="checkout"}`, func(i int) float64 { return float64(600 * i) })
	series("counter", "app_errors", "app_errors_total", `{job="checkout"}`, func(i int) float64 { return float64(3*i) / 10 })
	rec := `{service="checkout",slo="checkout-availability",team="payments"}`
	series("gauge", ErrorsRate+"5m", ErrorsRate+"5m", rec, func(int) float64 { return 0.005 })
	series("gauge", TotalRate+"5m", TotalRate+"5m", rec, func(int) float64 { return 10 })
	series("gauge", ErrorsRate+"1h", ErrorsRate+"1h", rec, func(int) float64 { return 0.005 })
	series("gauge", TotalRate+"1h", TotalRate+"1h", rec, func(int) float64 { return 10 })
	w.WriteString("# EOF\n")
	w.Flush()
	t0 := time.Now()
	srv := promtest.Start(b, promtest.Options{OpenMetrics: om.String()})
	b.Logf("backfill and start: %s", time.Since(t0).Round(time.Second))

	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		var total int64
		var lines []string
		for _, r := range append(f.Groups[0].Rules, f.Groups[1].Rules...) {
			st, err := promtest.QueryStats(ctx, srv.URL, r.Expr, end)
			if err != nil {
				b.Fatalf("%s%s: %v", r.Record, r.Alert, err)
			}
			total += st.TotalQueryableSamples
			name := r.Record
			if name == "" {
				name = r.Alert + " (" + r.Labels["severity"] + ")"
			}
			lines = append(lines, fmt.Sprintf("%-40s %8d", name, st.TotalQueryableSamples))
		}
		b.ReportMetric(float64(total), "samples/eval")
		if f.Groups[1].Interval != "1h" {
			b.Fatalf("budget group interval %q", f.Groups[1].Interval)
		}
		b.Logf("samples read per evaluation at %s (the last two rules run once an hour):\n%s\n%-40s %8d",
			end.Format(time.RFC3339), strings.Join(lines, "\n"), "total", total)
		// The same 30d ratio straight from the raw counters, for comparison.
		naive := `sum(rate(app_errors_total{job="checkout"}[30d])) / sum(rate(app_requests_total{job="checkout"}[30d]))`
		st, err := promtest.QueryStats(ctx, srv.URL, naive, end)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("for comparison, %s reads %d", naive, st.TotalQueryableSamples)
	}
}
