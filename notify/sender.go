package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Sender delivers one page to one receiver. It returns nil once the receiver
// has accepted the page, a *SendError saying whether and when to retry, or
// any other error (retried). Errors must never contain secrets.
type Sender interface {
	Send(ctx context.Context, p Page) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, p Page) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, p Page) error { return f(ctx, p) }

// Failure reasons, used in errors, logs, dead letters and metric labels.
const (
	ReasonRateLimited = "rate_limited"
	ReasonServerError = "server_error"
	ReasonClientError = "client_error"
	ReasonTimeout     = "timeout"
	ReasonConnection  = "connection"
	ReasonInvalid     = "invalid"
	ReasonOther       = "other"
	ReasonMaxAge      = "max_age"
	// ReasonUndecodable dead-letters an outbox entry that cannot be read
	// back (garbled, or of a shape this version does not know).
	ReasonUndecodable = "undecodable"
)

var failureReasons = []string{ReasonRateLimited, ReasonServerError, ReasonClientError, ReasonTimeout, ReasonConnection, ReasonInvalid, ReasonOther}

var deadReasons = []string{ReasonClientError, ReasonInvalid, ReasonMaxAge, ReasonUndecodable}

// SendError classifies a failed delivery.
type SendError struct {
	Reason string
	// Permanent errors cannot succeed on retry: the page goes to the
	// dead-letter bucket at once.
	Permanent bool
	// RetryAfter, when positive, is how long the receiver asked us to wait.
	RetryAfter time.Duration
	// StatusCode is the HTTP status, when there was one.
	StatusCode int
	Err        error
}

func (e *SendError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s (HTTP %d): %v", e.Reason, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// reasonOf returns the failure reason of err.
func reasonOf(err error) string {
	var se *SendError
	if errors.As(err, &se) && se.Reason != "" {
		return se.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	return ReasonOther
}

// HTTPError classifies an HTTP answer: nil for 2xx; 429 (with its
// Retry-After), 408 and 5xx are retried; any other status is permanent.
// body is a short excerpt of the response for the message.
func HTTPError(status int, header http.Header, body string, now time.Time) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusTooManyRequests:
		return &SendError{Reason: ReasonRateLimited, StatusCode: status, RetryAfter: ParseRetryAfter(header.Get("Retry-After"), now), Err: bodyErr(body)}
	case status == http.StatusRequestTimeout:
		return &SendError{Reason: ReasonTimeout, StatusCode: status, Err: bodyErr(body)}
	case status >= 500:
		return &SendError{Reason: ReasonServerError, StatusCode: status, RetryAfter: ParseRetryAfter(header.Get("Retry-After"), now), Err: bodyErr(body)}
	default:
		return &SendError{Reason: ReasonClientError, Permanent: true, StatusCode: status, Err: bodyErr(body)}
	}
}

func bodyErr(body string) error {
	const max = 512
	if len(body) > max {
		body = body[:max] + "..."
	}
	if body == "" {
		body = "empty response body"
	}
	return errors.New(body)
}

// TransportError classifies an error from http.Client.Do. The request URL
// (which may carry tokens) is dropped from the message; only the host stays.
func TransportError(err error) error {
	var ue *url.Error
	host := ""
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
		err = ue.Err
	}
	reason := ReasonConnection
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		reason = ReasonTimeout
	}
	if host != "" {
		err = fmt.Errorf("%s: %w", host, err)
	}
	return &SendError{Reason: reason, Err: err}
}

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns 0 when the header is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
