package slo

import (
	"strings"
	"testing"
)

func TestPolicyMeasureAndFloorRows(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantErr string
		check   func(*testing.T, *PolicySpec)
	}{
		{name: "a policy measure and a row that overrides it are read", yaml: `version: slod/v1
kind: Policy
name: p
measure: budget
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2}
  - {severity: page, long: 6h, short: 30m, budget_percent: 5, measure: ratio}
  - {severity: page, long: 5m, short: 1m, floor_percent: 50}
`, check: func(t *testing.T, p *PolicySpec) {
			if p.Measure != "budget" || p.Rows[0].Measure != "" || p.Rows[1].Measure != "ratio" ||
				p.Rows[2].FloorPercent != 50 || p.Rows[2].BudgetPercent != 0 {
				t.Fatalf("policy %+v", p)
			}
		}},
		{name: "an unknown measure is refused", yaml: `version: slod/v1
kind: Policy
name: p
measure: traffic
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2}
`, wantErr: `measure must be ratio or budget, got "traffic"`},
		{name: "a row with both a budget and a floor is refused", yaml: `version: slod/v1
kind: Policy
name: p
rows:
  - {severity: page, long: 5m, short: 1m, budget_percent: 2, floor_percent: 50}
`, wantErr: "set budget_percent or floor_percent, not both"},
		{name: "a floor over 100% is refused", yaml: `version: slod/v1
kind: Policy
name: p
rows:
  - {severity: page, long: 5m, short: 1m, floor_percent: 150}
`, wantErr: "floor_percent must be in (0, 100]"},
		{name: "a row with neither is refused", yaml: `version: slod/v1
kind: Policy
name: p
rows:
  - {severity: page, long: 5m, short: 1m}
`, wantErr: "budget_percent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("f.yaml", []byte(c.yaml))
			if c.wantErr != "" {
				if len(diags) == 0 || !strings.Contains(diags[0].Message, c.wantErr) || len(set.Policies) != 0 {
					t.Fatalf("diagnostics %v, policies %d; want %q", diags, len(set.Policies), c.wantErr)
				}
				return
			}
			if len(diags) != 0 || len(set.Policies) != 1 {
				t.Fatalf("diagnostics %v", diags)
			}
			c.check(t, set.Policies[0])
		})
	}
}
