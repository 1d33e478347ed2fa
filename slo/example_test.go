package slo_test

import (
	"fmt"

	"github.com/slodhq/slod/slo"
)

func ExampleSLI_Queries() {
	sli := slo.SLI{Latency: &slo.LatencySLI{
		Metric:    "http_request_duration_seconds",
		Selector:  `job="checkout"`,
		Threshold: 0.3,
	}}
	errQ, totalQ, err := sli.Queries("route")
	if err != nil {
		panic(err)
	}
	fmt.Println(errQ)
	fmt.Println(totalQ)
	// Output:
	// sum by (route)(rate(http_request_duration_seconds_count{job="checkout"}[{{.window}}])) - sum by (route)(rate(http_request_duration_seconds_bucket{job="checkout",le="0.3"}[{{.window}}]))
	// sum by (route)(rate(http_request_duration_seconds_count{job="checkout"}[{{.window}}]))
}

func ExampleLoadBytes() {
	set, diags := slo.LoadBytes("checkout.yaml", []byte(`version: slod/v1
service: checkout
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      page: {disable: true}
      tikcet: {disable: true}
`))
	fmt.Println(len(set.SLOs), "SLOs loaded")
	for _, d := range diags {
		fmt.Println(d)
	}
	// Output:
	// 0 SLOs loaded
	// checkout.yaml:12:7: error SLO002: slo "availability": alerting: unknown field "tikcet" (known: name, labels, annotations, page, ticket, no_data, idle, collapse)
}
