package slo

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Calendar units of a calendar-aligned window.
const (
	CalendarWeek    = "week"
	CalendarMonth   = "month"
	CalendarQuarter = "quarter"
)

// Calendar is a calendar-aligned compliance window: the budget covers one
// week, month or quarter in a timezone and starts afresh at local midnight
// on the period's first day (DST included). A Spec with one keeps in
// Window the period's nominal length (7d, 30d, 90d), which scales the
// policy's burn factors, and in History the longest period its rings must
// hold.
type Calendar struct {
	Unit     string
	Location *time.Location
	// WeekStart is the first day of a week (default Monday).
	WeekStart time.Weekday
}

// NominalLength is the period's length for burn factors: 7d, 30d or 90d.
func (c *Calendar) NominalLength() time.Duration {
	switch c.Unit {
	case CalendarWeek:
		return 7 * 24 * time.Hour
	case CalendarQuarter:
		return 90 * 24 * time.Hour
	}
	return 30 * 24 * time.Hour
}

// LongestLength is the longest period of the unit, an hour of DST
// included: 7d1h, 31d1h, 92d1h.
func (c *Calendar) LongestLength() time.Duration {
	switch c.Unit {
	case CalendarWeek:
		return 7*24*time.Hour + time.Hour
	case CalendarQuarter:
		return 92*24*time.Hour + time.Hour
	}
	return 31*24*time.Hour + time.Hour
}

func (c *Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// PeriodStart is the start of the period that holds the instant t: a
// period (start, end] holds the steps ending after its start through its
// end, so an instant exactly at a period start belongs to the period that
// ends there.
func (c *Calendar) PeriodStart(t time.Time) time.Time {
	s := c.periodFloor(t)
	if s.Equal(t) {
		return c.periodFloor(t.Add(-time.Second))
	}
	return s
}

// periodFloor is the latest period start at or before t.
func (c *Calendar) periodFloor(t time.Time) time.Time {
	loc := c.loc()
	l := t.In(loc)
	y, m, d := l.Date()
	var s time.Time
	switch c.Unit {
	case CalendarWeek:
		back := (int(l.Weekday()) - int(c.WeekStart) + 7) % 7
		day := time.Date(y, m, d-back, 12, 0, 0, 0, time.UTC)
		s = WallClock(day.Year(), day.Month(), day.Day(), 0, 0, loc)
	case CalendarQuarter:
		s = WallClock(y, time.Month((int(m)-1)/3*3+1), 1, 0, 0, loc)
	default:
		s = WallClock(y, m, 1, 0, 0, loc)
	}
	if s.After(t) { // midnight itself skipped by DST and read forward
		return c.periodFloor(s.Add(-24 * time.Hour))
	}
	return s
}

// NextPeriodStart is the first period start after t.
func (c *Calendar) NextPeriodStart(t time.Time) time.Time {
	s := c.periodFloor(t)
	l := s.In(c.loc())
	y, m, d := l.Date()
	var next time.Time
	switch c.Unit {
	case CalendarWeek:
		n := time.Date(y, m, d+7, 12, 0, 0, 0, time.UTC)
		next = WallClock(n.Year(), n.Month(), n.Day(), 0, 0, c.loc())
	case CalendarQuarter:
		n := time.Date(y, m+3, 1, 12, 0, 0, 0, time.UTC)
		next = WallClock(n.Year(), n.Month(), 1, 0, 0, c.loc())
	default:
		n := time.Date(y, m+1, 1, 12, 0, 0, 0, time.UTC)
		next = WallClock(n.Year(), n.Month(), 1, 0, 0, c.loc())
	}
	return next
}

// String renders the calendar as written: "month in Europe/Berlin".
func (c *Calendar) String() string {
	s := c.Unit + " in " + c.loc().String()
	if c.Unit == CalendarWeek && c.WeekStart != time.Monday {
		s += " from " + c.WeekStart.String()
	}
	return s
}

// History is how far back the SLO's counts must reach: Window for a
// rolling window, the longest period for a calendar one.
func (s *Spec) History() time.Duration {
	if s.Calendar != nil {
		return max(s.Window, s.Calendar.LongestLength())
	}
	return s.Window
}

// window reads an SLO's window: a rolling duration (30d) or a calendar
// mapping {calendar: month, timezone: Europe/Berlin, week_start: monday}.
func (d *decoder) window(f field, what string, s *Spec) bool {
	if n := resolve(f.val); n == nil || n.Kind != yaml.MappingNode {
		var ok bool
		s.Window, ok = d.duration(f, what+": window")
		return ok
	}
	what += ": window"
	fs, ok := d.fields(f.val, what, "calendar", "timezone", "week_start")
	ok = d.required(f.key, fs, what, "calendar") && ok
	c := &Calendar{Location: time.UTC, WeekStart: time.Monday}
	for name, ff := range fs {
		var fok bool
		s.FieldPos["window."+name] = d.pos(ff.val)
		switch name {
		case "calendar":
			if c.Unit, fok = d.str(ff, what+": calendar"); fok && c.Unit != CalendarWeek && c.Unit != CalendarMonth && c.Unit != CalendarQuarter {
				d.errorf(ff.val, RuleInvalidField, "%s: calendar must be week, month or quarter, got %q", what, c.Unit)
				fok = false
			}
		case "timezone":
			var tz string
			if tz, fok = d.str(ff, what+": timezone"); fok {
				var err error
				if c.Location, err = time.LoadLocation(tz); err != nil || tz == "" || tz == "Local" {
					d.errorf(ff.val, RuleInvalidField, "%s: timezone %q is not an IANA zone such as Europe/Berlin", what, tz)
					fok = false
				}
			}
		case "week_start":
			var v string
			if v, fok = d.str(ff, what+": week_start"); fok {
				wd, known := weekdayNames[v]
				if !known {
					d.errorf(ff.val, RuleInvalidField, "%s: week_start must be a weekday such as monday, got %q", what, v)
					fok = false
				}
				c.WeekStart = wd
			}
		}
		ok = ok && fok
	}
	if _, set := fs["week_start"]; ok && set && c.Unit != CalendarWeek {
		d.errorf(fs["week_start"].val, RuleInvalidField, "%s: week_start belongs to calendar: week", what)
		ok = false
	}
	if ok {
		s.Calendar = c
		s.Window = c.NominalLength()
	}
	return ok
}

var weekdayNames = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}
