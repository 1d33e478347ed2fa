package server

import (
	"bufio"
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
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

// pages are the templates "status" (the first screen) and "list" (the
// instance list).
var pages = template.Must(template.New("pages").Parse(statusTemplate))

// Sizes of the inline SVG charts, in CSS pixels.
const (
	chartW, chartH = 240.0, 56.0
	burnW, burnH   = 220.0, 68.0
)

// The first screen stays small however large the fleet: it lists at most
// firstScreenIncidents incidents and firstScreenInstances instances (all
// of them when there are no more, else the most threatened of those not
// ok); the rest are on the instance list's pages.
const (
	firstScreenIncidents = 1000
	firstScreenInstances = 50
)

// chrome is what every page shows at its top.
type chrome struct {
	Title string
	// Refresh reloads the page every 15 s (not a page with a form).
	Refresh   bool
	At        string
	Ready     bool
	Reason    string
	Shard     string
	Source    SourceStatus
	SourceAge string
	Problems  []Problem
	Banners   []string
	Counts    Counts
}

// pageData is the first screen.
type pageData struct {
	chrome
	Incidents []incidentView
	// MoreIncidents are the open incidents not shown.
	MoreIncidents int
	Recent        []incidentView
	SLOs          []sloView
	Instances     []instanceView
	// AllInstances is set when Instances holds every instance; else it
	// holds the most threatened of the NotOK instances not ok.
	AllInstances bool
	NotOK        int
	NotOKLink    string
}

// listData is the instance list: a filtered, sorted page of instances.
type listData struct {
	chrome
	Query   url.Values
	SLO     *sloView // set when the list is of one SLO
	SLOIDs  []string
	Service []string
	Teams   []string
	Search  string
	// Group is what the list is grouped by ("" for none), Groups the choices.
	Group  string
	Groups []string
	// States are the state checkboxes of the filter form.
	States    []stateBox
	Labels    string
	PerPage   int
	Sort      string
	Columns   map[string]columnLink
	Matched   int
	Page      int
	Pages     int
	First     string
	Prev      string
	Next      string
	Last      string
	Instances []instanceView
}

type stateBox struct {
	Name    string
	Checked bool
}

// columnLink sorts the list by a column, or reverses it when it is the
// column sorted by.
type columnLink struct {
	Link  string
	Arrow string
}

type sloView struct {
	ID        string
	Service   string
	Objective string
	Window    string
	Policy    string
	State     string
	Worst     string
	Total     int
	// Link is the SLO's page, ListLink the list of its instances.
	Link          string
	ListLink      string
	Team          string
	Counts        []countCell
	Misconfigured []string
	Backfilling   bool
	// worst orders the SLOs on the first screen; numStates when it has no instances.
	worst State
}

type countCell struct {
	State string
	N     int
	Link  string
}

type incidentView struct {
	Rank int
	SLO  string
	// Link is the SLO page of the incident's instance.
	Link      string
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
	// CausedBy, Paged and Affected show dependency correlation (correlation.go).
	CausedBy string
	Paged    bool
	Affected int
	// Onset is when the burn began (burnrate.Evaluator.Onset), Started
	// when slod detected it; OnsetLead is the time between.
	Onset     string
	OnsetLead string
	// SpentOnset is the budget spent since the onset.
	SpentOnset string
	// Recovering is set while an open burn incident has no row firing
	// (its short windows have dropped below their thresholds): it resolves
	// after the hold-down unless a row fires again.
	Recovering bool
}

type instanceView struct {
	SLO string
	// Link is the instance's SLO page; SLOLink the SLO's.
	Link    string
	SLOLink string
	Team    string
	// Recovering is set for a paging or ticketing instance whose rows have
	// all stopped firing: its incident waits out the hold-down.
	Recovering bool
	Service    string
	Labels     string
	Objective  string
	Window     string
	State      string
	Remaining  string
	Burn       string
	NoData     string
	// Excluded names the budget exclusion under way ("" when none).
	Excluded string
	Budget   budgetChart
	Burns    burnChart
	// NoChart is set when the budget is not drawn for this instance.
	NoChart bool
	// GroupHead, on a grouped list, names the group this instance starts.
	GroupHead string
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
	// Above is set when the window burns at or above the (lowest)
	// threshold of its rows without a row firing: its partner window is
	// below.
	Above   bool
	Title   string
	FactorY float64
	// Value is the burn, written above the bar; ValueY its baseline.
	Value  string
	ValueY float64
}

type burnChart struct {
	W, H float64
	Bars []burnBar
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, "status", newPageData(s.snapshot(r)))
}

