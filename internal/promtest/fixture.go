package promtest

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Burn is a period during which one scenario's error counter grows at
// ErrorsPerMinute (From inclusive, To exclusive, both on the minute).
type Burn struct {
	From, To        time.Time
	ErrorsPerMinute float64
}

// SLOFixture describes synthetic SLI history at a 1-minute scrape interval:
// a shared request counter slo_requests_total growing by RequestsPerMinute,
// and one error counter slo_errors_total{scenario="<name>"} per scenario
// that grows only during its burns. An SLO for scenario x uses
//
//	errors: sum(rate(slo_errors_total{scenario="x"}[{{.window}}]))
//	total:  sum(rate(slo_requests_total[{{.window}}]))
type SLOFixture struct {
	// End is the fixed time of the last sample; Length is how much history
	// precedes it.
	End               time.Time
	Length            time.Duration
	RequestsPerMinute float64
	Scenarios         map[string][]Burn
}

// Start is the time of the first sample.
func (f SLOFixture) Start() time.Time { return f.End.Add(-f.Length) }

// Minutes is the number of 1-minute intervals (samples − 1).
func (f SLOFixture) Minutes() int { return int(f.Length / time.Minute) }

// ErrorsAt is the value of a scenario's error counter at t.
func (f SLOFixture) ErrorsAt(scenario string, t time.Time) float64 {
	var v float64
	for _, b := range f.Scenarios[scenario] {
		if !t.After(b.From) {
			continue
		}
		end := t
		if end.After(b.To) {
			end = b.To
		}
		v += b.ErrorsPerMinute * float64(end.Sub(b.From)/time.Minute)
	}
	return v
}

// ErrorQuery and TotalQuery are the SLI templates for a scenario.
func (f SLOFixture) ErrorQuery(scenario string) string {
	return fmt.Sprintf(`sum(rate(slo_errors_total{scenario=%q}[{{.window}}]))`, scenario)
}

// TotalQuery is the SLI's total template, shared by every scenario.
func (f SLOFixture) TotalQuery() string { return `sum(rate(slo_requests_total[{{.window}}]))` }

// OpenMetrics renders the fixture for CreateBlocks or Options.OpenMetrics;
// extra series (e.g. synthetic recorded series) are written alongside.
func (f SLOFixture) OpenMetrics(extra ...Counter) string {
	start := f.Start()
	counters := []Counter{{Family: "slo_requests", Value: func(i int) float64 { return float64(i) * f.RequestsPerMinute }}}
	for name := range f.Scenarios {
		counters = append(counters, Counter{Family: "slo_errors", Labels: map[string]string{"scenario": name},
			Value: func(i int) float64 { return f.ErrorsAt(name, start.Add(time.Duration(i)*time.Minute)) }})
	}
	counters = append(counters, extra...)
	var b bytes.Buffer
	if err := WriteOpenMetrics(&b, start, time.Minute, f.Minutes(), counters...); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.String()
}

// SLOYAML renders a native slod/v1 file with one SLO per scenario
// (objective and window as given), for CLI and daemon tests.
func (f SLOFixture) SLOYAML(service string, objective float64, window string, scenarios ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: slod/v1\nservice: %s\nslos:\n", service)
	for _, s := range scenarios {
		fmt.Fprintf(&b, "  - name: %s\n    objective: %v\n    window: %s\n    sli:\n      events:\n        error_query: '%s'\n        total_query: '%s'\n",
			s, objective, window, f.ErrorQuery(s), f.TotalQuery())
	}
	return b.String()
}

// Scenario names of BurnScenarios.
const (
	ScenarioOutage = "outage" // 100% errors for 2h, from end − 12h
	ScenarioBurn2x = "burn2x" // 0.2% errors (2× a 99.9% budget) for 3 days, from end − 4d to end − 1d
	ScenarioSpike  = "spike"  // 2% errors (20×) for 5 minutes at end − 2d
)

// BurnScenarios is the standard alert-quality fixture: 1,000 requests a
// minute for length before end, with the three scenarios above. For a
// 99.9%/30d SLO with the default policy the outage pages (1h/5m after
// 51.8 s), burn2x raises a ticket only (3d/6h), and spike fires nothing.
func BurnScenarios(end time.Time, length time.Duration) SLOFixture {
	return SLOFixture{
		End: end, Length: length, RequestsPerMinute: 1000,
		Scenarios: map[string][]Burn{
			ScenarioOutage: {{From: end.Add(-12 * time.Hour), To: end.Add(-10 * time.Hour), ErrorsPerMinute: 1000}},
			ScenarioBurn2x: {{From: end.Add(-4 * 24 * time.Hour), To: end.Add(-24 * time.Hour), ErrorsPerMinute: 2}},
			ScenarioSpike:  {{From: end.Add(-48 * time.Hour), To: end.Add(-48*time.Hour + 5*time.Minute), ErrorsPerMinute: 20}},
		},
	}
}
