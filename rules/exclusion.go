package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/slodhq/slod/slo"
)

// Included is the recorded exclusion indicator of an SLO with budget
// exclusions: 1 outside every exclusion, 0 while one lasts and for one
// BaseWindow after it (the base rates recorded then still hold excluded
// time). The recorded base rates are multiplied by it, so excluded time
// counts in neither errors nor events, and no burn-rate alert fires while
// it reads 0.
const Included = "slod:sli_included"

// secondsPerWeek and the epoch's weekday: 1970-01-01 was a Thursday, four
// days after a Sunday, so (t + epochToSunday) mod a week is the seconds
// since Sunday 00:00.
const (
	secondsPerWeek = 7 * 24 * 3600
	secondsPerDay  = 24 * 3600
	epochToSunday  = 4 * secondsPerDay
)

// includedExpr builds the PromQL of Included from time(): a term per
// exclusion that is 1 while it (or the base window after it) lasts. A
// one-off exclusion [from, to) is exact; a DAILY or WEEKLY rule is read at
// its zone's standard UTC offset, as PromQL knows no time zones: in a zone
// with daylight saving time its occurrences are an hour off for part of
// the year (docs/spec.md). Monthly rules, INTERVAL above 1 and bounded
// rules cannot be written this way: they are errors, rather than rules
// that silently count the excluded time.
func includedExpr(xs []*slo.Exclusion, base time.Duration) (string, error) {
	lag := int64(base / time.Second)
	var terms []string
	for _, x := range xs {
		if x.Rule == nil {
			// The step ending at t holds (t − base, t]: it overlaps [from, to)
			// when from < t < to + base.
			terms = append(terms, fmt.Sprintf("(vector(time()) > bool %d) * (vector(time()) < bool %d)",
				x.From.Unix(), x.To.Unix()+lag))
			continue
		}
		r := x.Rule
		if r.Freq == slo.FreqMonthly || r.Interval > 1 || !x.From.IsZero() || !x.To.IsZero() {
			return "", fmt.Errorf("exclusion %q: rrule %q cannot be written in PromQL (generated rules honour one-off exclusions and unbounded DAILY or WEEKLY rules); the daemon and sloctl honour it", x.Name, r.Text)
		}
		off := standardOffset(x.Location)
		period, days := int64(secondsPerWeek), r.ByDay
		if r.Freq == slo.FreqDaily && len(days) == 0 {
			period, days = secondsPerDay, []time.Weekday{time.Sunday}
		}
		d := int64(x.Duration/time.Second) + lag
		if d >= period {
			return "", fmt.Errorf("exclusion %q: its occurrences (%s and the %s base window) overlap: it excludes all time", x.Name, slo.FormatDuration(x.Duration), slo.FormatDuration(base))
		}
		for _, wd := range days {
			for _, h := range hoursOf(r) {
				for _, m := range minutesOf(r) {
					start := int64(wd)*secondsPerDay + int64(h)*3600 + int64(m)*60
					if period == secondsPerDay {
						start = int64(h)*3600 + int64(m)*60
					}
					// u is the seconds since the occurrence's start, modulo
					// the period; the step ending at t overlaps the occurrence
					// when 0 < u < duration + base.
					shift := ((epochToSunday+off-start)%period + period) % period
					u := fmt.Sprintf("((vector(time()) + %d) %% %d)", shift, period)
					terms = append(terms, fmt.Sprintf("(%s > bool 0) * (%s < bool %d)", u, u, d))
				}
			}
		}
	}
	return "1 - clamp_max(\n  " + strings.Join(terms, "\n  + ") + ",\n  1\n)", nil
}

// standardOffset is the zone's standard (winter) UTC offset in seconds:
// the smaller of its January and July offsets.
func standardOffset(loc *time.Location) int64 {
	if loc == nil {
		return 0
	}
	_, jan := time.Date(2026, 1, 15, 12, 0, 0, 0, loc).Zone()
	_, jul := time.Date(2026, 7, 15, 12, 0, 0, 0, loc).Zone()
	return int64(min(jan, jul))
}

func hoursOf(r *slo.RRule) []int {
	if len(r.ByHour) == 0 {
		return []int{0}
	}
	return slices.Clone(r.ByHour)
}

func minutesOf(r *slo.RRule) []int {
	if len(r.ByMinute) == 0 {
		return []int{0}
	}
	return slices.Clone(r.ByMinute)
}

// exclusionsOf are the SLO's exclusions when Options.Exclusions is set.
func (o Options) exclusionsOf(s *slo.Spec) []*slo.Exclusion {
	if o.Exclusions == nil {
		return nil
	}
	return o.Exclusions(s)
}
