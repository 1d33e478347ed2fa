package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// decodedSeries is one series as a test compares it: labels and the bits
// of each point (so NaN equals NaN).
type decodedSeries struct {
	Labels map[string]string
	Points [][2]uint64
}

func decodedOf(labels map[string]string, points []model.SamplePair) decodedSeries {
	s := decodedSeries{Labels: map[string]string{}}
	for k, v := range labels {
		s.Labels[k] = v
	}
	for _, p := range points {
		s.Points = append(s.Points, [2]uint64{uint64(p.Timestamp), math.Float64bits(float64(p.Value))})
	}
	return s
}

// decodeBoth decodes body with the streaming decoder and with
// client_golang's, and reports whether the fast path took it.
func decodeBoth(t *testing.T, body []byte) (got, want []decodedSeries, gotErr, wantErr error) {
	t.Helper()
	ctx := context.Background()
	var d matrixDecoder
	_, gotErr = d.decode(ctx, 200, nil, body, func(labels []Label, points []model.SamplePair) error {
		ls := map[string]string{}
		for _, l := range labels {
			ls[string(l.Name)] = string(l.Value)
		}
		got = append(got, decodedOf(ls, points))
		return nil
	})
	mat, _, wantErr := decodeReference(ctx, 200, nil, body)
	for _, s := range mat {
		if s == nil {
			continue
		}
		ls := map[string]string{}
		for k, v := range s.Metric {
			ls[string(k)] = string(v)
		}
		want = append(want, decodedOf(ls, s.Values))
	}
	return got, want, gotErr, wantErr
}

// fastPath reports whether the decoder reads body without client_golang.
func fastPath(body []byte) bool {
	var env envelope
	s := scanner{b: body, d: new(matrixDecoder)}
	return s.envelope(&env, nil) && env.hasData && env.hasResult && string(env.resultType) == "matrix"
}

