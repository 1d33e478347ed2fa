package rules

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// A Sloth SLO summed by service, with every no-data state, in every compat
// mode: no rule sets a static service label, which would overwrite each
// series' own and make two services' series collide, but the broken alert,
// one series without series labels, which names the SLO's service so that
// it still routes. Every rule file passes promtool check rules.
func TestSLOGroupedByServiceSetsNoStaticServiceLabel(t *testing.T) {
	const doc = `version: prometheus/v1
service: mesh
labels:
  team: platform
slos:
  - name: requests
    objective: 99.9
    sli:
      events:
        error_query: sum by (service) (rate(mesh_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (service) (rate(mesh_requests_total[{{.window}}]))
    alerting:
      name: MeshBurn
      annotations: {runbook: https://runbooks.example.com/mesh}
      page_alert: {}
      ticket_alert: {}
`
	set, diags := slo.LoadBytes("sloth.yaml", []byte(doc))
	if diags = append(diags, slo.Validate(set)...); slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("%v", diags)
	}
	spec := set.SLOs[0]
	spec.Alerting.Idle = slo.IdleAlert
	spec.Alerting.Collapse = &slo.Collapse{BelowPercent: 10}
	if !spec.ServiceFromInstance() {
		t.Fatalf("group_by %v: service not from the instance", spec.GroupBy)
	}
	bin := promtool(t)
	for _, compat := range Compats {
		t.Run("compat "+compat, func(t *testing.T) {
			f, err := Generate([]*slo.Spec{spec}, nil, Options{Compat: compat})
			if err != nil {
				t.Fatal(err)
			}
			var alerts int
			for _, g := range f.Groups {
				if g.Service != "mesh" {
					t.Errorf("group %s of service %q, want mesh (output per service)", g.Name, g.Service)
				}
				for _, r := range g.Rules {
					v, set := r.Labels[slo.ServiceLabel]
					switch {
					case r.Alert != "" && r.Labels[burnrate.NoDataStateLabel] == string(slo.NoDataBroken):
						if v != "mesh" {
							t.Errorf("broken alert service %q, want mesh", v)
						}
					case set:
						t.Errorf("%s%s sets service=%q", r.Record, r.Alert, v)
					}
					if r.Alert != "" {
						alerts++
						if r.Labels[burnrate.NoDataStateLabel] != string(slo.NoDataBroken) && !strings.Contains(r.Annotations["summary"]+r.Annotations["title"], "{{ $labels.service }}") &&
							!strings.Contains(r.Annotations["summary"], "sloth_service") {
							t.Errorf("%s summary %q does not name the series' service", r.Alert, r.Annotations["summary"])
						}
					}
				}
			}
			if alerts == 0 {
				t.Fatal("no alerts")
			}
			var buf bytes.Buffer
			if err := f.Encode(&buf, FormatPrometheus); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "rules.yml")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, buf.String())
			}
		})
	}
}
