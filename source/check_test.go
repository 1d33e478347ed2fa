package source

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/slo"
)

// checkEnd is the fixed end of the live-check fixture.
var checkEnd = time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)

// checkData is two hours before checkEnd, sampled every 15 s (a 1m step
// has four samples per step in-process): 10 req/s per series.
const checkData = `
http_requests_total{route="/a",code="200"} 0+150x480
http_requests_total{route="/b",code="200"} 0+135x480
http_requests_total{route="/b",code="500"} 0+15x480
http_request_duration_seconds_bucket{route="/a",le="0.1"} 0+100x480
http_request_duration_seconds_bucket{route="/a",le="0.3"} 0+140x480
http_request_duration_seconds_bucket{route="/a",le="+Inf"} 0+150x480
http_request_duration_seconds_count{route="/a"} 0+150x480
http_request_duration_seconds_bucket{route="/b",le="0.1"} 0+50x480
http_request_duration_seconds_bucket{route="/b",le="0.3"} 0+120x480
http_request_duration_seconds_bucket{route="/b",le="+Inf"} 0+150x480
http_request_duration_seconds_count{route="/b"} 0+150x480
rpc_duration_seconds_bucket{le="1.0"} 0+140x480
rpc_duration_seconds_bucket{le="+Inf"} 0+150x480
rpc_duration_seconds_count 0+150x480
mixed_duration_seconds_bucket{svc="x",le="0.5"} 0+140x480
mixed_duration_seconds_bucket{svc="x",le="+Inf"} 0+150x480
mixed_duration_seconds_count{svc="x"} 0+150x480
mixed_duration_seconds_bucket{svc="y",le="1"} 0+140x480
mixed_duration_seconds_bucket{svc="y",le="+Inf"} 0+150x480
mixed_duration_seconds_count{svc="y"} 0+150x480
rpc_summary_seconds{quantile="0.99"} 0.2+0x480
rpc_summary_seconds_count 0+150x480
`

// checkSLOs are loaded from YAML so that findings have real positions.
const checkSLOs = `version: slod/v1
service: shop
slos:
  - name: clean
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{route="/a",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{route="/a"}[{{.window}}]))
  - name: renamed
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_all_total[{{.window}}]))
  - name: per-route
    objective: 99.9
    sli:
      events:
        error_query: sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (route) (rate(http_requests_total[{{.window}}]))
    group_by: [route]
  - name: per-handler
    objective: 99.9
    sli:
      events:
        error_query: sum by (handler) (rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (handler) (rate(http_requests_total[{{.window}}]))
    group_by: [handler]
  - name: totals-of-a
    objective: 99.9
    sli:
      events:
        error_query: sum by (route) (rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (route) (rate(http_requests_total{route="/a"}[{{.window}}]))
    group_by: [route]
  - name: raw-renamed
    objective: 99
    sli:
      raw:
        error_ratio_query: avg(1 - avg_over_time(probe_success[{{.window}}]))
  - name: latency-good
    objective: 99
    sli:
      latency: {metric: http_request_duration_seconds, threshold: 0.3}
    group_by: [route]
  - name: latency-between
    objective: 99
    sli:
      latency:
        metric: http_request_duration_seconds
        selector: route="/a"
        threshold: 0.25
  - name: latency-spelled
    objective: 99
    sli:
      latency: {metric: rpc_duration_seconds, threshold: 1}
  - name: latency-some
    objective: 99
    sli:
      latency: {metric: mixed_duration_seconds, threshold: 0.5}
  - name: latency-summary
    objective: 99
    sli:
      latency: {metric: rpc_summary_seconds, threshold: 0.25}
`

func checkFixture(t *testing.T) (*Embedded, map[string]*slo.Spec) {
	t.Helper()
	e := NewEmbedded()
	if err := e.LoadSeries(checkEnd.Add(-2*time.Hour), 15*time.Second, checkData); err != nil {
		t.Fatal(err)
	}
	set, diags := slo.LoadBytes("shop.yaml", []byte(checkSLOs))
	diags = append(diags, slo.Validate(set)...)
	if slo.HasErrors(diags) {
		t.Fatalf("fixture SLOs do not lint: %v", diags)
	}
	specs := map[string]*slo.Spec{}
	for _, s := range set.SLOs {
		specs[s.Name] = s
	}
	return e, specs
}

