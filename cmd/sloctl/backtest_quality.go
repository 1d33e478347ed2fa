package main

import (
	"math"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Alert quality: what a policy would have cost the on-call over the
// replayed range, judged against the budget each stretch actually spent.
// The thresholds below are the definitions docs/policies.md gives.
const (
	// missShare is the budget share an hour must spend to count as a miss
	// when no page was open during it: the Workbook's fast page (2% in 1h).
	missShare = 0.02
	// episodeBurn is the budget burn per step that marks a burn episode:
	// 6, the slowest Workbook page (5% in 6h) — a rate of spend that some
	// page row of every Workbook-like policy is meant to catch.
	episodeBurn = 6
	// episodeGap joins two runs of burning steps closer than this into one
	// episode, so a flapping burn is one episode.
	episodeGap = 5 * time.Minute
	// detectGrace is how long after an episode ends a page still counts
	// as its detection (a page that needs the burn's whole long window).
	detectGrace = time.Hour
)

// BacktestQuality is the alert quality of one policy on one SLO instance
// over the range. Durations are in seconds; budget shares are fractions of
// the SLO window's budget (events(W) as the budget measure projects it).
type BacktestQuality struct {
	Pages   int `json:"pages"`
	Tickets int `json:"tickets"`
	// PagesPerWeek is Pages scaled to a week of the range.
	PagesPerWeek  float64 `json:"pages_per_week"`
	PagingSeconds float64 `json:"paging_seconds"`
	// Flaps are incidents that opened within the hold-down of the previous
	// incident's resolve.
	Flaps int `json:"flaps"`
	// Unwarranted are pages that spent less than their row's budget share
	// from the row's long window before the page to its resolve.
	Unwarranted int `json:"unwarranted_pages"`
	// Misses are stretches in which an hour spent at least 2% of the
	// budget with no page open at any time in that hour.
	Misses   int              `json:"misses"`
	PageList []QualityPage    `json:"page_list"`
	Episodes []QualityEpisode `json:"episodes"`
	MissList []QualitySpan    `json:"miss_list"`
}

// QualityPage is one page: when it paged and resolved, the row that paged
// first, and the budget spent from that row's long window before the page
// to its resolve.
type QualityPage struct {
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Resolved    bool            `json:"resolved"`
	Row         string          `json:"row"`
	RowShare    float64         `json:"row_share"`
	BudgetSpent burnrate.Figure `json:"budget_spent"`
	Unwarranted bool            `json:"unwarranted"`
}

// QualityEpisode is one burn episode: a run of steps spending budget at a
// burn of at least 6 (gaps under 5m joined). DetectSeconds is the time from
// its start to the first step with a page open (null when none was, up to
// an hour after it ended).
type QualityEpisode struct {
	Start         time.Time       `json:"start"`
	End           time.Time       `json:"end"`
	BudgetSpent   burnrate.Figure `json:"budget_spent"`
	DetectSeconds burnrate.Figure `json:"detect_seconds"`
}

// QualitySpan is a stretch of time with the budget it spent.
type QualitySpan struct {
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	BudgetSpent burnrate.Figure `json:"budget_spent"`
}

// stepLog is one instance's per-step history over the range, kept by the
// recorder: errors and events of each step and events(W) at its end (NaN
// when unknown). Index i is the step that ends at from + (i+1) × step.
type stepLog struct {
	errs, tots, eventsW []float64
	// paging marks steps at whose end a page incident was open.
	paging []bool
}

func (l *stepLog) add(errs, tots, eventsW float64) {
	l.errs = append(l.errs, errs)
	l.tots = append(l.tots, tots)
	l.eventsW = append(l.eventsW, eventsW)
}

// quality judges one instance's incidents and rows against its step log.
func quality(spec *slo.Spec, in *BacktestInstance, log *stepLog, from, to time.Time, step time.Duration) BacktestQuality {
	q := BacktestQuality{PageList: []QualityPage{}, Episodes: []QualityEpisode{}, MissList: []QualitySpan{}}
	n := len(log.errs)
	budget := spec.ErrorBudget()
	idx := func(t time.Time) int { return int(t.Sub(from)/step) - 1 } // the step ending at t
	// share is the budget share the errors of steps (lo, hi] spent,
	// against events(W) at hi.
	share := func(lo, hi int) burnrate.Figure {
		lo, hi = max(lo, -1), min(hi, n-1)
		if hi < 0 || hi <= lo || math.IsNaN(log.eventsW[hi]) || log.eventsW[hi] <= 0 {
			return burnrate.Unknown()
		}
		var e float64
		for i := lo + 1; i <= hi; i++ {
			if !math.IsNaN(log.errs[i]) {
				e += log.errs[i]
			}
		}
		return burnrate.Figure(e / (budget * log.eventsW[hi]))
	}
	log.paging = make([]bool, n)
	var prevResolved time.Time
	var prevHold time.Duration
	for _, inc := range in.incidents {
		if inc.Class != burnrate.ClassBurn {
			continue
		}
		if !prevResolved.IsZero() && inc.Start.Sub(prevResolved) <= prevHold {
			q.Flaps++
		}
		prevResolved, prevHold = inc.Resolved, inc.HoldDown
		end := inc.Resolved
		if end.IsZero() {
			end = to
		}
		if inc.Severity != burnrate.SeverityPage {
			q.Tickets++
			continue
		}
		// The page began at the first page row firing within the incident.
		pg := QualityPage{End: end, Resolved: !inc.Resolved.IsZero()}
		var long time.Duration
		for _, row := range in.Rows {
			if row.Severity != burnrate.SeverityPage {
				continue
			}
			for _, f := range row.Firings {
				if f.Fired.Before(inc.Start) || f.Fired.After(end) {
					continue
				}
				if pg.Start.IsZero() || f.Fired.Before(pg.Start) {
					pg.Start = f.Fired
					pg.Row = seconds(row.LongSeconds) + "/" + seconds(row.ShortSeconds)
					long = time.Duration(row.LongSeconds * float64(time.Second))
					pg.RowShare = row.share
				}
			}
		}
		if pg.Start.IsZero() {
			pg.Start = inc.Start
		}
		q.Pages++
		q.PagingSeconds += end.Sub(pg.Start).Seconds()
		for i := max(idx(pg.Start), 0); i <= min(idx(end)-1, n-1); i++ {
			log.paging[i] = true
		}
		pg.BudgetSpent = share(idx(pg.Start.Add(-long)), idx(end))
		// A floor row's share is 0: it pages whatever the budget, by design.
		pg.Unwarranted = pg.BudgetSpent.Known() && float64(pg.BudgetSpent) < pg.RowShare
		if pg.Unwarranted {
			q.Unwarranted++
		}
		q.PageList = append(q.PageList, pg)
	}
	if weeks := to.Sub(from).Hours() / (7 * 24); weeks > 0 {
		q.PagesPerWeek = float64(q.Pages) / weeks
	}
	at := func(i int) time.Time { return from.Add(time.Duration(i+1) * step) }
	// Episodes: steps whose budget burn errors / (budget × events(W)) × W/step
	// reaches episodeBurn, joined across short gaps.
	scale := float64(spec.Window / step)
	gap := int(episodeGap / step)
	for i := 0; i < n; {
		if !burning(log, i, budget, scale) {
			i++
			continue
		}
		j := i
		for k := i + 1; k < n && k <= j+gap; k++ {
			if burning(log, k, budget, scale) {
				j = k
			}
		}
		ep := QualityEpisode{Start: at(i - 1), End: at(j), BudgetSpent: share(i-1, j), DetectSeconds: burnrate.Unknown()}
		for k := i; k < n && k <= j+int(detectGrace/step); k++ {
			if log.paging[k] {
				ep.DetectSeconds = burnrate.Figure(at(k).Sub(ep.Start).Seconds())
				break
			}
		}
		q.Episodes = append(q.Episodes, ep)
		i = j + 1
	}
	// Misses: steps whose past hour spent at least missShare with no page
	// open in that hour, consecutive ones joined.
	hour := int(time.Hour / step)
	var miss *QualitySpan
	for i := range n {
		missed := false
		if s := share(i-hour, i); s.Known() && float64(s) >= missShare {
			missed = true
			for k := max(i-hour+1, 0); k <= i; k++ {
				if log.paging[k] {
					missed = false
					break
				}
			}
		}
		switch {
		case missed && miss == nil:
			q.MissList = append(q.MissList, QualitySpan{Start: at(i - hour)})
			miss = &q.MissList[len(q.MissList)-1]
			fallthrough
		case missed:
			miss.End = at(i)
		case miss != nil:
			miss.BudgetSpent = share(idx(miss.Start), idx(miss.End))
			miss = nil
		}
	}
	if miss != nil {
		miss.BudgetSpent = share(idx(miss.Start), idx(miss.End))
	}
	q.Misses = len(q.MissList)
	return q
}

// burning reports whether step i spent budget at episodeBurn or faster.
func burning(log *stepLog, i int, budget, scale float64) bool {
	e, w := log.errs[i], log.eventsW[i]
	if math.IsNaN(e) || math.IsNaN(w) || w <= 0 {
		return false
	}
	return e/(budget*w)*scale >= episodeBurn
}
