package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Capture records the HTTP answer to a request made by a client library that
// hides it (go-pagerduty drops the body and Retry-After of a 429). Put one in
// the request context with WithCapture and wrap the client's transport with
// CapturingDoer.
type Capture struct {
	StatusCode int
	Header     http.Header
	Body       string
	Err        error
}

type captureKey struct{}

// WithCapture returns a context that records into c.
func WithCapture(ctx context.Context, c *Capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// CapturingDoer wraps an HTTP client; for requests whose context carries a
// Capture it records the status, headers and (for non-2xx answers) up to
// 64 KiB of the body, which it hands on unchanged.
type CapturingDoer struct {
	Client *http.Client
}

// Do sends req and records the answer.
func (d CapturingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.Client.Do(req)
	c, _ := req.Context().Value(captureKey{}).(*Capture)
	if c == nil {
		return resp, err
	}
	c.Err = err
	if resp == nil {
		return resp, err
	}
	c.StatusCode, c.Header = resp.StatusCode, resp.Header
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		c.Body = string(b)
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, err
}
