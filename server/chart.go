package server

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Sizes of the SLO page's time-series charts, in CSS pixels: the plot
// sits inside margins that hold the axes' labels.
const (
	seriesW, seriesH  = 1100.0, 200.0
	marginL, marginR  = 56.0, 12.0
	marginT, marginB  = 10.0, 22.0
	plotW, plotH      = seriesW - marginL - marginR, seriesH - marginT - marginB
	logFloor, logCeil = 0.1, 1000.0
	chartPoints       = 180
)

// chartLine is one series: values at the chart's times, NaN where unknown
// (the line breaks there rather than reading zero).
type chartLine struct {
	Name  string
	Color string
	Dash  bool
	Y     []float64
}

// threshold is a horizontal reference line (a burn factor, the SLO's
// error budget ratio, the 0% budget line).
type threshold struct {
	Y     float64
	Label string
	Color string
}

// chartSpec is what newSeriesChart draws.
type chartSpec struct {
	Title string
	Times []time.Time
	// From and To span the x axis.
	From, To time.Time
	Lines    []chartLine
	// NoData marks the points whose bucket held no known step: shaded.
	NoData []bool
	// Log draws the y axis on a log scale from logFloor to logCeil.
	Log bool
	// Min and Max fix the y range of a linear chart; Max 0 fits the data.
	Min, Max   float64
	Format     func(float64) string
	Thresholds []threshold
	// Marks are vertical lines at instants (a burn's onset, its detection).
	Marks []mark
	// Excluded are budget exclusions (planned maintenance) in the range:
	// shaded apart from no data, with the exclusion's name.
	Excluded []excludedSpan
}

// excludedSpan is one occurrence of a budget exclusion.
type excludedSpan struct {
	From, To time.Time
	Name     string
}

// excludedRect is an excludedSpan drawn.
type excludedRect struct {
	X, W float64
	Name string
}

type mark struct {
	At    time.Time
	Label string
	Color string
}

// seriesChart is a rendered chart for the template: every coordinate in
// pixels of its viewBox.
type seriesChart struct {
	W, H                   float64
	PX, PY, PW, PH, Bottom float64
	Title                  string
	Paths                  []chartPath
	XTicks, YTicks         []chartTick
	Shades                 []chartRect
	Excluded               []excludedRect
	Lines                  []chartRule
	Marks                  []chartMark
	Legend                 []legendItem
	// Empty says there is nothing to draw: no known point.
	Empty bool
}

type chartPath struct {
	D, Color string
	Dash     bool
}

type chartTick struct {
	Pos   float64
	Label string
}

type chartRect struct{ X, W float64 }

type chartRule struct {
	Y, LabelX    float64
	Label, Color string
}

type chartMark struct {
	X, LabelY    float64
	Label, Color string
	// Anchor is where the label sits: after the line, or before it
	// ("end") near the plot's right edge.
	Anchor string
	DX     float64
}

type legendItem struct {
	Name, Color string
	Dash        bool
}

