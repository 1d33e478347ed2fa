// Package report builds the budget report SREs review at the end of a
// period (`sloctl report`, the daemon's /api/v1/reports): per SLO and
// instance, the SLI achieved against the objective, the budget spent and
// left, the time excluded and unknown, and the incidents. It holds the
// figures and their renderings; the counts come from the engine's replay
// (cmd/sloctl) — the one evaluation pipeline.
package report

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Period is a calendar period in a timezone: [From, To).
type Period struct {
	// Name is the period as given: 2026-11 or 2026-Q4.
	Name     string
	Location *time.Location
	From, To time.Time
}

var (
	monthRE   = regexp.MustCompile(`^(\d{4})-(\d{2})$`)
	quarterRE = regexp.MustCompile(`^(\d{4})-[Qq]([1-4])$`)
)

// ParsePeriod reads a month (2026-11) or a quarter (2026-Q4) in loc: the
// period starts at local midnight of its first day, DST included.
func ParsePeriod(s string, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = time.UTC
	}
	p := Period{Name: s, Location: loc}
	var y, m, months int
	switch {
	case monthRE.MatchString(s):
		g := monthRE.FindStringSubmatch(s)
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
		months = 1
		if m < 1 || m > 12 {
			return Period{}, fmt.Errorf("period %q: month %d is not from 01 to 12", s, m)
		}
	case quarterRE.MatchString(s):
		g := quarterRE.FindStringSubmatch(s)
		y, _ = strconv.Atoi(g[1])
		q, _ := strconv.Atoi(g[2])
		m, months = 3*q-2, 3
	default:
		return Period{}, fmt.Errorf("period %q: want a month such as 2026-11 or a quarter such as 2026-Q4", s)
	}
	p.From = slo.WallClock(y, time.Month(m), 1, 0, 0, loc)
	end := time.Date(y, time.Month(m+months), 1, 0, 0, 0, 0, time.UTC)
	p.To = slo.WallClock(end.Year(), end.Month(), 1, 0, 0, loc)
	return p, nil
}

