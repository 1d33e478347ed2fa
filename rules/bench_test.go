package rules

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// benchSpecs builds n events SLOs over 100 services, a tenth of them per route.
func benchSpecs(n int) []*slo.Spec {
	specs := make([]*slo.Spec, n)
	for i := range specs {
		svc := fmt.Sprintf("svc%03d", i%100)
		s := &slo.Spec{
			ID: fmt.Sprintf("%s-slo%04d", svc, i), Name: fmt.Sprintf("slo%04d", i), Service: svc,
			Objective: 99.9, Window: 30 * day,
			SLI: slo.SLI{Events: &slo.EventsSLI{
				ErrorQuery: fmt.Sprintf(`sum(rate(http_requests_total{job=%q,code=~"5.."}[{{.window}}]))`, svc),
				TotalQuery: fmt.Sprintf(`sum(rate(http_requests_total{job=%q}[{{.window}}]))`, svc),
			}},
			Labels:      map[string]string{"team": "t" + svc},
			Annotations: map[string]string{"runbook": "https://runbooks.example.com/" + svc},
		}
		if i%10 == 0 {
			s.GroupBy = []string{"route"}
			s.SLI.Events.ErrorQuery = fmt.Sprintf(`sum by (route) (rate(http_requests_total{job=%q,code=~"5.."}[{{.window}}]))`, svc)
			s.SLI.Events.TotalQuery = fmt.Sprintf(`sum by (route) (rate(http_requests_total{job=%q}[{{.window}}]))`, svc)
		}
		specs[i] = s
	}
	return specs
}

// BenchmarkGenerate1000 generates and encodes the rules of 1,000 SLOs.
func BenchmarkGenerate1000(b *testing.B) {
	specs := benchSpecs(1000)
	b.ReportAllocs()
	for b.Loop() {
		f, err := Generate(specs, nil, Options{Interval: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Encode(io.Discard, FormatPrometheus); err != nil {
			b.Fatal(err)
		}
	}
}
