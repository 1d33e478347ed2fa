package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// walkAPI follows next_cursor from query with page size limit and returns
// every instance key returned, in order, and the pages read.
func walkAPI(t *testing.T, base string, p *atomic.Pointer[Snapshot], query string, limit int, between func(page int)) (keys []string, pages int) {
	t.Helper()
	q := values(t, query)
	q.Set("limit", itoa(int64(limit)))
	for {
		code, body := get(t, base+"/api/v1/slos?"+q.Encode())
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		r := decodeSLOs(t, body)
		pages++
		n := 0
		for i, sl := range r.SLOs {
			if i > 0 && r.SLOs[i-1].ID >= sl.ID {
				t.Fatalf("page %d: SLO %s after %s", pages, sl.ID, r.SLOs[i-1].ID)
			}
			if len(sl.Instances) == 0 {
				// An SLO without instances takes one place of the page.
				keys = append(keys, sl.ID)
				n++
			}
			for _, in := range sl.Instances {
				if !strings.HasPrefix(in.Key, sl.ID) {
					t.Fatalf("instance %s under SLO %s", in.Key, sl.ID)
				}
				keys = append(keys, in.Key)
				n++
			}
		}
		if n > limit {
			t.Fatalf("page %d has %d instances, limit %d", pages, n, limit)
		}
		if r.NextCursor == "" {
			return keys, pages
		}
		if n != limit {
			t.Fatalf("page %d has %d instances and a next cursor, want a full page of %d", pages, n, limit)
		}
		q.Set("cursor", r.NextCursor)
		if between != nil {
			between(pages)
		}
	}
}

// shuffledFleet is mixedFleet with its SLOs out of ID order, the instances
// of one of them out of key order, and an SLO without instances: the
// cursor's order must not depend on the daemon's.
func shuffledFleet(n int) *Snapshot {
	snap := mixedFleet(n)
	slices.Reverse(snap.SLOs)
	slices.Reverse(snap.SLOs[0].Instances)
	snap.SLOs = append(snap.SLOs, SLO{ID: "aaa-empty", Service: "none"})
	return snap
}

func TestSLOsAPICursorWalkReturnsEveryInstanceOnce(t *testing.T) {
	snap := shuffledFleet(2500)
	ts, p := newTestServer(t, snap)
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			want := wantKeys(snap, tc.want)
			for _, limit := range []int{1, 61, 1000, 10000} {
				if limit == 1 && len(want) > 300 {
					continue // a page per instance: slow, and 61 shows the same
				}
				got, pages := walkAPI(t, ts.URL, p, tc.query, limit, nil)
				if i := slices.Index(got, "aaa-empty"); i >= 0 {
					// An unfiltered walk lists the SLO without instances, once.
					got = slices.Delete(got, i, i+1)
				} else if tc.query == "" {
					t.Errorf("limit %d: the SLO without instances is missing", limit)
				}
				if len(got) != len(want) || !slices.IsSorted(keysBySLO(got)) {
					t.Errorf("limit %d: %d instances in %d pages, want %d", limit, len(got), pages, len(want))
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: the walk returns other instances than the filter selects", limit)
				}
			}
		})
	}
}

// keysBySLO turns keys into the walk's order: SLO ID, then key; keys begin
// with their SLO's ID, which holds no "{".
func keysBySLO(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		id, _, _ := strings.Cut(k, "{")
		out[i] = id + "\x00" + k
	}
	return out
}

// A walk that spans a new snapshot returns every instance that is in both
// exactly once: the cursor names the last instance, not a position.
func TestSLOsAPICursorSurvivesANewSnapshot(t *testing.T) {
	before := mixedFleet(600)
	after := mixedFleet(600)
	// The new snapshot lost every 5th instance of each SLO and gained one
	// sorting first in each: positions shift, keys stay.
	var added []string
	for i := range after.SLOs {
		sl := &after.SLOs[i]
		sl.Instances = slices.DeleteFunc(sl.Instances, func(in Instance) bool { return strings.HasSuffix(in.Labels["route"], "5") })
		in := Instance{Key: sl.ID + `{a="new"}`, Labels: map[string]string{"a": "new"}}
		sl.Instances = slices.Insert(sl.Instances, 0, in)
		added = append(added, in.Key)
	}
	ts, p := newTestServer(t, before)
	got, _ := walkAPI(t, ts.URL, p, "", 50, func(page int) {
		if page == 5 {
			p.Store(after)
		}
	})
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
	}
	for _, sl := range after.SLOs {
		for _, in := range sl.Instances {
			if seen[in.Key] != 1 && !slices.Contains(added, in.Key) {
				t.Errorf("%s, in both snapshots, returned %d times", in.Key, seen[in.Key])
			}
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s returned %d times", k, n)
		}
	}
}

