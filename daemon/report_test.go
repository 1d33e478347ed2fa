package daemon

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/report"
)

// TestReportsAPIAnswersFromTheRings: /api/v1/reports asks the evaluation
// loop for a report; its counts are the rings' over the part of the
// period slod holds, and the rest of the period is unknown, never good.
func TestReportsAPIAnswersFromTheRings(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	h.runTo(demoStart.Add(20 * time.Minute))
	now := h.clock.Now()
	// Stand in for the evaluation loop: answer one request.
	go func() {
		req := <-h.d.reportC
		rep, err := h.d.buildReport(req.period, req.timezone, now)
		req.reply <- reportReply{rep: rep, err: err}
	}()
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/reports?period=2026-11")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var rep report.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Period != "2026-11" || len(rep.SLOs) == 0 {
		t.Fatalf("report %+v", rep)
	}
	var checked int
	for _, s := range rep.SLOs {
		if len(s.Warnings) == 0 || !strings.Contains(strings.Join(s.Warnings, " "), "not over") {
			t.Errorf("%s: no warning that the period is not over: %v", s.SLO, s.Warnings)
		}
		for _, in := range s.Instances {
			period := 30 * 24 * time.Hour.Seconds()
			if got := in.KnownSeconds + in.ExcludedSeconds + in.UnknownSeconds; math.Abs(got-period) > 1 {
				t.Errorf("%s %v: known, excluded and unknown add up to %v s, not the period's %v", s.SLO, in.Labels, got, period)
			}
			if in.UnknownSeconds < period-now.Sub(rep.From).Seconds()-1 {
				t.Errorf("%s %v: only %v s unknown, though the period has not yet run", s.SLO, in.Labels, in.UnknownSeconds)
			}
			ring := h.d.eng.SLO(s.SLO).Evaluator().Instance(in.Labels)
			if ring == nil {
				continue
			}
			w := ring.Window(now, now.Sub(rep.From))
			if in.Errors != w.Errors || in.Events != w.Total {
				t.Errorf("%s %v: %v errors of %v, the rings hold %v of %v", s.SLO, in.Labels, in.Errors, in.Events, w.Errors, w.Total)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no instance checked against its rings")
	}
	for _, q := range []string{"", "?period=2026-13", "?period=2026-11&timezone=Mars/Olympus", "?period=2026-11&format=xml"} {
		resp, err := http.Get(srv.URL + "/api/v1/reports" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", q, resp.StatusCode)
		}
	}
}
