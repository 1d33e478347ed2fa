package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Label is one label of a series handed to a SeriesFunc. Its bytes are
// valid only during the call.
type Label struct {
	Name, Value []byte
}

// SeriesFunc receives one series of a range query's answer. labels and
// points are valid only during the call: the decoder reuses them.
type SeriesFunc func(labels []Label, points []model.SamplePair) error

// StreamQuerier is a Querier that hands a range query's series to a
// function one by one instead of building a model.Matrix, so that reading
// a large group_by SLO does not allocate per series. The Reader uses it
// when its Querier has it.
type StreamQuerier interface {
	QueryRangeStream(ctx context.Context, query string, start, end time.Time, step time.Duration, fn SeriesFunc) error
}

// matrixDecoder decodes query_range answers. Prometheus writes them in
// one shape (exact keys, no escapes in label values, plain numbers): the
// decoder reads that shape with a small scanner into reused buffers. A
// body in any other shape — or a malformed one — goes to client_golang's
// own decoding (decodeReference), so both agree on every input. A decoder
// is used by one query at a time.
type matrixDecoder struct {
	labels []Label
	points []model.SamplePair
}

// envelope is what the first pass over a body in the common shape found.
type envelope struct {
	status, errorType, errMsg []byte
	warnings                  []string
	resultType                []byte
	hasData, hasResult        bool
}

// decode decodes a 2xx query_range body and calls fn for each series. It
// returns the answer's warnings. A body in the common shape is read twice,
// first only to check it, so that fn is never called for a body that the
// reference decoding would treat differently.
func (d *matrixDecoder) decode(ctx context.Context, code int, header http.Header, body []byte, fn SeriesFunc) ([]string, error) {
	var env envelope
	s := scanner{b: body, d: d}
	if code/100 == 2 && s.envelope(&env, nil) && env.hasData && env.hasResult && string(env.resultType) == "matrix" {
		if string(env.status) == "error" {
			return env.warnings, &v1.Error{Type: v1.ErrorType(env.errorType), Msg: string(env.errMsg)}
		}
		s = scanner{b: body, d: d, emit: true}
		if !s.envelope(&envelope{}, fn) {
			if s.err != nil {
				return env.warnings, s.err
			}
			return env.warnings, errors.New("query_range answer changed between passes") // cannot happen
		}
		return env.warnings, nil
	}
	mat, warnings, err := decodeReference(ctx, code, header, body)
	if err != nil {
		return warnings, err
	}
	for _, ss := range mat {
		if ss == nil {
			continue
		}
		d.labels = d.labels[:0]
		for k, v := range ss.Metric {
			d.labels = append(d.labels, Label{Name: []byte(k), Value: []byte(v)})
		}
		if err := fn(d.labels, ss.Values); err != nil {
			return warnings, err
		}
	}
	return warnings, nil
}

