package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
)

func TestParsePeriod(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, period string
		loc          *time.Location
		from, to     string
		wantErr      string
	}{
		{"a UTC month", "2026-11", time.UTC, "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z", ""},
		{"a Berlin month starts at local midnight (CET)", "2026-11", berlin, "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z", ""},
		{"a Berlin month across the October DST change is an hour longer", "2026-10", berlin, "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z", ""},
		{"December ends at the next year's start", "2026-12", time.UTC, "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", ""},
		{"a quarter", "2026-Q4", berlin, "2026-09-30T22:00:00Z", "2026-12-31T23:00:00Z", ""},
		{"month 13 is refused", "2026-13", time.UTC, "", "", "from 01 to 12"},
		{"a date is refused", "2026-11-01", time.UTC, "", "", "want a month"},
		{"Q5 is refused", "2026-Q5", time.UTC, "", "", "want a month"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePeriod(c.period, c.loc)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.From.UTC().Format(time.RFC3339); got != c.from {
				t.Errorf("from %s, want %s", got, c.from)
			}
			if got := p.To.UTC().Format(time.RFC3339); got != c.to {
				t.Errorf("to %s, want %s", got, c.to)
			}
		})
	}
}

func TestNewInstance(t *testing.T) {
	p, _ := ParsePeriod("2026-11", time.UTC)
	t.Run("a period without a known step is unknown, never met", func(t *testing.T) {
		in := NewInstance(nil, 99.9, Counts{Unknown: 10, Excluded: 2}, time.Minute, nil, p)
		if in.Verdict != Unknown || in.SLI.Known() || in.BudgetSpent.Known() || in.UnknownSeconds != 600 || in.ExcludedSeconds != 120 {
			t.Errorf("%+v", in)
		}
	})
	t.Run("figures follow the counts", func(t *testing.T) {
		in := NewInstance(nil, 99, Counts{Errors: 5, Events: 1000, Known: 3}, time.Minute, nil, p)
		if in.Verdict != Met || !near(float64(in.SLI), 0.995) || !near(float64(in.BudgetSpent), 0.5) || !near(float64(in.BudgetRemaining), 0.5) {
			t.Errorf("%+v", in)
		}
		in = NewInstance(nil, 99.9, Counts{Errors: 5, Events: 1000, Known: 3}, time.Minute, nil, p)
		if in.Verdict != Missed || float64(in.BudgetRemaining) > -3.99 {
			t.Errorf("%+v", in)
		}
	})
	t.Run("incidents are clipped to the period and pages add up", func(t *testing.T) {
		incs := []burnrate.Incident{
			{Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage, Start: p.From.Add(-time.Hour), Resolved: p.From.Add(time.Hour)},
			{Class: burnrate.ClassBurn, Severity: burnrate.SeverityTicket, Start: p.From.Add(2 * time.Hour), Resolved: p.From.Add(3 * time.Hour)},
			{Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage, Start: p.To.Add(-30 * time.Minute)},
			{Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage, Start: p.From.Add(-3 * time.Hour), Resolved: p.From.Add(-2 * time.Hour)},
		}
		in := NewInstance(nil, 99, Counts{Known: 1}, time.Minute, incs, p)
		if len(in.Incidents) != 3 || in.PagingSeconds != 5400 || !in.Incidents[2].End.IsZero() || in.Incidents[0].DurationSeconds != 3600 {
			t.Errorf("%+v", in)
		}
	})
}

func TestWriteEveryFormat(t *testing.T) {
	p, _ := ParsePeriod("2026-11", time.UTC)
	r := &Report{Period: p.Name, Timezone: "UTC", From: p.From, To: p.To, SLOs: []SLO{{SLO: "shop-x|y", Service: "shop", Objective: 99.9,
		Instances: []Instance{NewInstance(map[string]string{"route": "/a"}, 99.9, Counts{}, time.Minute, nil, p)}}}}
	for _, f := range Formats {
		var b bytes.Buffer
		if err := Write(&b, r, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.Contains(b.String(), "shop-x") {
			t.Errorf("%s lacks the SLO:\n%s", f, b.String())
		}
		if f != "json" && f != "csv" && !strings.Contains(b.String(), "unknown") {
			t.Errorf("%s does not say unknown for an SLI without data:\n%s", f, b.String())
		}
	}
	if err := Write(&bytes.Buffer{}, r, "xml"); err == nil {
		t.Error("xml accepted")
	}
	var md bytes.Buffer
	_ = Write(&md, r, "markdown")
	if !strings.Contains(md.String(), `shop-x\|y`) {
		t.Errorf("a | in a Markdown cell is not escaped:\n%s", md.String())
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
