package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

func eventsSpec(window time.Duration, groupBy ...string) *slo.Spec {
	return &slo.Spec{
		ID: "api-availability", Objective: 99.9, Window: window, GroupBy: groupBy,
		SLI: slo.SLI{Events: &slo.EventsSLI{
			ErrorQuery: `sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))`,
			TotalQuery: `sum by (route) (rate(http_requests_total[{{ .window }}]))`,
		}},
	}
}

func TestBuildQueries(t *testing.T) {
	tests := []struct {
		name       string
		spec       *slo.Spec
		res        time.Duration
		errs, tot  string
		wantErrSub string
	}{
		{
			name: "an events SLI is summed to one series and the window becomes the step",
			spec: eventsSpec(30 * 24 * time.Hour), res: time.Minute,
			errs: `sum (sum by (route) (rate(http_requests_total{code=~"5.."}[1m])))`,
			tot:  `sum (sum by (route) (rate(http_requests_total[1m])))`,
		},
		{
			name: "a query summed by exactly the group_by labels is not summed again, and a coarse resolution is its own window",
			spec: eventsSpec(30*24*time.Hour, "route"), res: time.Hour,
			errs: `sum by (route) (rate(http_requests_total{code=~"5.."}[1h]))`,
			tot:  `sum by (route) (rate(http_requests_total[1h]))`,
		},
		{
			name: "group_by becomes sum by around a query aggregated otherwise",
			spec: &slo.Spec{ID: "x-by", GroupBy: []string{"route"}, SLI: slo.SLI{Events: &slo.EventsSLI{
				ErrorQuery: `sum by (route, code) (rate(http_requests_total{code=~"5.."}[{{.window}}]))`,
				TotalQuery: `sum without (code) (rate(http_requests_total[{{.window}}]))`}}},
			res:  time.Minute,
			errs: `sum by (route) (sum by (route, code) (rate(http_requests_total{code=~"5.."}[1m])))`,
			tot:  `sum by (route) (sum without (code) (rate(http_requests_total[1m])))`,
		},
		{
			name: "a raw SLI averages the ratio and has no total",
			spec: &slo.Spec{ID: "x-raw", SLI: slo.SLI{Raw: &slo.RawSLI{ErrorRatioQuery: `1 - avg_over_time(up{job="a"}[{{.window}}])`}}},
			res:  10 * time.Minute,
			errs: `avg (1 - avg_over_time(up{job="a"}[10m]))`,
		},
		{
			name: "a latency SLI escapes selector values",
			spec: &slo.Spec{ID: "x-lat", SLI: slo.SLI{Latency: &slo.LatencySLI{
				Metric: "http_request_duration_seconds", Selector: `job="a\"}) or vector(1) #"`, Threshold: 0.3}}},
			res: time.Minute,
			errs: `sum (sum(rate(http_request_duration_seconds_count{job="a\"}) or vector(1) #"}[1m])) - ` +
				`sum(rate(http_request_duration_seconds_bucket{job="a\"}) or vector(1) #",le="0.3"}[1m])))`,
			tot: `sum(rate(http_request_duration_seconds_count{job="a\"}) or vector(1) #"}[1m]))`,
		},
		{
			name: "a group_by name that is not a label name is refused",
			spec: eventsSpec(time.Hour, `route) or vector(1`), res: time.Minute, wantErrSub: "not a valid label name",
		},
		{
			name: "a resolution below a second is refused",
			spec: eventsSpec(time.Hour), res: time.Millisecond, wantErrSub: "whole number of seconds",
		},
	}
	p := parser.NewParser(parser.Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := BuildQueries(tc.spec, tc.res)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if q.Errors != tc.errs || q.Total != tc.tot {
				t.Fatalf("got\n%s\n%s\nwant\n%s\n%s", q.Errors, q.Total, tc.errs, tc.tot)
			}
			for _, s := range []string{q.Errors, q.Total} {
				if s == "" {
					continue
				}
				expr, err := p.ParseExpr(s)
				if err != nil {
					t.Fatalf("%s does not parse: %v", s, err)
				}
				// The whole query is one aggregation: nothing was injected around it.
				if _, ok := expr.(*parser.AggregateExpr); !ok {
					t.Fatalf("%s is a %T, want one aggregation", s, expr)
				}
			}
		})
	}
}

