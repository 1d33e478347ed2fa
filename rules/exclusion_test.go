package rules

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

var epoch = time.Unix(0, 0).UTC() // promtool's tests start here, a Thursday

// An outage that starts inside a one-off exclusion: no alert while it
// lasts, nor for the base window after it (its rates still hold excluded
// time); then the outage, no longer excluded, pages at once.
func TestScenarioNoAlertInsideAOneOffExclusion(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	step := time.Minute
	x := &slo.Exclusion{Name: "db-upgrade", Reason: "test", From: epoch.Add(5 * time.Hour), To: epoch.Add(8 * time.Hour)}
	both := wantAlerts(spec, []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket}, nil)
	sc := scenario{
		spec: spec, step: step, end: 9 * time.Hour, exclusions: []*slo.Exclusion{x},
		streams: []stream{{rate: 1, bursts: []burst{{from: 6 * time.Hour, to: 100 * time.Hour, ratio: 1}}}},
		checks: []check{
			{at: 7 * time.Hour, alert: DefaultBurnAlert},
			{at: 8*time.Hour + 4*time.Minute, alert: DefaultBurnAlert},
			{at: 8*time.Hour + 5*time.Minute, alert: DefaultBurnAlert, want: both},
		},
	}
	sc.run(t)
}

// A weekly window (Thursdays 07:00–09:00 UTC, the first day of promtool's
// clock) with a full outage inside it: nothing fires, and the recorded
// budget is untouched. Without the exclusion the same two hours overspend
// a 99.9%/30d budget (2h of a 43.2-minute budget).
func TestScenarioWeeklyExclusionKeepsTheBudget(t *testing.T) {
	t.Parallel()
	spec := availability(99.9)
	rule, err := slo.ParseRRule("FREQ=WEEKLY;BYDAY=TH;BYHOUR=7")
	if err != nil {
		t.Fatal(err)
	}
	x := &slo.Exclusion{Name: "weekly", Reason: "test", Rule: rule, Duration: 2 * time.Hour, Location: time.UTC}
	sc := scenario{
		spec: spec, step: time.Minute, end: 12 * time.Hour, exclusions: []*slo.Exclusion{x},
		streams: []stream{{rate: 1, bursts: []burst{{from: 7 * time.Hour, to: 9 * time.Hour, ratio: 1}}}},
		checks: []check{
			{at: 8 * time.Hour, alert: DefaultBurnAlert},
			{at: 9*time.Hour + 10*time.Minute, alert: DefaultBurnAlert},
			{at: 12 * time.Hour, alert: DefaultBurnAlert},
		},
		budget: []budgetCheck{{at: 12 * time.Hour, want: 1}},
	}
	sc.run(t)
	// The same traffic without the exclusion pages an hour in.
	sc.exclusions, sc.budget = nil, nil
	sc.checks = []check{{at: 8 * time.Hour, alert: DefaultBurnAlert,
		want: wantAlerts(spec, []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket}, nil)}}
	sc.run(t)
}

func TestIncludedExprRefusesWhatPromQLCannotSay(t *testing.T) {
	monthly, _ := slo.ParseRRule("FREQ=MONTHLY;BYMONTHDAY=1")
	every2, _ := slo.ParseRRule("FREQ=WEEKLY;BYDAY=SU;INTERVAL=2")
	for _, x := range []*slo.Exclusion{
		{Name: "m", Rule: monthly, Duration: time.Hour},
		{Name: "i", Rule: every2, Duration: time.Hour, From: epoch},
	} {
		if _, err := includedExpr([]*slo.Exclusion{x}, 5*time.Minute); err == nil || !strings.Contains(err.Error(), "cannot be written in PromQL") {
			t.Errorf("exclusion %s: err %v", x.Name, err)
		}
	}
	spec := availability(99.9)
	_, err := Generate([]*slo.Spec{spec}, nil, Options{Exclusions: func(*slo.Spec) []*slo.Exclusion {
		return []*slo.Exclusion{{Name: "m", Rule: monthly, Duration: time.Hour}}
	}})
	if err == nil {
		t.Error("Generate accepted an exclusion its rules cannot honour")
	}
}

func TestIncludedExprUsesTheStandardOffset(t *testing.T) {
	// Sundays 02:00 Europe/Berlin read at CET (+1h) all year: 01:00 UTC.
	// The shift makes (t + shift) mod a week zero exactly then.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	rule, _ := slo.ParseRRule("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2")
	expr, err := includedExpr([]*slo.Exclusion{{Name: "s", Rule: rule, Duration: 2 * time.Hour, Location: berlin}}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(1970, 1, 4, 1, 0, 0, 0, time.UTC).Unix() // the first such Sunday, 02:00 CET
	shift := (secondsPerWeek - start%secondsPerWeek) % secondsPerWeek
	want := "((vector(time()) + " + strconv.FormatInt(shift, 10) + ") % 604800)"
	if !strings.Contains(expr, want) || !strings.Contains(expr, "< bool 7500") {
		t.Errorf("expr %s\nwant the term %s and a duration of 2h05m", expr, want)
	}
}

func TestTimeSliceSLOsAreRefused(t *testing.T) {
	spec := availability(99.9)
	spec.TimeSlices = &slo.TimeSlices{Length: time.Minute, Target: 0.95}
	if _, err := Generate([]*slo.Spec{spec}, nil, Options{}); err == nil || !strings.Contains(err.Error(), "time-slice budgeting") {
		t.Errorf("err %v", err)
	}
}
