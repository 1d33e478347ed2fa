package server

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

func TestAnExcludedInstanceIsMarkedInTheAPIAndOnThePage(t *testing.T) {
	snap := testSnapshot()
	snap.SLOs[0].Instances[0].Evaluation.Excluded = "db-upgrade-2026-11"
	ts, _ := newTestServer(t, snap)
	code, body := get(t, ts.URL+"/api/v1/slos")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var r SLOsResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if got := r.SLOs[0].Instances[0].Excluded; got != "db-upgrade-2026-11" {
		t.Errorf("API excluded = %q", got)
	}
	if got := r.SLOs[2].Instances[0].Excluded; got != "" {
		t.Errorf("an instance outside any exclusion is marked %q", got)
	}
	_, page := get(t, ts.URL+"/instances?slo=shop-checkout")
	if !strings.Contains(page, "excluded: db-upgrade-2026-11") {
		t.Errorf("the instance list does not mark the exclusion:\n%s", page)
	}
}

// TestSLOPageShadesExclusionsApartFromNoData: a planned maintenance of the
// SLO is shaded on its page's charts, named, apart from the no-data shade
// (its steps are unknown in the rings too, but they are not missing data).
func TestSLOPageShadesExclusionsApartFromNoData(t *testing.T) {
	snap := ringSnapshot(t)
	ev := snap.SLOs[0].Rings.(*burnrate.Evaluator)
	ev.SetExclusions([]*slo.Exclusion{{Name: "db-upgrade", Reason: "CHG-1234",
		From: now.Add(-5 * time.Hour), To: now.Add(-4 * time.Hour)}})
	ts, _ := newTestServer(t, snap)
	_, body := get(t, ts.URL+"/slo?id=shop-orders&instance="+url.QueryEscape(`{route="/a"}`)+"&range=6h")
	// The budget chart (the window) and the three 6h charts.
	if n := strings.Count(body, `class="excluded"`); n != 4 {
		t.Errorf("%d shaded exclusions, want one per chart", n)
	}
	if !strings.Contains(body, "excluded from the budget: db-upgrade") {
		t.Error("the shade does not name the exclusion")
	}
	_, body = get(t, ts.URL+"/slo?id=shop-orders&instance="+url.QueryEscape(`{route="/a"}`)+"&range=1h")
	if n := strings.Count(body, `class="excluded"`); n != 1 {
		t.Errorf("1h range: %d shaded exclusions, want the budget chart's only", n)
	}
}
