package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// fetch is one timed GET: how long until the whole body was read, and its size.
type fetch struct {
	Status   int
	Duration time.Duration
	Bytes    int
	Body     []byte
}

func get(ctx context.Context, u string, timeout time.Duration) (fetch, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fetch{}, err
	}
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fetch{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fetch{}, fmt.Errorf("GET %s: %w", u, err)
	}
	return fetch{Status: resp.StatusCode, Duration: time.Since(began), Bytes: len(body), Body: body}, nil
}

// waitReady polls url every second until it answers 200. It stops with
// errExited when p exits and with a timeout error after timeout.
func waitReady(ctx context.Context, p *proc, u string, timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if f, err := get(ctx, u, 10*time.Second); err == nil && f.Status == http.StatusOK {
			return time.Since(began), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-p.exited:
			return 0, errExited
		case <-deadline.C:
			return 0, fmt.Errorf("not ready after %s", timeout)
		case <-tick.C:
		}
	}
}

// metrics is one scrape of /metrics: sample values by name and label text,
// e.g. `slod_state_snapshots_total{result="ok"}`.
type metrics map[string]float64

func scrape(ctx context.Context, base string) (metrics, error) {
	f, err := get(ctx, base+"/metrics", 60*time.Second)
	if err != nil {
		return nil, err
	}
	if f.Status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d", f.Status)
	}
	m := metrics{}
	sc := bufio.NewScanner(bytes.NewReader(f.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[line[:i]] = v
	}
	return m, sc.Err()
}

// sum adds every sample of the family name (any labels).
func (m metrics) sum(name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// incidents are the open burn incidents of /api/v1/incidents by route.
type incidents struct {
	Open  int            // open incidents of any class
	Burn  map[string]int // route -> open burn incidents
	Pages int            // open burn incidents at page severity
}

func parseIncidents(body []byte) (incidents, error) {
	var resp struct {
		Incidents []struct {
			Labels   map[string]string `json:"labels"`
			Class    string            `json:"class"`
			Severity string            `json:"severity"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return incidents{}, fmt.Errorf("/api/v1/incidents: %w", err)
	}
	out := incidents{Open: len(resp.Incidents), Burn: map[string]int{}}
	for _, inc := range resp.Incidents {
		if inc.Class != "burn" {
			continue
		}
		out.Burn[inc.Labels["route"]]++
		if inc.Severity == "page" {
			out.Pages++
		}
	}
	return out, nil
}

// promVector runs an instant query against Prometheus and returns the
// value of each result by its route label ("" when it has none).
func promVector(ctx context.Context, base, query string, at time.Time) (map[string]float64, error) {
	u := base + "/api/v1/query?" + url.Values{"query": {query}, "time": {at.Format(time.RFC3339)}}.Encode()
	f, err := get(ctx, u, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(f.Body, &resp); err != nil {
		return nil, fmt.Errorf("query %s: status %d: %w", query, f.Status, err)
	}
	if resp.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, resp.Error)
	}
	out := make(map[string]float64, len(resp.Data.Result))
	for _, r := range resp.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %q: %w", query, s, err)
		}
		out[r.Metric["route"]] = v
	}
	return out, nil
}
