package slo

import (
	"slices"
	"strings"
	"testing"
)

// Sloth, Pyrra and OpenSLO alert with each series' own service label when
// a query groups by service; slod reads such files unchanged. Native files
// keep SLO018: there, service is the label slod sets.
func TestGroupingByServiceInForeignFormats(t *testing.T) {
	cases := []struct {
		name, file, doc string
		service         string
		groupBy         []string
	}{
		{"a Pyrra ratio grouped by service and method", "pyrra.yaml", `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: rpc-errors
  namespace: backend
spec:
  target: "99.5"
  window: 28d
  indicator:
    ratio:
      errors:
        metric: rpc_requests_total{job="rpc",code="error"}
      total:
        metric: rpc_requests_total{job="rpc"}
      grouping: [service, method]
`, "backend", []string{"service", "method"}},
		{"a Pyrra SLO selecting one service names it as its service", "pyrra.yaml", `apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: rpc-errors
  namespace: backend
spec:
  target: "99.5"
  window: 28d
  indicator:
    ratio:
      errors:
        metric: rpc_requests_total{service="billing",code="error"}
      total:
        metric: rpc_requests_total{service="billing"}
      grouping: [service]
`, "billing", []string{"service"}},
		{"a Sloth query summed by service", "sloth.yaml", `version: prometheus/v1
service: mesh
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
`, "mesh", []string{"service"}},
		{"an OpenSLO ratio summed by service", "openslo.yaml", `apiVersion: openslo/v1
kind: SLO
metadata:
  name: requests
spec:
  service: mesh
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: mesh-errors
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            type: Prometheus
            spec:
              query: sum by (service) (rate(mesh_requests_total{code=~"5.."}[{{.window}}]))
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum by (service) (rate(mesh_requests_total[{{.window}}]))
  objectives:
    - target: 0.999
`, "mesh", []string{"service"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, diags := LoadBytes(tc.file, []byte(tc.doc))
			diags = append(diags, Validate(set)...)
			for _, d := range diags {
				if d.Severity == SeverityError || d.Rule == RuleReservedLabel {
					t.Errorf("%s", d)
				}
			}
			if len(set.SLOs) != 1 {
				t.Fatalf("%d SLOs", len(set.SLOs))
			}
			s := set.SLOs[0]
			if s.Service != tc.service || !slices.Equal(s.GroupBy, tc.groupBy) || !s.ServiceFromInstance() {
				t.Errorf("service %q group_by %v from instance %v; want %q %v true", s.Service, s.GroupBy, s.ServiceFromInstance(), tc.service, tc.groupBy)
			}
			if _, set := s.Labels[ServiceLabel]; set {
				t.Errorf("labels %v carry a static service", s.Labels)
			}
		})
	}
}

func TestGroupingByServiceIsRefusedInNativeFiles(t *testing.T) {
	const doc = `version: slod/v1
service: mesh
slos:
  - name: requests
    objective: 99.9
    sli:
      events:
        error_query: sum by (service) (rate(mesh_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (service) (rate(mesh_requests_total[{{.window}}]))
    group_by: [service]
`
	set, diags := LoadBytes("native.yaml", []byte(doc))
	diags = append(diags, Validate(set)...)
	var found bool
	for _, d := range diags {
		if d.Rule == RuleReservedLabel && d.Severity == SeverityError {
			found = true
			if d.Pos.Line != 10 || !strings.Contains(d.Message, "label_replace") || !strings.Contains(d.Message, "Sloth, Pyrra and OpenSLO files may group by service") {
				t.Errorf("%s", d)
			}
		}
	}
	if !found {
		t.Errorf("no SLO018 error: %v", diags)
	}
	if set.SLOs[0].ServiceFromInstance() {
		t.Error("a native SLO takes its service from its instances")
	}
}

// A foreign SLO grouped by service that also sets a service label: the
// label is ignored, and lint says so instead of saying it is overwritten.
func TestServiceLabelOfAnSLOGroupedByServiceIsReportedIgnored(t *testing.T) {
	const doc = `version: prometheus/v1
service: mesh
labels:
  service: mesh
slos:
  - name: requests
    objective: 99.9
    sli:
      events:
        error_query: sum by (service) (rate(mesh_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (service) (rate(mesh_requests_total[{{.window}}]))
    alerting:
      name: MeshBurn
      page_alert: {}
      ticket_alert: {}
`
	set, diags := LoadBytes("sloth.yaml", []byte(doc))
	diags = append(diags, Validate(set)...)
	var msgs []string
	for _, d := range diags {
		if d.Rule == RuleReservedLabel {
			msgs = append(msgs, d.String())
		}
	}
	if len(msgs) != 1 || !strings.Contains(msgs[0], "warning") || !strings.Contains(msgs[0], "is ignored: the SLO groups by service") {
		t.Errorf("SLO018 diagnostics %v; want one warning that the label is ignored", msgs)
	}
}
