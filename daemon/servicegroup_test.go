package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/source"
)

// A Pyrra SLO grouped by service and method, evaluated by the engine over
// two days of traffic of services a and b (the same method), a failing
// from 47h on: one page, for service="a" (the instance's own service, not
// the SLO's, as Pyrra alerts), whose labels less the instance's are the
// generated rule alert's, under a dedup key of its own instance.
func TestPageOfAnSLOGroupedByServiceCarriesTheInstancesService(t *testing.T) {
	dir := t.TempDir()
	const doc = `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: rpc-availability
  namespace: mesh
  labels:
    pyrra.dev/team: platform
  annotations:
    pyrra.dev/runbook_url: https://runbooks.example.com/mesh/rpc
spec:
  target: "99.9"
  window: 30d
  indicator:
    ratio:
      errors:
        metric: rpc_requests_total{job="mesh",code="500"}
      total:
        metric: rpc_requests_total{job="mesh"}
      grouping: [service, method]
`
	if err := os.WriteFile(filepath.Join(dir, "rpc.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := engine.Load(dir)
	if cat.HasErrors() || len(cat.Entries) != 1 {
		t.Fatalf("catalogue: %v, %d entries", cat.Diagnostics, len(cat.Entries))
	}
	spec := cat.Entries[0].Spec

	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const scrapes = 2 * 24 * 60 * 4 // two days at 15s
	outage := 47 * 60 * 4
	var b strings.Builder
	for _, svc := range []string{"b", "a"} {
		ok, bad := fmt.Sprintf("0+1500x%d", scrapes), fmt.Sprintf("0+0x%d", scrapes)
		if svc == "a" {
			ok = fmt.Sprintf("0+1500x%d 0+0x%d", outage-1, scrapes-outage)
			bad = fmt.Sprintf("0+0x%d 0+1500x%d", outage-1, scrapes-outage)
		}
		fmt.Fprintf(&b, "rpc_requests_total{job=\"mesh\",service=%q,method=\"Get\",code=\"200\"} %s\n", svc, ok)
		fmt.Fprintf(&b, "rpc_requests_total{job=\"mesh\",service=%q,method=\"Get\",code=\"500\"} %s\n", svc, bad)
	}
	emb := source.NewEmbedded()
	if err := emb.LoadSeries(start, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Querier: emb})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Apply(cat, start); err != nil {
		t.Fatal(err)
	}
	res := eng.Tick(context.Background(), start.Add(47*time.Hour+10*time.Minute))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if n := len(eng.Latest()); n != 2 {
		t.Errorf("%d instances evaluated, want 2 (services a and b)", n)
	}
	if len(res.Changes) != 1 || res.Changes[0].Kind != burnrate.ChangeOpened || res.Changes[0].Incident.Severity != burnrate.SeverityPage {
		t.Fatalf("changes %+v, want one page opened", res.Changes)
	}
	inc := res.Changes[0].Incident
	p, ok := PageFor(res.Changes[0], spec)
	if !ok {
		t.Fatal("no page")
	}
	if p.Labels["service"] != "a" || p.Labels["method"] != "Get" || p.Labels["slo"] != "mesh-rpc-availability" || p.Labels["team"] != "platform" {
		t.Errorf("page labels %v, want service a, method Get, the SLO's slo and team", p.Labels)
	}
	if want := DedupKey(spec.ID, map[string]string{"service": "a", "method": "Get"}, burnrate.ClassBurn); p.DedupKey != want || p.DedupKey != DedupKey(spec.ID, inc.Labels, burnrate.ClassBurn) {
		t.Errorf("dedup key %q, want %q (per instance)", p.DedupKey, want)
	}
	other := inc
	other.Labels = map[string]string{"service": "b", "method": "Get"}
	if q, _ := PageFor(burnrate.Change{Kind: burnrate.ChangeOpened, Incident: other}, spec); q.Labels["service"] != "b" || q.DedupKey == p.DedupKey {
		t.Errorf("service b's page: service %q, dedup key %q (a's %q)", q.Labels["service"], q.DedupKey, p.DedupKey)
	}

	// The generated rules raise the same alert: their labels plus the
	// series' (service and method, and job, which Pyrra copies) are the page's.
	f, err := rules.Generate(cat.Set.SLOs, cat.Policies(), rules.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == p.Labels["alertname"] && r.Labels[burnrate.ClassLabel] == "page" {
				found = true
				want := maps.Clone(r.Labels)
				maps.Copy(want, inc.Labels)
				want["alertname"] = r.Alert
				if !maps.Equal(p.Labels, want) {
					t.Errorf("page labels %v, rule alert with the instance's %v", p.Labels, want)
				}
			}
		}
	}
	if !found {
		t.Errorf("no generated page alert named %q", p.Labels["alertname"])
	}
}
