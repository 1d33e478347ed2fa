package server

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// ringSnapshot is one 99.9%/30d SLO grouped by route whose rings hold a
// day of 0.03% errors at 1m steps for two routes, with a 20-minute gap
// without data on /a from −3h, and a full outage on /a from −10m to −5m;
// the page incident of /a opened at −9m with its onset read from the rings.
func ringSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	spec := &slo.Spec{ID: "shop-orders", Service: "shop", Objective: 99.9, Window: 30 * 24 * time.Hour,
		GroupBy: []string{"route"}}
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	from := now.Add(-24 * time.Hour)
	var series []burnrate.Series
	for _, route := range []string{"/a", "/b"} {
		s := burnrate.Series{Labels: map[string]string{"route": route}}
		for at := from.Add(time.Minute); !at.After(now); at = at.Add(time.Minute) {
			errs, total := 0.18, 600.0
			if route == "/a" {
				switch rel := now.Sub(at); {
				case rel < 3*time.Hour && rel >= 2*time.Hour+40*time.Minute:
					errs, total = math.NaN(), math.NaN()
				case rel < 10*time.Minute && rel >= 5*time.Minute:
					errs = 600
				}
			}
			s.Steps = append(s.Steps, burnrate.StepCount{End: at, Errors: errs, Total: total})
		}
		series = append(series, s)
	}
	if err := ev.Ingest(burnrate.Batch{From: from, To: now, Series: series}); err != nil {
		t.Fatal(err)
	}
	a := map[string]string{"route": "/a"}
	start := now.Add(-9 * time.Minute)
	atStart, _ := ev.EvaluateInstance(a, start)
	if _, firing := atStart.Severity(); !firing {
		t.Fatal("the fixture's outage fires nothing at the incident's start")
	}
	inc := burnrate.Incident{Key: burnrate.LabelsKey(a), SLO: spec.ID, Labels: a, Class: burnrate.ClassBurn,
		Severity: burnrate.SeverityPage, Start: start, Updated: now, LastFiring: now.Add(-time.Minute),
		Burn: 0.3, BudgetRemaining: 0.6, BudgetSpent: 0.02, TimeToExhaustion: burnrate.Figure(math.Inf(1))}
	onset, ok := ev.Onset(a, start)
	if !ok {
		t.Fatal("no onset for the fixture's outage")
	}
	sl := SLO{ID: spec.ID, Service: "shop", Objective: 99.9, Window: spec.Window, Policy: "default",
		Labels: map[string]string{"team": "orders"}, Description: "Orders <b>served</b>.", Runbook: "https://runbooks.example/orders",
		Annotations: map[string]string{"dashboard": "https://grafana.example/d/orders"}, Rings: ev}
	for _, ie := range ev.Evaluate(now) {
		sl.Instances = append(sl.Instances, Instance{Key: ie.Key, Labels: ie.Labels, Evaluated: true,
			Evaluation: ie.Evaluation})
	}
	if sl.Instances[0].Key != inc.Key {
		sl.Instances[0], sl.Instances[1] = sl.Instances[1], sl.Instances[0]
	}
	return &Snapshot{At: now, Ready: true, Source: SourceStatus{Name: "prometheus", Up: true},
		Incidents: []burnrate.Incident{inc}, SLOs: []SLO{sl},
		Onsets: map[string]burnrate.Onset{OnsetKey(inc): onset}}
}

func TestSLOPageDrawsChartsFromTheRings(t *testing.T) {
	snap := ringSnapshot(t)
	ts, _ := newTestServer(t, snap)
	inst := url.QueryEscape(`{route="/a"}`)
	code, body := get(t, ts.URL+"/slo?id=shop-orders&instance="+inst+"&range=6h")
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	if n := strings.Count(body, `class="series"`); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	// Every chart draws a line; the gap without data breaks the 6h lines
	// (a second M) and is shaded, never drawn as zero.
	paths := regexp.MustCompile(`<path d="([^"]*)"`).FindAllStringSubmatch(body, -1)
	if len(paths) < 4 {
		t.Fatalf("%d paths", len(paths))
	}
	if d := paths[1][1]; strings.Count(d, "M") < 2 || strings.Count(d, "L") < 50 {
		t.Errorf("the error ratio's line does not break at the gap: %.120s", d)
	}
	if n := strings.Count(body, `class="nodata"`); n < 3 {
		t.Errorf("%d shaded no-data areas, want one per 6h chart and the budget's", n)
	}
	for _, want := range []string{
		"burn began 11:5", "detected 11:51:00", "page 1h/5m threshold 14.4×", "objective&#39;s error budget: 0.1%",
		"https://runbooks.example/orders", "https://grafana.example/d/orders", "Orders &lt;b&gt;served&lt;/b&gt;.",
		"recovering", "spent since onset", "team orders",
		// The policy table says why each row fires or not.
		"recovering: the long window still burns above 14.4×",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the SLO page lacks %q", want)
		}
	}
	// The SLO page without an instance charts the most threatened one and
	// lists the others with links to their pages.
	_, body = get(t, ts.URL+"/slo?id=shop-orders")
	if !strings.Contains(body, "Charts of the most threatened instance") || !strings.Contains(body, `instance=%7Broute%3D%22%2Fb%22%7D`) {
		t.Error("the SLO page does not chart the worst instance and link the others")
	}
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"id=nope", http.StatusNotFound},
		{"id=shop-orders&instance=" + url.QueryEscape(`{route="/c"}`), http.StatusNotFound},
		{"id=shop-orders&range=2w", http.StatusBadRequest},
	} {
		if code, _ := get(t, ts.URL+"/slo?"+tc.query); code != tc.code {
			t.Errorf("%s: status %d, want %d", tc.query, code, tc.code)
		}
	}
}