var decodeCases = []struct {
	name string
	body string
	fast bool // read by the scanner, not client_golang
}{
	{"a matrix as Prometheus writes it", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"route":"/a","code":"500"},"values":[[1700000000,"1.5"],[1700000060,"2"]]},{"metric":{},"values":[]}]}}`, true},
	{"special values and fractional timestamps", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"r":"x"},"values":[[1.5,"NaN"],[2.25,"+Inf"],[3.125,"-Inf"],[4.1239,"1e-3"],[-0.5,"-0"],[0,"0x1p-2"],[12.0,"inf"]]}]}}`, true},
	{"whitespace between tokens and keys in another order", " {\n \"data\" : { \"result\" : [ { \"values\" : [ [ 1 , \"2\" ] ] , \"metric\" : { \"a\" : \"b\" } } ] , \"resultType\" : \"matrix\" } , \"status\" : \"success\" , \"warnings\" : [ \"w\" ] , \"infos\" : [ ] }\n", true},
	{"an empty result", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, true},
	{"escaped label values go to client_golang", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"r":"a\"b\u00e9"},"values":[[1,"2"]]}]}}`, false},
	{"a repeated label goes to client_golang", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"r":"a","r":"b"},"values":[[1,"2"]]}]}}`, false},
	{"histograms go to client_golang", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"r":"a"},"histograms":[[1,{"count":"1","sum":"2","buckets":[[0,"0","1","1"]]}]]}]}}`, false},
	{"an exponent in a timestamp", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1e3,"2"]]}]}}`, false},
	{"a timestamp beyond int64", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[99999999999999999999,"2"]]}]}}`, false},
	{"a value that is no number", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"abc"]]}]}}`, false},
	{"a value that is not a string", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,2]]}]}}`, false},
	{"a point with three elements", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2",3]]}]}}`, false},
	{"a null series", `{"status":"success","data":{"resultType":"matrix","result":[null,{"metric":{},"values":[[1,"2"]]}]}}`, false},
	{"an unknown series key", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]],"x":1}]}}`, false},
	{"a vector", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`, false},
	{"no data", `{"status":"success"}`, false},
	{"null data", `{"status":"success","data":null}`, false},
	{"an error in a 200", `{"status":"error","errorType":"execution","error":"boom","data":{"resultType":"matrix","result":[]}}`, true},
	{"truncated", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]`, false},
	{"trailing garbage", `{"status":"success","data":{"resultType":"matrix","result":[]}}x`, false},
	{"empty", ``, false},
	{"invalid UTF-8 in a label", "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"r\":\"\xff\"},\"values\":[[1,\"2\"]]}]}}", false},
	{"an upper-case key", `{"Status":"success","data":{"resultType":"matrix","result":[]}}`, false},
}

// TestMatrixDecoderAgreesWithClientGolang: on every body the streaming
// decoder yields client_golang's series, or both fail.
func TestMatrixDecoderAgreesWithClientGolang(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := fastPath([]byte(tc.body)); got != tc.fast {
				t.Errorf("fast path %v, want %v", got, tc.fast)
			}
			got, want, gotErr, wantErr := decodeBoth(t, []byte(tc.body))
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error %v, client_golang's %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%v\nclient_golang\n%v", got, want)
			}
			if gotErr != nil {
				var ae *v1.Error
				var ce *callbackError // an answer of another type
				if !errors.As(gotErr, &ae) && !errors.As(gotErr, &ce) {
					t.Errorf("error %v is no *v1.Error", gotErr)
				}
			}
		})
	}
}

func TestParseTimeIsModelTime(t *testing.T) {
	for _, s := range []string{"0", "-0", "1", "-1", "1.5", "1.25", "1.125", "1.1239", "-0.5", "-1.001", "9223372036854775807", "99999999999999999999", "1.", ".5", "", "-", "1.-2", "1.a"} {
		got, gotErr := parseTime([]byte(s))
		var want model.Time
		wantErr := want.UnmarshalJSON([]byte(s))
		if got != want || (gotErr != nil) != (wantErr != nil) {
			t.Errorf("%q: %d, %v; model.Time %d, %v", s, got, gotErr, want, wantErr)
		}
	}
}

// FuzzMatrixDecoder: the streaming decoder never panics, and agrees with
// client_golang on every input (same series, or both fail).
//
//	go test ./source -run '^$' -fuzz FuzzMatrixDecoder -fuzztime 60s
func FuzzMatrixDecoder(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want, gotErr, wantErr := decodeBoth(t, body)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("%q: error %v, client_golang's %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded\n%v\nclient_golang\n%v", body, got, want)
		}
		var ts model.Time
		wantT, wantTErr := ts, ts.UnmarshalJSON(body)
		wantT = ts
		gotT, gotTErr := parseTime(body)
		if (gotTErr != nil) != (wantTErr != nil) || (gotTErr == nil && gotT != wantT) {
			t.Fatalf("%q: time %d, %v; model.Time %d, %v", body, gotT, gotTErr, wantT, wantTErr)
		}
	})
}

// TestQueryRangeStreamIsQueryRange: both methods send the same request
// and return the same series and the same errors, retried or not alike.
func TestQueryRangeStreamIsQueryRange(t *testing.T) {
	good := `{"status":"success","warnings":["w"],"data":{"resultType":"matrix","result":[{"metric":{"route":"/a"},"values":[[1700000000,"1.5"],[1700000060,"NaN"]]}]}}`
	tests := []struct {
		name      string
		code      int
		body      string
		tries     int
		errSub    string
		permanent bool
	}{
		{name: "a matrix is read", code: 200, body: good, tries: 1},
		{name: "a matrix in an unusual shape is read too", code: 200, body: strings.Replace(good, `"/a"`, `"\/a"`, 1), tries: 1},
		{name: "bad_data is not retried", code: 400, body: `{"status":"error","errorType":"bad_data","error":"parse error"}`, tries: 1, errSub: "parse error", permanent: true},
		{name: "an execution error (422) is retried, as QueryRange does", code: 422, body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`, tries: 3, errSub: "too many samples"},
		{name: "a 503 is retried", code: 503, body: `down`, tries: 3, errSub: "server error: 503"},
		{name: "a malformed body is retried like any bad response", code: 200, body: `{"status":"success","data":{"resultType":"matrix","result":[{`, tries: 3, errSub: "bad_response"},
		{name: "a vector is refused at once", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, tries: 1, errSub: "want a matrix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			var forms []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				if r.Header.Get("X-Scope-OrgID") != "team" || r.Header.Get("Authorization") != "Bearer tok" {
					t.Errorf("headers %v", r.Header)
				}
				r.ParseForm()
				forms = append(forms, r.Method+" "+r.URL.Path+" "+r.Form.Encode())
				w.WriteHeader(tc.code)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			p, err := NewPrometheus(PrometheusOptions{URL: srv.URL + "/prefix/", MaxTries: 3, BreakerFailures: 100, BearerToken: "tok", Headers: map[string]string{"X-Scope-OrgID": "team"},
				backoff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			start := time.Unix(1700000000, 0)
			mat, wantErr := p.QueryRange(ctx, "up", start, start.Add(time.Minute), time.Minute)
			if got := int(requests.Swap(0)); got != tc.tries {
				t.Errorf("QueryRange: %d requests, want %d", got, tc.tries)
			}
			var got []decodedSeries
			gotErr := p.QueryRangeStream(ctx, "up", start, start.Add(time.Minute), time.Minute, func(labels []Label, points []model.SamplePair) error {
				ls := map[string]string{}
				for _, l := range labels {
					ls[string(l.Name)] = string(l.Value)
				}
				got = append(got, decodedOf(ls, points))
				return nil
			})
			if got := int(requests.Load()); got != tc.tries {
				t.Errorf("QueryRangeStream: %d requests, want %d", got, tc.tries)
			}
			if forms[0] != forms[len(forms)-1] {
				t.Errorf("requests differ:\n%s\n%s", forms[0], forms[len(forms)-1])
			}
			if !strings.HasPrefix(forms[0], "POST /prefix/api/v1/query_range ") {
				t.Errorf("request %s", forms[0])
			}
			if tc.errSub == "" {
				if wantErr != nil || gotErr != nil {
					t.Fatalf("errors %v, %v", gotErr, wantErr)
				}
				var want []decodedSeries
				for _, s := range mat {
					ls := map[string]string{}
					for k, v := range s.Metric {
						ls[string(k)] = string(v)
					}
					want = append(want, decodedOf(ls, s.Values))
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("streamed %v, QueryRange %v", got, want)
				}
				return
			}
			for _, err := range []error{wantErr, gotErr} {
				if err == nil || !strings.Contains(err.Error(), tc.errSub) {
					t.Errorf("error %v, want %q", err, tc.errSub)
				}
				if err != nil && isPermanent(err) != tc.permanent {
					t.Errorf("%v: permanent %v, want %v", err, !tc.permanent, tc.permanent)
				}
			}
			var ae *v1.Error
			if errors.As(wantErr, &ae) && gotErr.Error() != wantErr.Error() {
				t.Errorf("errors differ:\n%v\n%v", gotErr, wantErr)
			}
		})
	}
}

