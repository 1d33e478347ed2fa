package slo

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestTimeSlicesCount(t *testing.T) {
	ts := &TimeSlices{Length: time.Minute, Target: 0.95}
	cases := []struct {
		name             string
		errs, total      float64
		wantErr, wantTot float64
	}{
		{"a slice under its target is bad", 10, 100, 1, 1},
		{"a slice at its target is good", 5, 100, 0, 1},
		{"a slice without data is neither", math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		{"a slice without events is neither", 0, 0, math.NaN(), math.NaN()},
		{"negative counts are neither", -1, 100, math.NaN(), math.NaN()},
	}
	for _, c := range cases {
		e, n := ts.Count(c.errs, c.total)
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if !same(e, c.wantErr) || !same(n, c.wantTot) {
			t.Errorf("%s: got %v/%v, want %v/%v", c.name, e, n, c.wantErr, c.wantTot)
		}
	}
}

func TestBudgetingLoads(t *testing.T) {
	doc := `version: slod/v1
service: app
slos:
  - name: slices
    objective: 99
    budgeting: {method: timeslices, slice: 1m, slice_target: 95}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
`
	set, diags := LoadBytes("b.yaml", []byte(doc))
	if HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("%v", diags)
	}
	if ts := set.SLOs[0].TimeSlices; ts == nil || ts.Length != time.Minute || ts.Target != 0.95 {
		t.Errorf("time slices %+v", ts)
	}
	for _, bad := range []struct{ budgeting, want string }{
		{"{method: timeslices, slice: 1m}", `missing required field "slice_target"`},
		{"{method: timeslices, slice: 1m, slice_target: 0}", "slice_target must be a percentage"},
		{"{method: occurrences, slice: 1m}", "belong to method: timeslices"},
		{"{method: ratio}", "method must be occurrences or timeslices"},
	} {
		src := strings.Replace(doc, "{method: timeslices, slice: 1m, slice_target: 95}", bad.budgeting, 1)
		set, diags := LoadBytes("b.yaml", []byte(src))
		found := false
		for _, d := range diags {
			found = found || d.Severity == SeverityError && strings.Contains(d.Message, bad.want) && d.Pos.Line == 6
		}
		if !found || len(set.SLOs) != 0 {
			t.Errorf("budgeting %s: no error at line 6 containing %q: %v", bad.budgeting, bad.want, diags)
		}
	}
	set, diags = LoadBytes("b.yaml", []byte(strings.Replace(doc, "{method: timeslices, slice: 1m, slice_target: 95}", "{method: occurrences}", 1)))
	if HasErrors(diags) || set.SLOs[0].TimeSlices != nil {
		t.Errorf("occurrences: %v %+v", diags, set.SLOs[0].TimeSlices)
	}
}
