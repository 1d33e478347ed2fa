package server

import (
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

//go:embed status.html.tmpl
var statusTemplate string

var statusPage = template.Must(template.New("status").Parse(statusTemplate))

// Sizes of the inline SVG charts, in CSS pixels.
const (
	chartW, chartH = 240.0, 56.0
	burnW, burnH   = 200.0, 56.0
)

type pageData struct {
	At        string
	Ready     bool
	Reason    string
	Shard     string
	Source    SourceStatus
	SourceAge string
	Problems  []Problem
	Banners   []string
	Incidents []incidentView
	Recent    []incidentView
	SLOs      []instanceView
	Counts    map[string]int
}

type incidentView struct {
	Rank      int
	SLO       string
	Labels    string
	Class     string
	Severity  string
	Started   string
	Duration  string
	Burn      string
	Remaining string
	Spent     string
	TTE       string
	Resolved  string
	PeakBurn  string
	// NoDataSince is set while a burn's data is missing: it stays open.
	NoDataSince string
}

type instanceView struct {
	SLO       string
	Service   string
	Labels    string
	Objective string
	Window    string
	State     string
	Remaining string
	NoData    string
	Budget    budgetChart
	Burns     burnChart
}

type budgetChart struct {
	W, H   float64
	Points string
	ZeroY  float64 // y of the 0% line
	Fill   string  // colour of the line
	Empty  bool
	Title  string
}

type burnBar struct {
	X, Y, W, H float64
	X2         float64 // right edge, for the threshold tick
	Label      string
	LabelX     float64
	Fires      bool
	Title      string
	FactorY    float64
}

type burnChart struct {
	W, H float64
	Bars []burnBar
}

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	snap := s.snapshot()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, newPageData(snap)); err != nil {
		s.opts.Logger.Error("render status page", "err", err)
	}
}

func newPageData(s *Snapshot) pageData {
	d := pageData{
		At: s.At.UTC().Format("2006-01-02 15:04:05 MST"), Ready: s.Ready, Reason: s.Reason,
		Shard: s.Shard, Source: s.Source, Problems: s.Problems, Banners: s.Banners, Counts: map[string]int{},
	}
	if !s.Source.LastSuccess.IsZero() {
		d.SourceAge = slo.FormatDuration(s.At.Sub(s.Source.LastSuccess)) + " ago"
	}
	for i, inc := range s.Incidents {
		d.Incidents = append(d.Incidents, newIncidentView(inc, i+1, s.At))
	}
	for _, inc := range s.Recent {
		d.Recent = append(d.Recent, newIncidentView(inc, 0, s.At))
	}
	for _, sl := range s.SLOs {
		for _, in := range sl.Instances {
			v := instanceView{
				SLO: sl.ID, Service: sl.Service, Labels: FormatLabels(in.Labels),
				Objective: strconv.FormatFloat(sl.Objective, 'f', -1, 64) + "%", Window: slo.FormatDuration(sl.Window),
				State: in.State(s.Incidents), Remaining: "–",
			}
			d.Counts[v.State]++
			if in.Evaluated {
				v.Remaining = percent(in.Evaluation.BudgetRemaining)
				if in.Evaluation.NoDataFor > 0 {
					v.NoData = slo.FormatDuration(in.Evaluation.NoDataFor)
				}
				v.Burns = newBurnChart(in.Evaluation)
			}
			v.Budget = newBudgetChart(in.Budget, sl.Window)
			d.SLOs = append(d.SLOs, v)
		}
	}
	// Most threatened first: pages, tickets, no data, then by budget left.
	order := map[string]int{"page": 0, "ticket": 1, "misconfigured": 2, "nodata": 3, "ok": 4, "pending": 5}
	sort.SliceStable(d.SLOs, func(i, j int) bool {
		return order[d.SLOs[i].State] < order[d.SLOs[j].State]
	})
	return d
}

func newIncidentView(inc burnrate.Incident, rank int, now time.Time) incidentView {
	v := incidentView{
		Rank: rank, SLO: inc.SLO, Labels: FormatLabels(inc.Labels), Class: string(inc.Class),
		Severity: string(inc.Severity), Started: inc.Start.UTC().Format("01-02 15:04"),
		Burn: times(inc.Burn), Remaining: percent(inc.BudgetRemaining), Spent: percent(inc.BudgetSpent),
		TTE: burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion),
	}
	end := now
	if !inc.Open() {
		end = inc.Resolved
		v.Resolved = inc.Resolved.UTC().Format("01-02 15:04")
	}
	v.Duration = slo.FormatDuration(end.Sub(inc.Start))
	if !inc.NoDataSince.IsZero() {
		v.NoDataSince = inc.NoDataSince.UTC().Format("01-02 15:04")
	}
	var peaks []string
	for _, p := range inc.PeakBurn {
		peaks = append(peaks, slo.FormatDuration(p.Window)+" "+trimFloat(p.Burn)+"×")
	}
	v.PeakBurn = strings.Join(peaks, ", ")
	return v
}

