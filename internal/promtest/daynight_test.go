package promtest

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

func TestDayNightNotationMatchesItsCounts(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	d := DayNight{End: end, Length: 2 * 24 * time.Hour, Outages: []Burn{{From: end.Add(-10 * time.Hour), To: end.Add(-10*time.Hour + 20*time.Minute)}}}
	req, errs := d.SeriesValues()
	p := expand(t, req)
	e := expand(t, errs)
	if len(p) != d.Minutes()+1 || len(e) != d.Minutes()+1 {
		t.Fatalf("%d and %d samples, want %d", len(p), len(e), d.Minutes()+1)
	}
	// A day: 720 × 10,000 + 720 × 500 requests, 1,440 × 5 errors.
	if p[1440] != 7.56e6 || e[1440] != 7200 {
		t.Fatalf("after a day: %v requests, %v errors", p[1440], e[1440])
	}
	// The outage at 14:00: 20 minutes of 10,000 failing requests.
	i := int(d.Outages[0].From.Sub(d.Start()) / time.Minute)
	if got := e[i+20] - e[i]; got != 200000 {
		t.Fatalf("outage errors %v, want 200,000", got)
	}
}

// expand reads promtool's series notation with Prometheus's own parser.
func expand(t *testing.T, s string) []float64 {
	t.Helper()
	_, vals, err := parser.NewParser(parser.Options{}).ParseSeriesDesc("x " + s)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = v.Value
	}
	return out
}
