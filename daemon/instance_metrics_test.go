package daemon

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/slodhq/slod/server"
)

// gathered is every sample of the registry's family name, by its labels
// rendered as k=v pairs.
func gathered(t *testing.T, h *harness, name string) map[string]float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			var ls []string
			for _, lp := range m.Label {
				ls = append(ls, lp.GetName()+"="+lp.GetValue())
			}
			out[strings.Join(ls, ",")] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return math.NaN()
}

func TestPerInstanceGaugesDuringTheDemoOutage(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	h.runTo(demoStart.Add(2*time.Minute + 30*time.Second))
	burn := gathered(t, h, "slod_instance_burn_rate")
	// checkout: a full outage for 90 s: the 5m window burns far above the
	// 1h/5m row's 14.4×; the group_by SLO's route label is a label of its
	// own, empty (absent) for SLOs without it.
	if b := burn["route=,slo=checkout-availability,window=5m"]; !(b > 14.4) {
		t.Errorf("checkout's 5m burn %v, want above 14.4 (samples: %d)", b, len(burn))
	}
	if _, ok := burn["route=/v1/orders,slo=api-gateway-route-availability,window=1h"]; !ok {
		t.Error("no burn of the /v1/orders route's 1h window")
	}
	if n := len(burn); n < 7*5 {
		t.Errorf("%d burn samples, want each policy window of every instance", n)
	}
	state := gathered(t, h, "slod_instance_state")
	if state["route=,slo=checkout-availability,state=page"] != 1 || state["route=,slo=checkout-latency,state=ok"] != 1 {
		t.Errorf("states %v", state)
	}
	for _, name := range []string{"slod_instance_sli_ratio", "slod_instance_budget_remaining_ratio", "slod_instance_time_to_exhaustion_seconds"} {
		got := gathered(t, h, name)
		v, ok := got["route=,slo=checkout-availability"]
		if !ok || math.IsNaN(v) {
			t.Errorf("%s of checkout: %v (present %v)", name, v, ok)
		}
	}
	if sli := gathered(t, h, "slod_instance_sli_ratio")["route=,slo=checkout-availability"]; !(sli > 0.99 && sli < 1) {
		t.Errorf("checkout's SLI %v", sli)
	}
	if o := gathered(t, h, "slod_slo_objective_ratio")["slo=checkout-availability"]; o != 0.999 {
		t.Errorf("objective %v, want 0.999", o)
	}
}

func TestPerInstanceGaugesCanBeTurnedOff(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.MetricsPerInstance = false }, nil)
	h.runTo(demoStart)
	for _, name := range []string{"slod_instance_burn_rate", "slod_instance_state", "slod_instance_sli_ratio"} {
		if got := gathered(t, h, name); len(got) > 0 {
			t.Errorf("--metrics-per-instance=false still exports %s: %d series", name, len(got))
		}
	}
	if len(gathered(t, h, "slod_slo_objective_ratio")) != 7 {
		t.Error("the per-SLO objective is not exported")
	}
}

// TestPerInstanceGaugesStopAboveTheirMax: above --metrics-per-instance-max
// instances the per-instance families are not exported (100,000 instances
// would be 1.1 million series) and slod_instance_metrics_suppressed says so;
// at or under it they are, and it reads 0.
func TestPerInstanceGaugesStopAboveTheirMax(t *testing.T) {
	for _, tc := range []struct {
		max        int
		suppressed float64
	}{{max: 8, suppressed: 1}, {max: 9, suppressed: 0}} { // the demo has 9 instances
		h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.MetricsPerInstanceMax = tc.max }, nil)
		h.runTo(demoStart)
		states := len(gathered(t, h, "slod_instance_state"))
		if got := gathered(t, h, "slod_instance_metrics_suppressed"); len(got) != 1 || got[""] != tc.suppressed {
			t.Errorf("max %d: slod_instance_metrics_suppressed %v, want %v", tc.max, got, tc.suppressed)
		}
		if (states == 0) != (tc.suppressed == 1) {
			t.Errorf("max %d: %d slod_instance_state series, suppressed %v", tc.max, states, tc.suppressed)
		}
	}
}

// Instances of one SLO whose label sets differ only by an empty label
// against an absent one, and SLOs grouped by different labels: every
// family has one set of label names and no duplicate, so the scrape works.
func TestPerInstanceGaugesOfMixedLabelSetsGatherCleanly(t *testing.T) {
	snap := &server.Snapshot{SLOs: []server.SLO{
		{ID: "a", Objective: 99, Instances: []server.Instance{
			{Key: `{route=""}`, Labels: map[string]string{"route": ""}},
			{Key: `{}`},
			{Key: `{route="/x"}`, Labels: map[string]string{"route": "/x"}},
		}},
		{ID: "b", Objective: 99.5, Instances: []server.Instance{{Key: `{slo="x"}`, Labels: map[string]string{"slo": "x"}}}},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&instanceCollector{snapshot: func() *server.Snapshot { return snap }, perInstance: true})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	states := 0
	for _, mf := range mfs {
		if mf.GetName() != "slod_instance_state" {
			continue
		}
		for _, m := range mf.Metric {
			states++
			var names []string
			for _, lp := range m.Label {
				names = append(names, lp.GetName())
			}
			if got := strings.Join(names, ","); got != "exported_slo,route,slo,state" {
				t.Errorf("labels %s", got)
			}
		}
	}
	if states != 3 {
		t.Errorf("%d state series, want 3 (the empty route exported once)", states)
	}
}