// replay answers every request with one recorded response.
type replay struct {
	code   int
	header http.Header
	body   []byte
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return &http.Response{
		StatusCode: r.code, Status: fmt.Sprintf("%d %s", r.code, http.StatusText(r.code)),
		Header: r.header.Clone(), Body: io.NopCloser(bytes.NewReader(r.body)),
		ContentLength: int64(len(r.body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// decodeReference decodes a response exactly as client_golang's v1 API
// does (it is client_golang, fed the recorded response): the errors it
// returns are the same *v1.Error values, with the same types.
func decodeReference(ctx context.Context, code int, header http.Header, body []byte) (model.Matrix, []string, error) {
	if header == nil {
		header = http.Header{}
	}
	c, err := api.NewClient(api.Config{Address: "http://replay.invalid", RoundTripper: &replay{code: code, header: header, body: body}})
	if err != nil {
		return nil, nil, err
	}
	v, warnings, _, err := v1.NewAPI(c).QueryRange(ctx, "", v1.Range{Start: time.Unix(0, 0), End: time.Unix(0, 0), Step: time.Second})
	if err != nil {
		return nil, warnings, err
	}
	mat, ok := v.(model.Matrix)
	if !ok {
		if v == nil {
			return nil, warnings, &v1.Error{Type: v1.ErrBadResponse, Msg: "answer has no data"}
		}
		// The query succeeded; asking again returns the same.
		return nil, warnings, &callbackError{fmt.Errorf("got a %s, want a matrix", v.Type())}
	}
	return mat, warnings, nil
}

// scanner reads a query_range body in the shape Prometheus writes. Each
// method returns false when the input leaves that shape (or is
// malformed); err is set only when fn failed.
type scanner struct {
	b []byte
	i int
	d *matrixDecoder
	// emit is set on the second pass: the first only checks the shape.
	emit bool
	err  error
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next consumes c, after whitespace.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid
// UTF-8: a string both decoders read as the same bytes.
func (s *scanner) str() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			v := s.b[start:s.i]
			s.i++
			return v, utf8.Valid(v)
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// number reads a JSON number without an exponent.
func (s *scanner) number() ([]byte, bool) {
	s.ws()
	b, start := s.b, s.i
	digits := func() int {
		n := 0
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	if s.i < len(b) && b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return nil, false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		return nil, false
	}
	return b[start:s.i], true
}

// strings reads an array of strings.
func (s *scanner) strings(keep bool) ([]string, bool) {
	if !s.next('[') {
		return nil, false
	}
	var out []string
	if s.next(']') {
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		if keep {
			out = append(out, string(v))
		}
		if s.next(']') {
			return out, true
		}
		if !s.next(',') {
			return nil, false
		}
	}
}

// object reads an object's keys, calling field for each; a key repeated
// leaves the shape (the reference decoders merge or overwrite).
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		k, ok := s.str()
		if !ok || !s.next(':') || !field(k) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// envelope reads {"status":..., "data":{"resultType":..., "result":[...]},
// "warnings":[...], ...} and nothing after it but whitespace.
func (s *scanner) envelope(env *envelope, fn SeriesFunc) bool {
	var seen uint8
	once := func(bit uint8) bool {
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}
	ok := s.object(func(k []byte) bool {
		var ok bool
		switch string(k) {
		case "status":
			env.status, ok = s.str()
			return ok && once(1)
		case "errorType":
			env.errorType, ok = s.str()
			return ok && once(2)
		case "error":
			env.errMsg, ok = s.str()
			return ok && once(4)
		case "warnings":
			env.warnings, ok = s.strings(!s.emit)
			return ok && once(8)
		case "infos":
			_, ok = s.strings(false)
			return ok && once(16)
		case "data":
			env.hasData = true
			return once(32) && s.data(env, fn)
		}
		return false
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

func (s *scanner) data(env *envelope, fn SeriesFunc) bool {
	var seen uint8
	return s.object(func(k []byte) bool {
		switch string(k) {
		case "resultType":
			var ok bool
			env.resultType, ok = s.str()
			ok = ok && seen&1 == 0
			seen |= 1
			return ok
		case "result":
			env.hasResult = true
			ok := seen&2 == 0 && s.result(fn)
			seen |= 2
			return ok
		}
		return false
	})
}

func (s *scanner) result(fn SeriesFunc) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !s.series(fn) {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// series reads {"metric":{...},"values":[[t,"v"],...]} and hands it to fn
// (on the second pass).
func (s *scanner) series(fn SeriesFunc) bool {
	labels, points := s.d.labels[:0], s.d.points[:0]
	var seen uint8
	ok := s.object(func(k []byte) bool {
		switch string(k) {
		case "metric":
			if seen&1 != 0 {
				return false
			}
			seen |= 1
			return s.object(func(name []byte) bool {
				if len(name) == 0 {
					return false
				}
				v, ok := s.str()
				if !ok {
					return false
				}
				for _, l := range labels {
					if bytes.Equal(l.Name, name) {
						return false // a repeated label: the reference keeps the last
					}
				}
				labels = append(labels, Label{Name: name, Value: v})
				return true
			})
		case "values":
			if seen&2 != 0 {
				return false
			}
			seen |= 2
			return s.values(&points)
		}
		return false
	})
	if !ok {
		return false
	}
	s.d.labels, s.d.points = labels, points
	if s.emit {
		if err := fn(labels, points); err != nil {
			s.err = err
			return false
		}
	}
	return true
}

func (s *scanner) values(points *[]model.SamplePair) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !s.next('[') {
			return false
		}
		num, ok := s.number()
		if !ok || !s.next(',') {
			return false
		}
		t, err := parseTime(num)
		if err != nil {
			return false
		}
		v, ok := s.str()
		if !ok || !s.next(']') {
			return false
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64)
		if err != nil {
			return false
		}
		if s.emit {
			*points = append(*points, model.SamplePair{Timestamp: t, Value: model.SampleValue(f)})
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// parseTime is model.Time's UnmarshalJSON over a JSON number's bytes,
// without copying them: seconds with up to three decimals (more are cut,
// not rounded).
func parseTime(b []byte) (model.Time, error) {
	// strconv copies the string into any error it returns, so b need not
	// outlive the call.
	base, frac, found := strings.Cut(unsafe.String(unsafe.SliceData(b), len(b)), ".")
	v, err := strconv.ParseInt(base, 10, 64)
	if err != nil {
		return 0, err
	}
	if !found {
		return model.Time(v * 1000), nil
	}
	prec := 3 - len(frac)
	if prec < 0 {
		frac = frac[:3]
	}
	va, err := strconv.ParseInt(frac, 10, 32)
	if err != nil {
		return 0, err
	}
	switch prec {
	case 1:
		va *= 10
	case 2:
		va *= 100
	}
	if len(base) > 0 && base[0] == '-' {
		va = -va
	}
	return model.Time(v*1000 + va), nil
}