func TestCounts(t *testing.T) {
	ev := StepQueries{Errors: "e", Total: "t", Resolution: time.Minute}
	if e, tot := ev.Counts(0.5, 10, true, true, time.Minute); e != 30 || tot != 600 {
		t.Errorf("rates 0.5/10 over 1m = %v/%v, want 30/600", e, tot)
	}
	if e, tot := ev.Counts(0, 10, false, true, time.Minute); e != 0 || tot != 600 {
		t.Errorf("no error series: %v/%v, want 0/600", e, tot)
	}
	if _, tot := ev.Counts(1, 0, true, false, time.Minute); !math.IsNaN(tot) {
		t.Errorf("no total series: total %v, want NaN (unknown)", tot)
	}
	lat := StepQueries{Errors: "count - bucket", Total: "count", Resolution: time.Minute, ErrorsRequired: true}
	if e, tot := lat.Counts(0, 10, false, true, time.Minute); !math.IsNaN(e) || !math.IsNaN(tot) {
		t.Errorf("latency without its bucket: %v/%v, want unknown, never 0 errors", e, tot)
	}
	raw := StepQueries{Errors: "r", Resolution: time.Hour}
	if e, tot := raw.Counts(1.5, 0, true, false, time.Minute); e != 60 || tot != 60 {
		t.Errorf("raw ratio 1.5 over 1h of 1m steps: %v/%v, want 60/60 (clamped)", e, tot)
	}
}

