package source

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/sony/gobreaker/v2"
)

// Querier runs PromQL range queries. Prometheus and Embedded satisfy it.
type Querier interface {
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error)
}

// PrometheusOptions configure a Prometheus source.
type PrometheusOptions struct {
	// URL is the API's base URL (http://prometheus:9090, a Thanos Query or
	// Mimir/Cortex Prometheus prefix); required.
	URL string
	// BearerToken or BearerTokenFile (read on each request) authenticate
	// with Authorization: Bearer. At most one may be set.
	BearerToken     string
	BearerTokenFile string
	// BasicAuth authenticates with a user name and password (or password file).
	Username     string
	Password     string
	PasswordFile string
	// Headers are added to every request, e.g. X-Scope-OrgID for Mimir or Cortex.
	Headers map[string]string
	// TLS: a CA bundle, a client certificate, or skipping verification (tests only).
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
	// Timeout bounds one try of a query (default 30s).
	Timeout time.Duration
	// MaxTries bounds the tries of one query (default 4); MaxElapsed bounds
	// the time spent retrying it (default 2m).
	MaxTries   uint
	MaxElapsed time.Duration
	// BreakerFailures consecutive failed tries open the circuit breaker
	// (default 5); it half-opens after BreakerTimeout (default 30s).
	BreakerFailures uint32
	BreakerTimeout  time.Duration
	// Metrics and Logger are optional.
	Metrics *Metrics
	Logger  *slog.Logger
	// backoff replaces the exponential backoff in tests.
	backoff func() backoff.BackOff
}

// Prometheus queries a Prometheus HTTP API with timeouts, retries with
// exponential backoff and jitter, and a circuit breaker.
type Prometheus struct {
	api     v1.API
	client  api.Client   // builds URLs as the v1 API does
	http    *http.Client // QueryRangeStream's requests
	o       PrometheusOptions
	breaker *gobreaker.CircuitBreaker[model.Value]
	// bufs (*bytes.Buffer) and decoders (*matrixDecoder) are kept between
	// QueryRangeStream calls, so a steady tick reuses the memory of the one
	// before, as many as its queries in flight (the errors and total
	// queries of several SLOs, each perhaps split in partitions).
	bufs, decoders sync.Pool
}

