package notifytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// WebhookRequest is one request a Webhook received.
type WebhookRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Webhook is a local server that records every POST and answers 200 (or
// what its fault says). Wait on Received for arrivals.
type Webhook struct {
	faults
	srv *httptest.Server
	// Received gets a value per recorded request (buffered; never blocks).
	Received chan WebhookRequest

	mu   sync.Mutex
	reqs []WebhookRequest
}

// NewWebhook starts a recorder on 127.0.0.1.
func NewWebhook() *Webhook {
	h := &Webhook{Received: make(chan WebhookRequest, 1024)}
	h.srv = newLocalServer(http.HandlerFunc(h.serve))
	return h
}

// URL is the server's base URL.
func (h *Webhook) URL() string { return h.srv.URL }

// Close stops the server.
func (h *Webhook) Close() {
	h.Release()
	h.srv.CloseClientConnections()
	h.srv.Close()
}

func (h *Webhook) serve(w http.ResponseWriter, r *http.Request) {
	h.faults.serve(w, r, h.handle)
}

func (h *Webhook) handle(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	req := WebhookRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: b}
	h.mu.Lock()
	h.reqs = append(h.reqs, req)
	h.mu.Unlock()
	select {
	case h.Received <- req:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// All returns every recorded request.
func (h *Webhook) All() []WebhookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WebhookRequest(nil), h.reqs...)
}
