package server

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
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
		if i%97 != 5 || (pageEvery > 0 && i%pageEvery == 0) { // a few are not evaluated yet
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

// mixedFleet is fleet(n, 10) with instances in every state: ticket and
// no-data incidents beside the pages, and shop-checkout misconfigured.
func mixedFleet(n int) *Snapshot {
	snap := fleet(n, 10)
	for i := range snap.SLOs {
		sl := &snap.SLOs[i]
		for j := range sl.Instances {
			in := &sl.Instances[j]
			in.Misconfigured = sl.ID == "shop-checkout"
			switch {
			case j%13 == 1:
				snap.Incidents = append(snap.Incidents, burnrate.Incident{Key: in.Key, SLO: sl.ID, Labels: in.Labels,
					Class: burnrate.ClassBurn, Severity: burnrate.SeverityTicket, Burn: 2, BudgetRemaining: 0.5})
			case j%17 == 2:
				snap.Incidents = append(snap.Incidents, burnrate.Incident{Key: in.Key, SLO: sl.ID, Labels: in.Labels,
					Class: burnrate.ClassNoData, Severity: burnrate.SeverityTicket,
					Burn: burnrate.Unknown(), BudgetRemaining: burnrate.Unknown()})
			}
		}
	}
	return snap
}

// filterCases are the filters the page and the API share, each with what
// it must select, decided from the instance alone (its state by
// Instance.State, which reads every incident).
var filterCases = []struct {
	name  string
	query string
	want  func(sl *SLO, in *Instance, state string) bool
}{
	{"no filter selects every instance", "",
		func(*SLO, *Instance, string) bool { return true }},
	{"service selects the SLOs of that service", "service=shop",
		func(sl *SLO, _ *Instance, _ string) bool { return sl.Service == "shop" }},
	{"slo selects one SLO", "slo=api-latency",
		func(sl *SLO, _ *Instance, _ string) bool { return sl.ID == "api-latency" }},
	{"a comma list of states selects any of them", "state=page,ticket",
		func(_ *SLO, _ *Instance, st string) bool { return st == "page" || st == "ticket" }},
	{"a repeated state selects any of them", "state=nodata&state=misconfigured",
		func(_ *SLO, _ *Instance, st string) bool { return st == "nodata" || st == "misconfigured" }},
	{"an equality matcher selects one label value", `labels=route="/api/v1/items/42"`,
		func(_ *SLO, in *Instance, _ string) bool { return in.Labels["route"] == "/api/v1/items/42" }},
	{"a regexp matcher is anchored at both ends", `labels=route=~"/api/v1/items/1.."`,
		func(_ *SLO, in *Instance, _ string) bool {
			return regexp.MustCompile(`^/api/v1/items/1..$`).MatchString(in.Labels["route"])
		}},
	{"negative matchers all must hold", `labels=method!="GET",region!~"eu-.*"`,
		func(_ *SLO, in *Instance, _ string) bool {
			return in.Labels["method"] != "GET" && !strings.HasPrefix(in.Labels["region"], "eu-")
		}},
	{"braces around the matchers are allowed", `labels={method="PUT"}`,
		func(_ *SLO, in *Instance, _ string) bool { return in.Labels["method"] == "PUT" }},
	{"an absent label has the empty value", `labels=zone=""`,
		func(*SLO, *Instance, string) bool { return true }},
	{"an absent label matches no non-empty value", `labels=zone!=""`,
		func(*SLO, *Instance, string) bool { return false }},
	{"slo, state and labels together", `slo=api-latency&state=ok&labels=method="POST"&labels=region="us-east-1"`,
		func(sl *SLO, in *Instance, st string) bool {
			return sl.ID == "api-latency" && st == "ok" && in.Labels["method"] == "POST" && in.Labels["region"] == "us-east-1"
		}},
}

// wantKeys are the keys of the instances the predicate selects.
func wantKeys(snap *Snapshot, want func(*SLO, *Instance, string) bool) []string {
	var out []string
	for i := range snap.SLOs {
		sl := &snap.SLOs[i]
		for j := range sl.Instances {
			in := &sl.Instances[j]
			if want(sl, in, in.State(snap.Incidents)) {
				out = append(out, in.Key)
			}
		}
	}
	slices.Sort(out)
	return out
}

func values(t *testing.T, query string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func decodeSLOs(t *testing.T, body string) SLOsResponse {
	t.Helper()
	var r SLOsResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%v: %.300s", err, body)
	}
	return r
}