// TestQueryRangeStreamFunctionErrorIsNotRetried: an error of the caller's
// function ends the query at once and does not count against the server.
func TestQueryRangeStreamFunctionErrorIsNotRetried(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"2"]]}]}}`)
	}))
	defer srv.Close()
	p, err := NewPrometheus(PrometheusOptions{URL: srv.URL, BreakerFailures: 1, backoff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	err = p.QueryRangeStream(context.Background(), "up", time.Unix(0, 0), time.Unix(60, 0), time.Minute, func([]Label, []model.SamplePair) error { return stop })
	if !errors.Is(err, stop) || requests.Load() != 1 {
		t.Fatalf("err %v after %d requests, want stop after 1", err, requests.Load())
	}
	if _, err := p.QueryRange(context.Background(), "up", time.Unix(0, 0), time.Unix(60, 0), time.Minute); err != nil {
		t.Fatalf("breaker opened: %v", err)
	}
}

// streamEmbedded streams the embedded engine's answers through the
// Prometheus JSON encoding and the streaming decoder.
type streamEmbedded struct{ *Embedded }

func (s streamEmbedded) QueryRangeStream(ctx context.Context, q string, start, end time.Time, step time.Duration, fn SeriesFunc) error {
	mat, err := s.QueryRange(ctx, q, start, end, step)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
	for i, ss := range mat {
		if i > 0 {
			b.WriteByte(',')
		}
		js, err := ss.MarshalJSON()
		if err != nil {
			return err
		}
		b.Write(js)
	}
	b.WriteString(`]}}`)
	if !fastPath([]byte(b.String())) {
		return fmt.Errorf("not read by the fast path: %s", b.String())
	}
	var d matrixDecoder
	_, err = d.decode(ctx, 200, nil, []byte(b.String()), fn)
	return err
}

// TestReaderStreamsAndCaches: a read through a StreamQuerier, and reads
// that keep a SeriesCache, return what a plain read returns; a series a
// read no longer returns leaves the cache.
func TestReaderStreamsAndCaches(t *testing.T) {
	e := NewEmbedded()
	series := `http_requests_total{route="/a",code="200"} 0+15x1200
http_requests_total{route="/a",code="500"} 0+1x1200
http_requests_total{route="/b",code="200"} 0+30x600
http_requests_total{route="/b",code="500"} 0+0x600
`
	if err := e.LoadSeries(fixtureStart, 15*time.Second, series); err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(30*24*time.Hour, "route")
	plain := &Reader{Querier: e, Spec: spec, Step: time.Minute}
	var cache SeriesCache
	cached := &Reader{Querier: streamEmbedded{e}, Spec: spec, Step: time.Minute, Cache: &cache}
	ctx := context.Background()
	for _, at := range []time.Duration{60, 61, 62, 200, 250} {
		to := fixtureStart.Add(at * time.Minute)
		from := to.Add(-3 * time.Minute)
		want, _, err := plain.Read(ctx, from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := cached.Read(ctx, from, to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("at %s: cached stream read\n%+v\nplain read\n%+v", at*time.Minute, got, want)
		}
		wantN := 2
		if at >= 200 {
			wantN = 1 // /b's total ended at 150m: gone from the answer
		}
		if len(cache.byHash)+len(cache.collided) != len(want.Series) || len(want.Series) != wantN {
			t.Errorf("at %s: %d series cached, %d read, want %d", at*time.Minute, len(cache.byHash)+len(cache.collided), len(want.Series), wantN)
		}
	}
}
