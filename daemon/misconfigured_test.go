package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/source"
)

// TestALatencyThresholdThatIsNoBucketIsMisconfigured: every request is
// slow, but the SLO's threshold (0.25) is no bucket of the histogram (0.1,
// 0.3, +Inf). The daemon runs the live checks at start: the SLO reads
// "misconfigured" — never ok — on the status page, in the API and in
// /metrics, with lint's message at the threshold's line, and its budget
// is unknown, not 100%.
func TestALatencyThresholdThatIsNoBucketIsMisconfigured(t *testing.T) {
	dir := t.TempDir()
	doc := `version: slod/v1
service: slow
slos:
  - name: latency
    objective: 99
    annotations:
      runbook: https://runbooks.example.com/slow
    sli:
      latency:
        metric: slow_seconds
        threshold: 0.25
`
	if err := os.WriteFile(filepath.Join(dir, "slow.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	e := source.NewEmbedded()
	start := demoStart.Add(-2 * time.Hour)
	if err := e.LoadSeries(start, demoScrape, `
slow_seconds_bucket{le="0.1"} 0+0x2000
slow_seconds_bucket{le="0.3"} 0+0x2000
slow_seconds_bucket{le="+Inf"} 0+100x2000
slow_seconds_count 0+100x2000`); err != nil {
		t.Fatal(err)
	}
	h := newDemoDaemon(t, t.TempDir(), func(c *Config) { c.SLODir = dir }, func(source.Querier) source.Querier { return e })
	h.runTo(demoStart)

	snap := h.d.Snapshot()
	if len(snap.SLOs) != 1 || len(snap.SLOs[0].Misconfigured) != 1 {
		t.Fatalf("SLOs %+v, want slow-latency misconfigured", snap.SLOs)
	}
	msg := snap.SLOs[0].Misconfigured[0]
	if !strings.Contains(msg, "slow.yaml:11:") || !strings.Contains(msg, "SLO020") || !strings.Contains(msg, "0.1, 0.3, +Inf") {
		t.Errorf("message %q, want lint's SLO020 at the threshold's line naming the buckets", msg)
	}
	in := snap.SLOs[0].Instances[0]
	if st := in.State(snap.Incidents); st != "misconfigured" {
		t.Errorf("state %q, want misconfigured", st)
	}
	if in.Evaluated && in.Evaluation.BudgetRemaining.Known() {
		t.Errorf("budget remaining %v: a missing bucket must not read as a healthy budget", in.Evaluation.BudgetRemaining)
	}
	var api server.SLOsResponse
	body, _ := json.Marshal(server.NewSLOsResponse(snap))
	if err := json.Unmarshal(body, &api); err != nil {
		t.Fatal(err)
	}
	if got := api.SLOs[0].Instances[0].State; got != "misconfigured" || len(api.SLOs[0].Misconfigured) != 1 {
		t.Errorf("API state %q, misconfigured %q", got, api.SLOs[0].Misconfigured)
	}
	var found bool
	for _, p := range snap.Problems {
		found = found || strings.Contains(p.Message, "no bucket")
	}
	if !found {
		t.Errorf("status page problems %+v do not say why", snap.Problems)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64 = -1
	for _, mf := range mfs {
		if mf.GetName() == "slod_slo_misconfigured" {
			v = mf.Metric[0].GetGauge().GetValue()
		}
	}
	if v != 1 {
		t.Errorf("slod_slo_misconfigured %v, want 1", v)
	}
}