// Report is the whole report of one period.
type Report struct {
	Period   string    `json:"period"`
	Timezone string    `json:"timezone"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// StepSeconds is the resolution the counts were read at.
	StepSeconds float64 `json:"step_seconds"`
	SLOs        []SLO   `json:"slos"`
}

// SLO is one SLO's part of a report.
type SLO struct {
	SLO       string  `json:"slo"`
	Service   string  `json:"service"`
	Objective float64 `json:"objective"`
	Policy    string  `json:"policy"`
	// Exclusions are the occurrences of the SLO's budget exclusions that
	// overlap the period, clipped to it.
	Exclusions      []Exclusion `json:"exclusions"`
	ExcludedSeconds float64     `json:"excluded_seconds"`
	Instances       []Instance  `json:"instances"`
	Warnings        []string    `json:"warnings,omitempty"`
}

// Exclusion is one occurrence of a budget exclusion within the period.
type Exclusion struct {
	Name     string    `json:"name"`
	Reason   string    `json:"reason"`
	Category string    `json:"category,omitempty"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// ExclusionsIn lists the occurrences of xs within [from, to), each cut to
// the period.
func ExclusionsIn(xs []*slo.Exclusion, from, to time.Time) []Exclusion {
	out := []Exclusion{}
	for _, x := range xs {
		for _, iv := range x.Occurrences(nil, from, to) {
			e := Exclusion{Name: x.Name, Reason: x.Reason, Category: x.Category, From: iv.From, To: iv.To}
			if e.From.Before(from) {
				e.From = from
			}
			if e.To.After(to) {
				e.To = to
			}
			out = append(out, e)
		}
	}
	return out
}

// Verdict says whether an instance met its objective over the period.
type Verdict string

// The verdicts. Unknown is a period without a known step: never met.
const (
	Met     Verdict = "met"
	Missed  Verdict = "missed"
	Unknown Verdict = "unknown"
)

// Instance is one SLO instance's figures over the period.
type Instance struct {
	Labels map[string]string `json:"labels"`
	// SLI is the good share achieved, 1 − errors/events over the known,
	// non-excluded steps of the period (unknown without one).
	SLI     burnrate.Figure `json:"sli"`
	Verdict Verdict         `json:"verdict"`
	Errors  float64         `json:"errors"`
	Events  float64         `json:"events"`
	// BudgetSpent is errors over the period's budget (1 − objective times
	// its events); BudgetRemaining is 1 − BudgetSpent, negative once
	// overspent.
	BudgetSpent     burnrate.Figure `json:"budget_spent"`
	BudgetRemaining burnrate.Figure `json:"budget_remaining"`
	// KnownSeconds, ExcludedSeconds and UnknownSeconds split the period:
	// steps with data, steps in an exclusion, steps without data.
	KnownSeconds    float64    `json:"known_seconds"`
	ExcludedSeconds float64    `json:"excluded_seconds"`
	UnknownSeconds  float64    `json:"unknown_seconds"`
	Incidents       []Incident `json:"incidents"`
	// PagingSeconds is how long a page-severity incident was open within
	// the period.
	PagingSeconds float64 `json:"paging_seconds"`
}

// Incident is an incident of the instance that overlapped the period.
type Incident struct {
	Class    burnrate.IncidentClass `json:"class"`
	Severity burnrate.Severity      `json:"severity"`
	Start    time.Time              `json:"start"`
	// End is when it resolved; absent when it was still open at the end
	// of the period.
	End time.Time `json:"end,omitzero"`
	// DurationSeconds is its time within the period.
	DurationSeconds float64 `json:"duration_seconds"`
	// WindowBudgetSpent is the share of the SLO window's budget the
	// incident spent (burnrate.Incident.BudgetSpent).
	WindowBudgetSpent burnrate.Figure `json:"window_budget_spent"`
}

// Counts are an instance's step counts over the period, as the replay
// summed them.
type Counts struct {
	Errors, Events float64
	// Known, Excluded and Unknown count steps.
	Known, Excluded, Unknown int64
}

// NewInstance works out an instance's figures from its counts and
// incidents for an SLO of the given objective (in percent).
func NewInstance(labels map[string]string, objective float64, c Counts, step time.Duration, incidents []burnrate.Incident, p Period) Instance {
	if labels == nil {
		labels = map[string]string{}
	}
	in := Instance{Labels: labels, SLI: burnrate.Unknown(), Verdict: Unknown, Errors: c.Errors, Events: c.Events,
		BudgetSpent: burnrate.Unknown(), BudgetRemaining: burnrate.Unknown(),
		KnownSeconds: float64(c.Known) * step.Seconds(), ExcludedSeconds: float64(c.Excluded) * step.Seconds(),
		UnknownSeconds: float64(c.Unknown) * step.Seconds(), Incidents: []Incident{}}
	budget := 1 - objective/100
	if c.Known > 0 {
		ratio := 0.0
		if c.Events > 0 {
			ratio = c.Errors / c.Events
		}
		in.SLI = burnrate.Figure(1 - ratio)
		in.Verdict = Missed
		// Met when the error ratio is within the budget; the tolerance
		// keeps 1 − 0.99 from missing 0.01 by a rounding.
		if ratio <= budget*(1+1e-12) {
			in.Verdict = Met
		}
		in.BudgetSpent = burnrate.Figure(ratio / budget)
		in.BudgetRemaining = 1 - in.BudgetSpent
	}
	for _, inc := range incidents {
		end := inc.Resolved
		if end.IsZero() || end.After(p.To) {
			end = p.To
		}
		start := inc.Start
		if start.Before(p.From) {
			start = p.From
		}
		if !end.After(start) {
			continue
		}
		ri := Incident{Class: inc.Class, Severity: inc.Severity, Start: inc.Start, DurationSeconds: end.Sub(start).Seconds(),
			WindowBudgetSpent: inc.BudgetSpent}
		if !inc.Resolved.IsZero() && !inc.Resolved.After(p.To) {
			ri.End = inc.Resolved
		}
		if inc.Severity == burnrate.SeverityPage {
			in.PagingSeconds += ri.DurationSeconds
		}
		in.Incidents = append(in.Incidents, ri)
	}
	return in
}
