package slo

import (
	"strings"
	"testing"
	"time"
)

const exclusionSLOs = `version: slod/v1
service: app
labels: {team: shop}
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
---
`

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExclusionLoadsAndMatches(t *testing.T) {
	src := exclusionSLOs + `version: slod/v1
kind: Exclusion
name: db-upgrade-2026-11
reason: PostgreSQL major upgrade, announced in CHG-1234
category: maintenance
match: {service: app}
from: 2026-11-14T02:00:00Z
to: 2026-11-14T03:00:00Z
---
version: slod/v1
kind: Exclusion
name: sunday-window
reason: weekly maintenance
category: maintenance
match: {labels: {team: shop}}
rrule: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"
duration: 2h
timezone: Europe/Berlin
---
version: slod/v1
kind: Exclusion
name: other
reason: not ours
match: {slo: other-thing}
from: 2026-11-14T02:00:00Z
to: 2026-11-14T03:00:00Z
`
	set, diags := LoadBytes("x.yaml", []byte(src))
	diags = append(diags, Validate(set)...)
	var warned bool
	for _, d := range diags {
		if d.Severity == SeverityError {
			t.Fatalf("unexpected error: %s", d)
		}
		if d.Rule == RuleExclusion && strings.Contains(d.Message, `"other" matches no SLO`) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning for an exclusion matching no SLO: %v", diags)
	}
	if len(set.Exclusions) != 3 {
		t.Fatalf("got %d exclusions, want 3", len(set.Exclusions))
	}
	xs := set.ExclusionsFor(set.SLOs[0])
	if len(xs) != 2 || xs[0].Name != "db-upgrade-2026-11" || xs[1].Name != "sunday-window" {
		t.Fatalf("ExclusionsFor = %v", xs)
	}
	one := xs[0]
	if one.Reason == "" || one.Category != "maintenance" || one.Pos.Line != 14 {
		t.Errorf("one-off exclusion read as %+v", one)
	}
	got := ExcludedIntervals(nil, xs, mustTime(t, "2026-11-14T00:00:00Z"), mustTime(t, "2026-11-16T00:00:00Z"))
	want := []Interval{
		{mustTime(t, "2026-11-14T02:00:00Z"), mustTime(t, "2026-11-14T03:00:00Z")},
		{mustTime(t, "2026-11-15T01:00:00Z"), mustTime(t, "2026-11-15T03:00:00Z")}, // 02:00 CET
	}
	if len(got) != len(want) {
		t.Fatalf("intervals = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].From.Equal(want[i].From) || !got[i].To.Equal(want[i].To) {
			t.Errorf("interval %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestExclusionRecurringAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	rule, err := ParseRRule("FREQ=WEEKLY;BYDAY=SU;BYHOUR=2")
	if err != nil {
		t.Fatal(err)
	}
	x := &Exclusion{Name: "sunday", Rule: rule, Duration: 2 * time.Hour, Location: berlin}
	cases := []struct {
		name       string
		from, to   string
		wantStarts []string
	}{
		{"the Sunday before the autumn change starts at 02:00 CEST (00:00 UTC)",
			"2026-10-18T00:00:00Z", "2026-10-19T00:00:00Z", []string{"2026-10-18T00:00:00Z"}},
		{"on the autumn change 02:00 happens twice: the first one, CEST, is taken",
			"2026-10-25T00:00:00Z", "2026-10-26T00:00:00Z", []string{"2026-10-25T00:00:00Z"}},
		{"the Sunday after the autumn change starts at 02:00 CET (01:00 UTC)",
			"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", []string{"2026-11-01T01:00:00Z"}},
		{"on the spring change 02:00 does not exist: read with the offset before the gap (01:00 UTC)",
			"2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z", []string{"2026-03-29T01:00:00Z"}},
		{"a range holding five Sundays lists five occurrences",
			"2026-10-04T00:00:00Z", "2026-11-02T00:00:00Z",
			[]string{"2026-10-04T00:00:00Z", "2026-10-11T00:00:00Z", "2026-10-18T00:00:00Z", "2026-10-25T00:00:00Z", "2026-11-01T01:00:00Z"}},
		{"an occurrence that began before the range and overlaps it is listed",
			"2026-11-01T02:00:00Z", "2026-11-01T05:00:00Z", []string{"2026-11-01T01:00:00Z"}},
		{"an occurrence that ended at the range's start is not listed",
			"2026-11-01T03:00:00Z", "2026-11-01T05:00:00Z", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := x.Occurrences(nil, mustTime(t, c.from), mustTime(t, c.to))
			if len(got) != len(c.wantStarts) {
				t.Fatalf("occurrences = %v, want starts %v", got, c.wantStarts)
			}
			for i, w := range c.wantStarts {
				if !got[i].From.Equal(mustTime(t, w)) || got[i].To.Sub(got[i].From) != 2*time.Hour {
					t.Errorf("occurrence %d = %v, want a 2h one from %s", i, got[i], w)
				}
			}
		})
	}
}

func TestParseRRule(t *testing.T) {
	cases := []struct {
		rule    string
		wantErr string
	}{
		{"FREQ=WEEKLY;BYDAY=SU,SA;BYHOUR=2;BYMINUTE=30", ""},
		{"RRULE:FREQ=DAILY;BYHOUR=3", ""},
		{"FREQ=MONTHLY;BYMONTHDAY=1;INTERVAL=2", ""},
		{"FREQ=YEARLY", "not supported"},
		{"FREQ=WEEKLY;COUNT=3", "COUNT is not supported"},
		{"FREQ=WEEKLY;BYDAY=1MO", "ordinals"},
		{"FREQ=DAILY;BYHOUR=24", "from 0 to 23"},
		{"BYHOUR=2", "no FREQ"},
		{"FREQ=DAILY;FREQ=WEEKLY", "twice"},
		{"FREQ=WEEKLY;BYMONTHDAY=3", "needs FREQ=MONTHLY"},
		{"", "empty"},
		{"garbage", "NAME=VALUE"},
	}
	for _, c := range cases {
		_, err := ParseRRule(c.rule)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%q: %v", c.rule, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", c.rule, err, c.wantErr)
		}
	}
}

func TestExclusionLintErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
		line            int
	}{
		{"a one-off exclusion needs to", "match: {service: app}\nfrom: 2026-11-14T02:00:00Z\n", "set from and to", 3},
		{"to must follow from", "match: {service: app}\nfrom: 2026-11-14T02:00:00Z\nto: 2026-11-14T01:00:00Z\n", "is not after from", 7},
		{"an empty match is refused", "match: {}\nfrom: 2026-11-14T02:00:00Z\nto: 2026-11-14T03:00:00Z\n", "set slo, service or labels", 5},
		{"a recurring exclusion needs a duration", "match: {service: app}\nrrule: FREQ=DAILY\n", "needs a duration", 3},
		{"a bad rrule names its problem", "match: {service: app}\nrrule: FREQ=HOURLY\nduration: 1h\n", "FREQ=HOURLY is not supported", 6},
		{"an unknown timezone is refused", "match: {service: app}\nrrule: FREQ=DAILY\nduration: 1h\ntimezone: Mars/Olympus\n", "not an IANA zone", 8},
		{"a bad time is refused", "match: {service: app}\nfrom: tomorrow\nto: 2026-11-14T03:00:00Z\n", "not an RFC 3339 time", 6},
		{"an unknown field is refused", "match: {service: app, team: x}\nfrom: 2026-11-14T02:00:00Z\nto: 2026-11-14T03:00:00Z\n", "team", 5},
		{"duration without rrule is refused", "match: {service: app}\nfrom: 2026-11-14T02:00:00Z\nto: 2026-11-14T03:00:00Z\nduration: 1h\n", "belong to a recurring", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "version: slod/v1\nkind: Exclusion\nname: x\nreason: test\n" + c.doc
			set, diags := LoadBytes("x.yaml", []byte(src))
			if len(set.Exclusions) != 0 {
				t.Errorf("a bad exclusion was loaded")
			}
			for _, d := range diags {
				if d.Severity == SeverityError && strings.Contains(d.Message, c.want) {
					if d.Pos.File != "x.yaml" || d.Pos.Line != c.line {
						t.Errorf("error at %s, want line %d: %s", d.Pos, c.line, d)
					}
					return
				}
			}
			t.Errorf("no error containing %q in %v", c.want, diags)
		})
	}
}

func TestExclusionDuplicateName(t *testing.T) {
	doc := "version: slod/v1\nkind: Exclusion\nname: x\nreason: r\nmatch: {service: app}\nfrom: 2026-11-14T02:00:00Z\nto: 2026-11-14T03:00:00Z\n"
	set, diags := LoadBytes("x.yaml", []byte(exclusionSLOs+doc+"---\n"+doc))
	diags = append(diags, Validate(set)...)
	for _, d := range diags {
		if d.Severity == SeverityError && d.Rule == RuleExclusion && strings.Contains(d.Message, "already defined") {
			return
		}
	}
	t.Errorf("no duplicate error: %v", diags)
}

func TestWallClock(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		name string
		got  time.Time
		want string
	}{
		{"a plain winter time", WallClock(2026, 11, 1, 0, 0, berlin), "2026-10-31T23:00:00Z"},
		{"a plain summer time", WallClock(2026, 10, 1, 0, 0, berlin), "2026-09-30T22:00:00Z"},
		{"an ambiguous time takes the first", WallClock(2026, 10, 25, 2, 30, berlin), "2026-10-25T00:30:00Z"},
		{"a skipped time takes the offset before", WallClock(2026, 3, 29, 2, 30, berlin), "2026-03-29T01:30:00Z"},
	}
	for _, c := range cases {
		if !c.got.Equal(mustTime(t, c.want)) {
			t.Errorf("%s: got %s, want %s", c.name, c.got.UTC().Format(time.RFC3339), c.want)
		}
	}
}
