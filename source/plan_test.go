package source

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
)

func TestPlan(t *testing.T) {
	spec := eventsSpec(30 * 24 * time.Hour)
	end := time.Date(2026, 9, 30, 12, 34, 0, 0, time.UTC)
	seg := func(from, to time.Time, res time.Duration) Segment {
		return Segment{From: from, To: to, Resolution: res}
	}
	tests := []struct {
		name string
		last time.Time // zero: a new evaluator
		want []Segment
	}{
		{
			name: "a first start reads W, the newest hour at 1m, the newest day at 10m, the rest at 1h",
			want: []Segment{
				seg(end.Add(-30*24*time.Hour), end.Add(-30*24*time.Hour).Truncate(time.Hour).Add(time.Hour), time.Minute),
				seg(end.Add(-30*24*time.Hour).Truncate(time.Hour).Add(time.Hour), end.Add(-24*time.Hour).Truncate(time.Hour), time.Hour),
				seg(end.Add(-24*time.Hour).Truncate(time.Hour), end.Add(-time.Hour).Truncate(10*time.Minute), 10*time.Minute),
				seg(end.Add(-time.Hour).Truncate(10*time.Minute), end, time.Minute),
			},
		},
		{
			name: "a 12-hour outage is read at 10m up to the fine span, then at 1m",
			last: end.Add(-12*time.Hour - 3*time.Minute),
			want: []Segment{
				// 00:29 (newest step 00:31 minus two re-read) to the next 10m boundary.
				seg(end.Add(-12*time.Hour-5*time.Minute), end.Add(-12*time.Hour-4*time.Minute), time.Minute),
				seg(end.Add(-12*time.Hour-4*time.Minute), end.Add(-6*time.Hour).Truncate(10*time.Minute), 10*time.Minute),
				seg(end.Add(-6*time.Hour).Truncate(10*time.Minute), end, time.Minute),
			},
		},
		{
			name: "a tick reads the new steps and re-reads two",
			last: end.Add(-time.Minute),
			want: []Segment{seg(end.Add(-3*time.Minute), end, time.Minute)},
		},
		{
			name: "an outage longer than W reads W at full resolution: its ticks are replayed",
			last: end.Add(-40 * 24 * time.Hour),
			want: []Segment{
				seg(end.Add(-30*24*time.Hour), end.Add(-30*24*time.Hour).Truncate(time.Hour).Add(time.Hour), time.Minute),
				seg(end.Add(-30*24*time.Hour).Truncate(time.Hour).Add(time.Hour), end.Add(-3*24*time.Hour).Truncate(time.Hour), time.Hour),
				seg(end.Add(-3*24*time.Hour).Truncate(time.Hour), end.Add(-6*time.Hour).Truncate(10*time.Minute), 10*time.Minute),
				seg(end.Add(-6*time.Hour).Truncate(10*time.Minute), end, time.Minute),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.last.IsZero() {
				if err := ev.Ingest(burnrate.Batch{From: tc.last.Add(-time.Minute), To: tc.last, Series: []burnrate.Series{{
					Steps: []burnrate.StepCount{{End: tc.last, Errors: 0, Total: 1}}}}}); err != nil {
					t.Fatal(err)
				}
			}
			got := Plan(ev, end, 2)
			want := tc.want
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("plan\n%v\nwant\n%v", got, want)
			}
			// Segments are contiguous, aligned to their resolution, and end at end.
			for i, s := range got {
				if i > 0 && !s.From.Equal(got[i-1].To) {
					t.Fatalf("gap between segments %d and %d", i-1, i)
				}
				if !s.From.Truncate(s.Resolution).Equal(s.From) || !s.To.Truncate(s.Resolution).Equal(s.To) {
					t.Fatalf("segment %v not aligned to its resolution", s)
				}
			}
		})
	}
}

func TestSteppedReplayGroupBy(t *testing.T) {
	// Two routes scraped every 15 s for 2 days; /a fails completely for 20
	// minutes on day 2. Only /a pages.
	e := NewEmbedded()
	n := 2 * 24 * 60 * 4
	fail := 36 * 60 * 4 // scrape index where /a's outage starts
	series := fmt.Sprintf(`
http_requests_total{route="/a",code="200"} 0+150x%[1]d %[3]d+0x80 %[3]d+150x%[2]d
http_requests_total{route="/a",code="500"} 0x%[1]d 0+150x80 12000x%[2]d
http_requests_total{route="/b",code="200"} 0+150x%[4]d
`, fail, n-fail-81, fail*150, n)
	if err := e.LoadSeries(fixtureStart, 15*time.Second, series); err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(30*24*time.Hour, "route")
	ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	fired := map[string]time.Time{}
	from, to := fixtureStart.Add(30*time.Hour), fixtureStart.Add(40*time.Hour)
	// A replay on a simulated clock, as sloctl backtest drives the engine:
	// one Sync per step, answered from chunked reads by Prefetch.
	pf := &Prefetch{Querier: e, Step: time.Minute, Until: to, Points: 500}
	for now := from; !now.After(to); now = now.Add(time.Minute) {
		if _, err := Sync(context.Background(), ev, pf, now, SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, ie := range ev.Evaluate(now) {
			if sev, ok := ie.Severity(); ok && sev == burnrate.SeverityPage {
				if _, seen := fired[ie.Labels["route"]]; !seen {
					fired[ie.Labels["route"]] = now
				}
			}
		}
	}
	if q := pf.Queries(); q > 60 {
		t.Errorf("%d queries for 600 steps, want the chunked reads only", q)
	}
	outage := fixtureStart.Add(36 * time.Hour)
	if len(fired) != 1 || fired["/a"].Before(outage) || fired["/a"].After(outage.Add(2*time.Minute)) {
		t.Fatalf("pages %v, want only /a within two steps of %s", fired, outage)
	}
}

func TestPrometheusTLSAndBasicAuth(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "slod" || p != "pw-from-file" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, matrixBody)
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("pw-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good, err := NewPrometheus(PrometheusOptions{URL: srv.URL, CAFile: ca, Username: "slod", PasswordFile: pw, backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.QueryRange(ctx, "up", fixtureStart, fixtureStart, time.Minute); err != nil {
		t.Fatalf("with the CA and the password: %v", err)
	}
	noCA, _ := NewPrometheus(PrometheusOptions{URL: srv.URL, Username: "slod", PasswordFile: pw, backoff: fastBackoff, MaxTries: 1})
	if _, err := noCA.QueryRange(ctx, "up", fixtureStart, fixtureStart, time.Minute); err == nil {
		t.Fatal("a server certificate from an unknown CA was accepted")
	}
	wrongPW, _ := NewPrometheus(PrometheusOptions{URL: srv.URL, CAFile: ca, Username: "slod", Password: "nope", backoff: fastBackoff})
	if _, err := wrongPW.QueryRange(ctx, "up", fixtureStart, fixtureStart, time.Minute); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if _, err := NewPrometheus(PrometheusOptions{URL: srv.URL, BearerToken: "a", BearerTokenFile: "b"}); err == nil {
		t.Fatal("both bearer_token and bearer_token_file were accepted")
	}
}
