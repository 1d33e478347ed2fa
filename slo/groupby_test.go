package slo

import (
	"slices"
	"testing"
)

func TestOuterGroupingFollowsTheQuerysResult(t *testing.T) {
	cases := []struct {
		name, query string
		want        []string
		ok          bool
	}{
		{"a sum by names its labels", `sum by (cluster) (rate(x{code=~"5.."}[{{.window}}]))`, []string{"cluster"}, true},
		{"no space before the parenthesis", `sum by (cluster)(rate(x[{{.window}}]))`, []string{"cluster"}, true},
		{"by after the argument", `sum(rate(x[{{.window}}])) by (cluster, zone)`, []string{"cluster", "zone"}, true},
		{"a plain sum returns one series", `sum(rate(x[{{.window}}]))`, nil, true},
		{"a ratio of two groupings", `sum by (cluster) (rate(e[{{ .window }}])) / sum by (cluster) (rate(t[{{ .window }}]))`, []string{"cluster"}, true},
		{"one minus a ratio", `1 - (sum by (cluster) (rate(ok[{{.window}}])) / sum by (cluster) (rate(t[{{.window}}])))`, []string{"cluster"}, true},
		{"a function around the aggregation", `clamp_max(sum by (route) (rate(x[{{.window}}])), 1)`, []string{"route"}, true},
		{"an inner grouping summed away", `sum(sum by (cluster) (rate(x[{{.window}}])))`, nil, true},
		{"on() drops labels it does not name", `sum by (cluster, zone) (rate(e[{{.window}}])) / on (cluster) group_left sum by (cluster) (rate(t[{{.window}}]))`, []string{"cluster", "zone"}, true},
		{"ignoring() drops its labels", `sum by (cluster, zone) (rate(e[{{.window}}])) / ignoring (zone) sum by (cluster, zone) (rate(t[{{.window}}]))`, []string{"cluster"}, true},
		{"a without aggregation names no labels", `sum without (instance) (rate(x[{{.window}}]))`, nil, false},
		{"a bare rate has no aggregation", `rate(x[{{.window}}])`, nil, false},
		{"a query that does not parse", `sum by (cluster (rate(x[{{.window}}]))`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := OuterGrouping(tc.query)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("OuterGrouping(%s) = %v, %v; want %v, %v", tc.query, got, ok, tc.want, tc.ok)
			}
		})
	}
}

const slothPerCluster = `version: "prometheus/v1"
service: storage
slos:
  - name: writes
    objective: 99.9
    sli:
      events:
        error_query: sum by (cluster) (rate(storage_writes_total{result="error"}[{{.window}}]))
        total_query: sum by (cluster)(rate(storage_writes_total[{{.window}}]))
  - name: probes
    objective: 99
    sli:
      raw:
        error_ratio_query: 1 - avg by (cluster) (avg_over_time(probe_success[{{.window}}]))
  - name: total
    objective: 99
    sli:
      events:
        error_query: sum(rate(storage_writes_total{result="error"}[{{.window}}]))
        total_query: sum(rate(storage_writes_total[{{.window}}]))
`

func TestSlothQueriesGroupedByLabelsBecomeGroupBy(t *testing.T) {
	set, diags := LoadBytes("storage.yaml", []byte(slothPerCluster))
	if HasErrors(diags) || len(set.SLOs) != 3 {
		t.Fatalf("diags %v, %d SLOs", diags, len(set.SLOs))
	}
	writes, probes, total := set.SLOs[0], set.SLOs[1], set.SLOs[2]
	if !slices.Equal(writes.GroupBy, []string{"cluster"}) || !slices.Equal(probes.GroupBy, []string{"cluster"}) {
		t.Errorf("group_by = %v and %v, want [cluster] for both", writes.GroupBy, probes.GroupBy)
	}
	if len(total.GroupBy) != 0 {
		t.Errorf("a plain sum got group_by %v", total.GroupBy)
	}
	// group_by stands where the query named it: the total query.
	if p := writes.PosOf("group_by"); p.Line != 9 || p.Column != 22 {
		t.Errorf("group_by at %v, want storage.yaml:9:22", p)
	}
	if p := writes.PosOf("group_by[0]"); p.Line != 9 {
		t.Errorf("group_by[0] at %v, want line 9", p)
	}
	if p := probes.PosOf("group_by"); p.Line != 14 {
		t.Errorf("raw group_by at %v, want line 14", p)
	}
	if d := Validate(set); HasErrors(d) {
		t.Errorf("validate: %v", d)
	}
}

func TestNativeGroupByIsNeverInferred(t *testing.T) {
	set, _ := LoadBytes("storage.yaml", []byte(`version: slod/v1
service: storage
slos:
  - name: writes
    objective: 99.9
    sli:
      events:
        error_query: sum by (cluster) (rate(storage_writes_total{result="error"}[{{.window}}]))
        total_query: sum by (cluster) (rate(storage_writes_total[{{.window}}]))
`))
	if len(set.SLOs) != 1 || len(set.SLOs[0].GroupBy) != 0 {
		t.Fatalf("native SLO got group_by %v", set.SLOs[0].GroupBy)
	}
	diags := Validate(set)
	if len(diags) != 2 || diags[0].Rule != RuleQueryGroupBy || diags[0].Pos.Line != 8 || diags[0].Pos.Column != 22 || diags[1].Pos.Line != 9 {
		t.Fatalf("diags %v, want SLO023 at both queries", diags)
	}
}
