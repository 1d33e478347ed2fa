package server

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func evaluation(burn float64, remaining float64) burnrate.Evaluation {
	ev := burnrate.Evaluation{At: now, BudgetRemaining: burnrate.Figure(remaining), WindowBurn: burnrate.Figure(1 - remaining)}
	for _, r := range burnrate.DefaultPolicy().Rows {
		f := r.Factor(30 * 24 * time.Hour)
		ev.Rows = append(ev.Rows, burnrate.RowResult{Row: r, Factor: f, LongBurn: burnrate.Figure(burn), ShortBurn: burnrate.Figure(burn), Fires: burn >= f})
	}
	return ev
}

func testSnapshot() *Snapshot {
	fast := burnrate.Incident{Key: "checkout", SLO: "shop-checkout", Class: burnrate.ClassBurn,
		Severity: burnrate.SeverityPage, Start: now.Add(-10 * time.Minute), Updated: now,
		Burn: 20, BudgetRemaining: 0.5, TimeToExhaustion: burnrate.Figure((18 * time.Hour).Seconds()),
		PeakBurn: []burnrate.WindowBurn{{Window: 5 * time.Minute, Burn: 30}}}
	slow := burnrate.Incident{Key: "search{route=\"<script>alert(1)</script>\"}", SLO: "shop-search",
		Labels: map[string]string{"route": "<script>alert(1)</script>"}, Class: burnrate.ClassBurn,
		Severity: burnrate.SeverityTicket, Start: now.Add(-time.Hour), Updated: now,
		Burn: 3, BudgetRemaining: 0.9, TimeToExhaustion: burnrate.Figure((9 * 24 * time.Hour).Seconds())}
	var budget []BudgetPoint
	for h := 0; h <= 30*24; h += 6 {
		budget = append(budget, BudgetPoint{At: now.Add(-30*24*time.Hour + time.Duration(h)*time.Hour), Remaining: 1 - float64(h)/(30*24)/2})
	}
	return &Snapshot{
		At: now, Ready: true,
		Incidents: []burnrate.Incident{fast, slow},
		Source:    SourceStatus{Name: "prometheus", Up: true, LastSuccess: now},
		SLOs: []SLO{
			{ID: "shop-checkout", Service: "shop", Objective: 99.9, Window: 30 * 24 * time.Hour, Policy: "default",
				Instances: []Instance{{Key: "checkout", Evaluated: true, Evaluation: evaluation(20, 0.5), Budget: budget}}},
			{ID: "shop-search", Service: "shop", Objective: 99, Window: 30 * 24 * time.Hour, Policy: "default",
				Instances: []Instance{{Key: slow.Key, Labels: slow.Labels, Evaluated: true, Evaluation: evaluation(math.NaN(), math.NaN())}}},
			{ID: "shop-new", Service: "shop", Objective: 99, Window: 7 * 24 * time.Hour,
				Instances: []Instance{{Key: "new"}}},
		},
	}
}

