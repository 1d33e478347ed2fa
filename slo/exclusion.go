package slo

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RuleExclusion reports a `kind: Exclusion` document that matches no SLO
// or whose schedule cannot be used.
const RuleExclusion = "SLO030"

// Exclusion is a budget exclusion read from a `kind: Exclusion` document:
// planned maintenance or a known-bad period whose steps count in neither
// errors nor events and during which no page opens. It is one-off (From,
// To) or recurring (Rule, Duration, Location, bounded by From and To when
// they are set).
type Exclusion struct {
	Name     string
	Reason   string
	Category string
	Match    ExclusionMatch
	// From and To bound a one-off exclusion [From, To); for a recurring one
	// they are optional bounds on its occurrences' starts (zero: none).
	From, To time.Time
	// Rule is the recurrence, nil for a one-off exclusion.
	Rule *RRule
	// Duration is the length of each occurrence of a recurring exclusion,
	// in absolute time (RFC 5545: an exact duration).
	Duration time.Duration
	// Location is the timezone the rule's wall-clock times are read in (UTC
	// when unset).
	Location *time.Location
	Pos      Position
}

// ExclusionMatch says which SLOs an exclusion applies to: every condition
// set must hold (an empty match is refused by the loader).
type ExclusionMatch struct {
	// SLO is an SLO's id (service-name) or its name.
	SLO     string
	Service string
	// Labels must all be among the SLO's labels.
	Labels map[string]string
}

// Matches reports whether the exclusion applies to the SLO.
func (x *Exclusion) Matches(s *Spec) bool {
	m := x.Match
	if m.SLO != "" && m.SLO != s.ID && m.SLO != s.Name {
		return false
	}
	if m.Service != "" && m.Service != s.Service {
		return false
	}
	for k, v := range m.Labels {
		if got, ok := s.Labels[k]; !ok || got != v {
			return false
		}
	}
	return m.SLO != "" || m.Service != "" || len(m.Labels) > 0
}

// Interval is a half-open span of time [From, To).
type Interval struct {
	From, To time.Time
}

// Overlap is how much of [from, to) the interval covers.
func (i Interval) Overlap(from, to time.Time) time.Duration {
	lo, hi := i.From, i.To
	if from.After(lo) {
		lo = from
	}
	if to.Before(hi) {
		hi = to
	}
	if !hi.After(lo) {
		return 0
	}
	return hi.Sub(lo)
}

// Occurrences appends to dst the exclusion's intervals that overlap [from,
// to), sorted by start.
func (x *Exclusion) Occurrences(dst []Interval, from, to time.Time) []Interval {
	if x.Rule == nil {
		if x.From.Before(to) && x.To.After(from) {
			dst = append(dst, Interval{x.From, x.To})
		}
		return dst
	}
	loc := x.Location
	if loc == nil {
		loc = time.UTC
	}
	// Walk the local calendar days on which an occurrence overlapping
	// [from, to) can start: from one Duration (and a day for the zone's
	// offset) before from, through to.
	start := from.Add(-x.Duration).In(loc).AddDate(0, 0, -1)
	y, m, d := start.Date()
	day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC) // a wall-clock date, free of DST
	endDay := to.In(loc).AddDate(0, 0, 1)
	last := time.Date(endDay.Year(), endDay.Month(), endDay.Day(), 12, 0, 0, 0, time.UTC)
	for ; !day.After(last); day = day.AddDate(0, 0, 1) {
		if !x.Rule.onDay(day, x.From, loc) {
			continue
		}
		for _, h := range x.Rule.hours() {
			for _, mi := range x.Rule.minutes() {
				s := WallClock(day.Year(), day.Month(), day.Day(), h, mi, loc)
				if !x.From.IsZero() && s.Before(x.From) || !x.To.IsZero() && !s.Before(x.To) {
					continue
				}
				e := s.Add(x.Duration)
				if s.Before(to) && e.After(from) {
					dst = append(dst, Interval{s, e})
				}
			}
		}
	}
	return dst
}

// WallClock is the instant a local wall-clock time names in loc, as RFC
// 5545 reads it: a time that occurs twice (the hour the clocks go back) is
// its first occurrence; a time that does not exist (the hour the clocks
// skip) is read with the offset in force before the gap, so 02:30 on the
// spring-forward day in Europe/Berlin is 03:30 CEST.
func WallClock(y int, mo time.Month, d, h, mi int, loc *time.Location) time.Time {
	naive := time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	_, before := naive.Add(-24 * time.Hour).In(loc).Zone()
	_, after := naive.Add(24 * time.Hour).In(loc).Zone()
	var best time.Time
	for _, off := range []int{before, after} {
		t := naive.Add(-time.Duration(off) * time.Second)
		l := t.In(loc)
		if l.Year() == y && l.Month() == mo && l.Day() == d && l.Hour() == h && l.Minute() == mi {
			if best.IsZero() || t.Before(best) {
				best = t
			}
		}
	}
	if best.IsZero() {
		best = naive.Add(-time.Duration(before) * time.Second)
	}
	return best
}