// NewPrometheus returns a source for the API at o.URL.
func NewPrometheus(o PrometheusOptions) (*Prometheus, error) {
	if o.URL == "" {
		return nil, errors.New("prometheus source: URL is required")
	}
	if o.BearerToken != "" && o.BearerTokenFile != "" {
		return nil, errors.New("prometheus source: set bearer_token or bearer_token_file, not both")
	}
	if o.Password != "" && o.PasswordFile != "" {
		return nil, errors.New("prometheus source: set password or password_file, not both")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxTries == 0 {
		o.MaxTries = 4
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 2 * time.Minute
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 5
	}
	if o.BreakerTimeout <= 0 {
		o.BreakerTimeout = 30 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.backoff == nil {
		o.backoff = func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval = 500 * time.Millisecond
			b.MaxInterval = 15 * time.Second
			b.RandomizationFactor = 0.5 // jitter: ±50%
			return b
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = o.Timeout
	if o.CAFile != "" || o.CertFile != "" || o.InsecureSkipVerify {
		cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in, for tests
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("prometheus source: ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("prometheus source: ca_file %s: no certificate found", o.CAFile)
			}
			cfg.RootCAs = pool
		}
		if o.CertFile != "" || o.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("prometheus source: client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = cfg
	}
	rt := &authTransport{o: &o, next: tr}
	client, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus source: %w", err)
	}
	p := &Prometheus{api: v1.NewAPI(client), client: client, http: &http.Client{Transport: rt}, o: o}
	m := o.Metrics
	p.breaker = gobreaker.NewCircuitBreaker[model.Value](gobreaker.Settings{
		Name:        "prometheus",
		MaxRequests: 1,
		Timeout:     o.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.BreakerFailures },
		// A query the server rejects as bad says nothing about its health.
		IsExcluded: func(err error) bool {
			var ce *callbackError
			return isPermanent(err) || errors.Is(err, context.Canceled) || errors.As(err, &ce) || errors.As(err, new(*tooSlowError))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			m.breaker.Set(float64(to))
			o.Logger.Warn("prometheus circuit breaker changed state", "from", from.String(), "to", to.String())
		},
	})
	return p, nil
}

// authTransport adds credentials and extra headers to each request.
type authTransport struct {
	o    *PrometheusOptions
	next http.RoundTripper
}

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for k, v := range a.o.Headers {
		req.Header.Set(k, v)
	}
	token := a.o.BearerToken
	if a.o.BearerTokenFile != "" {
		b, err := os.ReadFile(a.o.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("bearer_token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if a.o.Username != "" {
		pw := a.o.Password
		if a.o.PasswordFile != "" {
			b, err := os.ReadFile(a.o.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("password_file: %w", err)
			}
			pw = strings.TrimSpace(string(b))
		}
		req.SetBasicAuth(a.o.Username, pw)
	}
	return a.next.RoundTrip(req)
}

// isPermanent reports errors that a retry cannot fix: the server rejected
// the query itself (bad_data, or a 4xx other than 429).
func isPermanent(err error) bool {
	var ae *v1.Error
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Type {
	case v1.ErrBadData:
		return true
	case v1.ErrClient:
		return !strings.Contains(ae.Msg, "429")
	}
	return false
}

// tooSlowError is a range query of several points that timed out, on
// the client or in the server's evaluation: returned without a retry and
// not held against the server's health, for the reader to split.
type tooSlowError struct{ err error }

func (e *tooSlowError) Error() string { return e.err.Error() }
func (e *tooSlowError) Unwrap() error { return e.err }

// timedOut reports a query that timed out: the try's own timeout, or the
// server's (--query.timeout, error type "timeout").
func timedOut(err error) bool {
	var ae *v1.Error
	if errors.As(err, &ae) && ae.Type == v1.ErrTimeout {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timed out") ||
		strings.Contains(err.Error(), "timeout awaiting response headers")
}

// ErrBreakerOpen is wrapped by QueryRange while the circuit breaker is open:
// the API failed repeatedly and is given time to recover.
var ErrBreakerOpen = gobreaker.ErrOpenState

// QueryRange runs a range query, retrying failed tries with backoff and
// jitter behind the circuit breaker. Each try has its own timeout.
func (p *Prometheus) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	v, err := p.retry(ctx, query, start, end, func(tctx context.Context) (model.Value, []string, error) {
		v, warnings, _, err := p.api.QueryRange(tctx, query, v1.Range{Start: start, End: end, Step: step})
		return v, warnings, err
	})
	if err != nil {
		return nil, err
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		if v == nil {
			return nil, fmt.Errorf("query %q: got no data, want a matrix", shortQuery(query))
		}
		return nil, fmt.Errorf("query %q: got a %s, want a matrix", shortQuery(query), v.Type())
	}
	n := 0
	for _, s := range mat {
		if s != nil {
			n += len(s.Values)
		}
	}
	p.o.Metrics.points.Add(float64(n))
	return mat, nil
}

// callbackError is an error of QueryRangeStream's function: the query
// itself succeeded, so it is neither retried nor held against the server.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// maxKeptBody is the largest response buffer kept for the next query; a
// backfill's larger answers are left to the garbage collector.
const maxKeptBody = 32 << 20

// QueryRangeStream runs a range query like QueryRange, with the same
// request, retries, breaker and errors, but decodes the answer straight
// into fn, series by series, from a reused buffer: a steady tick's
// answers allocate nothing per series. fn is called only once the answer
// has been read whole and checked, so a try that fails calls it for no
// series; an error from fn ends the query without a retry.
func (p *Prometheus) QueryRangeStream(ctx context.Context, query string, start, end time.Time, step time.Duration, fn SeriesFunc) error {
	buf, _ := p.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	d, _ := p.decoders.Get().(*matrixDecoder)
	if d == nil {
		d = new(matrixDecoder)
	}
	defer func() {
		if buf.Cap() <= maxKeptBody {
			p.bufs.Put(buf)
		}
		p.decoders.Put(d)
	}()
	points := 0
	count := func(labels []Label, pts []model.SamplePair) error {
		points += len(pts)
		if err := fn(labels, pts); err != nil {
			return &callbackError{err}
		}
		return nil
	}
	_, err := p.retry(ctx, query, start, end, func(tctx context.Context) (model.Value, []string, error) {
		points = 0
		code, header, err := p.fetch(tctx, query, start, end, step, buf)
		if err != nil {
			return nil, nil, err
		}
		warnings, err := d.decode(tctx, code, header, buf.Bytes(), count)
		return nil, warnings, err
	})
	if err == nil {
		p.o.Metrics.points.Add(float64(points))
	}
	return err
}

// fetch sends a query_range request as client_golang's v1 API does (a
// form POST, and a GET where the server refuses the POST) and reads the
// answer into buf.
func (p *Prometheus) fetch(ctx context.Context, query string, start, end time.Time, step time.Duration, buf *bytes.Buffer) (int, http.Header, error) {
	u := p.client.URL("/api/v1/query_range", nil)
	args := u.Query()
	args.Set("query", query)
	args.Set("start", formatTime(start))
	args.Set("end", formatTime(end))
	args.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	form := args.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil // idempotent: the transport may retry it
	code, header, err := p.send(req, buf)
	if err == nil && (code == http.StatusForbidden || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented) {
		u.RawQuery = form
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil); err != nil {
			return 0, nil, err
		}
		code, header, err = p.send(req, buf)
	}
	return code, header, err
}

func (p *Prometheus) send(req *http.Request, buf *bytes.Buffer) (int, http.Header, error) {
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, resp.Header, nil
}

// formatTime is client_golang's: Unix seconds with a fraction.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}

// retry runs call with a timeout per try, retrying failed tries with
// backoff and jitter behind the circuit breaker, and classifies errors.
func (p *Prometheus) retry(ctx context.Context, query string, start, end time.Time, call func(context.Context) (model.Value, []string, error)) (model.Value, error) {
	m := p.o.Metrics
	try := func() (model.Value, error) {
		v, err := p.breaker.Execute(func() (model.Value, error) {
			tctx, cancel := context.WithTimeoutCause(ctx, p.o.Timeout, fmt.Errorf("query timed out after %s", p.o.Timeout))
			defer cancel()
			began := time.Now()
			v, warnings, err := call(tctx)
			m.duration.Observe(time.Since(began).Seconds())
			if err == nil && len(warnings) > 0 {
				p.o.Logger.Warn("prometheus query warnings", "query", query, "warnings", strings.Join(warnings, "; "))
			}
			if err != nil && context.Cause(tctx) != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", context.Cause(tctx), err)
			}
			if err != nil && end.After(start) && timedOut(err) {
				// A range query that timed out is a chunk too long for
				// the server's load: the reader splits it (tooLarge). The
				// same query again would only time out again and trip
				// the breaker; a one-point query still counts, so a
				// server that answers nothing still opens it.
				err = &tooSlowError{err}
			}
			return v, err
		})
		var ce *callbackError
		switch {
		case err == nil:
			m.queries.WithLabelValues(outcomeOK).Inc()
			return v, nil
		case errors.As(err, &ce):
			m.queries.WithLabelValues(outcomeOK).Inc() // the server answered
			return nil, backoff.Permanent(ce.err)
		case errors.As(err, new(*tooSlowError)):
			m.queries.WithLabelValues(outcomeError).Inc()
			return nil, backoff.Permanent(err)
		case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
			m.queries.WithLabelValues(outcomeRejected).Inc()
			m.rejected.Inc()
			// Fail fast: the caller tries again on its next tick.
			return nil, backoff.Permanent(err)
		case isPermanent(err):
			m.queries.WithLabelValues(outcomePermanent).Inc()
			return nil, backoff.Permanent(err)
		case ctx.Err() != nil:
			return nil, backoff.Permanent(err)
		}
		m.queries.WithLabelValues(outcomeError).Inc()
		return nil, err
	}
	v, err := backoff.Retry(ctx, try,
		backoff.WithBackOff(p.o.backoff()),
		backoff.WithMaxTries(p.o.MaxTries),
		backoff.WithMaxElapsedTime(p.o.MaxElapsed),
		backoff.WithNotify(func(err error, d time.Duration) {
			m.retries.Inc()
			p.o.Logger.Debug("retrying prometheus query", "err", err, "in", d)
		}))
	if err != nil {
		return nil, fmt.Errorf("query %q over %s..%s: %w", shortQuery(query), start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), err)
	}
	return v, nil
}

// shortQuery shortens a query for an error message: a partitioned query
// (Partition) carries a regular expression of a few kilobytes that would
// bury the error in the log line.
func shortQuery(q string) string {
	const head, tail = 240, 60
	if len(q) <= head+tail+40 {
		return q
	}
	return fmt.Sprintf("%s…(%d bytes)…%s", strings.ToValidUTF8(q[:head], ""), len(q)-head-tail, strings.ToValidUTF8(q[len(q)-tail:], ""))
}
