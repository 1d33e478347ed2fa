package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/slodhq/slod/report"
)

// ReportFunc builds the budget report of a period (report.ParsePeriod's
// syntax) in an IANA timezone. It returns an error wrapping
// ErrBadReportRequest for a period or timezone it cannot read.
type ReportFunc func(ctx context.Context, period, timezone string) (*report.Report, error)

// ErrBadReportRequest marks a report request that is the caller's mistake.
var ErrBadReportRequest = errors.New("bad report request")

// reportTimeout bounds how long /api/v1/reports waits for the daemon to
// build a report between ticks.
const reportTimeout = 30 * time.Second

// reports serves GET /api/v1/reports?period=2026-11[&timezone=Europe/Berlin][&format=json|csv|markdown|text].
func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	if s.opts.Report == nil {
		http.Error(w, "reports are not available from this server", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	period, tz, format := q.Get("period"), q.Get("timezone"), q.Get("format")
	if period == "" {
		http.Error(w, "period is required: a month such as 2026-11 or a quarter such as 2026-Q4", http.StatusBadRequest)
		return
	}
	if tz == "" {
		tz = "UTC"
	}
	if format == "" {
		format = "json"
	}
	known := false
	for _, f := range report.Formats {
		known = known || f == format
	}
	if !known {
		http.Error(w, "format must be json, csv, markdown or text", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), reportTimeout, errors.New("the daemon did not build the report in time"))
	defer cancel()
	rep, err := s.opts.Report(ctx, period, tz)
	switch {
	case errors.Is(err, ErrBadReportRequest):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	switch format {
	case "json":
		w.Header().Set("Content-Type", "application/json")
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	if err := report.Write(w, rep, format); err != nil {
		s.opts.Logger.Warn("writing a report failed", "err", err)
	}
}