func (s *Server) instanceList(w http.ResponseWriter, r *http.Request) {
	d, err := newListData(s.snapshot(r), r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.render(w, "list", d)
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	bw := bufio.NewWriterSize(w, 64<<10)
	err := pages.ExecuteTemplate(bw, name, data)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		s.opts.Logger.Error("render status page", "page", name, "err", err)
	}
}

func newChrome(s *Snapshot) chrome {
	c := chrome{
		At: s.At.UTC().Format("2006-01-02 15:04:05 MST"), Ready: s.Ready, Reason: s.Reason,
		Shard: s.Shard, Source: s.Source, Problems: s.Problems, Banners: s.Banners, Counts: s.Total(),
	}
	if !s.Source.LastSuccess.IsZero() {
		c.SourceAge = slo.FormatDuration(s.At.Sub(s.Source.LastSuccess)) + " ago"
	}
	return c
}

// newPageData builds the first screen: its work grows with the incidents
// and SLOs shown, not with the instances, whose states and counts the
// snapshot's index holds.
func newPageData(s *Snapshot) pageData {
	x := s.index()
	d := pageData{chrome: newChrome(s)}
	d.Title, d.Refresh = "slod status", true
	// Roots by threat, each followed by its symptoms (correlation.go).
	for i, n := range nestedIncidents(s.Incidents) {
		if i == firstScreenIncidents {
			d.MoreIncidents = len(s.Incidents) - i
			break
		}
		d.Incidents = append(d.Incidents, newIncidentView(s, n.inc, n.rank, s.At))
	}
	for _, inc := range s.Recent {
		d.Recent = append(d.Recent, newIncidentView(s, inc, 0, s.At))
	}
	for _, i := range x.sloOrder {
		d.SLOs = append(d.SLOs, newSLOView(s, int(i)))
	}
	// Most threatened first, then by ID.
	slices.SortStableFunc(d.SLOs, func(a, b sloView) int { return cmp.Compare(a.worst, b.worst) })
	refs := x.notOK
	if d.Counts.Total() <= firstScreenInstances {
		refs, d.AllInstances = s.selectSorted(filter{}, order{}), true
	}
	d.NotOK = len(x.notOK)
	d.NotOKLink = "instances?" + url.Values{"state": {"page,ticket,misconfigured,nodata"}}.Encode()
	for _, r := range refs[:min(len(refs), firstScreenInstances)] {
		d.Instances = append(d.Instances, newInstanceView(s, r))
	}
	return d
}

