package slo

import (
	"strings"
	"testing"
	"time"
)

func TestCalendarPeriods(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		name      string
		cal       Calendar
		at        string
		wantStart string
		wantNext  string
	}{
		{"a Berlin month in summer time", Calendar{Unit: CalendarMonth, Location: berlin}, "2026-10-15T12:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		{"the instant of a period start belongs to the period it ends", Calendar{Unit: CalendarMonth, Location: berlin}, "2026-10-31T23:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		{"a second later the next period has begun", Calendar{Unit: CalendarMonth, Location: berlin}, "2026-10-31T23:00:01Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"},
		{"an hour before, 23:00 CET on Oct 31, is still October", Calendar{Unit: CalendarMonth, Location: berlin}, "2026-10-31T22:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		{"a quarter", Calendar{Unit: CalendarQuarter, Location: berlin}, "2026-11-15T00:00:00Z", "2026-09-30T22:00:00Z", "2026-12-31T23:00:00Z"},
		{"a week from Monday", Calendar{Unit: CalendarWeek, Location: time.UTC, WeekStart: time.Monday}, "2026-11-15T10:00:00Z", "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"},
		{"a week from Sunday", Calendar{Unit: CalendarWeek, Location: time.UTC, WeekStart: time.Sunday}, "2026-11-15T10:00:00Z", "2026-11-15T00:00:00Z", "2026-11-22T00:00:00Z"},
		{"a Berlin week across the October change", Calendar{Unit: CalendarWeek, Location: berlin, WeekStart: time.Monday}, "2026-10-25T12:00:00Z", "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := mustTime(t, c.at)
			if got := c.cal.PeriodStart(at); !got.Equal(mustTime(t, c.wantStart)) {
				t.Errorf("PeriodStart = %s, want %s", got.UTC().Format(time.RFC3339), c.wantStart)
			}
			if got := c.cal.NextPeriodStart(c.cal.PeriodStart(at)); !got.Equal(mustTime(t, c.wantNext)) {
				t.Errorf("NextPeriodStart = %s, want %s", got.UTC().Format(time.RFC3339), c.wantNext)
			}
		})
	}
}

func TestCalendarWindowLoads(t *testing.T) {
	doc := `version: slod/v1
service: app
slos:
  - name: availability
    objective: 99.9
    window: {calendar: month, timezone: Europe/Berlin}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
  - name: weekly
    objective: 99.9
    window: {calendar: week, timezone: UTC, week_start: sunday}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
`
	set, diags := LoadBytes("w.yaml", []byte(doc))
	diags = append(diags, Validate(set)...)
	if HasErrors(diags) {
		t.Fatalf("diagnostics: %v", diags)
	}
	m, w := set.SLOs[0], set.SLOs[1]
	if m.Calendar == nil || m.Calendar.Unit != CalendarMonth || m.Calendar.Location.String() != "Europe/Berlin" || m.Window != 30*24*time.Hour ||
		m.History() != 31*24*time.Hour+time.Hour {
		t.Errorf("month: %+v window %s history %s", m.Calendar, m.Window, m.History())
	}
	if w.Calendar == nil || w.Calendar.WeekStart != time.Sunday || w.Window != 7*24*time.Hour {
		t.Errorf("week: %+v", w.Calendar)
	}
	for _, bad := range []struct{ window, want string }{
		{"{calendar: year}", "calendar must be week, month or quarter"},
		{"{calendar: month, timezone: Mars/Olympus}", "not an IANA zone"},
		{"{calendar: month, week_start: monday}", "week_start belongs to calendar: week"},
		{"{calendar: week, week_start: someday}", "week_start must be a weekday"},
		{"{timezone: UTC}", "calendar"},
		{"{calendar: month, rolling: true}", "rolling"},
	} {
		src := strings.Replace(doc, "{calendar: month, timezone: Europe/Berlin}", bad.window, 1)
		_, diags := LoadBytes("w.yaml", []byte(src))
		found := false
		for _, d := range diags {
			if d.Severity == SeverityError && strings.Contains(d.Message, bad.want) && d.Pos.Line == 6 {
				found = true
			}
		}
		if !found {
			t.Errorf("window %s: no error at line 6 containing %q: %v", bad.window, bad.want, diags)
		}
	}
}

// TestOpenSLOCalendarWindow: an OpenSLO calendar window of one week
// becomes a calendar week starting on startTime's weekday.
func TestOpenSLOCalendarWindow(t *testing.T) {
	doc := `apiVersion: openslo/v1
kind: SLO
metadata:
  name: web-availability
spec:
  service: web
  indicator:
    metadata: {name: web-successful-requests-ratio}
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: sum(http_requests_total{code!~"5.."})
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(http_requests_total)
  timeWindow:
    - duration: 1w
      isRolling: false
      calendar:
        startTime: "2022-01-02 00:00:00"
        timeZone: America/New_York
  budgetingMethod: Occurrences
  objectives:
    - displayName: Good
      target: 0.995
`
	set, diags := LoadBytes("os.yaml", []byte(doc))
	diags = append(diags, Validate(set)...)
	if HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("diagnostics: %v", diags)
	}
	c := set.SLOs[0].Calendar
	if c == nil || c.Unit != CalendarWeek || c.WeekStart != time.Sunday || c.Location.String() != "America/New_York" {
		t.Errorf("calendar %+v", c)
	}
}