func TestCheck(t *testing.T) {
	e, specs := checkFixture(t)
	for _, tc := range []struct {
		name string
		slo  string
		// rule, field and the message's substrings of the one finding
		// expected; no rule: no finding.
		rule, field string
		want        []string
	}{
		{name: "an error query without series is fine while the total has some", slo: "clean"},
		{name: "a renamed total metric has no series, and the message says which selector matches nothing", slo: "renamed",
			rule: RuleNoSeries, field: "sli.events.total_query",
			want: []string{"total_query returns no series at a step of 1m: no series match http_requests_all_total in the 1h before 2026-09-30T00:00:00Z",
				"every step of this SLO would be unknown (error_query does return series: their errors would never be counted)"}},
		{name: "grouping by a label the series have is clean", slo: "per-route"},
		{name: "grouping by a label the series lack folds them into one instance", slo: "per-handler",
			rule: RuleGroupByMissing, field: "group_by[0]",
			want: []string{`group_by label "handler" is missing from series of total_query and error_query`}},
		{name: "errors of a route the total does not select are never counted", slo: "totals-of-a",
			rule: RuleErrorsWithoutTotal, field: "sli.events.error_query",
			want: []string{`error_query returns series {route="/b"} that match no series of total_query (by group_by labels)`}},
		{name: "a raw ratio query without series", slo: "raw-renamed",
			rule: RuleNoSeries, field: "sli.raw.error_ratio_query",
			want: []string{"error_ratio_query returns no series", "no series match probe_success"}},
		{name: "a threshold that is a bucket of every series is clean", slo: "latency-good"},
		{name: "a threshold between two buckets lists the buckets", slo: "latency-between",
			rule: RuleThresholdBucket, field: "sli.latency.threshold",
			want: []string{"threshold 0.25 is no bucket of http_request_duration_seconds (buckets: 0.1, 0.3, +Inf)",
				`selects le="0.25"`, "reads unknown (no data), never healthy"}},
		{name: "a bucket spelled 1.0 is not the le=\"1\" the SLI selects", slo: "latency-spelled",
			rule: RuleThresholdBucket, field: "sli.latency.threshold",
			want: []string{`threshold 1 is bucket le="1.0" of rpc_duration_seconds only as a number (buckets: 1.0, +Inf)`}},
		{name: "a threshold some histogram series lack", slo: "latency-some",
			rule: RuleThresholdBucket, field: "sli.latency.threshold",
			want: []string{"threshold 0.5 is a bucket of only 1 of the 2 series of histogram mixed_duration_seconds (buckets: 0.5, 1, +Inf)"}},
		{name: "a summary has no buckets", slo: "latency-summary",
			rule: RuleThresholdBucket, field: "sli.latency.threshold",
			want: []string{"histogram rpc_summary_seconds has no bucket series (rpc_summary_seconds_bucket) in the 1h before 2026-09-30T00:00:00Z", "a summary has no buckets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := specs[tc.slo]
			got, err := Check(context.Background(), e, spec, checkEnd, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			// Read at 10 steps a point (a large SLO's checks), the hour
			// gives the same findings.
			coarse, err := CheckWith(context.Background(), e, spec, checkEnd, time.Minute, CheckOptions{Resolution: 10 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if len(coarse) != len(got) || (len(got) == 1 && (coarse[0].Rule != got[0].Rule || coarse[0].Field != got[0].Field)) {
				t.Errorf("at 10m: findings %+v, at the step %+v", coarse, got)
			}
			if tc.rule == "" {
				if len(got) != 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("findings %+v, want one %s", got, tc.rule)
			}
			f := got[0]
			if f.Rule != tc.rule || f.Field != tc.field || f.Severity != slo.SeverityError {
				t.Errorf("finding %+v, want error %s at %s", f, tc.rule, tc.field)
			}
			for _, w := range tc.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("message %q lacks %q", f.Message, w)
				}
			}
			// The field was written, so the diagnostic stands at it.
			d := f.Diagnostic(spec)
			if pos, ok := spec.FieldPos[tc.field]; !ok || d.Pos != pos || d.Pos == spec.Pos {
				t.Errorf("diagnostic at %s, want the field's position %s", d.Pos, pos)
			}
			if !strings.HasPrefix(d.Message, `slo "shop-`+tc.slo+`": `) {
				t.Errorf("diagnostic message %q", d.Message)
			}
		})
	}
}

// What SLO020's message claims: with le="0.25" missing, no step of the
// hour is known (unknown, never counted as good), though a third of /a's
// requests take longer than 0.1 s and 6.7% longer than 0.3 s; with the
// bucket that exists the errors are counted.
func TestCheckThresholdMessageIsWhatTheReaderDoes(t *testing.T) {
	e, specs := checkFixture(t)
	for _, tc := range []struct {
		threshold        float64
		wantErrs, wantOf float64
	}{
		{threshold: 0.25, wantErrs: 0, wantOf: 0},
		{threshold: 0.3, wantErrs: 600, wantOf: 9000}, // 10 of 150 per 15 s: 40 a minute over 15 minutes
	} {
		spec := *specs["latency-between"]
		lat := *spec.SLI.Latency
		lat.Threshold = tc.threshold
		spec.SLI.Latency = &lat
		r := &Reader{Querier: e, Spec: &spec, Step: time.Minute}
		b, _, err := r.Read(context.Background(), checkEnd.Add(-15*time.Minute), checkEnd, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var errs, total float64
		for _, s := range b.Series {
			for _, st := range s.Steps {
				errs, total = errs+st.Errors, total+st.Total
			}
		}
		if total < tc.wantOf*0.99 || total > tc.wantOf*1.01 || errs < tc.wantErrs*0.98 || errs > tc.wantErrs*1.02+0.001 {
			t.Errorf("threshold %v: %v errors of %v known requests, want %v of %v", tc.threshold, errs, total, tc.wantErrs, tc.wantOf)
		}
	}
}

// An SLO whose field was not written (a spec built in code) is reported at
// the SLO's own position.
func TestFindingFallsBackToTheSLOPosition(t *testing.T) {
	spec := &slo.Spec{ID: "x-y", Pos: slo.Position{File: "x.yaml", Line: 3, Column: 5}}
	d := Finding{Field: "sli.latency.threshold", Severity: slo.SeverityError, Rule: RuleThresholdBucket, Message: "m"}.Diagnostic(spec)
	if d.String() != `x.yaml:3:5: error SLO020: slo "x-y": m` {
		t.Errorf("got %s", d)
	}
}

func TestCheckReturnsQueryErrorsNotFindings(t *testing.T) {
	_, specs := checkFixture(t)
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	q := querierFunc(func(context.Context, string, time.Time, time.Time, time.Duration) (model.Matrix, error) {
		return nil, refused
	})
	for _, name := range []string{"clean", "latency-good", "raw-renamed"} {
		got, err := Check(context.Background(), q, specs[name], checkEnd, time.Minute)
		if !errors.Is(err, refused) || got != nil || !strings.Contains(err.Error(), `slo "shop-`+name+`"`) {
			t.Errorf("%s: findings %v, err %v; want the refusal, naming the SLO", name, got, err)
		}
	}
}

// Check reads the hour before the check time: one range query per SLI
// query over 60 steps ending at the truncated time, and one point for the
// buckets.
func TestCheckQueriesTheHourBeforeAt(t *testing.T) {
	e, specs := checkFixture(t)
	at := checkEnd.Add(-30 * time.Second)
	var ranges []string
	q := querierFunc(func(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
		ranges = append(ranges, start.Format("15:04")+".."+end.Format("15:04")+"/"+step.String())
		return e.QueryRange(ctx, query, start, end, step)
	})
	if _, err := Check(context.Background(), q, specs["latency-good"], at, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(ranges, " "), "23:00..23:59/1m0s 23:00..23:59/1m0s 23:59..23:59/1m0s"; got != want {
		t.Errorf("queries %s, want %s", got, want)
	}
	ranges = nil
	if _, err := CheckWith(context.Background(), q, specs["latency-good"], at, time.Minute, CheckOptions{Resolution: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	// The same hour in six points of 10m.
	if got, want := strings.Join(ranges, " "), "23:09..23:59/10m0s 23:09..23:59/10m0s 23:59..23:59/1m0s"; got != want {
		t.Errorf("coarse queries %s, want %s", got, want)
	}
}

// Every live rule has a section with an example in docs/lint.md, under
// "Live checks" (### headings: slo's own doc test counts the ## ones and
// wants an offline bad fixture for each).
func TestLiveRulesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	_, live, ok := strings.Cut(string(doc), "\n## Live checks\n")
	if !ok {
		t.Fatal(`docs/lint.md has no "## Live checks" section`)
	}
	live, _, _ = strings.Cut(live, "\n## ")
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### (SLO\d{3}) — .+\n(?s:.*?)`+"```yaml").FindAllStringSubmatch(live, -1) {
		documented = append(documented, m[1])
	}
	want := []string{RuleNoSeries, RuleThresholdBucket, RuleGroupByMissing, RuleErrorsWithoutTotal, RuleInstanceCap}
	if !slices.Equal(documented, want) {
		t.Errorf("docs/lint.md documents %v with an example under Live checks, want %v", documented, want)
	}
}