// fixtureStart is a fixed instant, aligned to a day.
var fixtureStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestEmbeddedSyncReproducesCounterTotals(t *testing.T) {
	// Four routes' worth of counters scraped every 15 s for 9 days: /a gets
	// 10 req/s with 1 err/s, /b 2 req/s without errors (no 5xx series at
	// all). The SLO window is 7 days.
	const scrapes = 9*24*60*4 + 240 // an hour beyond the first sync
	e := NewEmbedded()
	series := fmt.Sprintf(`
http_requests_total{route="/a",code="200"} 0+135x%[1]d
http_requests_total{route="/a",code="500"} 0+15x%[1]d
http_requests_total{route="/b",code="200"} 0+30x%[1]d
`, scrapes)
	if err := e.LoadSeries(fixtureStart, 15*time.Second, series); err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(7*24*time.Hour, "route")
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	now := fixtureStart.Add(9 * 24 * time.Hour)
	var progress []Progress
	q, err := Sync(context.Background(), ev, e, now, SyncOptions{Progress: func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	// A cold start reads 7 days: 6 days at 1h, a day − 1h at 10m, the
	// newest hour at 1m; two queries each, and one that counts the series
	// before the first long read. The finer tiers hold the coarser readings
	// spread evenly: with this steady traffic every window below is exact.
	wantSegs := []Segment{
		{From: now.Add(-7 * 24 * time.Hour), To: now.Add(-24 * time.Hour), Resolution: time.Hour},
		{From: now.Add(-24 * time.Hour), To: now.Add(-time.Hour), Resolution: 10 * time.Minute},
		{From: now.Add(-time.Hour), To: now, Resolution: time.Minute},
	}
	if len(progress) != len(wantSegs) || q != 2*len(wantSegs)+1 {
		t.Fatalf("progress %+v after %d queries, want segments %+v", progress, q, wantSegs)
	}
	for i, s := range wantSegs {
		if p := progress[i]; !p.From.Equal(s.From) || !p.To.Equal(s.To) || p.Resolution != s.Resolution {
			t.Errorf("segment %d: %+v, want %+v", i+1, p, s)
		}
	}
	if !ev.LastStep().Equal(now) {
		t.Fatalf("LastStep %s, want %s", ev.LastStep(), now)
	}
	for _, tc := range []struct {
		route       string
		errs, total float64
	}{{"/a", 60, 600}, {"/b", 0, 120}} {
		in := ev.Instance(map[string]string{"route": tc.route})
		if in == nil {
			t.Fatalf("no instance for %s", tc.route)
		}
		for _, w := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour} {
			c := in.Window(now, w)
			steps := float64(w / time.Minute)
			if math.Abs(c.Errors-tc.errs*steps) > 1e-6*steps || math.Abs(c.Total-tc.total*steps) > 1e-6*steps || c.Known != int(steps) {
				t.Errorf("%s over %s: %+v, want %v errors of %v in %v steps", tc.route, w, c, tc.errs*steps, tc.total*steps, steps)
			}
		}
	}

	// Ten minutes later a tick reads only the new steps and two re-read ones.
	later := now.Add(10 * time.Minute)
	segs := Plan(ev, later, 2)
	if len(segs) != 1 || !segs[0].From.Equal(now.Add(-2*time.Minute)) || !segs[0].To.Equal(later) || segs[0].Resolution != time.Minute {
		t.Fatalf("tick plan %+v", segs)
	}
	if q, err := Sync(context.Background(), ev, e, later, SyncOptions{}); err != nil || q != 2 {
		t.Fatalf("tick: %d queries, %v", q, err)
	}
	c := ev.Instance(map[string]string{"route": "/a"}).Window(later, time.Hour)
	if math.Abs(c.Total-36000) > 1e-6 || c.Known != 60 {
		t.Fatalf("1h after the tick: %+v, want 36000 events in 60 steps", c)
	}
}

func TestReaderChunksUnderThePointLimit(t *testing.T) {
	e := NewEmbedded()
	if err := e.LoadSeries(fixtureStart, 15*time.Second, `http_requests_total{route="/a",code="200"} 0+15x20000`); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // a chunk's two queries go out at once
	var calls []int
	counting := querierFunc(func(ctx context.Context, q string, start, end time.Time, step time.Duration) (m model.Matrix, err error) {
		mu.Lock()
		calls = append(calls, int(end.Sub(start)/step)+1)
		mu.Unlock()
		return e.QueryRange(ctx, q, start, end, step)
	})
	r := &Reader{Querier: counting, Spec: eventsSpec(30 * 24 * time.Hour), Step: time.Minute, Points: 1000, Series: 1}
	from := fixtureStart.Add(time.Hour)
	b, n, err := r.Read(context.Background(), from, from.Add(3000*time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 || len(calls) != 6 {
		t.Fatalf("%d queries (%v), want 3 chunks × 2 queries", n, calls)
	}
	for _, c := range calls {
		if c > 1000 {
			t.Fatalf("a query asked for %d points, over the cap of 1000", c)
		}
	}
	if len(b.Series) != 1 || len(b.Series[0].Steps) != 3000 {
		t.Fatalf("batch has %d series, %d steps", len(b.Series), len(b.Series[0].Steps))
	}
	if s := b.Series[0].Steps; math.Abs(s[0].Total-60) > 1e-9 || s[0].Errors != 0 || !s[0].End.Equal(from.Add(time.Minute)) {
		t.Fatalf("first step %+v", s[0])
	}
}

type querierFunc func(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error)

func (f querierFunc) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	return f(ctx, q, start, end, step)
}

const matrixBody = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1767571260,"1.5"]]}]}}`

func fastBackoff() backoff.BackOff { return &backoff.ZeroBackOff{} }

func TestPrometheusRetriesThenSucceeds(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("X-Scope-OrgID"); got != "tenant-1" {
			t.Errorf("X-Scope-OrgID = %q", got)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer s3cret" {
			t.Errorf("Authorization = %q", got)
		}
		if hits.Add(1) <= 2 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, matrixBody)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, BearerToken: "s3cret", Headers: map[string]string{"X-Scope-OrgID": "tenant-1"},
		Metrics: NewMetrics(reg), backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || float64(m[0].Values[0].Value) != 1.5 {
		t.Fatalf("matrix %v", m)
	}
	if hits.Load() != 3 {
		t.Fatalf("%d requests, want 3", hits.Load())
	}
	if got := metricValue(t, p.o.Metrics.retries); got != 2 {
		t.Errorf("retries metric %v, want 2", got)
	}
	if got := metricValue(t, p.o.Metrics.queries.WithLabelValues(outcomeError)); got != 2 {
		t.Errorf("error tries %v, want 2", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "slod_source_queries_total" && len(mf.GetMetric()) != 4 {
			t.Errorf("queries_total has %d series, want one per outcome from the start", len(mf.GetMetric()))
		}
	}
}

func TestPrometheusDoesNotRetryABadQuery(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
	}))
	defer srv.Close()
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, backoff: fastBackoff, BreakerFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := p.QueryRange(context.Background(), "up{", fixtureStart, fixtureStart, time.Minute); err == nil || !strings.Contains(err.Error(), "parse error") {
			t.Fatalf("err = %v", err)
		}
	}
	// One request per query, and bad queries never open the breaker.
	if hits.Load() != 3 {
		t.Fatalf("%d requests for 3 bad queries, want 3", hits.Load())
	}
}

func TestPrometheusBreakerOpensAndRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, matrixBody)
	}))
	defer srv.Close()
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, backoff: fastBackoff, MaxTries: 10, BreakerFailures: 3,
		BreakerTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart, time.Minute)
	if !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("err = %v, want the breaker open", err)
	}
	if hits.Load() != 3 {
		t.Fatalf("%d requests, want 3 before the breaker opened", hits.Load())
	}
	if got := metricValue(t, p.o.Metrics.breaker); got != 2 {
		t.Fatalf("breaker state metric %v, want 2 (open)", got)
	}
	failing.Store(false)
	// Once its timeout passes the breaker lets one request through.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err = p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart, time.Minute)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("breaker did not recover: %v", err)
	}
	if got := metricValue(t, p.o.Metrics.breaker); got != 0 {
		t.Fatalf("breaker state metric %v, want 0 (closed)", got)
	}
}

func TestPrometheusTimeoutIsRetried(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select { // hang past the client's timeout
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, matrixBody)
	}))
	defer srv.Close()
	defer close(release)
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, backoff: fastBackoff, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart, time.Minute); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests, want a timed-out one and a retry", hits.Load())
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// TestALatencyThresholdThatIsNoBucketIsUnknownNotHealthy: with buckets
// 0.1, 0.3 and +Inf, a 0.25 threshold selects no bucket. Every request is
// slow, yet the error query returns nothing: the steps must read unknown,
// never as good.
func TestALatencyThresholdThatIsNoBucketIsUnknownNotHealthy(t *testing.T) {
	e := NewEmbedded()
	if err := e.LoadSeries(fixtureStart, 15*time.Second, `