// newBudgetChart draws the budget remaining over the window as a polyline:
// x spans the window (its start at the left edge, now at the right), y
// spans from 100% at the top down to 0% (or to the most overspent point).
func newBudgetChart(points []BudgetPoint, window time.Duration) budgetChart {
	c := budgetChart{W: chartW, H: chartH, Fill: "#2e7d32"}
	var pts []BudgetPoint
	for _, p := range points {
		if !math.IsNaN(p.Remaining) && !math.IsInf(p.Remaining, 0) {
			pts = append(pts, p)
		}
	}
	if len(pts) < 2 {
		c.Empty = true
		return c
	}
	end := pts[len(pts)-1].At
	start := end.Add(-window)
	low := 0.0
	for _, p := range pts {
		low = min(low, p.Remaining)
	}
	const pad = 3.0
	y := func(r float64) float64 { return pad + (1-r)/(1-low)*(chartH-2*pad) }
	var b strings.Builder
	for i, p := range pts {
		x := float64(p.At.Sub(start)) / float64(window) * chartW
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", max(0, x), y(p.Remaining))
	}
	c.Points = b.String()
	c.ZeroY = y(0)
	last := pts[len(pts)-1].Remaining
	switch {
	case last <= 0:
		c.Fill = "#c62828"
	case last < 0.25:
		c.Fill = "#ef6c00"
	}
	c.Title = fmt.Sprintf("budget remaining over the last %s: %s now", slo.FormatDuration(window), percent(burnrate.Figure(last)))
	return c
}

// newBurnChart draws one bar per window of the policy, on a log scale from
// burn 0.1 to 1000, with a tick at the row's factor; a bar is red when its
// row fires.
func newBurnChart(ev burnrate.Evaluation) burnChart {
	type win struct {
		d      time.Duration
		burn   burnrate.Figure
		factor float64
		fires  bool
	}
	var wins []win
	add := func(d time.Duration, b burnrate.Figure, f float64, fires bool) {
		for i := range wins {
			if wins[i].d == d {
				wins[i].fires = wins[i].fires || fires
				wins[i].factor = min(wins[i].factor, f)
				return
			}
		}
		wins = append(wins, win{d, b, f, fires})
	}
	for _, r := range ev.Rows {
		add(r.Row.Short, r.ShortBurn, r.Factor, r.Fires)
		add(r.Row.Long, r.LongBurn, r.Factor, r.Fires)
	}
	slices.SortFunc(wins, func(a, b win) int { return int(a.d/time.Second) - int(b.d/time.Second) })
	c := burnChart{W: burnW, H: burnH}
	if len(wins) == 0 {
		return c
	}
	const labelH = 12.0
	plotH := burnH - labelH
	scale := func(b float64) float64 { // log10 from 0.1 (0) to 1000 (plotH)
		if b <= 0.1 || math.IsNaN(b) {
			return 0
		}
		return min(plotH, (math.Log10(b)+1)/4*plotH)
	}
	slot := burnW / float64(len(wins))
	for i, w := range wins {
		h := scale(float64(w.burn))
		c.Bars = append(c.Bars, burnBar{
			X: float64(i)*slot + 2, W: slot - 4, X2: float64(i+1)*slot - 2, Y: plotH - h, H: h,
			Label: slo.FormatDuration(w.d), LabelX: float64(i)*slot + slot/2,
			Fires: w.fires, FactorY: plotH - scale(w.factor),
			Title: fmt.Sprintf("burn over %s: %s (threshold %s×)", slo.FormatDuration(w.d), times(w.burn), trimFloat(w.factor)),
		})
	}
	return c
}

// FormatLabels renders an instance's labels as sorted k=v pairs, the way the
// status page and `sloctl status` show them; empty for no labels.
func FormatLabels(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ", ")
}

// percent renders a share of the budget, "4.4%", or "unknown".
func percent(f burnrate.Figure) string {
	return f.Text(func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) })
}

// times renders a burn rate, "14.4×", or "unknown".
func times(f burnrate.Figure) string {
	return f.Text(func(x float64) string { return trimFloat(x) + "×" })
}

// trimFloat prints a known number with at most three significant decimals.
func trimFloat(x float64) string {
	switch {
	case math.Abs(x) >= 100:
		return fmt.Sprintf("%.0f", x)
	case math.Abs(x) >= 10:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", x), "0"), ".")
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", x), "0"), ".")
}
