package server

import (
	"encoding/json"
	"strings"
	"testing"
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