// The streamed page holds what NewSLOsResponse builds whole.
func TestSLOsAPIStreamsTheWholeResponse(t *testing.T) {
	snap := mixedFleet(900)
	ts, _ := newTestServer(t, snap)
	code, body := get(t, ts.URL+"/api/v1/slos?limit=10000")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	got := decodeSLOs(t, body)
	whole, err := json.Marshal(NewSLOsResponse(snap))
	if err != nil {
		t.Fatal(err)
	}
	// Compared as JSON: unknown figures decode as NaN, never equal to itself.
	if a, b := mustJSON(t, got), mustJSON(t, decodeSLOs(t, string(whole))); a != b {
		t.Errorf("streamed response differs from NewSLOsResponse:\n%.500s\n%.500s", a, b)
	}
	if got.NextCursor != "" || len(got.SLOs) != 3 || len(got.SLOs[0].Instances) != 300 {
		t.Errorf("next cursor %q, %d SLOs", got.NextCursor, len(got.SLOs))
	}
	if c := got.SLOs[2].Counts; c != snap.Counts(2) || c.Misconfigured == 0 || c.Page == 0 {
		t.Errorf("shop-checkout counts %+v", c)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSLOsAPILimit(t *testing.T) {
	ts, _ := newTestServer(t, mixedFleet(12000))
	for query, want := range map[string]int{"": DefaultLimit, "limit=20000": MaxLimit, "limit=5": 5} {
		_, body := get(t, ts.URL+"/api/v1/slos?"+query)
		r := decodeSLOs(t, body)
		n := 0
		for _, sl := range r.SLOs {
			n += len(sl.Instances)
		}
		if n != want || r.NextCursor == "" {
			t.Errorf("%q: %d instances, next cursor %q; want %d and a cursor", query, n, r.NextCursor, want)
		}
	}
}

func TestSLOsAPISummaryCountsWithoutInstances(t *testing.T) {
	snap := mixedFleet(3000)
	ts, _ := newTestServer(t, snap)
	_, body := get(t, ts.URL+"/api/v1/slos?summary=1")
	r := decodeSLOs(t, body)
	if len(r.SLOs) != 3 || strings.Contains(body, `"instances"`) {
		t.Fatalf("summary: %d SLOs, instances listed: %v", len(r.SLOs), strings.Contains(body, `"instances"`))
	}
	for i, sl := range r.SLOs {
		if sl.Counts != snap.Counts(i) || sl.Matching != nil || sl.Counts.Total() != 1000 {
			t.Errorf("%s: counts %+v matching %v, want %+v", sl.ID, sl.Counts, sl.Matching, snap.Counts(i))
		}
	}

	q := url.Values{"summary": {"1"}, "service": {"api"}, "state": {"page"}, "labels": {`method="GET"`}}
	_, body = get(t, ts.URL+"/api/v1/slos?"+q.Encode())
	r = decodeSLOs(t, body)
	if len(r.SLOs) != 2 || r.SLOs[0].ID != "api-availability" || r.SLOs[1].ID != "api-latency" {
		t.Fatalf("service=api: %+v", r.SLOs)
	}
	want := wantKeys(snap, func(sl *SLO, in *Instance, st string) bool {
		return sl.ID == "api-latency" && st == "page" && in.Labels["method"] == "GET"
	})
	if m := r.SLOs[1].Matching; m == nil || m.Page != len(want) || m.Total() != len(want) || len(want) == 0 {
		t.Errorf("api-latency matching %+v, want %d paging", m, len(want))
	}
}
