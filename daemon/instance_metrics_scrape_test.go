package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	query := func(q string) (string, bool) {
		resp, err := http.Get(prom.URL + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if len(body.Data.Result) != 1 {
			return "", false
		}
		v, _ := body.Data.Result[0].Value[1].(string)
		return v, true
	}
	want := map[string]string{
		`up{job="slod"}`:                                                           "1",
		`count(slod_instance_state{job="slod"})`:                                   "9",
		`slod_instance_state{slo="checkout-availability",state="page"}`:            "1",
		`count(slod_instance_burn_rate{slo="api-gateway-route-availability"}) > 0`: "",
		`scrape_samples_scraped{job="slod"}`:                                       fmt.Sprint(samples(t, ts.URL)),
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var missing []string
		for q, v := range want {
			got, ok := query(q)
			if !ok || (v != "" && got != v) {
				missing = append(missing, fmt.Sprintf("%s = %q (want %q)", q, got, v))
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