// newSeriesChart lays a chart out: time on x from From to To, values on y
// (linear or log), gaps where a value is unknown, shaded buckets without
// data, reference lines, and axis labels.
func newSeriesChart(s chartSpec) seriesChart {
	c := seriesChart{W: seriesW, H: seriesH, PX: marginL, PY: marginT, PW: plotW, PH: plotH, Bottom: marginT + plotH, Title: s.Title}
	span := float64(s.To.Sub(s.From))
	if span <= 0 {
		c.Empty = true
		return c
	}
	x := func(t time.Time) float64 { return marginL + float64(t.Sub(s.From))/span*plotW }
	lo, hi := s.Min, s.Max
	if !s.Log && hi == 0 {
		hi = math.Inf(-1)
		for _, l := range s.Lines {
			for _, v := range l.Y {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					hi = max(hi, v)
				}
			}
		}
		for _, t := range s.Thresholds {
			hi = max(hi, t.Y)
		}
		if math.IsInf(hi, -1) || hi <= lo {
			hi = lo + 1
		}
		hi = niceCeil(hi)
	}
	y := func(v float64) float64 {
		if s.Log {
			v = min(max(v, logFloor), logCeil)
			return marginT + plotH - (math.Log10(v)-math.Log10(logFloor))/(math.Log10(logCeil)-math.Log10(logFloor))*plotH
		}
		v = min(max(v, lo), hi)
		return marginT + plotH - (v-lo)/(hi-lo)*plotH
	}
	// Shade buckets without data: each point stands for the bucket that
	// ends at it.
	for i, nd := range s.NoData {
		if !nd || i >= len(s.Times) {
			continue
		}
		x1 := x(s.Times[i])
		x0 := marginL
		if i > 0 {
			x0 = x(s.Times[i-1])
		}
		if n := len(c.Shades); n > 0 && math.Abs(c.Shades[n-1].X+c.Shades[n-1].W-x0) < 0.05 {
			c.Shades[n-1].W = x1 - c.Shades[n-1].X
			continue
		}
		c.Shades = append(c.Shades, chartRect{X: max(x0, marginL), W: x1 - max(x0, marginL)})
	}
	for _, e := range s.Excluded {
		a, b := e.From, e.To
		if a.Before(s.From) {
			a = s.From
		}
		if b.After(s.To) {
			b = s.To
		}
		if b.After(a) {
			c.Excluded = append(c.Excluded, excludedRect{X: x(a), W: max(x(b)-x(a), 1), Name: e.Name})
		}
	}
	known := false
	for _, l := range s.Lines {
		var b strings.Builder
		pen := false
		for i, v := range l.Y {
			if i >= len(s.Times) {
				break
			}
			if math.IsNaN(v) {
				pen = false
				continue
			}
			known = true
			cmd := 'L'
			if !pen {
				cmd = 'M'
			}
			fmt.Fprintf(&b, "%c%.1f %.1f", cmd, x(s.Times[i]), y(v))
			pen = true
		}
		if b.Len() > 0 {
			c.Paths = append(c.Paths, chartPath{D: b.String(), Color: l.Color, Dash: l.Dash})
		}
		c.Legend = append(c.Legend, legendItem{Name: l.Name, Color: l.Color, Dash: l.Dash})
	}
	c.Empty = !known
	for _, t := range s.Thresholds {
		if !s.Log && (t.Y < lo || t.Y > hi) {
			continue
		}
		c.Lines = append(c.Lines, chartRule{Y: y(t.Y), LabelX: marginL + 4, Label: t.Label, Color: t.Color})
	}
	for i, m := range s.Marks {
		if m.At.Before(s.From) || m.At.After(s.To) {
			continue
		}
		cm := chartMark{X: x(m.At), LabelY: marginT + 10 + 11*float64(i%3), Label: m.Label, Color: m.Color, Anchor: "start", DX: 3}
		if cm.X > marginL+plotW*0.8 {
			cm.Anchor, cm.DX = "end", -3
		}
		c.Marks = append(c.Marks, cm)
	}
	for _, t := range timeTicks(s.From, s.To) {
		c.XTicks = append(c.XTicks, chartTick{Pos: x(t.at), Label: t.label})
	}
	format := s.Format
	if format == nil {
		format = trimFloat
	}
	if s.Log {
		for v := logFloor; v <= logCeil*1.001; v *= 10 {
			c.YTicks = append(c.YTicks, chartTick{Pos: y(v), Label: format(v)})
		}
	} else {
		for i := 0; i <= 4; i++ {
			v := lo + (hi-lo)*float64(i)/4
			c.YTicks = append(c.YTicks, chartTick{Pos: y(v), Label: format(v)})
		}
	}
	return c
}

// niceCeil rounds x up to 1, 2, 2.5 or 5 times a power of ten, so that
// quarters of the axis read as round numbers.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if x <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

type timeTick struct {
	at    time.Time
	label string
}

// timeTicks are 4 to 8 round instants between from and to (UTC), labelled
// by time of day, or by date when they are a day or more apart.
func timeTicks(from, to time.Time) []timeTick {
	span := to.Sub(from)
	steps := []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
		24 * time.Hour, 2 * 24 * time.Hour, 5 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= 8 {
			step = s
			break
		}
	}
	layout := "15:04"
	if step >= 24*time.Hour {
		layout = "01-02"
	}
	var out []timeTick
	for t := from.UTC().Truncate(step).Add(step); !t.After(to); t = t.Add(step) {
		out = append(out, timeTick{at: t, label: t.Format(layout)})
	}
	return out
}
