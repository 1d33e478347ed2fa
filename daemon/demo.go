package daemon

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slodhq/slod/source"
)

// The demo's timing: fine steps so the scripted incident pages within
// seconds, and a few days of synthetic history so the ticket windows and
// budget charts have something to show.
const (
	DemoStep   = 10 * time.Second
	demoScrape = 5 * time.Second
	// Older history is scraped every minute: it is backfilled at the
	// coarse tiers' 10-minute and 1-hour resolutions anyway.
	demoOldScrape = time.Minute
	demoFine      = 3 * 24 * time.Hour
	demoHistory   = 30 * 24 * time.Hour
)

// Demo is synthetic traffic for the SLOs in examples/slos, fed to the
// embedded PromQL engine: the same queries, reader and evaluator as against
// a real Prometheus. Its script, relative to Start:
//   - checkout: every request fails from +1m to +3m: the 1h/5m row pages
//     51.8 s in (Workbook: 2% × 30d × 0.1% ÷ 100%), and the incident
//     resolves once the 5m window has cleared and the 5m hold-down passed;
//   - api-gateway route /v1/orders: 20% fail from +2m to +12m: a page about
//     4.3 minutes in, ranked against the checkout one;
//   - catalog: 0.4% errors over the last two days of history (a ticket);
//   - everything else stays healthy, with a daily traffic cycle.
type Demo struct {
	Engine *source.Embedded
	Start  time.Time

	series []*demoSeries
	last   time.Time
}

type demoSeries struct {
	lset  labels.Labels
	value float64
	// rate gives the counter's increase per second at t; gauge, when set,
	// gives the value instead.
	rate  func(t time.Time) float64
	gauge func(t time.Time) float64
}

// DemoScript describes the scripted incidents, for the log.
const DemoScript = "checkout: full outage from +1m to +3m (pages ~52s in); api-gateway /v1/orders: 20% errors from +2m to +12m (pages ~4m in); catalog: 0.4% errors for two days (ticket)"

// NewDemo builds the traffic and fills history up to start.
func NewDemo(start time.Time) (*Demo, error) {
	d := &Demo{Engine: source.NewEmbedded(), Start: start}
	rel := func(t time.Time) time.Duration { return t.Sub(start) }
	window := func(from, to time.Duration, ratio, otherwise float64) func(time.Time) float64 {
		return func(t time.Time) float64 {
			if r := rel(t); r >= from && r < to {
				return ratio
			}
			return otherwise
		}
	}
	// rps is a daily cycle around base requests per second.
	rps := func(base float64) func(time.Time) float64 {
		return func(t time.Time) float64 {
			return base * (1 + 0.3*math.Sin(2*math.Pi*float64(t.Unix()%86400)/86400))
		}
	}
	// split adds a success and an error series for a request counter.
	split := func(name string, ls []string, okCode, errCode string, traffic func(time.Time) float64, errRatio func(time.Time) float64) {
		codeLabel := "code"
		if strings.HasPrefix(name, "grpc_") {
			codeLabel = "grpc_code"
		}
		d.add(labels.FromStrings(append(ls, "__name__", name, codeLabel, okCode)...), func(t time.Time) float64 {
			return traffic(t) * (1 - errRatio(t))
		})
		d.add(labels.FromStrings(append(ls, "__name__", name, codeLabel, errCode)...), func(t time.Time) float64 {
			return traffic(t) * errRatio(t)
		})
	}
	// checkout availability and latency.
	checkoutTraffic := rps(40)
	split("http_requests_total", []string{"job", "checkout"}, "200", "500", checkoutTraffic,
		window(time.Minute, 3*time.Minute, 1, 0.0003))
	hl := []string{"job", "checkout", "handler", "/api/checkout"}
	slow := func(t time.Time) float64 { return 0.004 }
	d.add(labels.FromStrings(append(hl, "__name__", "http_request_duration_seconds_bucket", "le", "0.3")...), func(t time.Time) float64 {
		return checkoutTraffic(t) * (1 - slow(t))
	})
	d.add(labels.FromStrings(append(hl, "__name__", "http_request_duration_seconds_bucket", "le", "+Inf")...), checkoutTraffic)
	d.add(labels.FromStrings(append(hl, "__name__", "http_request_duration_seconds_count")...), checkoutTraffic)
	// api-gateway per route.
	for _, route := range []string{"/v1/orders", "/v1/users", "/v1/search"} {
		errs := func(time.Time) float64 { return 0.0002 }
		if route == "/v1/orders" {
			errs = window(2*time.Minute, 12*time.Minute, 0.2, 0.0002)
		}
		split("http_requests_total", []string{"job", "api-gateway", "route", route}, "200", "503", rps(25), errs)
	}
	// catalog: a slow burn over the last two days of history.
	split("http_requests_total", []string{"job", "catalog"}, "200", "500", rps(30),
		window(-2*24*time.Hour, 24*time.Hour, 0.004, 0.0003))
	// payments over gRPC.
	gs := []string{"grpc_service", "payments.v1.Authorizer"}
	payTraffic := rps(20)
	split("grpc_server_handled_total", gs, "OK", "Unavailable", payTraffic, func(time.Time) float64 { return 0.0001 })
	d.add(labels.FromStrings(append(gs, "__name__", "grpc_server_handling_seconds_count")...), payTraffic)
	d.add(labels.FromStrings(append(gs, "__name__", "grpc_server_handling_seconds_bucket", "le", "0.5")...), func(t time.Time) float64 {
		return payTraffic(t) * 0.997
	})
	// search: a blackbox probe that fails one scrape in 1000.
	d.series = append(d.series, &demoSeries{
		lset: labels.FromStrings("__name__", "probe_success", "job", "blackbox", "instance", "https://search.example.com"),
		gauge: func(t time.Time) float64 {
			if (t.Unix()/int64(demoScrape/time.Second))%1000 == 0 && t.Unix()%60 != 0 {
				return 0
			}
			return 1
		},
	})
	d.last = start.Add(-demoHistory).Truncate(demoOldScrape)
	if err := d.Advance(start); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Demo) add(lset labels.Labels, rate func(time.Time) float64) {
	d.series = append(d.series, &demoSeries{lset: lset, rate: rate})
}

// Advance appends samples every scrape interval up to now.
func (d *Demo) Advance(now time.Time) error {
	fine := d.Start.Add(-demoFine)
	for {
		scrape := demoScrape
		if d.last.Before(fine) {
			scrape = demoOldScrape
		}
		t := d.last.Add(scrape)
		if t.After(now) {
			break
		}
		for _, s := range d.series {
			v := 0.0
			if s.gauge != nil {
				v = s.gauge(t)
			} else {
				s.value += s.rate(t) * scrape.Seconds()
				v = s.value
			}
			if err := d.Engine.Append(s.lset, t, v); err != nil {
				return fmt.Errorf("demo traffic: %w", err)
			}
		}
		d.last = t
	}
	return nil
}
