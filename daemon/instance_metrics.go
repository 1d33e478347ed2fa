package daemon

import (
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// instanceCollector exports the newest snapshot's figures at scrape time:
// per SLO its objective (a client_golang collector), and (unless
// perInstance is off) per SLO instance the SLI over the window, the burn
// per policy window, the budget remaining, the time to exhaustion and the
// state (expose, written straight into the /metrics response). Reading
// the published snapshot costs the evaluation loop nothing, and an SLO or
// instance that goes away simply stops being exported. Unknown figures
// are NaN, never 0 or 1.
type instanceCollector struct {
	snapshot    func() *server.Snapshot
	perInstance bool
	// max, when > 0, stops the per-instance families while the snapshot
	// holds more instances (suppressedDesc says so).
	max int
}

// The families instanceCollector exports; docs/spec.md lists them.
const (
	metricObjective  = "slod_slo_objective_ratio"
	metricSLI        = "slod_instance_sli_ratio"
	metricBurn       = "slod_instance_burn_rate"
	metricBudget     = "slod_instance_budget_remaining_ratio"
	metricExhaustion = "slod_instance_time_to_exhaustion_seconds"
	metricState      = "slod_instance_state"
)

var (
	objectiveDesc  = prometheus.NewDesc(metricObjective, "The SLO's objective as a ratio (0.999 for 99.9%).", []string{"slo"}, nil)
	suppressedDesc = prometheus.NewDesc("slod_instance_metrics_suppressed",
		"1 while the slod_instance_* gauges are not exported because the daemon evaluates more instances than --metrics-per-instance-max.", nil, nil)
	reserved = []string{"slo", "window", "state"}
)

// Describe sends the collector's two descriptors.
func (c *instanceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- objectiveDesc
	ch <- suppressedDesc
}

// Collect sends the per-SLO objective and, with a max, whether the
// per-instance families are suppressed; expose writes those families.
func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	snap := server.Acquire(c.snapshot)
	if snap == nil {
		return
	}
	defer snap.Release()
	for _, sl := range snap.SLOs {
		ch <- prometheus.MustNewConstMetric(objectiveDesc, prometheus.GaugeValue, math.Round(sl.Objective*1e6)/1e8, sl.ID)
	}
	if c.perInstance && c.max > 0 {
		ch <- prometheus.MustNewConstMetric(suppressedDesc, prometheus.GaugeValue, b2f(c.over(snap)))
	}
}

// over reports whether snap holds more instances than c.max.
func (c *instanceCollector) over(snap *server.Snapshot) bool {
	if c.max <= 0 {
		return false
	}
	n := 0
	for _, sl := range snap.SLOs {
		n += len(sl.Instances)
	}
	return n > c.max
}

// The per-instance families, in the order expose writes them.
var instanceFamilies = []struct{ name, help string }{
	{metricState, "1 for the instance's state: page, ticket, misconfigured, nodata, ok or pending."},
	{metricSLI, "Share of good events over the SLO window (1 − errors ÷ events); NaN when unknown."},
	{metricBudget, "Share of the SLO window's error budget left (negative when overspent); NaN when unknown."},
	{metricExhaustion, "Seconds until the budget is gone at the current burn: 0 when gone, +Inf when nothing burns, NaN when unknown."},
	{metricBurn, "Burn rate over each policy window (error ratio ÷ error budget); NaN when the window holds no known step."},
}

