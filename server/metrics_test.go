package server

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsWritesTheExpositionAfterTheRegistry: /metrics is the
// registry's families and then Options.Exposition's, one text document
// that the text format's parser reads, gzipped exactly when the scraper
// accepts gzip.
func TestMetricsWritesTheExpositionAfterTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "slod_test_gauge", Help: "test"})
	g.Set(3)
	reg.MustRegister(g)
	expose := func(w io.Writer, _ *Snapshot) error {
		_, err := io.WriteString(w, "# HELP slod_test_line a line\n# TYPE slod_test_line gauge\nslod_test_line{route=\"/a \\\"b\\\"\"} NaN\n")
		return err
	}
	s, err := New(Options{Snapshot: func() *Snapshot { return nil }, Gatherer: reg, Exposition: expose})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acceptEncoding string
		gzip           bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000, identity", false},
		{"br", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.acceptEncoding), func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			if tc.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tc.acceptEncoding)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var body io.Reader = rec.Body
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Fatalf("gzipped %v, want %v", got, tc.gzip)
			}
			if tc.gzip {
				zr, err := gzip.NewReader(body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			mfs, err := p.TextToMetricFamilies(body)
			if err != nil {
				t.Fatalf("does not parse: %v", err)
			}
			if v := mfs["slod_test_gauge"].GetMetric()[0].GetGauge().GetValue(); v != 3 {
				t.Errorf("registry gauge %v, want 3", v)
			}
			line := mfs["slod_test_line"].GetMetric()
			if len(line) != 1 || line[0].GetLabel()[0].GetValue() != `/a "b"` {
				t.Errorf("exposition's line %v", line)
			}
		})
	}
}

// TestMetricsFailsWholeWhenTheRegistryFails: a gather error is a 500 with
// the error, as promhttp's HTTPErrorOnError: the scrape fails visibly
// rather than lacking series.
func TestMetricsFailsWholeWhenTheRegistryFails(t *testing.T) {
	s, err := New(Options{Snapshot: func() *Snapshot { return nil },
		Gatherer: prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, errors.New("collector exploded") }),
		Exposition: func(io.Writer, *Snapshot) error {
			t.Error("the exposition was written after a failed gather")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "collector exploded") {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
}

// TestMetricsAbortsAnAnswerItCannotFinish: the text format has no end
// marker, so an answer cut short by an error must not end as a whole one
// (a scrape with series missing and up = 1): the connection is aborted
// and the scraper's read fails, gzipped or not.
func TestMetricsAbortsAnAnswerItCannotFinish(t *testing.T) {
	var (
		mu    sync.Mutex
		snaps []*Snapshot
	)
	held := &Snapshot{Ready: true}
	s, err := New(Options{Snapshot: func() *Snapshot { return held }, Gatherer: prometheus.NewRegistry(),
		Exposition: func(w io.Writer, snap *Snapshot) error {
			mu.Lock()
			snaps = append(snaps, snap)
			mu.Unlock()
			// More than the response buffer, so part of it has gone out.
			for range 5000 {
				if _, err := io.WriteString(w, "slod_test_line{route=\"/a/long/enough/route/name\"} 1\n"); err != nil {
					return err
				}
			}
			return errors.New("the snapshot went away")
		}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	for _, gz := range []bool{false, true} {
		c := &http.Client{Transport: &http.Transport{DisableCompression: !gz}}
		resp, err := c.Get(ts.URL + "/metrics")
		if err != nil {
			continue // aborted before the headers: failed, as it should
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("gzip %v: an answer cut short by an error read whole (%d bytes, %d)", gz, len(body), resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(snaps) != 2 || snaps[0] != held || snaps[1] != held {
		t.Errorf("the exposition was handed %v, want the request's snapshot each time", snaps)
	}
}
