package source

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// scraped returns an engine holding /a's request counters (10 req/s, 1 of
// them failing) sampled every interval for two days from fixtureStart.
func scraped(t *testing.T, interval time.Duration) *Embedded {
	t.Helper()
	n := int(48 * time.Hour / interval)
	per := 10 * interval.Seconds()
	e := NewEmbedded()
	series := fmt.Sprintf(`
http_requests_total{route="/a",code="200"} 0+%[2]gx%[1]d
http_requests_total{route="/a",code="500"} 0+%[3]gx%[1]d
`, n, 0.9*per, 0.1*per)
	if err := e.LoadSeries(fixtureStart, interval, series); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDiagnoseEmpty(t *testing.T) {
	at := fixtureStart.Add(24 * time.Hour)
	missing := &slo.Spec{ID: "missing", Objective: 99.9, Window: 24 * time.Hour, SLI: slo.SLI{Events: &slo.EventsSLI{
		ErrorQuery: `sum(rate(grpc_requests_total{code!="OK"}[{{.window}}]))`,
		TotalQuery: `sum(rate(grpc_requests_total{job="api"}[{{.window}}]))`,
	}}}
	filtered := &slo.Spec{ID: "filtered", Objective: 99.9, Window: 24 * time.Hour, SLI: slo.SLI{Events: &slo.EventsSLI{
		ErrorQuery: `sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))`,
		TotalQuery: `sum(rate(http_requests_total[{{.window}}])) > 1e9`,
	}}}
	raw := &slo.Spec{ID: "raw", Objective: 99.9, Window: 24 * time.Hour, SLI: slo.SLI{Raw: &slo.RawSLI{
		ErrorRatioQuery: `sum(rate(http_requests_total{code="500"}[{{.window}}])) / sum(rate(http_requests_total[{{.window}}]))`,
	}}}
	for _, tc := range []struct {
		name     string
		interval time.Duration
		spec     *slo.Spec
		step     time.Duration
		// want are substrings of the hint; none: no hint.
		want []string
	}{
		{name: "series scraped every 15s have data at a 1m step", interval: 15 * time.Second, spec: eventsSpec(24 * time.Hour), step: time.Minute},
		{name: "series scraped every 30s have data at a 1m step", interval: 30 * time.Second, spec: eventsSpec(24 * time.Hour), step: time.Minute},
		{name: "series scraped every minute are too sparse for a 1m step", interval: time.Minute, spec: eventsSpec(24 * time.Hour), step: time.Minute,
			want: []string{"series http_requests_total exist but are sampled about every 1m", "a step of 1m needs at least two samples per step", "--step 2m", "scrape every 30s or faster"}},
		{name: "series scraped every minute have data at a 2m step", interval: time.Minute, spec: eventsSpec(24 * time.Hour), step: 2 * time.Minute},
		{name: "series scraped every 5 minutes ask for a 10m step", interval: 5 * time.Minute, spec: eventsSpec(24 * time.Hour), step: time.Minute,
			want: []string{"sampled about every 5m", "--step 10m"}},
		{name: "a raw SLI over series scraped every minute is too sparse", interval: time.Minute, spec: raw, step: time.Minute,
			want: []string{`series http_requests_total{code="500"} exist but are sampled about every 1m`, "--step 2m"}},
		{name: "series that do not exist are named", interval: 15 * time.Second, spec: missing, step: time.Minute,
			want: []string{`no series match grpc_requests_total{job="api"} in the 1h before 2026-01-06T00:00:00Z`, "check the metric name and labels"}},
		{name: "dense series behind a query that filters everything point at the query", interval: 15 * time.Second, spec: filtered, step: time.Minute,
			want: []string{"series http_requests_total exist and are sampled about every 15s, but the SLI query returns nothing", "check the query sum (sum(rate(http_requests_total[1m])) > 1e9)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := scraped(t, tc.interval)
			hint, err := DiagnoseEmpty(context.Background(), e, tc.spec, tc.step, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.want) == 0 && hint != "" {
				t.Fatalf("hint %q, want none", hint)
			}
			for _, w := range tc.want {
				if !strings.Contains(hint, w) {
					t.Errorf("hint %q does not say %q", hint, w)
				}
			}
			if strings.Contains(hint, "no series match") != (tc.spec == missing) {
				t.Errorf("hint %q: only missing series may be reported as missing", hint)
			}
		})
	}
}

// TestStepOfTwiceTheScrapeInterval reads minute-spaced counters with the
// default 1m step (no step known, and Diagnose says why) and with a 2m step
// (every step known, totals exact), through the embedded engine and the
// evaluator.
func TestStepOfTwiceTheScrapeInterval(t *testing.T) {
	e := scraped(t, time.Minute)
	spec := eventsSpec(24*time.Hour, "route")
	now := fixtureStart.Add(36 * time.Hour)
	for _, tc := range []struct {
		name string
		step time.Duration
		// windows are checked to have the share known of their steps
		// (older history is read at a coarse tier's resolution, where a
		// 1m scrape is dense enough); hint is a substring of Diagnose's
		// answer ("" for none).
		windows []time.Duration
		known   float64
		hint    string
	}{
		{name: "a 1m step knows no recent step and is diagnosed", step: time.Minute,
			windows: []time.Duration{10 * time.Minute, time.Hour}, hint: "--step 2m"},
		{name: "a 2m step knows every step", step: 2 * time.Minute,
			windows: []time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}, known: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec, Step: tc.step})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sync(context.Background(), ev, e, now, SyncOptions{}); err != nil {
				t.Fatal(err)
			}
			in := ev.Instance(map[string]string{"route": "/a"})
			for _, w := range tc.windows {
				var c burnrate.WindowCount
				if in != nil {
					c = in.Window(now, w)
				}
				steps := float64(w / tc.step)
				if float64(c.Known) != tc.known*steps {
					t.Errorf("%s window: %d steps known, want %v", w, c.Known, tc.known*steps)
				}
				// 10 req/s, one in ten failing.
				if tc.known == 1 && (math.Abs(c.Total-10*w.Seconds()) > 1e-6*w.Seconds() || math.Abs(c.Errors-w.Seconds()) > 1e-6*w.Seconds()) {
					t.Errorf("%s window: %v errors of %v, want %v of %v", w, c.Errors, c.Total, w.Seconds(), 10*w.Seconds())
				}
			}
			// The policy's rows (short windows down to 5m, not a multiple
			// of 2m) see the 10% error ratio: a burn of 100 on a 99.9% SLO.
			rows := 0
			for _, ie := range ev.Evaluate(now) {
				for _, r := range ie.Rows {
					rows++
					if tc.known == 1 && (math.Abs(float64(r.LongBurn)-100) > 1e-6 || math.Abs(float64(r.ShortBurn)-100) > 1e-6 || !r.Fires) {
						t.Errorf("row %s/%s: burns %v/%v, fires %v; want 100/100, firing", r.Row.Long, r.Row.Short, r.LongBurn, r.ShortBurn, r.Fires)
					}
					// A cold start reads only the newest hour at the step
					// (Plan): the rows whose short window lies in it know
					// nothing and must not fire. (Older history, read at
					// 10m, is dense enough and is known.)
					if tc.known == 0 && r.Row.Short <= ColdFineSpan && r.Fires {
						t.Errorf("row %s/%s fires without known recent steps", r.Row.Long, r.Row.Short)
					}
				}
			}
			if rows == 0 {
				t.Error("no row evaluated")
			}
			hint, err := Diagnose(context.Background(), e, ev, now)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.hint == "") != (hint == "") || !strings.Contains(hint, tc.hint) {
				t.Fatalf("Diagnose: %q, want %q", hint, tc.hint)
			}
		})
	}
}
