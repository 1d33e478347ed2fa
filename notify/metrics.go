package notify

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// metrics are the dispatcher's Prometheus series. Every receiver's series
// exist from the start, at zero, so alerts on rate() work before the first
// failure.
type metrics struct {
	enqueued *prometheus.CounterVec
	sent     *prometheus.CounterVec
	failed   *prometheus.CounterVec
	dead     *prometheus.CounterVec
	breaker  *prometheus.GaugeVec
	latency  *prometheus.HistogramVec
	// damaged counts outbox files moved aside (see Damage).
	damaged prometheus.Counter
	// undecodable counts records that could not be read, by bucket:
	// outbox entries (dead-lettered), active records (dropped).
	undecodable *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, receivers []string) (*metrics, error) {
	m := &metrics{
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notify_enqueued_total",
			Help: "Pages committed to the outbox, by receiver.",
		}, []string{"receiver"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notify_sent_total",
			Help: "Pages the receiver accepted, by receiver.",
		}, []string{"receiver"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notify_failed_total",
			Help: "Failed delivery attempts, by receiver and reason.",
		}, []string{"receiver", "reason"}),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notify_dead_letter_total",
			Help: "Pages moved to the dead-letter bucket, by receiver and reason.",
		}, []string{"receiver", "reason"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_notify_breaker_state",
			Help: "Circuit breaker state by receiver: 0 closed, 1 half-open, 2 open.",
		}, []string{"receiver"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slod_notify_attempt_duration_seconds",
			Help:    "Duration of delivery attempts, by receiver.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
		damaged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_notify_outbox_damaged_total",
			Help: "Outbox files found damaged at start-up and moved aside.",
		}),
		undecodable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notify_undecodable_total",
			Help: "Outbox records that could not be decoded, by bucket (outbox: dead-lettered; active: dropped).",
		}, []string{"bucket"}),
	}
	// A dispatcher made again on the same registry (a config reload)
	// continues the series of the one before.
	var errs []error
	m.enqueued = reuse(reg, m.enqueued, &errs)
	m.sent = reuse(reg, m.sent, &errs)
	m.failed = reuse(reg, m.failed, &errs)
	m.dead = reuse(reg, m.dead, &errs)
	m.breaker = reuse(reg, m.breaker, &errs)
	m.latency = reuse(reg, m.latency, &errs)
	m.damaged = reuse(reg, m.damaged, &errs)
	m.undecodable = reuse(reg, m.undecodable, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m.undecodable.WithLabelValues("outbox")
	m.undecodable.WithLabelValues("active")
	for _, r := range receivers {
		m.enqueued.WithLabelValues(r)
		m.sent.WithLabelValues(r)
		for _, reason := range failureReasons {
			m.failed.WithLabelValues(r, reason)
		}
		for _, reason := range deadReasons {
			m.dead.WithLabelValues(r, reason)
		}
		m.breaker.WithLabelValues(r).Set(0)
		m.latency.WithLabelValues(r)
	}
	return m, nil
}

// reuse registers c, or returns the collector already registered with the
// same description.
func reuse[C prometheus.Collector](reg prometheus.Registerer, c C, errs *[]error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		*errs = append(*errs, err)
	}
	return c
}

func breakerValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	}
	return 0
}

// outboxCollector reports each receiver's outbox depth and the age of its
// oldest page, read from the outbox at scrape time, and the refused pages
// (SetRefused) under the receiver label RefusedReceiver.
type outboxCollector struct {
	d     *Dispatcher
	depth *prometheus.Desc
	age   *prometheus.Desc
	deadN *prometheus.Desc
	refN  *prometheus.Desc
}

func newOutboxCollector(d *Dispatcher) *outboxCollector {
	return &outboxCollector{
		d:     d,
		depth: prometheus.NewDesc("slod_notify_outbox_depth", "Pages waiting in the outbox, by receiver.", []string{"receiver"}, nil),
		age:   prometheus.NewDesc("slod_notify_outbox_oldest_age_seconds", "Age of the oldest page waiting in the outbox (0 when empty), by receiver.", []string{"receiver"}, nil),
		deadN: prometheus.NewDesc("slod_notify_dead_letters", "Pages held in the dead-letter bucket, by receiver.", []string{"receiver"}, nil),
		refN:  prometheus.NewDesc("slod_notify_refused_pages", "Pages the daemon holds in memory because the outbox refused them (disk full); also counted in slod_notify_outbox_depth{receiver=\"(refused)\"}.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.age
	ch <- c.deadN
	ch <- c.refN
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	stats, err := c.d.Stats()
	if err != nil {
		// Closed or unreadable: no per-receiver series rather than wrong
		// ones, but the refused pages are held in memory and still count.
		stats = []OutboxStats{c.d.refusedStats()}
	}
	for _, s := range stats {
		if s.Refused {
			ch <- prometheus.MustNewConstMetric(c.refN, prometheus.GaugeValue, float64(s.Depth))
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(s.Depth), s.Receiver)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, s.OldestAge.Seconds(), s.Receiver)
		if !s.Refused {
			ch <- prometheus.MustNewConstMetric(c.deadN, prometheus.GaugeValue, float64(s.DeadLetters), s.Receiver)
		}
	}
}
