package daemon

import (
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// instanceCollector exports the newest snapshot's figures at scrape time:
// per SLO its objective, and (unless perInstance is off) per SLO instance
// the SLI over the window, the burn per policy window, the budget
// remaining, the time to exhaustion and the state. Reading the published
// snapshot costs the evaluation loop nothing, and an SLO or instance that
// goes away simply stops being exported.
//
// Instance labels are the union of every SLO's group_by labels, empty
// (which Prometheus reads as absent) where an SLO has no such label, so
// that each family has one set of label names. A group_by label named
// slo, window or state is exported as exported_<name>, as Prometheus does
// with clashing target labels. Unknown figures are NaN, never 0 or 1.
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

// Describe sends nothing: the instance families' label names follow the
// loaded SLOs, so the collector is unchecked.
func (c *instanceCollector) Describe(chan<- *prometheus.Desc) {}

// Collect writes the families from the newest snapshot.
func (c *instanceCollector) Collect(ch chan<- prometheus.Metric) {
	snap := server.Acquire(c.snapshot)
	if snap == nil {
		return
	}
	defer snap.Release()
	for _, sl := range snap.SLOs {
		ch <- prometheus.MustNewConstMetric(objectiveDesc, prometheus.GaugeValue, math.Round(sl.Objective*1e6)/1e8, sl.ID)
	}
	if !c.perInstance {
		return
	}
	if c.max > 0 {
		n := 0
		for _, sl := range snap.SLOs {
			n += len(sl.Instances)
		}
		over := n > c.max
		ch <- prometheus.MustNewConstMetric(suppressedDesc, prometheus.GaugeValue, b2f(over))
		if over {
			return
		}
	}
	// The union of the instance label names, sorted.
	union := map[string]bool{}
	for _, sl := range snap.SLOs {
		for _, in := range sl.Instances {
			for k := range in.Labels {
				union[k] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(union))
	exported := make([]string, len(names))
	for i, n := range names {
		exported[i] = n
		if slices.Contains(reserved, n) {
			exported[i] = "exported_" + n
		}
	}
	base := append([]string{"slo"}, exported...)
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(slices.Clone(base), extra...), nil)
	}
	sli := desc(metricSLI, "Share of good events over the SLO window (1 − errors ÷ events); NaN when unknown.")
	burn := desc(metricBurn, "Burn rate over each policy window (error ratio ÷ error budget); NaN when the window holds no known step.", "window")
	budget := desc(metricBudget, "Share of the SLO window's error budget left (negative when overspent); NaN when unknown.")
	tte := desc(metricExhaustion, "Seconds until the budget is gone at the current burn: 0 when gone, +Inf when nothing burns, NaN when unknown.")
	state := desc(metricState, "1 for the instance's state: page, ticket, misconfigured, nodata, ok or pending.", "state")
	for i, sl := range snap.SLOs {
		// Prometheus reads an empty label as an absent one: two instances
		// that differ only so would be one series, and a duplicate fails
		// the whole scrape. The first is exported.
		seen := map[string]bool{}
		for j, in := range sl.Instances {
			lv := make([]string, 1+len(names))
			lv[0] = sl.ID
			for k, n := range names {
				lv[1+k] = in.Labels[n]
			}
			id := strings.Join(lv[1:], "\xff")
			if seen[id] {
				continue
			}
			seen[id] = true
			ch <- prometheus.MustNewConstMetric(state, prometheus.GaugeValue, 1, append(lv, snap.State(i, j).String())...)
			ev := in.Evaluation
			nan := math.NaN()
			sliV, budgetV, tteV := nan, nan, nan
			if in.Evaluated {
				if ev.WindowTotal > 0 {
					sliV = 1 - ev.WindowErrors/ev.WindowTotal
				} else if ev.BudgetRemaining.Known() {
					sliV = 1 // known steps without traffic: nothing failed
				}
				budgetV = float64(ev.BudgetRemaining)
				tteV = float64(burnrate.TimeToExhaustion(ev.BudgetRemaining, sl.Window, burnrate.CurrentBurn(ev)))
			}
			ch <- prometheus.MustNewConstMetric(sli, prometheus.GaugeValue, sliV, lv...)
			ch <- prometheus.MustNewConstMetric(budget, prometheus.GaugeValue, budgetV, lv...)
			ch <- prometheus.MustNewConstMetric(tte, prometheus.GaugeValue, tteV, lv...)
			var seen []string
			for _, r := range ev.Rows {
				for _, wb := range []struct {
					w string
					f burnrate.Figure
				}{{slo.FormatDuration(r.Row.Long), r.LongBurn}, {slo.FormatDuration(r.Row.Short), r.ShortBurn}} {
					if slices.Contains(seen, wb.w) {
						continue
					}
					seen = append(seen, wb.w)
					ch <- prometheus.MustNewConstMetric(burn, prometheus.GaugeValue, float64(wb.f), append(slices.Clone(lv), wb.w)...)
				}
			}
		}
	}
}
