package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/report"
)

// novemberFixture is shop's traffic from 2026-10-24 to 2026-12-01 at one
// sample a minute: uneven traffic (a daily swing and a weekly one), a
// trickle of errors, a full outage on Nov 10 12:00–12:30 UTC and, inside
// the maintenance window of Nov 14 02:00–03:00 UTC, half the requests
// failing. ok and bad are the increments that land on each sample (sample
// i at start + i minutes); the counters are their running sums.
type novemberFixture struct {
	start   time.Time
	ok, bad []float64
}

func newNovemberFixture() novemberFixture {
	start := time.Date(2026, 10, 24, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 12, 1, 0, 10, 0, 0, time.UTC)
	n := int(end.Sub(start)/time.Minute) + 1
	f := novemberFixture{start: start, ok: make([]float64, n), bad: make([]float64, n)}
	outage := [2]time.Time{time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC), time.Date(2026, 11, 10, 12, 30, 0, 0, time.UTC)}
	maint := [2]time.Time{time.Date(2026, 11, 14, 2, 0, 0, 0, time.UTC), time.Date(2026, 11, 14, 3, 0, 0, 0, time.UTC)}
	for i := 1; i < n; i++ {
		at := start.Add(time.Duration(i) * time.Minute)
		total := float64(200 + (i%1440)/4 + 37*int(at.Weekday()))
		bad := float64(i%13/12 + i%29/28) // an error every 13th and every 29th minute
		inside := func(w [2]time.Time) bool { return at.After(w[0]) && !at.After(w[1]) }
		switch {
		case inside(outage):
			bad = total
		case inside(maint):
			bad = math.Floor(total / 2)
		}
		f.ok[i], f.bad[i] = total-bad, bad
	}
	return f
}

func (f novemberFixture) openMetrics(t *testing.T) string {
	t.Helper()
	cum := func(inc []float64) func(int) float64 {
		sums := make([]float64, len(inc))
		for i := 1; i < len(inc); i++ {
			sums[i] = sums[i-1] + inc[i]
		}
		return func(i int) float64 { return sums[i] }
	}
	var b bytes.Buffer
	if err := promtest.WriteOpenMetrics(&b, f.start, time.Minute, len(f.ok)-1,
		promtest.Counter{Family: "shop_requests", Labels: map[string]string{"code": "200"}, Value: cum(f.ok)},
		promtest.Counter{Family: "shop_requests", Labels: map[string]string{"code": "500"}, Value: cum(f.bad)},
		// The same traffic for OpenSLO's example SLO (openslo-web.yaml),
		// which reads http_requests without _total: written as gauges so
		// the series keep that name (rate() reads them all the same).
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"k8s_cluster": "prod", "component": "web", "code": "2xx"}, Value: cum(f.ok), Gauge: true},
		promtest.Counter{Family: "http_requests", Labels: map[string]string{"k8s_cluster": "prod", "component": "web", "code": "5xx"}, Value: cum(f.bad), Gauge: true},
	); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// exact is the good share over the samples in (from, to] outside the
// excluded (xFrom, xTo]: the count ratio the report must match.
func (f novemberFixture) exact(from, to, xFrom, xTo time.Time) (sli, errs, events float64) {
	for i := 1; i < len(f.ok); i++ {
		at := f.start.Add(time.Duration(i) * time.Minute)
		if !at.After(from) || at.After(to) || at.After(xFrom) && !at.After(xTo) {
			continue
		}
		errs += f.bad[i]
		events += f.ok[i] + f.bad[i]
	}
	return 1 - errs/events, errs, events
}