func TestSLOPageWithoutRingsSaysSo(t *testing.T) {
	ts, _ := newTestServer(t, testSnapshot())
	code, body := get(t, ts.URL+"/slo?id=shop-checkout")
	if code != http.StatusOK || !strings.Contains(body, "no ring buffers") || strings.Contains(body, `class="series"`) {
		t.Errorf("status %d; an SLO without rings draws charts or does not say why not", code)
	}
}

func TestIncidentsShowOnsetBesideDetection(t *testing.T) {
	snap := ringSnapshot(t)
	inc := snap.Incidents[0]
	o := snap.Onsets[OnsetKey(inc)]
	// The outage began at −10m: the onset is the start of its first step.
	if want := now.Add(-10 * time.Minute); !o.At.Equal(want) {
		t.Errorf("onset %s, want %s", o.At, want)
	}
	v := newIncidentView(snap, inc, 1, now)
	if v.Onset != "11-01 11:50:00" || v.OnsetLead != "1m before detection" || !v.Recovering {
		t.Errorf("onset %q, lead %q, recovering %v", v.Onset, v.OnsetLead, v.Recovering)
	}
	if want := percent(o.BudgetRemaining - inc.BudgetRemaining); v.SpentOnset != want {
		t.Errorf("spent since onset %q, want %q", v.SpentOnset, want)
	}
	// The API carries the same.
	js := NewIncidentsResponse(snap).Incidents[0]
	if js.Onset == nil || !js.Onset.Equal(o.At) || js.BudgetSpentSinceOnset == nil || !js.Recovering {
		t.Errorf("API incident: onset %v, spent %v, recovering %v", js.Onset, js.BudgetSpentSinceOnset, js.Recovering)
	}
	// Without an onset, it reads unknown rather than the detection time.
	snap.Onsets = nil
	if v := newIncidentView(snap, inc, 1, now); v.Onset != "unknown" || v.SpentOnset != "unknown" {
		t.Errorf("without an onset: %q, %q", v.Onset, v.SpentOnset)
	}
}

func TestSeriesChartBreaksAtUnknownAndClampsTheLogScale(t *testing.T) {
	times := []time.Time{now.Add(-3 * time.Minute), now.Add(-2 * time.Minute), now.Add(-time.Minute), now}
	c := newSeriesChart(chartSpec{From: times[0], To: now, Times: times, Log: true, NoData: []bool{false, true, false, false},
		Lines: []chartLine{{Y: []float64{5000, math.NaN(), 0, 1}}}})
	if len(c.Paths) != 1 || strings.Count(c.Paths[0].D, "M") != 2 {
		t.Fatalf("paths %+v", c.Paths)
	}
	// 5000× draws at the top (1000×), 0× at the bottom (0.1×).
	if !strings.HasPrefix(c.Paths[0].D, "M56.0 10.0") || !strings.Contains(c.Paths[0].D, " 178.0") {
		t.Errorf("path %s", c.Paths[0].D)
	}
	if len(c.Shades) != 1 {
		t.Errorf("shades %+v", c.Shades)
	}
	if e := newSeriesChart(chartSpec{From: times[0], To: now, Times: times, Lines: []chartLine{{Y: []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}}}}); !e.Empty {
		t.Error("a chart without a known point is not empty")
	}
}

func TestInstanceListSearchTeamAndGroup(t *testing.T) {
	snap := ringSnapshot(t)
	snap.SLOs = append(snap.SLOs, testSnapshot().SLOs...)
	snap.SLOs[1].Labels = map[string]string{"team": "web"}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"q=ROUTE%3D%2Fb", []string{`{route="/b"}`}},
		{"q=checkout", []string{"checkout"}},
		{"team=web", []string{"checkout"}},
		{"team=orders&sort=-name", []string{`{route="/b"}`, `{route="/a"}`}},
		{"sort=objective&per_page=2", []string{"search{route=\"<script>alert(1)</script>\"}", "new"}},
	} {
		d, err := newListData(snap, values(t, tc.query))
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var got []string
		for _, v := range d.Instances {
			got = append(got, keyOf(snap, v))
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: listed %q, want %q", tc.query, got, tc.want)
		}
	}
	d, err := newListData(snap, values(t, "group=service&sort=name"))
	if err != nil {
		t.Fatal(err)
	}
	var heads []string
	for _, v := range d.Instances {
		if v.GroupHead != "" {
			heads = append(heads, v.GroupHead)
		}
	}
	if strings.Join(heads, ",") != "service: shop" {
		t.Errorf("group heads %q", heads)
	}
	if _, err := newListData(snap, values(t, "group=colour")); err == nil {
		t.Error("an unknown grouping is accepted")
	}
}

// keyOf finds the key of a listed instance.
func keyOf(snap *Snapshot, v instanceView) string {
	for _, sl := range snap.SLOs {
		for _, in := range sl.Instances {
			if sl.ID == v.SLO && FormatLabels(in.Labels) == v.Labels {
				return in.Key
			}
		}
	}
	return "?"
}
