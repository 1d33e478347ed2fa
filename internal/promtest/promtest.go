// Package promtest runs a real Prometheus server for tests: it writes
// OpenMetrics fixtures, backfills them into a TSDB directory with
// `promtool tsdb create-blocks-from openmetrics`, and starts Prometheus on
// 127.0.0.1 on a free port over that directory, stopping it in t.Cleanup.
//
// Fixtures should have a fixed end time and every query an explicit
// evaluation time at or before it (see ../../docs/evaluator.md).
package promtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireBinaries skips the test when one of the binaries is not on PATH,
// or fails it when the CI environment variable is set (CI must run it).
func RequireBinaries(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found on PATH: the test command installs it (scripts/install-test-deps.sh)", n)
			}
			t.Skipf("%s not found on PATH: install Debian's prometheus package (scripts/install-test-deps.sh) to run this test", n)
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Counter is one series of a fixture: Value(i) is its value at the i-th
// sample (start + i × interval). Counter values must not decrease, except
// to model a counter reset.
type Counter struct {
	// Family is the metric family name: without the _total suffix for a
	// counter, the full series name for a gauge.
	Family string
	Labels map[string]string
	Value  func(i int) float64
	// Gauge writes the series as a gauge (for example a recorded series).
	Gauge bool
	// Every writes only every Every-th sample (0 or 1: all), e.g. 60 for a
	// rule group evaluated hourly over 1m intervals.
	Every int
}

// WriteOpenMetrics writes counters as OpenMetrics text: n+1 samples each,
// from start every interval, timestamps in seconds, ending with # EOF.
// Series of one family are written together, as the format requires.
func WriteOpenMetrics(w io.Writer, start time.Time, interval time.Duration, n int, counters ...Counter) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	byFamily := map[string][]Counter{}
	for _, c := range counters {
		byFamily[c.Family] = append(byFamily[c.Family], c)
	}
	for _, fam := range slices.Sorted(maps.Keys(byFamily)) {
		typ, suffix := "counter", "_total"
		if byFamily[fam][0].Gauge {
			typ, suffix = "gauge", ""
		}
		fmt.Fprintf(bw, "# TYPE %s %s\n", fam, typ)
		for _, c := range byFamily[fam] {
			lbls := formatLabels(c.Labels)
			every := max(c.Every, 1)
			for i := 0; i <= n; i += every {
				ts := start.Add(time.Duration(i) * interval)
				bw.WriteString(fam)
				bw.WriteString(suffix)
				bw.WriteString(lbls)
				bw.WriteByte(' ')
				bw.WriteString(strconv.FormatFloat(c.Value(i), 'g', -1, 64))
				bw.WriteByte(' ')
				bw.WriteString(strconv.FormatInt(ts.Unix(), 10))
				bw.WriteByte('\n')
			}
		}
	}
	bw.WriteString("# EOF\n")
	return bw.Flush()
}

func formatLabels(ls map[string]string) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(ls)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(ls[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// CreateBlocks backfills OpenMetrics text into a TSDB directory with
// promtool. It is usable from TestMain (no testing.T needed).
func CreateBlocks(ctx context.Context, openMetrics io.Reader, dataDir string) error {
	f, err := os.CreateTemp("", "promtest-*.om")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, openMetrics); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	// Large blocks keep the block count (and the server's start-up) small.
	cmd := exec.CommandContext(ctx, "promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=720h", f.Name(), dataDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("promtool tsdb create-blocks-from openmetrics: %w\n%s", err, out)
	}
	return nil
}

// Options configure Start.
type Options struct {
	// DataDir is a TSDB directory to serve (for example filled by
	// CreateBlocks in TestMain and shared by several tests). When empty, a
	// directory under t.TempDir() is used, filled from OpenMetrics if set.
	DataDir     string
	OpenMetrics string
	// Config is the prometheus.yml content; default: only a global section
	// (no scrape targets).
	Config string
	// Args are extra flags for prometheus.
	Args []string
}

// Server is a running Prometheus.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL     string
	addr    string
	dataDir string
	args    []string
	logPath string
	logFrom int64 // where the current run's log starts
	cmd     *exec.Cmd
	done    chan error
}

// Start runs Prometheus on 127.0.0.1 and waits until it is ready. It is
// stopped in t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	RequireBinaries(t, "prometheus", "promtool")
	tmp := t.TempDir()
	if o.DataDir == "" {
		o.DataDir = filepath.Join(tmp, "data")
		if o.OpenMetrics != "" {
			if err := CreateBlocks(context.Background(), strings.NewReader(o.OpenMetrics), o.DataDir); err != nil {
				t.Fatal(err)
			}
		}
	}
	if o.Config == "" {
		o.Config = "global:\n  scrape_interval: 1m\n"
	}
	cfg := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &Server{dataDir: o.DataDir, logPath: filepath.Join(tmp, "prometheus.log")}
	t.Cleanup(s.Stop)
	// FreePort's port is free when it returns, not when Prometheus binds
	// it: another test may take it in between. Try a few ports.
	for attempt := 1; ; attempt++ {
		s.addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		s.URL = "http://" + s.addr
		s.args = append([]string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + o.DataDir,
			"--storage.tsdb.retention.time=4000d",
			"--web.listen-address=" + s.addr,
		}, o.Args...)
		err := s.start()
		if err == nil {
			return s
		}
		if !errors.Is(err, errAddrInUse) || attempt == startAttempts {
			t.Fatal(err)
		}
		t.Logf("promtest: %v; trying another port", err)
	}
}