lat_seconds_bucket{le="0.1"} 0+0x200
lat_seconds_bucket{le="0.3"} 0+0x200
lat_seconds_bucket{le="+Inf"} 0+100x200
lat_seconds_count 0+100x200`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		threshold float64
		known     bool
	}{{0.25, false}, {0.3, true}} {
		spec := &slo.Spec{ID: "lat", Objective: 99, Window: 30 * 24 * time.Hour,
			SLI: slo.SLI{Latency: &slo.LatencySLI{Metric: "lat_seconds", Threshold: tc.threshold}}}
		r := &Reader{Querier: e, Spec: spec, Step: time.Minute}
		b, _, err := r.Read(context.Background(), fixtureStart.Add(10*time.Minute), fixtureStart.Add(40*time.Minute), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		steps := 0
		for _, s := range b.Series {
			for _, st := range s.Steps {
				steps++
				if st.Errors != st.Total {
					t.Errorf("threshold %v: %v errors of %v, want every request slow", tc.threshold, st.Errors, st.Total)
				}
			}
		}
		if got := steps > 0; got != tc.known {
			t.Errorf("threshold %v: %d known steps, want known=%v", tc.threshold, steps, tc.known)
		}
	}
}

// TestReaderSizesChunksBySeriesAndSplitsWhatTheServerRefuses: a long read
// first counts the series the SLI returns (one cheap query) and sizes its
// chunks so series × points stays under the sample budget; a chunk the
// server still refuses as too large is split and read again; every step
// arrives once, oldest chunk first, each chunk handed over as it is read.
func TestReaderSizesChunksBySeriesAndSplitsWhatTheServerRefuses(t *testing.T) {
	e := NewEmbedded()
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "http_requests_total{route=\"/r%d\",code=\"200\"} 0+15x2000\n", i)
	}
	if err := e.LoadSeries(fixtureStart, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // a chunk's two queries go out at once
	var calls []int
	refuse := querierFunc(func(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
		points := int(end.Sub(start)/step) + 1
		mu.Lock()
		calls = append(calls, points)
		mu.Unlock()
		if points > 30 {
			return nil, errors.New(`execution: query processing would load too many samples into memory in query execution`)
		}
		return e.QueryRange(ctx, q, start, end, step)
	})
	r := &Reader{Querier: refuse, Spec: eventsSpec(30*24*time.Hour, "route"), Step: time.Minute, SampleBudget: 10000}
	from := fixtureStart.Add(time.Hour)
	var chunks []burnrate.Batch
	n, err := r.ReadChunks(context.Background(), from, from.Add(300*time.Minute), time.Minute, func(b burnrate.Batch) error {
		chunks = append(chunks, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls[0] != 1 {
		t.Errorf("first query asked for %d points, want the one-point series count", calls[0])
	}
	// 10,000 / 200 series = 50 points; the chunk's errors and total
	// queries both refused; split to 25.
	if calls[1] != 50 || calls[2] != 50 || calls[3] != 25 {
		t.Errorf("queries asked for %v points, want 1, 50 and 50 (refused), then 25", calls[:4])
	}
	if n != len(calls) {
		t.Errorf("counted %d queries, sent %d", n, len(calls))
	}
	steps := map[time.Time]int{}
	var last time.Time
	for _, c := range chunks {
		if c.From.Before(last) {
			t.Fatalf("chunk %s..%s after one ending %s", c.From, c.To, last)
		}
		last = c.To
		for _, s := range c.Series {
			for _, st := range s.Steps {
				steps[st.End]++
			}
		}
	}
	if len(steps) != 300 {
		t.Fatalf("%d distinct steps, want 300", len(steps))
	}
	for at, k := range steps {
		if k != 200 {
			t.Fatalf("step %s read for %d series, want 200", at, k)
		}
	}
}

// TestASplitReadReadsWhatAWholeOneReads: a read of a group_by SLO with
// many series goes out as several partitioned queries at once; together
// they return every series exactly once, with the same counts as one
// query each, and a query that cannot be split safely is not.
func TestASplitReadReadsWhatAWholeOneReads(t *testing.T) {
	e := NewEmbedded()
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "http_requests_total{route=\"/r/%03d\",code=\"200\"} 0+%dx400\n", i, 15+i)
		fmt.Fprintf(&b, "http_requests_total{route=\"/r/%03d\",code=\"500\"} 0+%dx400\n", i, i%3)
	}
	if err := e.LoadSeries(fixtureStart, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var texts []string
	counting := querierFunc(func(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
		mu.Lock()
		texts = append(texts, q)
		mu.Unlock()
		return e.QueryRange(ctx, q, start, end, step)
	})
	from := fixtureStart.Add(10 * time.Minute)
	to := from.Add(30 * time.Minute)
	read := func(spec *slo.Spec, split int) (burnrate.Batch, int) {
		t.Helper()
		texts = nil
		r := &Reader{Querier: counting, Spec: spec, Step: time.Minute, Series: 40, SplitSeries: split}
		got, n, err := r.Read(context.Background(), from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return got, n
	}
	spec := eventsSpec(30*24*time.Hour, "route")
	whole, n := read(spec, 1000)
	if n != 2 || len(whole.Series) != 40 {
		t.Fatalf("unsplit: %d queries, %d series", n, len(whole.Series))
	}
	split, n := read(spec, 10)
	if n != 2*MaxSplit {
		t.Fatalf("split: %d queries (%q), want %d", n, texts, 2*MaxSplit)
	}
	if !strings.Contains(texts[0], "route=~") {
		t.Errorf("a split query does not select its part: %s", texts[0])
	}
	if fmt.Sprint(split.Series) != fmt.Sprint(whole.Series) {
		t.Fatalf("split read\n%v\nwant\n%v", split.Series, whole.Series)
	}
	// One step (a steady tick) is read whole: a split repeats the
	// selection of the series in every part.
	r := &Reader{Querier: counting, Spec: spec, Step: time.Minute, Series: 40, SplitSeries: 10}
	texts = nil
	if _, n, err := r.Read(context.Background(), to.Add(-time.Minute), to, time.Minute); err != nil || n != 2 {
		t.Errorf("a one-step read: %d queries (%q), err %v; want the two whole", n, texts, err)
	}
	// A ratio of two aggregations could pair series of two parts: one
	// query each.
	odd := eventsSpec(30*24*time.Hour, "route")
	odd.SLI.Events.TotalQuery = `sum by (route) (rate(http_requests_total[{{.window}}])) * on() group_left() vector(1)`
	if _, n := read(odd, 10); n != 2 {
		t.Errorf("a query with a binary operation was split: %d queries", n)
	}
}

// TestAColdReadThatFailsHalfwayResumesCold: a cold start's read that fails
// after its hourly segment keeps what it read; resumed with Cold, it
// reads on in the cold layout (the newest day at 10m, the newest hour at
// the step), not the 6 hours at the step a gap would get.
func TestAColdReadThatFailsHalfwayResumesCold(t *testing.T) {
	e := NewEmbedded()
	const scrapes = 3*24*60*4 + 240
	if err := e.LoadSeries(fixtureStart, 15*time.Second, fmt.Sprintf(`http_requests_total{route="/a",code="200"} 0+135x%[1]d