// newListData builds a page of the instance list from the query
// parameters: the filter (parseFilter), sort, page and per_page.
func newListData(s *Snapshot, q url.Values) (listData, error) {
	f, ferr := parseFilter(q)
	o, oerr := parseOrder(q.Get("sort"))
	p, perr := parsePaging(q)
	if err := errors.Join(ferr, oerr, perr); err != nil {
		return listData{}, err
	}
	d := listData{chrome: newChrome(s), Query: q, Labels: q.Get("labels"), PerPage: p.perPage, Sort: o.String(),
		Columns: map[string]columnLink{}, Search: q.Get("q"), Group: q.Get("group"), Groups: groupNames}
	if d.Group != "" && !slices.Contains(groupNames, d.Group) {
		return listData{}, fmt.Errorf("group %q: want one of %s", d.Group, strings.Join(groupNames, ", "))
	}
	d.Title = "slod instances"
	if len(f.slos) == 1 {
		d.Title = f.slos[0] + " instances · slod"
	}
	services, teams := map[string]bool{}, map[string]bool{}
	for _, i := range s.index().sloOrder {
		sl := &s.SLOs[i]
		d.SLOIDs = append(d.SLOIDs, sl.ID)
		if !services[sl.Service] {
			services[sl.Service] = true
			d.Service = append(d.Service, sl.Service)
		}
		if t := sl.Labels["team"]; t != "" && !teams[t] {
			teams[t] = true
			d.Teams = append(d.Teams, t)
		}
	}
	slices.Sort(d.Service)
	slices.Sort(d.Teams)
	if len(f.slos) == 1 {
		if i, ok := s.index().bySLO[f.slos[0]]; ok {
			v := newSLOView(s, i)
			d.SLO = &v
		}
	}
	for st := range numStates {
		d.States = append(d.States, stateBox{Name: st.String(), Checked: f.states&(1<<st) != 0})
	}
	link := func(set map[string]string) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = slices.Clone(vs)
		}
		for k, val := range set {
			if val == "" {
				v.Del(k)
			} else {
				v.Set(k, val)
			}
		}
		return "instances?" + v.Encode()
	}
	for col := range numSortColumns {
		name := sortNames[col]
		c := columnLink{Link: link(map[string]string{"sort": name, "page": ""})}
		if o.col == col {
			c.Arrow = " ▲"
			if o.desc {
				c.Arrow = " ▼"
			} else {
				c.Link = link(map[string]string{"sort": "-" + name, "page": ""})
			}
		}
		d.Columns[name] = c
	}
	refs := s.selectSorted(f, o)
	if d.Group != "" {
		// Groups in name order (states in threat order), each in the order asked for.
		slices.SortStableFunc(refs, func(a, b ref) int {
			if d.Group == "state" {
				return cmp.Compare(s.State(int(a.slo), int(a.inst)), s.State(int(b.slo), int(b.inst)))
			}
			return strings.Compare(s.groupOf(d.Group, a), s.groupOf(d.Group, b))
		})
	}
	d.Matched = len(refs)
	d.Pages = max(1, (len(refs)+p.perPage-1)/p.perPage)
	d.Page = p.page
	pageLink := func(n int) string { return link(map[string]string{"page": strconv.Itoa(n)}) }
	if d.Page > 1 {
		d.First, d.Prev = pageLink(1), pageLink(min(d.Page-1, d.Pages))
	}
	if d.Page < d.Pages {
		d.Next, d.Last = pageLink(d.Page+1), pageLink(d.Pages)
	}
	from := min((d.Page-1)*p.perPage, len(refs))
	prev := ""
	for k, r := range refs[from:min(from+p.perPage, len(refs))] {
		v := newInstanceView(s, r)
		if g := s.groupOf(d.Group, r); d.Group != "" && (k == 0 || g != prev) {
			v.GroupHead, prev = d.Group+": "+g, g
			if g == "" {
				v.GroupHead = d.Group + ": (none)"
			}
		}
		d.Instances = append(d.Instances, v)
	}
	return d, nil
}

// groupNames are what the instance list groups by.
var groupNames = []string{"service", "team", "slo", "state"}

// groupOf is the group of an instance on a list grouped by group.
func (s *Snapshot) groupOf(group string, r ref) string {
	sl := &s.SLOs[r.slo]
	switch group {
	case "service":
		return sl.Service
	case "team":
		return sl.Labels["team"]
	case "slo":
		return sl.ID
	case "state":
		return s.State(int(r.slo), int(r.inst)).String()
	}
	return ""
}

func newSLOView(s *Snapshot, i int) sloView {
	sl := &s.SLOs[i]
	x := s.index()
	c := x.counts[i]
	v := sloView{
		ID: sl.ID, Service: sl.Service, Objective: strconv.FormatFloat(sl.Objective, 'f', -1, 64) + "%",
		Window: slo.FormatDuration(sl.Window), Policy: sl.Policy, Worst: percent(x.worst[i]), Total: c.Total(),
		Link: sloLink(sl.ID, ""), ListLink: "instances?" + url.Values{"slo": {sl.ID}}.Encode(), Team: sl.Labels["team"], Misconfigured: sl.Misconfigured, Backfilling: sl.Backfilling, worst: numStates,
	}
	if st, ok := c.Worst(); ok {
		v.State, v.worst = st.String(), st
	}
	for st := range numStates {
		cell := countCell{State: st.String(), N: c.Of(st)}
		if cell.N > 0 {
			cell.Link = "instances?" + url.Values{"slo": {sl.ID}, "state": {st.String()}}.Encode()
		}
		v.Counts = append(v.Counts, cell)
	}
	return v
}

