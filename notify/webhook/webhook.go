// Package webhook posts pages as JSON to any URL, optionally signed with
// HMAC-SHA256. The URL and secret header values are secrets: they are
// scrubbed from every error.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slodhq/slod/notify"
)

// Version is the "version" field of every body.
const Version = "slod.notify/v1"

// Body is what the webhook receives.
type Body struct {
	Version string      `json:"version"`
	Page    notify.Page `json:"page"`
}

// Receiver posts to one URL.
type Receiver struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	// secrets are scrubbed from every error: the HMAC secret, the URL and
	// its path, the secret header values.
	secrets []notify.Secret
}

// New returns a receiver for cfg.
func New(cfg Config, httpClient *http.Client, now func() time.Time) *Receiver {
	if cfg.SignatureHeader == "" {
		cfg.SignatureHeader = DefaultSignatureHeader
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	r := &Receiver{cfg: cfg, client: httpClient, now: now}
	r.secrets = append(r.secrets, cfg.HMACSecret, cfg.URL)
	if u, err := url.Parse(cfg.URL.Reveal()); err == nil && len(u.RequestURI()) > 1 {
		r.secrets = append(r.secrets, notify.NewSecret(u.RequestURI()))
	}
	for _, h := range cfg.SecretHeaders {
		r.secrets = append(r.secrets, h.Value)
		// A receiver may echo only the credential of "Bearer <token>".
		if _, cred, ok := strings.Cut(h.Value.Reveal(), " "); ok && len(strings.TrimSpace(cred)) >= 8 {
			r.secrets = append(r.secrets, notify.NewSecret(strings.TrimSpace(cred)))
		}
	}
	return r
}

// Send posts p; with a secret, the body's signature goes in the signature
// header as "sha256=<hex HMAC-SHA256 of the body>".
func (r *Receiver) Send(ctx context.Context, p notify.Page) error {
	b, err := json.Marshal(Body{Version: Version, Page: p})
	if err != nil {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: err}
	}
	if !r.cfg.URL.IsSet() {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: errors.New("webhook url not set (a config parsed without reading its secrets?)")}
	}
	h := http.Header{}
	for k, v := range r.cfg.Headers {
		h.Set(k, v)
	}
	for k, v := range r.cfg.SecretHeaders {
		h.Set(k, v.Value.Reveal())
	}
	if r.cfg.HMACSecret.IsSet() {
		h.Set(r.cfg.SignatureHeader, Sign([]byte(r.cfg.HMACSecret.Reveal()), b))
	}
	return notify.Redact(notify.PostJSON(ctx, r.client, r.cfg.URL.Reveal(), b, h, r.now()), r.secrets...)
}

// Sign returns "sha256=" and the hex HMAC-SHA256 of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header value in constant time.
func Verify(secret, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}
