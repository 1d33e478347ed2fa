package promtest

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DayNight is the history of issue 13: a service with 12 hours at 10,000
// requests a minute and 0.05% errors (08:00–20:00 UTC) and 12 hours at
// 500 a minute and 1% errors — 5 errors a minute around the clock — with
// total outages (every request fails) at the times given. It writes
// slo_requests_total and slo_errors_total at a 1-minute interval, End
// being the last sample.
type DayNight struct {
	End     time.Time
	Length  time.Duration
	Outages []Burn // From/To of each total outage; ErrorsPerMinute is unused
}

// Start is the time of the first sample.
func (d DayNight) Start() time.Time { return d.End.Add(-d.Length) }

// Minutes is the number of 1-minute intervals (samples − 1).
func (d DayNight) Minutes() int { return int(d.Length / time.Minute) }

// Minute is the requests and errors of the minute that ends at end.
func (d DayNight) Minute(end time.Time) (requests, errors float64) {
	requests, errors = 500, 5
	if h := end.Add(-time.Minute).Hour(); h >= 8 && h < 20 {
		requests = 10000
	}
	for _, o := range d.Outages {
		if end.After(o.From) && !end.After(o.To) {
			errors = requests
		}
	}
	return requests, errors
}

// counts returns the per-minute increments of both counters.
func (d DayNight) counts() (requests, errors []float64) {
	n := d.Minutes()
	requests, errors = make([]float64, n), make([]float64, n)
	for i := range n {
		requests[i], errors[i] = d.Minute(d.Start().Add(time.Duration(i+1) * time.Minute))
	}
	return requests, errors
}

// OpenMetrics renders the history for Options.OpenMetrics.
func (d DayNight) OpenMetrics() string {
	req, errs := d.counts()
	cum := func(inc []float64) func(int) float64 {
		vals := make([]float64, len(inc)+1)
		for i, x := range inc {
			vals[i+1] = vals[i] + x
		}
		return func(i int) float64 { return vals[i] }
	}
	var b bytes.Buffer
	if err := WriteOpenMetrics(&b, d.Start(), time.Minute, d.Minutes(),
		Counter{Family: "slo_requests", Value: cum(req)}, Counter{Family: "slo_errors", Value: cum(errs)}); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.String()
}

// SeriesValues renders both counters in promtool's series notation
// (`input_series` values at a 1m interval), run-length encoded: each run of
// equal increments is one `start+incxN` term.
func (d DayNight) SeriesValues() (requests, errors string) {
	req, errs := d.counts()
	return Notation(req), Notation(errs)
}

// SeriesValuesHalfMinute is SeriesValues at a 30-second interval (each
// minute's counts split evenly), for the embedded engine, whose range
// selectors leave out a sample on the left edge and so need two samples
// within each 1-minute step.
func (d DayNight) SeriesValuesHalfMinute() (requests, errors string) {
	req, errs := d.counts()
	half := func(inc []float64) []float64 {
		out := make([]float64, 0, 2*len(inc))
		for _, x := range inc {
			out = append(out, x/2, x/2)
		}
		return out
	}
	return Notation(half(req)), Notation(half(errs))
}

// Notation renders a counter that starts at 0 and grows by inc[i] at
// sample i+1 in promtool's series notation, one `start+incxN` term per run
// of equal increments.
func Notation(inc []float64) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	terms := []string{"0"}
	cur := 0.0
	for i := 0; i < len(inc); {
		j := i
		for j < len(inc) && inc[j] == inc[i] {
			j++
		}
		terms = append(terms, fmt.Sprintf("%s+%sx%d", f(cur+inc[i]), f(inc[i]), j-i-1))
		cur += inc[i] * float64(j-i)
		i = j
	}
	return strings.Join(terms, " ")
}

// SLOYAML renders a native slod/v1 file with one 99.9%/30d SLO named
// name reading the history, with the policy given ("" for none).
func (d DayNight) SLOYAML(service, name, policy string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: slod/v1\nservice: %s\nslos:\n  - name: %s\n    objective: 99.9\n    window: 30d\n", service, name)
	if policy != "" {
		fmt.Fprintf(&b, "    policy: %s\n", policy)
	}
	b.WriteString("    annotations:\n      runbook: https://runbooks.example/daynight\n")
	b.WriteString("    sli:\n      events:\n        error_query: 'sum(rate(slo_errors_total[{{.window}}]))'\n        total_query: 'sum(rate(slo_requests_total[{{.window}}]))'\n")
	return b.String()
}