// expose writes the per-instance families of the request's snapshot in
// the text format (server.Options.Exposition), one line per series built in
// one reused buffer: at 10,000 instances (about 120,000 series) a scrape
// through client_golang's constant metrics allocated some 95 MB, and one
// through this 1.2 MB, most of it the gzip writer's
// (BenchmarkMetricsScrape10k).
func (c *instanceCollector) expose(w io.Writer, snap *server.Snapshot) error {
	if !c.perInstance || c.over(snap) {
		return nil
	}
	x := newInstanceLines(snap)
	for _, f := range instanceFamilies {
		x.buf = append(x.buf[:0], "# HELP "...)
		x.buf = append(append(append(x.buf, f.name...), ' '), f.help...)
		x.buf = append(append(append(x.buf, "\n# TYPE "...), f.name...), " gauge\n"...)
		if _, err := w.Write(x.buf); err != nil {
			return err
		}
		for i, sl := range snap.SLOs {
			for j, in := range sl.Instances {
				if x.skip[[2]int{i, j}] {
					continue
				}
				if err := x.family(w, f.name, snap, i, j, sl, in); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// instanceLines writes the lines of the per-instance families.
//
// Instance labels are the union of every SLO's group_by labels, empty
// (which Prometheus reads as absent) where an SLO has no such label, so
// that each family has one set of label names. A group_by label named
// slo, window or state is exported as exported_<name>, as Prometheus does
// with clashing target labels.
type instanceLines struct {
	names, exported []string
	// skip holds the instances not exported: Prometheus reads an empty
	// label as an absent one, so two instances of an SLO that differ only
	// so would be one series, of which Prometheus (2.42) keeps the first
	// sample of a scrape and drops the other without failing it. The
	// first is exported, and the rest left out on purpose.
	skip    map[[2]int]bool
	windows map[time.Duration]string
	buf     []byte
}

func newInstanceLines(snap *server.Snapshot) *instanceLines {
	union := map[string]bool{}
	for _, sl := range snap.SLOs {
		for _, in := range sl.Instances {
			for k := range in.Labels {
				union[k] = true
			}
		}
	}
	x := &instanceLines{names: slices.Sorted(maps.Keys(union)), windows: map[time.Duration]string{}, buf: make([]byte, 0, 512)}
	x.exported = make([]string, len(x.names))
	for i, n := range x.names {
		x.exported[i] = n
		if slices.Contains(reserved, n) {
			x.exported[i] = "exported_" + n
		}
	}
	// Only instances with an empty value can collide: two whose values
	// are all set and equal would have the same labels, and be one.
	for i, sl := range snap.SLOs {
		var seen map[string]bool
		for j, in := range sl.Instances {
			empty := false
			for _, n := range x.names {
				empty = empty || in.Labels[n] == ""
			}
			if !empty {
				continue
			}
			id := make([]string, len(x.names))
			for k, n := range x.names {
				id[k] = in.Labels[n]
			}
			key := strings.Join(id, "\xff")
			if seen == nil {
				seen = map[string]bool{}
			}
			if seen[key] {
				if x.skip == nil {
					x.skip = map[[2]int]bool{}
				}
				x.skip[[2]int{i, j}] = true
			}
			seen[key] = true
		}
	}
	return x
}

// family writes instance j of SLO i's lines of one family.
func (x *instanceLines) family(w io.Writer, name string, snap *server.Snapshot, i, j int, sl server.SLO, in server.Instance) error {
	ev := in.Evaluation
	nan := math.NaN()
	switch name {
	case metricState:
		return x.line(w, name, sl.ID, in, "state", snap.State(i, j).String(), 1)
	case metricSLI:
		v := nan
		if in.Evaluated {
			if ev.WindowTotal > 0 {
				v = 1 - ev.WindowErrors/ev.WindowTotal
			} else if ev.BudgetRemaining.Known() {
				v = 1 // known steps without traffic: nothing failed
			}
		}
		return x.line(w, name, sl.ID, in, "", "", v)
	case metricBudget:
		v := nan
		if in.Evaluated {
			v = float64(ev.BudgetRemaining)
		}
		return x.line(w, name, sl.ID, in, "", "", v)
	case metricExhaustion:
		v := nan
		if in.Evaluated {
			v = float64(burnrate.TimeToExhaustion(ev.BudgetRemaining, sl.Window, burnrate.CurrentBurn(ev)))
		}
		return x.line(w, name, sl.ID, in, "", "", v)
	case metricBurn:
		var done [16]time.Duration
		seen := done[:0]
		for _, r := range ev.Rows {
			for _, wb := range [2]struct {
				w time.Duration
				f burnrate.Figure
			}{{r.Row.Long, r.LongBurn}, {r.Row.Short, r.ShortBurn}} {
				if slices.Contains(seen, wb.w) {
					continue
				}
				seen = append(seen, wb.w)
				text, ok := x.windows[wb.w]
				if !ok {
					text = slo.FormatDuration(wb.w)
					x.windows[wb.w] = text
				}
				if err := x.line(w, name, sl.ID, in, "window", text, float64(wb.f)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// line writes one series: name{slo="…",<instance labels>[,extra="…"]} v.
func (x *instanceLines) line(w io.Writer, name, id string, in server.Instance, extra, extraValue string, v float64) error {
	b := append(x.buf[:0], name...)
	b = append(b, `{slo="`...)
	b = appendLabelValue(b, id)
	for k, n := range x.names {
		b = append(append(append(b, `",`...), x.exported[k]...), `="`...)
		b = appendLabelValue(b, in.Labels[n])
	}
	if extra != "" {
		b = append(append(append(b, `",`...), extra...), `="`...)
		b = appendLabelValue(b, extraValue)
	}
	b = append(b, `"} `...)
	b = appendSampleValue(b, v)
	b = append(b, '\n')
	x.buf = b
	_, err := w.Write(b)
	return err
}

// appendLabelValue appends s escaped as the text format escapes a label
// value: backslash, double quote and line feed.
func appendLabelValue(b []byte, s string) []byte {
	if !strings.ContainsAny(s, "\\\"\n") {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendSampleValue appends v as the text format writes it (expfmt's
// writeFloat): NaN, +Inf, -Inf, or the shortest decimal that reads back.
func appendSampleValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