// Frequencies of an RRule.
const (
	FreqDaily   = "DAILY"
	FreqWeekly  = "WEEKLY"
	FreqMonthly = "MONTHLY"
)

// RRule is the subset of an RFC 5545 recurrence rule slod reads: FREQ
// (DAILY, WEEKLY, MONTHLY), INTERVAL (with from as the anchor), BYDAY
// (weekdays without ordinals), BYMONTHDAY, BYHOUR and BYMINUTE. COUNT,
// UNTIL (use to), BYSETPOS, BYWEEKNO and sub-minute parts are refused.
type RRule struct {
	Freq       string
	Interval   int
	ByDay      []time.Weekday
	ByMonthDay []int
	ByHour     []int
	ByMinute   []int
	// Text is the rule as written.
	Text string
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday,
	"WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// ParseRRule reads a recurrence rule such as "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"
// (an "RRULE:" prefix is allowed).
func ParseRRule(s string) (*RRule, error) {
	r := &RRule{Interval: 1, Text: s}
	body := strings.TrimPrefix(strings.TrimSpace(s), "RRULE:")
	if body == "" {
		return nil, fmt.Errorf("empty rrule")
	}
	seen := map[string]bool{}
	ints := func(v string, lo, hi int, what string) ([]int, error) {
		var out []int
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(p)
			if err != nil || n < lo || n > hi {
				return nil, fmt.Errorf("%s %q: want whole numbers from %d to %d", what, v, lo, hi)
			}
			out = append(out, n)
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	for _, part := range strings.Split(body, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToUpper(strings.TrimSpace(k))
		v = strings.ToUpper(strings.TrimSpace(v))
		if !ok || v == "" {
			return nil, fmt.Errorf("rrule part %q is not NAME=VALUE", part)
		}
		if seen[k] {
			return nil, fmt.Errorf("rrule sets %s twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "FREQ":
			if v != FreqDaily && v != FreqWeekly && v != FreqMonthly {
				return nil, fmt.Errorf("FREQ=%s is not supported: use DAILY, WEEKLY or MONTHLY", v)
			}
			r.Freq = v
		case "INTERVAL":
			var n []int
			if n, err = ints(v, 1, 1000, "INTERVAL"); err == nil {
				if len(n) != 1 {
					return nil, fmt.Errorf("INTERVAL %q: want one number", v)
				}
				r.Interval = n[0]
			}
		case "BYDAY":
			for _, p := range strings.Split(v, ",") {
				wd, ok := weekdays[p]
				if !ok {
					return nil, fmt.Errorf("BYDAY %q: want weekdays MO, TU, WE, TH, FR, SA, SU (ordinals such as 1MO are not supported)", p)
				}
				if !slices.Contains(r.ByDay, wd) {
					r.ByDay = append(r.ByDay, wd)
				}
			}
		case "BYMONTHDAY":
			r.ByMonthDay, err = ints(v, 1, 31, "BYMONTHDAY")
		case "BYHOUR":
			r.ByHour, err = ints(v, 0, 23, "BYHOUR")
		case "BYMINUTE":
			r.ByMinute, err = ints(v, 0, 59, "BYMINUTE")
		case "BYSECOND":
			var n []int
			if n, err = ints(v, 0, 0, "BYSECOND"); err == nil && len(n) != 1 {
				err = fmt.Errorf("BYSECOND must be 0")
			}
		case "WKST":
			if _, ok := weekdays[v]; !ok {
				return nil, fmt.Errorf("WKST %q is not a weekday", v)
			}
		default:
			return nil, fmt.Errorf("rrule part %s is not supported: slod reads FREQ, INTERVAL, BYDAY, BYMONTHDAY, BYHOUR and BYMINUTE (bound a rule with from and to)", k)
		}
		if err != nil {
			return nil, err
		}
	}
	if r.Freq == "" {
		return nil, fmt.Errorf("rrule has no FREQ")
	}
	if r.Freq == FreqDaily && len(r.ByMonthDay) > 0 || r.Freq == FreqWeekly && len(r.ByMonthDay) > 0 {
		return nil, fmt.Errorf("BYMONTHDAY needs FREQ=MONTHLY")
	}
	if r.Freq == FreqMonthly && len(r.ByDay) > 0 {
		return nil, fmt.Errorf("BYDAY with FREQ=MONTHLY is not supported: use BYMONTHDAY")
	}
	return r, nil
}

func (r *RRule) hours() []int {
	if len(r.ByHour) == 0 {
		return []int{0}
	}
	return r.ByHour
}

func (r *RRule) minutes() []int {
	if len(r.ByMinute) == 0 {
		return []int{0}
	}
	return r.ByMinute
}

// onDay reports whether an occurrence starts on the wall-clock date day
// (noon UTC stands for the date). anchor (from) sets the INTERVAL phase and
// the defaults RFC 5545 takes from DTSTART.
func (r *RRule) onDay(day, anchor time.Time, loc *time.Location) bool {
	var a time.Time
	if !anchor.IsZero() {
		al := anchor.In(loc)
		a = time.Date(al.Year(), al.Month(), al.Day(), 12, 0, 0, 0, time.UTC)
	}
	switch r.Freq {
	case FreqDaily:
		if len(r.ByDay) > 0 && !slices.Contains(r.ByDay, day.Weekday()) {
			return false
		}
		if r.Interval > 1 && !a.IsZero() {
			n := int(day.Sub(a).Hours()/24 + 0.5)
			return n >= 0 && n%r.Interval == 0
		}
		return true
	case FreqWeekly:
		days := r.ByDay
		if len(days) == 0 {
			if a.IsZero() {
				return false
			}
			days = []time.Weekday{a.Weekday()}
		}
		if !slices.Contains(days, day.Weekday()) {
			return false
		}
		if r.Interval > 1 && !a.IsZero() {
			// Weeks start on Monday (WKST=MO, the default).
			monday := func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
			n := int(monday(day).Sub(monday(a)).Hours()/24+0.5) / 7
			return n >= 0 && n%r.Interval == 0
		}
		return true
	case FreqMonthly:
		mdays := r.ByMonthDay
		if len(mdays) == 0 {
			if a.IsZero() {
				return false
			}
			mdays = []int{a.Day()}
		}
		if !slices.Contains(mdays, day.Day()) {
			return false
		}
		if r.Interval > 1 && !a.IsZero() {
			n := (day.Year()-a.Year())*12 + int(day.Month()-a.Month())
			return n >= 0 && n%r.Interval == 0
		}
		return true
	}
	return false
}

// ExclusionsFor returns the exclusions that apply to an SLO, by name.
func (s *Set) ExclusionsFor(spec *Spec) []*Exclusion {
	var out []*Exclusion
	for _, x := range s.Exclusions {
		if x.Matches(spec) {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ExcludedIntervals merges the occurrences of xs overlapping [from, to)
// into sorted, disjoint intervals appended to dst.
func ExcludedIntervals(dst []Interval, xs []*Exclusion, from, to time.Time) []Interval {
	n := len(dst)
	for _, x := range xs {
		dst = x.Occurrences(dst, from, to)
	}
	add := dst[n:]
	sort.Slice(add, func(i, j int) bool { return add[i].From.Before(add[j].From) })
	out := dst[:n]
	for _, iv := range add {
		if k := len(out); k > n && !iv.From.After(out[k-1].To) {
			if iv.To.After(out[k-1].To) {
				out[k-1].To = iv.To
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// exclusion reads a version: slod/v1, kind: Exclusion document.
func (d *decoder) exclusion(set *Set, n *yaml.Node) {
	what := "exclusion"
	fs, ok := d.fields(n, what, "version", "kind", "name", "reason", "category", "match",
		"from", "to", "rrule", "duration", "timezone")
	x := &Exclusion{Pos: d.pos(n)}
	if f, found := fs["name"]; found {
		var nok bool
		x.Name, nok = d.str(f, "exclusion: name")
		ok = ok && nok
		x.Pos = d.pos(f.val)
		what = fmt.Sprintf("exclusion %q", x.Name)
	}
	ok = d.required(n, fs, what, "name", "reason", "match") && ok
	timeField := func(name string) (time.Time, bool) {
		f, found := fs[name]
		if !found {
			return time.Time{}, true
		}
		s, sok := d.str(f, what+": "+name)
		if !sok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.errorf(f.val, RuleInvalidField, "%s: %s %q is not an RFC 3339 time such as 2026-11-14T02:00:00Z", what, name, s)
			return time.Time{}, false
		}
		return t, true
	}
	var fok bool
	x.From, fok = timeField("from")
	ok = ok && fok
	x.To, fok = timeField("to")
	ok = ok && fok
	for name, f := range fs {
		fok = true
		switch name {
		case "reason":
			x.Reason, fok = d.str(f, what+": reason")
			if fok && strings.TrimSpace(x.Reason) == "" {
				d.errorf(f.val, RuleInvalidField, "%s: reason is empty: say why the time is excluded (a change ticket, an incident)", what)
				fok = false
			}
		case "category":
			x.Category, fok = d.str(f, what+": category")
		case "match":
			x.Match, fok = d.exclusionMatch(f, what+": match")
		case "rrule":
			var s string
			if s, fok = d.str(f, what+": rrule"); fok {
				var err error
				if x.Rule, err = ParseRRule(s); err != nil {
					d.errorf(f.val, RuleInvalidField, "%s: rrule: %v", what, err)
					fok = false
				}
			}
		case "duration":
			x.Duration, fok = d.duration(f, what+": duration")
		case "timezone":
			var s string
			if s, fok = d.str(f, what+": timezone"); fok {
				var err error
				if x.Location, err = time.LoadLocation(s); err != nil || s == "" || s == "Local" {
					d.errorf(f.val, RuleInvalidField, "%s: timezone %q is not an IANA zone such as Europe/Berlin", what, s)
					fok = false
				}
			}
		}
		ok = ok && fok
	}
	at := n // document-level problems point at the name
	if f, found := fs["name"]; found {
		at = f.val
	}
	_, hasRule := fs["rrule"]
	_, hasDur := fs["duration"]
	_, hasTZ := fs["timezone"]
	_, hasFrom := fs["from"]
	_, hasTo := fs["to"]
	switch {
	case hasRule:
		if !hasDur {
			d.errorf(at, RuleInvalidField, "%s: a recurring exclusion (rrule) needs a duration, such as 2h", what)
			ok = false
		}
		if ok && x.Rule.Interval > 1 && !hasFrom {
			d.errorf(fs["rrule"].val, RuleInvalidField, "%s: rrule INTERVAL=%d needs from, the first occurrence it counts from", what, x.Rule.Interval)
			ok = false
		}
		if ok && x.Rule.Freq == FreqWeekly && len(x.Rule.ByDay) == 0 && !hasFrom {
			d.errorf(fs["rrule"].val, RuleInvalidField, "%s: rrule FREQ=WEEKLY needs BYDAY (or from, whose weekday it repeats)", what)
			ok = false
		}
		if ok && x.Rule.Freq == FreqMonthly && len(x.Rule.ByMonthDay) == 0 && !hasFrom {
			d.errorf(fs["rrule"].val, RuleInvalidField, "%s: rrule FREQ=MONTHLY needs BYMONTHDAY (or from, whose day it repeats)", what)
			ok = false
		}
	default:
		if hasDur || hasTZ {
			d.errorf(at, RuleInvalidField, "%s: duration and timezone belong to a recurring exclusion: add an rrule, or use from and to alone", what)
			ok = false
		}
		if !hasFrom || !hasTo {
			d.errorf(at, RuleInvalidField, "%s: set from and to (a one-off exclusion) or rrule and duration (a recurring one)", what)
			ok = false
		}
	}
	if ok && hasFrom && hasTo && !x.To.After(x.From) {
		d.errorf(fs["to"].val, RuleInvalidField, "%s: to %s is not after from %s", what, x.To.Format(time.RFC3339), x.From.Format(time.RFC3339))
		ok = false
	}
	if ok {
		set.Exclusions = append(set.Exclusions, x)
	}
}

func (d *decoder) exclusionMatch(f field, what string) (ExclusionMatch, bool) {
	var m ExclusionMatch
	fs, ok := d.fields(f.val, what, "slo", "service", "labels")
	for name, ff := range fs {
		var fok bool
		switch name {
		case "slo":
			m.SLO, fok = d.str(ff, what+": slo")
		case "service":
			m.Service, fok = d.str(ff, what+": service")
		case "labels":
			m.Labels, fok = d.stringMap(ff, what+": labels", "match.labels.", map[string]Position{})
			m.Labels = maps.Clone(m.Labels)
		}
		ok = ok && fok
	}
	if ok && m.SLO == "" && m.Service == "" && len(m.Labels) == 0 {
		d.errorf(f.val, RuleInvalidField, "%s: set slo, service or labels: an exclusion applies to the SLOs it names", what)
		ok = false
	}
	return m, ok
}

// validateExclusions reports exclusions defined twice and exclusions that
// match no SLO of the set (a typo would otherwise leave maintenance
// counted against the budget without a word).
func (v *validator) validateExclusions(set *Set) {
	names := map[string]*Exclusion{}
	for _, x := range set.Exclusions {
		if first, dup := names[x.Name]; dup {
			v.errorf(x.Pos, RuleExclusion, "exclusion %q is already defined at %s", x.Name, first.Pos)
			continue
		}
		names[x.Name] = x
		matched := false
		for _, s := range set.SLOs {
			if x.Matches(s) {
				matched = true
				break
			}
		}
		if !matched {
			v.warnf(x.Pos, RuleExclusion, "exclusion %q matches no SLO", x.Name)
		}
	}
}
