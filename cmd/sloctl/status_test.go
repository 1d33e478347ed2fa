package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/server"
)

func statusServer(t *testing.T) *httptest.Server {
	t.Helper()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ev := burnrate.Evaluation{At: now, BudgetRemaining: 0.5, WindowBurn: 0.5}
	for _, r := range burnrate.DefaultPolicy().Rows {
		f := r.Factor(30 * 24 * time.Hour)
		ev.Rows = append(ev.Rows, burnrate.RowResult{Row: r, Factor: f, LongBurn: 20, ShortBurn: 20, Fires: true})
	}
	snap := &server.Snapshot{At: now, Ready: true, Source: server.SourceStatus{Name: "prometheus", Up: true},
		Incidents: []burnrate.Incident{
			{Key: "a{}", SLO: "checkout-availability", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
				Start: now.Add(-time.Hour), Burn: 20, BudgetRemaining: 0.5, TimeToExhaustion: burnrate.Figure((18 * time.Hour).Seconds())},
			{Key: `b{route="/v1/orders"}`, SLO: "gateway", Labels: map[string]string{"route": "/v1/orders"}, Class: burnrate.ClassBurn,
				Severity: burnrate.SeverityTicket, Start: now.Add(-2 * time.Hour), Burn: 3, BudgetRemaining: 0.8, TimeToExhaustion: burnrate.Figure((8 * 24 * time.Hour).Seconds())},
		},
		SLOs: []server.SLO{{ID: "checkout-availability", Objective: 99.9, Window: 30 * 24 * time.Hour,
			Instances: []server.Instance{{Key: "a{}", Evaluated: true, Evaluation: ev}}}},
	}
	snap.Onsets = map[string]burnrate.Onset{server.OnsetKey(snap.Incidents[0]): {At: now.Add(-time.Hour - 50*time.Second), BudgetRemaining: 0.6}}
	s, err := server.New(server.Options{Snapshot: func() *server.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

func TestStatusPrintsRankedIncidentsAndSLOs(t *testing.T) {
	ts := statusServer(t)
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", ts.URL}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"ready", "checkout-availability", "route=/v1/orders", "18h", "50.0%", "5m/1h 20.0/20.0!",
		"2026-11-01 10:59:10 (10.0% spent since)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "1  checkout-availability") > strings.Index(got, "2  gateway") {
		t.Errorf("incidents not in rank order:\n%s", got)
	}
}

// An SLO without data beside an outage: the no-data incident ranks after
// the page and shows its unknown figures as unknown, never 0% or 0s.
func TestStatusShowsUnknownFiguresOfANoDataIncident(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	window := 30 * 24 * time.Hour
	evaluate := func(burn, remaining float64, noData time.Duration) burnrate.Evaluation {
		ev := burnrate.Evaluation{At: now, BudgetRemaining: burnrate.Figure(remaining), WindowBurn: burnrate.Figure(1 - remaining), NoDataFor: noData}
		for _, r := range burnrate.DefaultPolicy().Rows {
			f := r.Factor(window)
			ev.Rows = append(ev.Rows, burnrate.RowResult{Row: r, Factor: f, LongBurn: burnrate.Figure(burn), ShortBurn: burnrate.Figure(burn), Fires: burn >= f})
		}
		return ev
	}
	tr := burnrate.NewTracker(burnrate.TrackerOptions{NoDataAfter: time.Minute})
	tr.Observe(burnrate.Subject{Key: "checkout", SLO: "checkout-availability", Window: window}, evaluate(20, 0.044, 0))
	tr.Observe(burnrate.Subject{Key: "empty", SLO: "empty-slo", Window: window}, evaluate(math.NaN(), math.NaN(), time.Hour))
	snap := &server.Snapshot{At: now, Ready: true, Source: server.SourceStatus{Name: "prometheus", Up: true}, Incidents: tr.Open()}
	s, err := server.New(server.Options{Snapshot: func() *server.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", ts.URL}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var page, nodata string
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "1 "):
			page = line
		case strings.HasPrefix(line, "2 "):
			nodata = line
		}
	}
	if !strings.Contains(page, "checkout-availability") || !strings.Contains(page, "1h35m") {
		t.Errorf("rank 1 is not the outage page:\n%s", out.String())
	}
	if f := strings.Fields(nodata); !strings.Contains(nodata, "empty-slo") || len(f) < 9 ||
		f[5] != "unknown" || f[6] != "unknown" || f[7] != "unknown" || f[8] != "unknown" {
		t.Errorf("rank 2 should be the no-data incident with burn, budget, spent unknown and gone in unknown:\n%s", out.String())
	}
	if strings.Contains(nodata, "0.0%") || strings.Contains(nodata, "0s") {
		t.Errorf("the no-data incident shows a made-up 0: %q", nodata)
	}
}

func TestStatusJSON(t *testing.T) {
	ts := statusServer(t)
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", ts.URL, "--format", "json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), `"rank": 1`) || !strings.Contains(out.String(), `"slos"`) {
		t.Errorf("json:\n%s", out.String())
	}
}

func TestStatusErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", "not a url"}, &out, &errb); code != exitUsage {
		t.Errorf("bad URL: exit %d", code)
	}
	// A port nothing listens on: the daemon is not reachable (exit 1).
	ts := httptest.NewServer(nil)
	url := ts.URL
	ts.Close()
	errb.Reset()
	if code := Main([]string{"status", "--slod", url, "--timeout", "1s"}, &out, &errb); code != exitFail || !strings.Contains(errb.String(), "not reachable") {
		t.Errorf("unreachable: exit %d, %q", code, errb.String())
	}
}

// A fleet larger than a page of /api/v1/slos: status follows next_cursor
// and shows every instance once, the SLO whose instances span pages once.
func TestStatusReadsEveryPageOfSLOs(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	const n = server.MaxLimit + 50
	sl := server.SLO{ID: "gateway", Objective: 99.9, Window: 30 * 24 * time.Hour}
	for i := range n {
		sl.Instances = append(sl.Instances, server.Instance{Key: fmt.Sprintf("gateway{i=\"%05d\"}", i)})
	}
	snap := &server.Snapshot{At: now, Ready: true, SLOs: []server.SLO{{ID: "auth", Instances: []server.Instance{{Key: "auth{}"}}}, sl}}
	s, err := server.New(server.Options{Snapshot: func() *server.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", ts.URL, "--format", "json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct{ SLOs []server.SLOJSON }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.SLOs) != 2 || got.SLOs[1].ID != "gateway" || len(got.SLOs[1].Instances) != n {
		t.Fatalf("%d SLOs; want auth and gateway with %d instances", len(got.SLOs), n)
	}
	seen := map[string]bool{}
	for _, in := range got.SLOs[1].Instances {
		if seen[in.Key] {
			t.Fatalf("%s shown twice", in.Key)
		}
		seen[in.Key] = true
	}
}

// A symptom is printed under its root, saying it did not page, and not
// ranked on its own.
func TestStatusNestsSymptomsUnderTheirRoot(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	root := burnrate.Incident{Key: "p{}", SLO: "payments-availability", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: now.Add(-time.Hour), Burn: 20, BudgetRemaining: 0.5, TimeToExhaustion: burnrate.Figure((18 * time.Hour).Seconds()),
		Correlation: burnrate.Correlation{Paged: true, SymptomCount: 1}}
	sym := burnrate.Incident{Key: "c{}", SLO: "checkout-availability", Class: burnrate.ClassBurn, Severity: burnrate.SeverityPage,
		Start: now.Add(-time.Hour), Burn: 40, BudgetRemaining: 0.5, TimeToExhaustion: burnrate.Figure((9 * time.Hour).Seconds()),
		Correlation: burnrate.Correlation{Suppressed: true, CausedBy: &burnrate.Cause{SLO: "payments-availability", Key: "p{}"}}}
	incs := []burnrate.Incident{root, sym}
	burnrate.Rank(incs)
	snap := &server.Snapshot{At: now, Ready: true, Source: server.SourceStatus{Name: "prometheus", Up: true}, Incidents: incs}
	s, err := server.New(server.Options{Snapshot: func() *server.Snapshot { return snap }, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	var out, errb bytes.Buffer
	if code := Main([]string{"status", "--slod", ts.URL}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	r := strings.Index(got, "1  payments-availability")
	c := strings.Index(got, "└ checkout-availability (caused by payments-availability, not paged)")
	if r < 0 || c < r || strings.Contains(got, "2  checkout-availability") {
		t.Errorf("want checkout under payments, unranked:\n%s", got)
	}
}