func TestReportNovemberMatchesTheExactCountRatio(t *testing.T) {
	// Minutes of promtool and Prometheus work: beside the package's other
	// heavy tests, not after them (each has its own server and files).
	t.Parallel()
	fx := newNovemberFixture()
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.openMetrics(t)})
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	xFrom, xTo := time.Date(2026, 11, 14, 2, 0, 0, 0, time.UTC), time.Date(2026, 11, 14, 3, 0, 0, 0, time.UTC)
	wantSLI, wantErrs, wantEvents := fx.exact(from, to, xFrom, xTo)
	withMaint, _, _ := fx.exact(from, to, time.Time{}, time.Time{})

	run := func(t *testing.T, format string, extra ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		args := []string{"report", "--period", "2026-11", "--prometheus-url", srv.URL, "--step", "5m", "--format", format}
		if len(extra) == 0 {
			extra = []string{"testdata/report/shop.yaml"}
		}
		code := Main(append(args, extra...), &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, stderr := run(t, "json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(stderr, "sloctl: report at 2026-11-") || !strings.Contains(stderr, "(50%)") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	if len(rep.SLOs) != 1 || len(rep.SLOs[0].Instances) != 1 {
		t.Fatalf("report %+v", rep)
	}
	s, in := rep.SLOs[0], rep.SLOs[0].Instances[0]
	t.Run("the SLI is the exact count ratio with the maintenance excluded", func(t *testing.T) {
		if !in.SLI.Known() || math.Abs(float64(in.SLI)-wantSLI)/wantSLI > 1e-6 {
			t.Errorf("SLI %v, want %v (with the maintenance counted it would be %v)", in.SLI, wantSLI, withMaint)
		}
		if math.Abs(in.Errors-wantErrs) > 1e-6*wantErrs || math.Abs(in.Events-wantEvents) > 1e-6*wantEvents {
			t.Errorf("counts %v errors of %v, want %v of %v", in.Errors, in.Events, wantErrs, wantEvents)
		}
		// The two differ far more than the tolerance: the test can fail.
		if math.Abs(withMaint-wantSLI)/wantSLI < 1e-5 {
			t.Fatalf("the fixture's maintenance changes the SLI by too little: %v vs %v", withMaint, wantSLI)
		}
	})
	t.Run("verdict and budget follow from the SLI", func(t *testing.T) {
		budget := 1 - 0.995
		spent := (1 - wantSLI) / budget
		if math.Abs(float64(in.BudgetSpent)-spent) > 1e-6 || math.Abs(float64(in.BudgetRemaining)-(1-spent)) > 1e-6 {
			t.Errorf("budget spent %v remaining %v, want %v", in.BudgetSpent, in.BudgetRemaining, spent)
		}
		want := report.Missed
		if wantSLI >= 0.995 {
			want = report.Met
		}
		if in.Verdict != want {
			t.Errorf("verdict %s, want %s for SLI %v", in.Verdict, want, wantSLI)
		}
	})
	t.Run("the maintenance is excluded time, listed with its reason", func(t *testing.T) {
		if in.ExcludedSeconds != 3600 || s.ExcludedSeconds != 3600 || in.UnknownSeconds != 0 || in.KnownSeconds != 30*86400-3600 {
			t.Errorf("known %v excluded %v (slo %v) unknown %v seconds", in.KnownSeconds, in.ExcludedSeconds, s.ExcludedSeconds, in.UnknownSeconds)
		}
		if len(s.Exclusions) != 1 || s.Exclusions[0].Name != "db-upgrade-2026-11" || !s.Exclusions[0].From.Equal(xFrom) ||
			s.Exclusions[0].Category != "maintenance" || !strings.Contains(s.Exclusions[0].Reason, "CHG-1234") {
			t.Errorf("exclusions %+v", s.Exclusions)
		}
	})
	t.Run("the outage opened a page, and nothing opened in the maintenance", func(t *testing.T) {
		var pages int
		for _, inc := range in.Incidents {
			if inc.Severity == burnrate.SeverityPage {
				pages++
				if inc.Start.Before(time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)) || inc.Start.After(time.Date(2026, 11, 10, 12, 30, 0, 0, time.UTC)) {
					t.Errorf("page started at %s, outside the outage: %+v", inc.Start, inc)
				}
			}
			if inc.Start.After(xFrom) && !inc.Start.After(xTo) {
				t.Errorf("an incident opened inside the maintenance: %+v", inc)
			}
		}
		if pages != 1 || in.PagingSeconds <= 0 {
			t.Errorf("%d pages, %v s paging; incidents %+v", pages, in.PagingSeconds, in.Incidents)
		}
	})
	t.Run("text, Markdown and CSV carry the same figures", func(t *testing.T) {
		sli := strconv.FormatFloat(100*wantSLI, 'f', 4, 64) + "%"
		text, _ := run(t, "text")
		md, _ := run(t, "markdown")
		t.Logf("text:\n%s\nmarkdown:\n%s", text, md)
		for name, body := range map[string]string{"text": text, "markdown": md} {
			if !strings.Contains(body, sli) || !strings.Contains(body, "db-upgrade-2026-11") || !strings.Contains(body, "shop-availability") {
				t.Errorf("%s lacks the SLI %s, the exclusion or the SLO:\n%s", name, sli, body)
			}
		}
		if !strings.Contains(md, "| Instance | SLI |") {
			t.Errorf("markdown has no table:\n%s", md)
		}
		c, _ := run(t, "csv")
		rows, err := csv.NewReader(strings.NewReader(c)).ReadAll()
		if err != nil || len(rows) != 2 || rows[0][5] != "sli" || rows[1][1] != "shop-availability" || rows[1][11] != "3600" {
			t.Fatalf("csv %v (%v):\n%s", rows, err, c)
		}
	})
}

