// Package logrecv "delivers" pages by writing one JSON line each to a
// writer (standard output in the daemon). It is the demo's receiver.
package logrecv

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/slodhq/slod/notify"
)

// Line is one written record.
type Line struct {
	Time     time.Time   `json:"time"`
	Receiver string      `json:"receiver"`
	Page     notify.Page `json:"page"`
}

// Receiver writes pages to w.
type Receiver struct {
	name string
	now  func() time.Time
	mu   sync.Mutex
	enc  *json.Encoder
}

// New returns a receiver named name writing to w.
func New(name string, w io.Writer, now func() time.Time) *Receiver {
	if now == nil {
		now = time.Now
	}
	return &Receiver{name: name, now: now, enc: json.NewEncoder(w)}
}

// Send writes p as one JSON line.
func (r *Receiver) Send(_ context.Context, p notify.Page) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.enc.Encode(Line{Time: r.now().UTC(), Receiver: r.name, Page: p})
}
