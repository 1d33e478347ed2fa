package server

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// fleetSLOs are the SLOs of the synthetic fleet: two of service api, one of shop.
var fleetSLOs = []struct{ id, service string }{
	{"api-availability", "api"},
	{"api-latency", "api"},
	{"shop-checkout", "shop"},
}

// fleet is a synthetic snapshot of n instances spread over the three
// fleetSLOs (as the daemon publishes them: instances sorted by key, SLOs
// by ID), with a page burn incident on every pageEvery-th instance, ranked
// by time to exhaustion. Labels are route (/api/v1/items/<i>), method and
// region; figures are drawn from a fixed seed.
func fleet(n, pageEvery int) *Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	window := 30 * 24 * time.Hour
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	regions := []string{"eu-west-1", "us-east-1", "ap-south-1"}
	snap := &Snapshot{At: now, Ready: true, Source: SourceStatus{Name: "prometheus", Up: true, LastSuccess: now}}
	for _, s := range fleetSLOs {
		snap.SLOs = append(snap.SLOs, SLO{ID: s.id, Name: s.id, Service: s.service, Objective: 99.9,
			Window: window, Policy: burnrate.DefaultPolicyName})
	}
	for i := range n {
		sl := &snap.SLOs[i%len(fleetSLOs)]
		labels := map[string]string{
			"route":  fmt.Sprintf("/api/v1/items/%d", i),
			"method": methods[i%len(methods)],
			"region": regions[i%len(regions)],
		}
		in := Instance{Key: sl.ID + burnrate.LabelsKey(labels), Labels: labels}
		if i%97 != 5 { // a few are not evaluated yet
			burn := rng.ExpFloat64()
			remaining := 1 - rng.Float64()*0.8
			if pageEvery > 0 && i%pageEvery == 0 {
				burn, remaining = 15+rng.Float64()*30, rng.Float64()*0.5
				snap.Incidents = append(snap.Incidents, burnrate.Incident{
					Key: in.Key, SLO: sl.ID, Labels: labels, Class: burnrate.ClassBurn,
					Severity: burnrate.SeverityPage, StartSeverity: burnrate.SeverityPage, Window: window,
					Start: now.Add(-time.Duration(rng.IntN(120)) * time.Minute), Updated: now,
					BudgetAtStart: burnrate.Figure(remaining + 0.01), BudgetSpent: 0.01,
					BudgetRemaining: burnrate.Figure(remaining), Burn: burnrate.Figure(burn),
					TimeToExhaustion: burnrate.TimeToExhaustion(burnrate.Figure(remaining), window, burnrate.Figure(burn)),
					PeakBurn:         []burnrate.WindowBurn{{Window: 5 * time.Minute, Burn: burn * 1.2}, {Window: time.Hour, Burn: burn}},
				})
			}
			in.Evaluated, in.Evaluation = true, evaluation(burn, remaining)
		}
		sl.Instances = append(sl.Instances, in)
	}
	for i := range snap.SLOs {
		slices.SortFunc(snap.SLOs[i].Instances, func(a, b Instance) int { return cmp.Compare(a.Key, b.Key) })
	}
	slices.SortStableFunc(snap.Incidents, func(a, b burnrate.Incident) int {
		return cmp.Compare(a.TimeToExhaustion, b.TimeToExhaustion)
	})
	return snap
}
