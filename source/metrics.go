package source

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the source's Prometheus metrics (prefix slod_source_).
type Metrics struct {
	queries  *prometheus.CounterVec
	retries  prometheus.Counter
	duration prometheus.Histogram
	breaker  prometheus.Gauge
	rejected prometheus.Counter
	points   prometheus.Counter
}

// Query outcomes, the values of the outcome label.
const (
	outcomeOK        = "ok"
	outcomeError     = "error"
	outcomeRejected  = "breaker_open"
	outcomePermanent = "bad_query"
)

// NewMetrics registers the source metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_source_queries_total",
			Help: "Range queries sent to the Prometheus API by outcome (each try counts).",
		}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_source_query_retries_total",
			Help: "Range query tries that failed and were retried after a backoff.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slod_source_query_duration_seconds",
			Help:    "Duration of one range query try.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 9),
		}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_source_breaker_state",
			Help: "Circuit breaker in front of the Prometheus API: 0 closed, 1 half-open, 2 open.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_source_breaker_rejections_total",
			Help: "Queries refused without a request because the circuit breaker was open.",
		}),
		points: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_source_points_total",
			Help: "Points (series × steps) returned by range queries.",
		}),
	}
	for _, o := range []string{outcomeOK, outcomeError, outcomeRejected, outcomePermanent} {
		m.queries.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.retries, m.duration, m.breaker, m.rejected, m.points)
	}
	return m
}