// startAttempts bounds the ports Start tries.
const startAttempts = 5

// freePort is FreePort; tests of Start replace it to hand out a taken port.
var freePort = FreePort

// errAddrInUse is a start that failed because another process holds the
// listen address.
var errAddrInUse = errors.New("listen address in use")

func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// This run's log starts here: earlier runs may have logged anything.
	if st, err := logf.Stat(); err == nil {
		s.logFrom = st.Size()
	}
	cmd := exec.Command("prometheus", s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start prometheus: %w", err)
	}
	s.cmd, s.done = cmd, make(chan error, 1)
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	err = s.waitReady(30 * time.Second)
	if err != nil {
		s.Stop()
	}
	return err
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Something is ready on the address: make sure it is
				// this server, not one that took the port first.
				mine, err := s.serves(client)
				if err != nil {
					return err
				}
				if !mine {
					return fmt.Errorf("%w: another server answers on %s", errAddrInUse, s.addr)
				}
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			log := s.runLog()
			if strings.Contains(log, "address already in use") {
				return fmt.Errorf("%w: prometheus could not bind %s", errAddrInUse, s.addr)
			}
			return fmt.Errorf("prometheus exited before it was ready: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("prometheus not ready after %s\n%s", timeout, s.Log())
		}
	}
}

// serves reports whether the Prometheus answering on s.addr is s: its
// storage.tsdb.path flag names s's data directory.
func (s *Server) serves(client *http.Client) (bool, error) {
	resp, err := client.Get(s.URL + "/api/v1/status/flags")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var body struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return false, nil // not a Prometheus
	}
	return body.Data["storage.tsdb.path"] == s.dataDir, nil
}

// Log returns what the server has logged (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// runLog is what the server logged since its last start.
func (s *Server) runLog() string {
	log := s.Log()
	if s.logFrom <= int64(len(log)) {
		return log[s.logFrom:]
	}
	return log
}

// Stop terminates the server and waits for it to exit; it is idempotent.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart stops the server and starts it again on the same address and
// data directory (to test a source that loses its Prometheus for a while).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Start starts a stopped server again on the same address.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.cmd != nil {
		return
	}
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Stats is the sample accounting of one query (stats=all).
type Stats struct {
	// TotalQueryableSamples is how many samples the query read.
	TotalQueryableSamples int64 `json:"totalQueryableSamples"`
	PeakSamples           int64 `json:"peakSamples"`
}

// QueryStats runs an instant query at t with stats=all over raw HTTP (the
// client library drops the stats) and returns its sample accounting.
func QueryStats(ctx context.Context, baseURL, query string, at time.Time) (Stats, error) {
	return stats(ctx, baseURL+"/api/v1/query", url.Values{"query": {query}, "time": {formatTime(at)}, "stats": {"all"}})
}

// QueryRangeStats is QueryStats for a range query.
func QueryRangeStats(ctx context.Context, baseURL, query string, start, end time.Time, step time.Duration) (Stats, error) {
	return stats(ctx, baseURL+"/api/v1/query_range", url.Values{"query": {query}, "start": {formatTime(start)},
		"end": {formatTime(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}, "stats": {"all"}})
}

// InstantValues runs an instant query at at and returns the value of each
// series of its answer (an instant vector), in the server's order.
func InstantValues(ctx context.Context, baseURL, query string, at time.Time) ([]float64, error) {
	u := baseURL + "/api/v1/query?" + url.Values{"query": {query}, "time": {formatTime(at)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("%s: %w", query, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", query, body.Error)
	}
	out := make([]float64, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		text, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: value %q: %w", query, text, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func stats(ctx context.Context, u string, v url.Values) (Stats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		return Stats{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Stats{}, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Stats struct {
				Samples Stats `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return Stats{}, fmt.Errorf("%s: %w", u, err)
	}
	if body.Status != "success" {
		return Stats{}, errors.New(body.Error)
	}
	return body.Data.Stats.Samples, nil
}

// BackfillRules evaluates the recording rules of ruleFile against the
// Prometheus at url over [start, end] with `promtool tsdb
// create-blocks-from rules` (each group at its own interval, else every
// minute), and moves the blocks into dataDir: the server sees them after a
// Restart. Rules that read series recorded by other rules need those
// backfilled first (promtool reads them from the server).
func BackfillRules(ctx context.Context, url, ruleFile string, start, end time.Time, dataDir string) error {
	out, err := os.MkdirTemp("", "promtest-rules-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := exec.CommandContext(ctx, "promtool", "tsdb", "create-blocks-from", "rules", "--quiet",
		"--url="+url, "--start="+start.UTC().Format(time.RFC3339), "--end="+end.UTC().Format(time.RFC3339), "--eval-interval=1m", "--output-dir="+out, ruleFile)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("promtool tsdb create-blocks-from rules: %w\n%s", err, b)
	}
	blocks, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, b := range blocks {
		if !b.IsDir() {
			continue
		}
		if err := os.Rename(filepath.Join(out, b.Name()), filepath.Join(dataDir, b.Name())); err != nil {
			return err
		}
	}
	return nil
}
