package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configures a Server.
type Options struct {
	// Snapshot returns the newest snapshot; required. It must be cheap and
	// safe to call from many goroutines (the daemon swaps a pointer).
	Snapshot func() *Snapshot
	// Gatherer serves /metrics; required (slod never uses the default registry).
	Gatherer prometheus.Gatherer
	// Exposition, when set, writes more metric families to /metrics after
	// the Gatherer's, in the Prometheus text format (version 0.0.4), at
	// every scrape, from the snapshot the request holds (never nil). Its
	// families must not be the Gatherer's.
	Exposition func(io.Writer, *Snapshot) error
	Logger     *slog.Logger
	// Report, when set, serves /api/v1/reports (report.go).
	Report ReportFunc
}

// Server is slod's HTTP interface.
type Server struct {
	opts Options
	mux  *http.ServeMux
}

// New returns a server; it returns an error when a required option is missing.
func New(opts Options) (*Server, error) {
	if opts.Snapshot == nil {
		return nil, errors.New("server: no snapshot function")
	}
	if opts.Gatherer == nil {
		return nil, errors.New("server: no metrics gatherer")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /metrics", s.metrics)
	// Go's profiles, as Prometheus and Alertmanager serve them: what an
	// operator (or a scale run) needs to see where a slow tick goes.
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /api/v1/slos", s.slos)
	s.mux.HandleFunc("GET /api/v1/incidents", s.incidents)
	s.mux.HandleFunc("GET /api/v1/reports", s.reports)
	s.mux.HandleFunc("GET /{$}", s.statusPage)
	s.mux.HandleFunc("GET /instances", s.instanceList)
	s.mux.HandleFunc("GET /slo", s.sloPage)
	return s, nil
}

// ServeHTTP makes Server an http.Handler. A request reads the snapshot
// that was newest when it came in, held (Acquire) until it is answered.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := Acquire(s.opts.Snapshot)
	defer snap.Release()
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), snapshotKey{}, snap)))
}

// snapshotKey holds a request's snapshot in its context.
type snapshotKey struct{}

// healthz answers 200 while the process serves: liveness, not readiness.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 once state is restored and the gap backfilled, 503 before.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	snap, _ := r.Context().Value(snapshotKey{}).(*Snapshot)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if snap == nil || !snap.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		reason := "starting"
		if snap != nil && snap.Reason != "" {
			reason = snap.Reason
		}
		_, _ = w.Write([]byte("not ready: " + reason + "\n"))
		if snap != nil {
			for _, b := range snap.Banners {
				_, _ = w.Write([]byte("warning: " + b + "\n"))
			}
		}
		return
	}
	_, _ = w.Write([]byte("ready\n"))
	for _, b := range snap.Banners {
		_, _ = w.Write([]byte("warning: " + b + "\n"))
	}
}

func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, NewIncidentsResponse(s.snapshot(r)))
}

// snapshot is the request's snapshot (ServeHTTP), or a placeholder
// before the first.
func (s *Server) snapshot(r *http.Request) *Snapshot {
	if snap, _ := r.Context().Value(snapshotKey{}).(*Snapshot); snap != nil {
		return snap
	}
	return &Snapshot{Reason: "starting"}
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		s.opts.Logger.Error("encode api response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(body, '\n'))
}