http_requests_total{route="/a",code="500"} 0+15x%[1]d`, scrapes)); err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(7*24*time.Hour, "route")
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	now := fixtureStart.Add(3 * 24 * time.Hour)
	failing := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		if step < time.Hour {
			return nil, errors.New("server overloaded")
		}
		return e.QueryRange(ctx, q, s, en, step)
	})
	if _, err := Sync(context.Background(), ev, failing, now, SyncOptions{}); err == nil {
		t.Fatal("the first read did not fail")
	}
	if want := now.Add(-24 * time.Hour); !ev.LastStep().Equal(want) {
		t.Fatalf("after the failure LastStep %s, want the hourly segment's end %s kept", ev.LastStep(), want)
	}
	var segs []Progress
	if _, err := Sync(context.Background(), ev, e, now, SyncOptions{Cold: true, Progress: func(p Progress) { segs = append(segs, p) }}); err != nil {
		t.Fatal(err)
	}
	var atStep time.Duration
	for _, s := range segs {
		if s.Resolution == time.Minute {
			atStep += s.To.Sub(s.From)
		}
	}
	if atStep > time.Hour+2*time.Minute {
		t.Fatalf("segments %+v: %s read at the step, want the newest hour (and the re-read steps) only", segs, atStep)
	}
	c := ev.Instance(map[string]string{"route": "/a"}).Window(now, 24*time.Hour)
	if steps := 24 * 60.0; math.Abs(c.Errors-60*steps) > 1e-6*steps || math.Abs(c.Total-600*steps) > 1e-6*steps {
		t.Fatalf("1d window after the resumed read: %+v", c)
	}
}

// TestPrometheusDoesNotRetryARangeQueryThatTimedOut: a range query of
// several points that outlasts its timeout is a chunk too long for the
// server's load. It is sent once, not held against the breaker (a cold
// backfill on a loaded server tripped it), and its error tells the reader
// to split the chunk; a one-point query is still retried.
func TestPrometheusDoesNotRetryARangeQueryThatTimedOut(t *testing.T) {
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select { // hang past the client's timeout
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	m := NewMetrics(nil)
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, backoff: fastBackoff, Timeout: 50 * time.Millisecond,
		BreakerFailures: 2, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		hits.Store(0)
		_, err := p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart.Add(time.Hour), time.Minute)
		if err == nil || !tooLarge(err) {
			t.Fatalf("error %v: the reader would not split the chunk", err)
		}
		if h := hits.Load(); h != 1 {
			t.Fatalf("%d requests for a range query that timed out, want 1", h)
		}
	}
	if st := metricValue(t, m.breaker); st != 0 {
		t.Fatalf("breaker state %v after three slow range queries, want closed (0)", st)
	}
	hits.Store(0)
	if _, err := p.QueryRange(context.Background(), "up", fixtureStart, fixtureStart, time.Minute); err == nil {
		t.Fatal("a hanging server answered")
	}
	if h := hits.Load(); h < 2 {
		t.Fatalf("%d requests for a one-point query, want retries", h)
	}
}