// badSlices counts the slices of length n minutes in (from, to] whose
// good share is under target, and the known ones, leaving out the slices
// that overlap (xFrom, xTo].
func (f novemberFixture) badSlices(from, to, xFrom, xTo time.Time, n int, target float64) (bad, known int) {
	for end := from.Add(time.Duration(n) * time.Minute); !end.After(to); end = end.Add(time.Duration(n) * time.Minute) {
		if end.After(xFrom) && end.Add(-time.Duration(n)*time.Minute).Before(xTo) {
			continue
		}
		var errs, events float64
		for m := 0; m < n; m++ {
			i := int(end.Add(-time.Duration(m)*time.Minute).Sub(f.start) / time.Minute)
			errs += f.bad[i]
			events += f.ok[i] + f.bad[i]
		}
		known++
		if 1-errs/events < target {
			bad++
		}
	}
	return bad, known
}

func TestReportTimeSlices(t *testing.T) {
	t.Parallel() // promtool and Prometheus work: beside the other heavy tests
	fx := newNovemberFixture()
	srv := promtest.Start(t, promtest.Options{OpenMetrics: fx.openMetrics(t)})
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	xFrom, xTo := time.Date(2026, 11, 14, 2, 0, 0, 0, time.UTC), time.Date(2026, 11, 14, 3, 0, 0, 0, time.UTC)
	run := func(t *testing.T, step string, files ...string) map[string]report.Instance {
		t.Helper()
		var out, errOut bytes.Buffer
		args := append([]string{"report", "--period", "2026-11", "--prometheus-url", srv.URL, "--step", step, "--format", "json"}, files...)
		if code := Main(args, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		var rep report.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		got := map[string]report.Instance{}
		for _, s := range rep.SLOs {
			if len(s.Instances) != 1 {
				t.Fatalf("%s: %d instances", s.SLO, len(s.Instances))
			}
			got[s.SLO] = s.Instances[0]
		}
		return got
	}
	t.Run("5m slices at 95%: the share of good slices, excluded ones counting as neither", func(t *testing.T) {
		bad, known := fx.badSlices(from, to, xFrom, xTo, 5, 0.95)
		if bad != 6 || known != 8640-12 {
			t.Fatalf("fixture: %d bad of %d known slices, want the outage's 6 of 8628", bad, known)
		}
		in := run(t, "5m", "testdata/report/shop.yaml", "testdata/report/timeslices.yaml")["shop-good-slices"]
		want := 1 - float64(bad)/float64(known)
		if math.Abs(float64(in.SLI)-want) > 1e-12 || in.Errors != float64(bad) || in.Events != float64(known) || in.ExcludedSeconds != 3600 {
			t.Errorf("SLI %v (%v bad of %v slices, %v s excluded), want %v (%d of %d)", in.SLI, in.Errors, in.Events, in.ExcludedSeconds, want, bad, known)
		}
	})
	t.Run("OpenSLO's example SLO (1w calendar, Timeslices of 1m at 95%) loads and evaluates", func(t *testing.T) {
		bad, known := fx.badSlices(from, to, time.Time{}, time.Time{}, 1, 0.95)
		if bad != 90 || known != 43200 {
			t.Fatalf("fixture: %d bad of %d known minutes, want 90 (outage and maintenance) of 43200", bad, known)
		}
		in := run(t, "1m", "testdata/report/openslo-web.yaml")["web-availability"]
		want := 1 - float64(bad)/float64(known)
		if math.Abs(float64(in.SLI)-want) > 1e-12 || in.Errors != float64(bad) || in.Verdict != report.Met {
			t.Errorf("SLI %v (%v bad minutes, %s), want %v (%d bad minutes, met)", in.SLI, in.Errors, in.Verdict, want, bad)
		}
	})
}

func TestReportFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(*testing.T, *ReportOptions)
	}{
		{name: "a period is required", args: []string{"--prometheus-url", "http://p"}, wantErr: "--period is required"},
		{name: "prometheus is required", args: []string{"--period", "2026-11"}, wantErr: "--prometheus-url is required"},
		{name: "an unknown format is refused", args: []string{"--period", "2026-11", "--prometheus-url", "http://p", "--format", "xml"}, wantErr: "--format"},
		{
			name: "flags are captured",
			args: []string{"--period", "2026-Q4", "--timezone", "Europe/Berlin", "--prometheus-url", "http://p:9090", "--format", "csv", "slos/"},
			check: func(t *testing.T, o *ReportOptions) {
				if o.Period != "2026-Q4" || o.Timezone != "Europe/Berlin" || o.Prometheus.URL != "http://p:9090" || o.Format != "csv" ||
					len(o.Paths) != 1 || o.Step != time.Minute {
					t.Fatalf("options %+v", o)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *ReportOptions
			cmd := NewCmdReport(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(o *ReportOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
	for _, args := range [][]string{
		{"report", "--period", "2026-11", "--timezone", "Mars/Olympus", "--prometheus-url", "http://127.0.0.1:1", "testdata/report/shop.yaml"},
		{"report", "--period", "November", "--prometheus-url", "http://127.0.0.1:1", "testdata/report/shop.yaml"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}
