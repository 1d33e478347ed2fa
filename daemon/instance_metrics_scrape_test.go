package daemon

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/promtest"
)

// TestPrometheusScrapesThePerInstanceGauges: a real Prometheus scrapes the
// demo daemon's /metrics during the checkout outage, and what it stores
// is what the daemon evaluated: the target is up, every instance has its
// one state series, and checkout's is page.
func TestPrometheusScrapesThePerInstanceGauges(t *testing.T) {
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	h.runTo(demoStart.Add(2*time.Minute + 30*time.Second))
	ts := httptest.NewServer(h.d.Handler())
	t.Cleanup(ts.Close)
	prom := promtest.Start(t, promtest.Options{Config: fmt.Sprintf(
		"global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: slod\n    static_configs:\n      - targets: [%q]\n",
		strings.TrimPrefix(ts.URL, "http://"))})
	query := func(q string) (float64, bool) {
		vs, err := promtest.InstantValues(context.Background(), prom.URL, q, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			return 0, false
		}
		return vs[0], true
	}
	present := math.NaN() // any value, as long as there is one series
	want := map[string]float64{
		`up{job="slod"}`:                                                           1,
		`count(slod_instance_state{job="slod"})`:                                   9,
		`slod_instance_state{slo="checkout-availability",state="page"}`:            1,
		`count(slod_instance_burn_rate{slo="api-gateway-route-availability"}) > 0`: present,
		`scrape_samples_scraped{job="slod"}`:                                       float64(samples(t, ts.URL)),
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var missing []string
		for q, v := range want {
			got, ok := query(q)
			if !ok || (!math.IsNaN(v) && got != v) {
				missing = append(missing, fmt.Sprintf("%s = %v, %d series (want %v)", q, got, map[bool]int{true: 1}[ok], v))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s of scrapes:\n%s\nPrometheus log:\n%s", strings.Join(missing, "\n"), prom.Log())
		}
		time.Sleep(time.Second)
	}
}

// samples counts the sample lines of the text exposition at base/metrics.
func samples(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if line != "\n" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}