func newTestServer(t *testing.T, snap *Snapshot) (*httptest.Server, *atomic.Pointer[Snapshot]) {
	t.Helper()
	var p atomic.Pointer[Snapshot]
	p.Store(snap)
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "slod_test_gauge", Help: "test"})
	reg.MustRegister(g)
	s, err := New(Options{Snapshot: p.Load, Gatherer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, &p
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestNewRequiresSnapshotAndGatherer(t *testing.T) {
	if _, err := New(Options{Gatherer: prometheus.NewRegistry()}); err == nil {
		t.Error("no snapshot function accepted")
	}
	if _, err := New(Options{Snapshot: func() *Snapshot { return nil }}); err == nil {
		t.Error("no gatherer accepted")
	}
}

func TestReadyzFollowsTheSnapshot(t *testing.T) {
	ts, p := newTestServer(t, nil)
	if code, body := get(t, ts.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("before any snapshot: %d %q", code, body)
	}
	p.Store(&Snapshot{Reason: "backfilling 3/5 chunks"})
	if code, body := get(t, ts.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "backfilling") {
		t.Errorf("while backfilling: %d %q", code, body)
	}
	p.Store(&Snapshot{Ready: true})
	if code, _ := get(t, ts.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("ready: %d", code)
	}
	if code, _ := get(t, ts.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
}

// TestProfilesAreServed: /debug/pprof serves Go's profiles, as Prometheus
// does, so a slow tick can be profiled in place.
func TestProfilesAreServed(t *testing.T) {
	ts, _ := newTestServer(t, nil)
	if code, body := get(t, ts.URL+"/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("index: %d %.200q", code, body)
	}
	if code, body := get(t, ts.URL+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("goroutine profile: %d %.200q", code, body)
	}
}

func TestIncidentsAPIIsRankedJSON(t *testing.T) {
	ts, _ := newTestServer(t, testSnapshot())
	code, body := get(t, ts.URL+"/api/v1/incidents")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	var r IncidentsResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Incidents) != 2 || r.Incidents[0].SLO != "shop-checkout" || r.Incidents[0].Rank != 1 || r.Incidents[1].Rank != 2 {
		t.Fatalf("incidents %+v", r.Incidents)
	}
	if s := r.Incidents[0].TimeToExhaustionSeconds; s != 18*3600 || r.Incidents[0].TimeToExhaustion != "18h" {
		t.Errorf("time to exhaustion %vs %q, want 64800s 18h", s, r.Incidents[0].TimeToExhaustion)
	}
	if r.Incidents[0].PeakBurn["5m"] != 30 {
		t.Errorf("peak burn %v", r.Incidents[0].PeakBurn)
	}
}

// noDataSnapshot is the reviewer's case: an SLO without any data beside the
// checkout outage, ranked by the tracker.
func noDataSnapshot() *Snapshot {
	snap := testSnapshot()
	tr := burnrate.NewTracker(burnrate.TrackerOptions{NoDataAfter: time.Minute})
	w := 30 * 24 * time.Hour
	tr.Observe(burnrate.Subject{Key: "checkout", SLO: "shop-checkout", Window: w}, evaluation(20, 0.044))
	ev := evaluation(math.NaN(), math.NaN())
	ev.NoDataFor = time.Hour
	tr.Observe(burnrate.Subject{Key: "empty", SLO: "shop-empty", Window: w}, ev)
	snap.Incidents = tr.Open()
	return snap
}

func TestIncidentsAPIReportsUnknownFiguresAsNull(t *testing.T) {
	ts, _ := newTestServer(t, noDataSnapshot())
	code, body := get(t, ts.URL+"/api/v1/incidents")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var raw struct {
		Incidents []map[string]any `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Incidents) != 2 || raw.Incidents[0]["slo"] != "shop-checkout" || raw.Incidents[1]["slo"] != "shop-empty" {
		t.Fatalf("want the outage ranked before the SLO without data: %s", body)
	}
	page, nodata := raw.Incidents[0], raw.Incidents[1]
	for _, k := range []string{"budget_at_start", "budget_spent", "budget_remaining", "burn", "time_to_exhaustion_seconds"} {
		if v, ok := nodata[k]; !ok || v != nil {
			t.Errorf("no-data incident: %s = %v, want null", k, v)
		}
		if k != "budget_spent" && page[k] == nil {
			t.Errorf("outage page: %s is null, want a figure", k)
		}
	}
	if nodata["time_to_exhaustion"] != "unknown" {
		t.Errorf("no-data incident: time_to_exhaustion %q, want \"unknown\"", nodata["time_to_exhaustion"])
	}
	if page["budget_spent"] != 0.0 {
		t.Errorf("outage page: budget_spent %v, want a measured 0", page["budget_spent"])
	}
}

// A budget that does not burn never runs out: "+Inf" seconds, as
// Prometheus's API writes infinities, and "never" in text; not null,
// which means unknown.
func TestIncidentsAPIReportsANeverExhaustedBudgetAsInf(t *testing.T) {
	inc := burnrate.Incident{Key: "idle", SLO: "idle", Class: burnrate.ClassBurn, Severity: burnrate.SeverityTicket,
		BudgetAtStart: 0.9, BudgetRemaining: 0.9, Burn: 0, TimeToExhaustion: burnrate.Figure(math.Inf(1))}
	data, err := json.Marshal(NewIncidentJSON(inc, 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"time_to_exhaustion_seconds":"+Inf"`, `"time_to_exhaustion":"never"`, `"burn":0,`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s lacks %s", data, want)
		}
	}
	var back IncidentJSON
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(back.TimeToExhaustionSeconds), 1) || !back.Burn.Known() {
		t.Errorf("decoded as %+v", back)
	}
}

func TestStatusPageShowsUnknownFiguresAsUnknown(t *testing.T) {
	d := newPageData(noDataSnapshot())
	if len(d.Incidents) != 2 || d.Incidents[1].SLO != "shop-empty" {
		t.Fatalf("incidents %+v", d.Incidents)
	}
	v := d.Incidents[1]
	if v.Burn != "unknown" || v.Remaining != "unknown" || v.Spent != "unknown" || v.TTE != "unknown" {
		t.Errorf("no-data incident shows burn %q remaining %q spent %q gone in %q, want unknown for each",
			v.Burn, v.Remaining, v.Spent, v.TTE)
	}
	if p := d.Incidents[0]; p.Remaining != "4.4%" || p.Spent != "0.0%" || p.TTE != "1h35m2s" {
		t.Errorf("outage page shows remaining %q spent %q gone in %q", p.Remaining, p.Spent, p.TTE)
	}
}

