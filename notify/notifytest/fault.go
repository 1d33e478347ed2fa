// Package notifytest provides local HTTP servers that speak the PagerDuty
// Events API v2 and the Opsgenie Alert API v2 with their dedup semantics,
// plus a capturing webhook, for tests of slod and of anything that pages
// through it. Every server listens on 127.0.0.1 only.
package notifytest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Fault is what a server does with one request instead of (or before)
// serving it. The zero Fault serves normally.
type Fault struct {
	// Status, when non-zero, answers with this status and Body.
	Status     int
	RetryAfter time.Duration
	Body       string
	// Hang holds the request until the client gives up (it is then never
	// served) or Release is called (it is then served normally).
	Hang bool
	// Drop closes the connection without an answer.
	Drop bool
	// HangAfter serves the request (the server's state changes) but holds
	// the answer until the client gives up or Release is called: the
	// receiver got the page, the sender never learns it.
	HangAfter bool
	// Served, when set, is called once a HangAfter request has been served.
	Served func()
}

// FaultFunc picks a fault for the n-th request (from 1).
type FaultFunc func(r *http.Request, n int) Fault

// faults is embedded by every server.
type faults struct {
	mu      sync.Mutex
	fn      FaultFunc
	n       int
	release chan struct{}
}

// SetFault installs fn (nil serves everything normally).
func (f *faults) SetFault(fn FaultFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
}

// Release lets every hanging request go (they are then served normally).
func (f *faults) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release != nil {
		close(f.release)
	}
	f.release = make(chan struct{})
}

// serve runs the fault for r, then (unless the fault answered) next.
func (f *faults) serve(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	ft, answered := f.apply(w, r)
	if answered {
		return
	}
	if !ft.HangAfter {
		next(w, r)
		return
	}
	rec := httptest.NewRecorder()
	next(rec, r)
	if ft.Served != nil {
		ft.Served()
	}
	f.mu.Lock()
	release := f.release
	f.mu.Unlock()
	select {
	case <-r.Context().Done():
		return
	case <-release:
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// apply runs the fault for r; it returns the fault and whether the request
// was answered.
func (f *faults) apply(w http.ResponseWriter, r *http.Request) (Fault, bool) {
	f.mu.Lock()
	f.n++
	n, fn := f.n, f.fn
	if f.release == nil {
		f.release = make(chan struct{})
	}
	release := f.release
	f.mu.Unlock()
	if fn == nil {
		return Fault{}, false
	}
	ft := fn(r, n)
	switch {
	case ft.Hang:
		// Read the body first: only then does net/http watch the
		// connection and cancel the request when the client gives up,
		// so a request abandoned by its client is never served later.
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		select {
		case <-r.Context().Done():
			return ft, true
		case <-release:
			return Fault{}, false
		}
	case ft.Drop:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return ft, true
			}
		}
		panic(http.ErrAbortHandler)
	case ft.Status != 0:
		if ft.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((ft.RetryAfter+time.Second-1)/time.Second)))
		}
		if ft.Body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(ft.Status)
		_, _ = w.Write([]byte(ft.Body))
		return ft, true
	}
	return ft, false
}

// Requests returns how many requests the server has seen.
func (f *faults) Requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}