func newInstanceView(s *Snapshot, r ref) instanceView {
	sl, in := &s.SLOs[r.slo], &s.SLOs[r.slo].Instances[r.inst]
	v := instanceView{
		SLO: sl.ID, Service: sl.Service, Labels: FormatLabels(in.Labels),
		Objective: strconv.FormatFloat(sl.Objective, 'f', -1, 64) + "%", Window: slo.FormatDuration(sl.Window),
		State: s.State(int(r.slo), int(r.inst)).String(), Remaining: "–", Burn: "–",
		Link: sloLink(sl.ID, in.Key), SLOLink: sloLink(sl.ID, ""), Team: sl.Labels["team"],
	}
	if st := s.State(int(r.slo), int(r.inst)); (st == StatePage || st == StateTicket) && in.Evaluated {
		_, firing := in.Evaluation.Severity()
		v.Recovering = !firing
	}
	if in.Evaluated {
		v.Remaining = percent(in.Evaluation.BudgetRemaining)
		v.Burn = times(burnrate.CurrentBurn(in.Evaluation))
		if in.Evaluation.NoDataFor > 0 {
			v.NoData = slo.FormatDuration(in.Evaluation.NoDataFor)
		}
		v.Excluded = in.Evaluation.Excluded
		v.Burns = newBurnChart(in.Evaluation)
	}
	v.Budget = newBudgetChart(in.Budget, sl.Window)
	v.NoChart = v.Budget.Empty && s.BudgetForIncidentsOnly
	return v
}

func newIncidentView(s *Snapshot, inc burnrate.Incident, rank int, now time.Time) incidentView {
	v := incidentView{
		Rank: rank, SLO: inc.SLO, Labels: FormatLabels(inc.Labels), Class: string(inc.Class),
		Severity: string(inc.Severity), Started: inc.Start.UTC().Format("01-02 15:04:05"),
		Burn: times(inc.Burn), Remaining: percent(inc.BudgetRemaining), Spent: percent(inc.BudgetSpent),
		TTE: burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion), Link: sloLink(inc.SLO, inc.Key),
		Onset: "unknown", SpentOnset: "unknown",
		Recovering: inc.Class == burnrate.ClassBurn && inc.Open() && inc.LastFiring.Before(inc.Updated),
	}
	if inc.Class != burnrate.ClassBurn {
		v.Onset, v.SpentOnset = "–", "–"
	} else if o, ok := s.Onsets[OnsetKey(inc)]; ok {
		v.Onset = o.At.UTC().Format("01-02 15:04:05")
		v.OnsetLead = slo.FormatDuration(inc.Start.Sub(o.At)) + " before detection"
		if o.BudgetRemaining.Known() && inc.BudgetRemaining.Known() {
			v.SpentOnset = percent(max(0, o.BudgetRemaining-inc.BudgetRemaining))
		}
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
	v.CausedBy, v.Paged, v.Affected = causeView(inc)
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
	// Each bar's value is written above it, so no figure needs a hover.
	slices.SortFunc(wins, func(a, b win) int { return int(a.d/time.Second) - int(b.d/time.Second) })
	c := burnChart{W: burnW, H: burnH}
	if len(wins) == 0 {
		return c
	}
	const labelH, valueH = 12.0, 10.0
	plotH := burnH - labelH - valueH
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
			X: float64(i)*slot + 2, W: slot - 4, X2: float64(i+1)*slot - 2, Y: valueH + plotH - h, H: h,
			Label: slo.FormatDuration(w.d), LabelX: float64(i)*slot + slot/2,
			Fires: w.fires, FactorY: valueH + plotH - scale(w.factor),
			Above: !w.fires && w.burn.Known() && float64(w.burn) >= w.factor,
			Value: shortTimes(w.burn), ValueY: valueH + plotH - h - 2,
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

// shortTimes is times in the few characters a bar has: "14×", "0.3×", "?".
func shortTimes(f burnrate.Figure) string {
	if !f.Known() {
		return "?"
	}
	x := float64(f)
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x >= 0.05:
		return fmt.Sprintf("%.1f×", x)
	}
	return "0×"
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
