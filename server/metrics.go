package server

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
)

// textFormat is the Prometheus text exposition format, version 0.0.4:
// what every Prometheus, and every agent that scrapes like it, reads.
var textFormat = string(expfmt.NewFormat(expfmt.TypeTextPlain))

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// metrics serves /metrics: the Gatherer's families, then what
// Options.Exposition writes, in the text format, gzipped when the scraper
// accepts it (Prometheus does): what promhttp.HandlerFor answers a text
// scrape, with a second source written straight into the response, so
// the per-instance gauges of a fleet are one line each, not a
// client_golang metric each.
//
// A Gatherer error is an HTTP 500, as promhttp's HTTPErrorOnError makes
// it: a scrape that fails is seen, a partial one might not be. An error
// of the exposition, once lines are written, can only cut the response
// short, which the scraper reads as a failed scrape too.
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
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		gz := gzipWriters.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			gz.Close()
			gz.Reset(nil)
			gzipWriters.Put(gz)
		}()
		out = gz
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			s.opts.Logger.Error("error writing metrics", "family", mf.GetName(), "err", err)
			return
		}
	}
	if s.opts.Exposition != nil {
		if err := s.opts.Exposition(bw); err != nil {
			s.opts.Logger.Error("error writing metrics", "err", err)
			return
		}
	}
	if err := bw.Flush(); err != nil {
		s.opts.Logger.Debug("metrics response cut short", "err", err)
	}
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