func TestSLOsAPIReportsUnknownBurnsAsNull(t *testing.T) {
	ts, _ := newTestServer(t, testSnapshot())
	code, body := get(t, ts.URL+"/api/v1/slos")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var r SLOsResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.SLOs) != 3 {
		t.Fatalf("%d slos", len(r.SLOs))
	}
	// SLOs come by ID.
	if r.SLOs[0].ID != "shop-checkout" || r.SLOs[1].ID != "shop-new" || r.SLOs[2].ID != "shop-search" {
		t.Fatalf("SLOs %s, %s, %s: want them by ID", r.SLOs[0].ID, r.SLOs[1].ID, r.SLOs[2].ID)
	}
	checkout, search, fresh := r.SLOs[0].Instances[0], r.SLOs[2].Instances[0], r.SLOs[1].Instances[0]
	if checkout.State != "page" || search.State != "ticket" || fresh.State != "pending" {
		t.Errorf("states %q %q %q", checkout.State, search.State, fresh.State)
	}
	if len(search.Rows) != 4 || search.Rows[0].LongBurn.Known() || search.BudgetRemaining.Known() {
		t.Errorf("unknown burns must be null: %+v", search)
	}
	if fresh.BudgetRemaining.Known() || fresh.WindowBurn.Known() {
		t.Errorf("an instance not evaluated yet has no figures: %+v", fresh)
	}
	if checkout.BudgetRemaining != 0.5 || !checkout.Rows[0].Fires || checkout.Rows[0].Long != "1h" {
		t.Errorf("checkout %+v", checkout)
	}
	if r.SLOs[0].Window != "30d" || r.SLOs[0].WindowSeconds != 30*24*3600 {
		t.Errorf("window %q %v", r.SLOs[0].Window, r.SLOs[0].WindowSeconds)
	}
}

func TestStatusPage(t *testing.T) {
	snap := testSnapshot()
	snap.Source = SourceStatus{Name: "prometheus", Up: false, LastError: "connection refused", LastSuccess: now.Add(-3 * time.Minute)}
	snap.Problems = []Problem{{Where: "slos/bad.yaml", Message: "bad.yaml:3:1: unknown field"}}
	ts, _ := newTestServer(t, snap)
	code, body := get(t, ts.URL+"/")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{
		"Incidents by threat", "<svg", "<polyline", "18h", "connection refused", "last success 3m ago",
		"slos/bad.yaml", "collecting data", "&lt;script&gt;", "99.9%",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("a label value reached the page unescaped")
	}
	if i, j := strings.Index(body, "shop-checkout"), strings.Index(body, "shop-search"); i < 0 || j < 0 || i > j {
		t.Error("incidents are not in rank order")
	}
	if code, _ := get(t, ts.URL+"/nope"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}
}

func TestMetricsUsesTheGivenRegistry(t *testing.T) {
	ts, _ := newTestServer(t, testSnapshot())
	code, body := get(t, ts.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "slod_test_gauge 0") {
		t.Fatalf("%d %s", code, body)
	}
	if strings.Contains(body, "go_goroutines") {
		t.Error("default registry's collectors leaked into /metrics")
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		30 * 24 * time.Hour:        "30d",
		5 * time.Minute:            "5m",
		90 * time.Minute:           "1h30m",
		0:                          "0s",
		math.MaxInt64:              "never",
		1500 * time.Millisecond:    "1500ms",
		26*time.Hour + time.Second: "1d2h1s",
	}
	for d, want := range cases {
		if got := slo.FormatDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

// TestABackfillingSLOSaysSo: an SLO whose backfill goes on in the
// background is marked on the status page and in /api/v1/slos, and its
// unevaluated instance reads pending, never ok.
func TestABackfillingSLOSaysSo(t *testing.T) {
	snap := testSnapshot()
	snap.SLOs[2].Backfilling = true // shop-new, one instance not evaluated
	ts, _ := newTestServer(t, snap)
	code, page := get(t, ts.URL+"/")
	if code != http.StatusOK || strings.Count(page, "backfilling: not evaluated yet") != 1 {
		t.Errorf("status page %d: want one backfilling note (for shop-new)", code)
	}
	code, body := get(t, ts.URL+"/api/v1/slos")
	var resp struct {
		SLOs []struct {
			ID          string `json:"id"`
			Backfilling bool   `json:"backfilling"`
			Instances   []struct {
				State string `json:"state"`
			} `json:"instances"`
		} `json:"slos"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != http.StatusOK {
		t.Fatalf("%d %v: %.300s", code, err, body)
	}
	for _, s := range resp.SLOs {
		if s.Backfilling != (s.ID == "shop-new") {
			t.Errorf("%s: backfilling %v", s.ID, s.Backfilling)
		}
		if s.ID == "shop-new" && (len(s.Instances) != 1 || s.Instances[0].State != "pending") {
			t.Errorf("shop-new instances %+v, want one pending", s.Instances)
		}
	}
}
