package server

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The SLO page lists at most this many of the SLO's instances (the most
// threatened) and of its incidents; the instance list has the rest.
const (
	sloPageInstances = 20
	sloPageIncidents = 50
)

// chartRanges are the spans the SLO page's error-ratio and burn charts
// cover; "window" is the SLO's window.
var chartRanges = []struct {
	name string
	d    time.Duration
}{{"1h", time.Hour}, {"6h", 6 * time.Hour}, {"3d", 3 * 24 * time.Hour}, {"window", 0}}

// The colours of the burn windows' lines, shortest window first.
var windowColors = []string{"#c62828", "#ef6c00", "#6a1b9a", "#1565c0", "#00838f", "#2e7d32", "#5d4037", "#455a64"}

// sloPageData is the page of one SLO, and of one of its instances.
type sloPageData struct {
	chrome
	SLO         sloView
	Description string
	Labels      string
	Links       []pageLink
	// Instance is the instance charted; nil for an SLO with none yet.
	Instance *instanceView
	// Chosen is set when the query named the instance; else Instance is
	// the SLO's most threatened one.
	Chosen    bool
	Grouped   bool
	Instances []instanceView
	// MoreInstances are the instances not listed.
	MoreInstances int
	ListLink      string
	SLI           string
	TTE           string
	Ranges        []pageLink
	Range         string
	Charts        []seriesChart
	NoRings       string
	Policy        []policyRow
	Incidents     []incidentView
	MoreIncidents int
}

type pageLink struct {
	Text, Href string
	Current    bool
}

// policyRow is one row of the policy table: what it needs and what it reads now.
type policyRow struct {
	Severity, Windows, Factor, Long, Short, Why string
	Fires, LongAbove, ShortAbove                bool
}

// sloLink is the SLO page of an SLO, or of one of its instances.
func sloLink(id, key string) string {
	v := url.Values{"id": {id}}
	if key != "" {
		v.Set("instance", key)
	}
	return "slo?" + v.Encode()
}

