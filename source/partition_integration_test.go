package source

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/promtest"
)

// TestPrometheusReturnsOnlyTheShardsSeries: against a real Prometheus,
// each shard's partitioned read returns only the routes it owns, and the
// shards together return every route once, awkward values included: the
// server's regex engine and Partition.Owns agree.
func TestPrometheusReturnsOnlyTheShardsSeries(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	const minutes = 120
	routes := []string{"/", "", "é", `/q"uote`, `/back\slash`, "/日本", "/api/v1/users/{id}", "-", "]"}
	for i := range 40 {
		routes = append(routes, fmt.Sprintf("/api/v1/items/%d", i))
	}
	var counters []promtest.Counter
	for _, r := range routes {
		ls := map[string]string{"code": "200"}
		if r != "" {
			ls["route"] = r
		}
		counters = append(counters, promtest.Counter{Family: "http_requests", Labels: ls, Value: func(i int) float64 { return float64(60 * i) }})
	}
	var om strings.Builder
	if err := promtest.WriteOpenMetrics(&om, end.Add(-minutes*time.Minute), time.Minute, minutes, counters...); err != nil {
		t.Fatal(err)
	}
	srv := promtest.Start(t, promtest.Options{OpenMetrics: om.String()})
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(7*24*time.Hour, "route")
	const count = 3
	seen := map[string]int{}
	for i := range count {
		part := &Partition{Label: "route", Index: i, Count: count}
		r := &Reader{Querier: p, Spec: spec, Step: time.Minute, Partition: part}
		b, _, err := r.Read(context.Background(), end.Add(-30*time.Minute), end, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Series {
			if !part.Owns(s.Labels["route"]) {
				t.Errorf("shard %d/%d: Prometheus returned route %q, which it does not own", i, count, s.Labels["route"])
			}
			seen[s.Labels["route"]]++
		}
		t.Logf("shard %d/%d read %d of %d routes", i, count, len(b.Series), len(routes))
	}
	for _, r := range routes {
		if seen[r] != 1 {
			t.Errorf("route %q read by %d shards, want 1", r, seen[r])
		}
	}
}
