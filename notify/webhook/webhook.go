// Package webhook posts pages as JSON to any URL, optionally signed with
// HMAC-SHA256.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
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
	cfg    notify.WebhookConfig
	client *http.Client
	now    func() time.Time
}

// New returns a receiver for cfg.
func New(cfg notify.WebhookConfig, httpClient *http.Client, now func() time.Time) *Receiver {
	if cfg.SignatureHeader == "" {
		cfg.SignatureHeader = notify.DefaultSignatureHeader
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	return &Receiver{cfg: cfg, client: httpClient, now: now}
}

// Send posts p; with a secret, the body's signature goes in the signature
// header as "sha256=<hex HMAC-SHA256 of the body>".
func (r *Receiver) Send(ctx context.Context, p notify.Page) error {
	b, err := json.Marshal(Body{Version: Version, Page: p})
	if err != nil {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: err}
	}
	h := http.Header{}
	for k, v := range r.cfg.Headers {
		h.Set(k, v)
	}
	if r.cfg.HMACSecret.IsSet() {
		h.Set(r.cfg.SignatureHeader, Sign([]byte(r.cfg.HMACSecret.Reveal()), b))
	}
	return notify.Redact(notify.PostJSON(ctx, r.client, r.cfg.URL, b, h, r.now()), r.cfg.HMACSecret)
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