func (s *Server) sloPage(w http.ResponseWriter, r *http.Request) {
	d, code, err := newSLOPageData(s.snapshot(r), r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	s.render(w, "slo", d)
}

func newSLOPageData(s *Snapshot, q url.Values) (sloPageData, int, error) {
	x := s.index()
	id := q.Get("id")
	i, ok := x.bySLO[id]
	if !ok {
		return sloPageData{}, http.StatusNotFound, fmt.Errorf("no SLO %q here (see the status page for the SLOs this daemon evaluates)", id)
	}
	rng := time.Duration(0)
	rangeName := q.Get("range")
	if rangeName == "" {
		rangeName = "6h"
	}
	found := false
	for _, cr := range chartRanges {
		if cr.name == rangeName {
			rng, found = cr.d, true
		}
	}
	if !found {
		return sloPageData{}, http.StatusBadRequest, fmt.Errorf("range %q: want 1h, 6h, 3d or window", rangeName)
	}
	sl := &s.SLOs[i]
	if rng == 0 {
		rng = sl.Window
	}
	d := sloPageData{chrome: newChrome(s), SLO: newSLOView(s, i), Description: sl.Description, Labels: FormatLabels(sl.Labels),
		Range: rangeName, Grouped: len(sl.Instances) > 1 || len(sl.Instances) == 1 && len(sl.Instances[0].Labels) > 0}
	d.Title, d.Refresh = sl.ID+" · slod", true
	if sl.Runbook != "" {
		d.Links = append(d.Links, pageLink{Text: "runbook", Href: sl.Runbook})
	}
	for _, k := range []string{"dashboard", "dashboard_url"} {
		if v := strings.TrimSpace(sl.Annotations[k]); v != "" {
			d.Links = append(d.Links, pageLink{Text: "dashboard", Href: v})
			break
		}
	}
	refs := s.selectSorted(filter{slos: []string{id}}, order{})
	var chosen ref
	key := q.Get("instance")
	switch {
	case key != "":
		j := slices.IndexFunc(sl.Instances, func(in Instance) bool { return in.Key == key })
		if j < 0 {
			return sloPageData{}, http.StatusNotFound, fmt.Errorf("SLO %s has no instance %s", id, key)
		}
		chosen, d.Chosen = ref{int32(i), int32(j)}, true
	case len(refs) > 0:
		chosen = refs[0]
	default:
		chosen = ref{int32(i), -1}
	}
	for _, r := range refs[:min(len(refs), sloPageInstances)] {
		d.Instances = append(d.Instances, newInstanceView(s, r))
	}
	d.MoreInstances = len(refs) - len(d.Instances)
	d.ListLink = "instances?" + url.Values{"slo": {id}}.Encode()
	keep := url.Values{"id": {id}}
	if d.Chosen {
		keep.Set("instance", key)
	}
	for _, cr := range chartRanges {
		v := url.Values{}
		for k, vs := range keep {
			v[k] = vs
		}
		v.Set("range", cr.name)
		d.Ranges = append(d.Ranges, pageLink{Text: cr.name, Href: "slo?" + v.Encode(), Current: cr.name == rangeName})
	}
	var in *Instance
	if chosen.inst >= 0 {
		in = &sl.Instances[chosen.inst]
		v := newInstanceView(s, chosen)
		d.Instance = &v
	}
	// The incidents of the SLO, or of the chosen instance: open ones in
	// rank order, then recent ones.
	var incs []burnrate.Incident
	for _, list := range [][]burnrate.Incident{s.Incidents, s.Recent} {
		for _, inc := range list {
			if inc.SLO == id && (!d.Chosen || inc.Key == key) {
				incs = append(incs, inc)
			}
		}
	}
	for k, inc := range incs {
		if k == sloPageIncidents {
			d.MoreIncidents = len(incs) - k
			break
		}
		d.Incidents = append(d.Incidents, newIncidentView(s, inc, 0, s.At))
	}
	d.SLI, d.TTE = "unknown", "unknown"
	if in != nil && in.Evaluated {
		ev := in.Evaluation
		if ev.WindowTotal > 0 {
			d.SLI = strconv.FormatFloat(100*(1-ev.WindowErrors/ev.WindowTotal), 'f', 3, 64) + "%"
		}
		d.TTE = burnrate.FormatTimeToExhaustion(burnrate.TimeToExhaustion(ev.BudgetRemaining, sl.Window, burnrate.CurrentBurn(ev)))
		d.Policy = newPolicyRows(ev)
	}
	switch {
	case in == nil:
		d.NoRings = "no instance yet: nothing to draw"
	case sl.Rings == nil:
		d.NoRings = "no ring buffers for this SLO in this daemon: nothing to draw"
	default:
		var onsets []mark
		for _, inc := range incs {
			if inc.Key != in.Key || inc.Class != burnrate.ClassBurn {
				continue
			}
			if o, ok := s.Onsets[OnsetKey(inc)]; ok {
				onsets = append(onsets, mark{At: o.At, Label: "burn began " + clock(o.At), Color: "#ef6c00"})
			}
			onsets = append(onsets, mark{At: inc.Start, Label: "detected " + clock(inc.Start), Color: "#c62828"})
			if !inc.Open() {
				onsets = append(onsets, mark{At: inc.Resolved, Label: "resolved " + clock(inc.Resolved), Color: "#2e7d32"})
			}
		}
		end := s.At
		if in.Evaluated && !in.Evaluation.At.IsZero() {
			end = in.Evaluation.At
		}
		d.Charts = newSLOCharts(sl, in, end, rng, rangeName, onsets)
		if len(d.Charts) == 0 {
			d.NoRings = "the rings hold no data for this instance yet"
		}
	}
	return d, http.StatusOK, nil
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05") }

// buckets are n instants ending at end, span/n apart rounded up to a
// whole number of steps.
func buckets(end time.Time, span, step time.Duration, n int) ([]time.Time, time.Duration) {
	b := max(step, (span/time.Duration(n)+step-1)/step*step)
	n = int((span + b - 1) / b)
	end = end.Truncate(step)
	out := make([]time.Time, n)
	for i := range out {
		out[i] = end.Add(-time.Duration(n-1-i) * b)
	}
	return out, b
}

// newSLOCharts draws the SLO page's charts for one instance from its
// rings: the budget remaining over the window, the error ratio and the
// request rate over the chosen range, and the burn over each policy
// window over that range with the rows' thresholds.
func newSLOCharts(sl *SLO, in *Instance, end time.Time, rng time.Duration, rangeName string, marks []mark) []seriesChart {
	step := sl.Rings.Step()
	budgetRatio := 1 - sl.Objective/100
	var charts []seriesChart
	excl := exclusionSpans(sl.Rings, end.Add(-max(sl.Window, rng)), end)
	// Budget remaining: errors summed from the window's start over the
	// budget of the whole window (the objective's error ratio × its events).
	wt, wb := buckets(end, sl.Window, step, chartPoints)
	per, ok := sl.Rings.Counts(in.Labels, wt, wb)
	whole, ok2 := sl.Rings.Counts(in.Labels, []time.Time{end}, sl.Window)
	if !ok || !ok2 {
		return nil
	}
	budget := budgetRatio * whole[0].Total
	rem := make([]float64, len(wt))
	nd := make([]bool, len(wt))
	spent := 0.0
	for i, c := range per {
		spent += c.Errors
		nd[i] = c.Known == 0
		rem[i] = math.NaN()
		if budget > 0 {
			rem[i] = 100 * (1 - spent/budget)
		}
	}
	low := 0.0
	for _, v := range rem {
		if !math.IsNaN(v) {
			low = min(low, v)
		}
	}
	charts = append(charts, newSeriesChart(chartSpec{
		Title: "error budget remaining over the " + slo.FormatDuration(sl.Window) + " window",
		Times: wt, From: end.Add(-sl.Window), To: end, NoData: nd, Min: math.Floor(low/25) * 25, Max: 100,
		Lines:      []chartLine{{Name: "budget remaining", Color: "#2e7d32", Y: rem}},
		Thresholds: []threshold{{Y: 0, Label: "0%: budget gone", Color: "#c62828"}},
		Format:     func(v float64) string { return trimFloat(v) + "%" }, Marks: marks, Excluded: excl,
	}))
	// Error ratio and request rate over the range.
	rt, rb := buckets(end, rng, step, chartPoints)
	cs, _ := sl.Rings.Counts(in.Labels, rt, rb)
	ratio := make([]float64, len(rt))
	rate := make([]float64, len(rt))
	rnd := make([]bool, len(rt))
	for i, c := range cs {
		ratio[i], rate[i], rnd[i] = math.NaN(), math.NaN(), c.Known == 0
		if c.Known > 0 {
			ratio[i] = 100 * c.ErrorRatio()
			rate[i] = c.Total / rb.Seconds()
		}
	}
	from := end.Add(-rng)
	pct := func(v float64) string { return trimFloat(v) + "%" }
	charts = append(charts, newSeriesChart(chartSpec{
		Title: fmt.Sprintf("error ratio over the last %s (per %s)", rangeName, slo.FormatDuration(rb)),
		Times: rt, From: from, To: end, NoData: rnd, Format: pct, Marks: marks, Excluded: excl,
		Lines: []chartLine{{Name: "error ratio", Color: "#c62828", Y: ratio}},
		Thresholds: []threshold{{Y: 100 * budgetRatio, Color: "#57606a",
			Label: "objective's error budget: " + trimFloat(100*budgetRatio) + "%"}},
	}))
	charts = append(charts, newSeriesChart(chartSpec{
		Title: fmt.Sprintf("request rate over the last %s (events per second, per %s)", rangeName, slo.FormatDuration(rb)),
		Times: rt, From: from, To: end, NoData: rnd, Marks: marks, Excluded: excl,
		Lines: []chartLine{{Name: "events/s", Color: "#1565c0", Y: rate}},
	}))
	// Burn over each policy window, at the same instants.
	if !in.Evaluated || len(in.Evaluation.Rows) == 0 {
		return charts
	}
	var wins []time.Duration
	var ths []threshold
	for _, r := range in.Evaluation.Rows {
		for _, w := range []time.Duration{r.Row.Short, r.Row.Long} {
			if !slices.Contains(wins, w) {
				wins = append(wins, w)
			}
		}
		ths = append(ths, threshold{Y: r.Factor, Color: "#24292f",
			Label: fmt.Sprintf("%s %s/%s threshold %s×", r.Row.Severity, slo.FormatDuration(r.Row.Long), slo.FormatDuration(r.Row.Short), trimFloat(r.Factor))})
	}
	slices.Sort(wins)
	var lines []chartLine
	for k, w := range wins {
		cw, _ := sl.Rings.Counts(in.Labels, rt, w)
		ys := make([]float64, len(rt))
		for i, c := range cw {
			ys[i] = burnrate.Burn(c.ErrorRatio(), budgetRatio) // NaN without data
		}
		lines = append(lines, chartLine{Name: slo.FormatDuration(w), Color: windowColors[k%len(windowColors)], Dash: k%2 == 1, Y: ys})
	}
	charts = append(charts, newSeriesChart(chartSpec{
		Title: fmt.Sprintf("burn rate per policy window over the last %s (log scale; dark lines: the rows' thresholds)", rangeName),
		Times: rt, From: from, To: end, NoData: rnd, Log: true, Lines: lines, Thresholds: ths, Marks: marks, Excluded: excl,
		Format: func(v float64) string { return trimFloat(v) + "×" },
	}))
	return charts
}

// newPolicyRows is the policy table: each row's windows and threshold,
// its burns now, whether it fires and why (not).
func newPolicyRows(ev burnrate.Evaluation) []policyRow {
	var out []policyRow
	for _, r := range ev.Rows {
		f := trimFloat(r.Factor) + "×"
		p := policyRow{
			Severity: string(r.Row.Severity), Windows: slo.FormatDuration(r.Row.Long) + " / " + slo.FormatDuration(r.Row.Short),
			Factor: f, Long: times(r.LongBurn), Short: times(r.ShortBurn), Fires: r.Fires,
			LongAbove: r.LongBurn.Known() && float64(r.LongBurn) >= r.Factor, ShortAbove: r.ShortBurn.Known() && float64(r.ShortBurn) >= r.Factor,
		}
		switch {
		case !r.LongBurn.Known() || !r.ShortBurn.Known():
			p.Why = "a window holds no data: unknown, neither firing nor clear"
		case r.Fires:
			p.Why = "fires: both windows at or above " + f
		case p.LongAbove && p.ShortAbove:
			p.Why = "both above " + f + " but too few events in the long window (min_events)"
		case p.LongAbove:
			p.Why = "recovering: the long window still burns above " + f + ", the short one has dropped below"
		case p.ShortAbove:
			p.Why = "the short window is above " + f + ", the long one not yet: a spike, or a burn that has just begun"
		default:
			p.Why = "both windows below " + f
		}
		out = append(out, p)
	}
	return out
}

// exclusionSpans are the occurrences of the SLO's budget exclusions in
// [from, to), when its rings know them (burnrate.Evaluator does).
func exclusionSpans(r Rings, from, to time.Time) []excludedSpan {
	xr, ok := r.(interface{ Exclusions() []*slo.Exclusion })
	if !ok {
		return nil
	}
	var out []excludedSpan
	var buf []slo.Interval
	for _, x := range xr.Exclusions() {
		buf = x.Occurrences(buf[:0], from, to)
		for _, iv := range buf {
			out = append(out, excludedSpan{From: iv.From, To: iv.To, Name: x.Name})
		}
	}
	return out
}
