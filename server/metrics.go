package server

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// textFormat is the Prometheus text exposition format, version 0.0.4:
// what every Prometheus, and every agent that scrapes like it, reads.
var textFormat = string(expfmt.NewFormat(expfmt.TypeTextPlain))

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// metrics serves /metrics: the Gatherer's families, then what
// Options.Exposition writes from the request's snapshot, in the text
// format, gzipped when the scraper accepts it (Prometheus does): what
// promhttp.HandlerFor answers a text scrape, with a second source written
// straight into the response, so the per-instance gauges of a fleet are
// one line each, not a client_golang metric each.
//
// A Gatherer error is an HTTP 500, as promhttp's HTTPErrorOnError makes
// it. An error while writing aborts the connection: the text format has
// no end marker, so an answer ended cleanly after part of it would read
// as a whole scrape with series missing, where an aborted one is a
// failed scrape (up = 0).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	mfs, err := s.opts.Gatherer.Gather()
	if err != nil {
		s.opts.Logger.Error("error gathering metrics", "err", err)
		http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", textFormat)
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	var gz *gzip.Writer
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		gz = gzipWriters.Get().(*gzip.Writer)
		gz.Reset(w)
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	err = s.writeMetrics(bw, mfs, s.snapshot(r))
	if err == nil {
		err = bw.Flush()
	}
	if gz != nil {
		if err == nil {
			err = gz.Close()
		}
		gz.Reset(nil)
		gzipWriters.Put(gz)
	}
	if err != nil {
		s.opts.Logger.Warn("metrics answer aborted", "err", err)
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) writeMetrics(w io.Writer, mfs []*dto.MetricFamily, snap *Snapshot) error {
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return fmt.Errorf("family %s: %w", mf.GetName(), err)
		}
	}
	if s.opts.Exposition == nil {
		return nil
	}
	return s.opts.Exposition(w, snap)
}

// acceptsGzip reports whether an Accept-Encoding header names gzip with a
// non-zero quality.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}
