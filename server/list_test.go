package server

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// listAll follows the instance list's next links from query and returns
// the keys of the instances listed, in order.
func listAll(t *testing.T, snap *Snapshot, query string) (keys []string, pages int) {
	t.Helper()
	byName := map[string]string{} // SLO and labels as the page shows them → key
	for _, sl := range snap.SLOs {
		for _, in := range sl.Instances {
			byName[sl.ID+" "+FormatLabels(in.Labels)] = in.Key
		}
	}
	q := values(t, query)
	for {
		d, err := newListData(snap, q)
		if err != nil {
			t.Fatalf("%s: %v", q.Encode(), err)
		}
		pages++
		for _, v := range d.Instances {
			keys = append(keys, byName[v.SLO+" "+v.Labels])
		}
		if d.Next == "" {
			return keys, pages
		}
		u, err := url.Parse(d.Next)
		if err != nil || u.Path != "instances" {
			t.Fatalf("next link %q", d.Next)
		}
		q = u.Query()
	}
}

func TestStatusInstanceListFilters(t *testing.T) {
	snap := mixedFleet(3000)
	for _, tc := range filterCases {
		t.Run(tc.name, func(t *testing.T) {
			want := wantKeys(snap, tc.want)
			got, _ := listAll(t, snap, tc.query+"&per_page=500")
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("listed %d instances, want %d", len(got), len(want))
			}
		})
	}
}

func TestStatusInstanceListSorts(t *testing.T) {
	snap := mixedFleet(3000)
	x := snap.index()
	for col := range numSortColumns {
		for _, desc := range []bool{false, true} {
			o := order{col: col, desc: desc}
			t.Run(o.String(), func(t *testing.T) {
				refs := snap.selectSorted(filter{}, o)
				if len(refs) != 3000 {
					t.Fatalf("%d instances", len(refs))
				}
				for k := 1; k < len(refs); k++ {
					a, b := refs[k-1], refs[k]
					ia, ib := &snap.SLOs[a.slo].Instances[a.inst], &snap.SLOs[b.slo].Instances[b.inst]
					var c int
					switch col {
					case sortState:
						c = cmp.Compare(x.states[a.slo][a.inst], x.states[b.slo][b.inst])
					case sortName:
						c = strings.Compare(ia.Key, ib.Key)
					case sortSLO:
						c = strings.Compare(snap.SLOs[a.slo].ID, snap.SLOs[b.slo].ID)
					case sortBudget, sortBurn:
						fa, fb := figureOf(ia, col), figureOf(ib, col)
						if !fa.Known() && fb.Known() {
							t.Fatalf("at %d: unknown %s before a known one", k, sortNames[col])
						}
						if fa.Known() && fb.Known() {
							c = cmp.Compare(fa, fb)
						}
					}
					if desc {
						c = -c
					}
					if c > 0 {
						t.Fatalf("at %d: %s before %s", k, ia.Key, ib.Key)
					}
				}
			})
		}
	}
}

func TestStatusInstanceListPagingLinks(t *testing.T) {
	snap := mixedFleet(3000)
	const query = `slo=api-latency&state=ok&labels=method!="GET"&sort=-burn&per_page=100`
	first, err := newListData(snap, values(t, query))
	if err != nil {
		t.Fatal(err)
	}
	if first.Page != 1 || first.First != "" || first.Prev != "" || first.Next == "" {
		t.Fatalf("page 1: page %d first %q prev %q next %q", first.Page, first.First, first.Prev, first.Next)
	}
	next, err := url.Parse(first.Next)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values(t, query) {
		if got := next.Query()[k]; !slices.Equal(got, v) {
			t.Errorf("the next link %q loses %s=%q (has %q)", first.Next, k, v, got)
		}
	}
	if next.Query().Get("page") != "2" {
		t.Errorf("next link %q is not page 2", first.Next)
	}
	last, err := url.Parse(first.Last)
	if err != nil || last.Query().Get("page") != itoa(int64(first.Pages)) {
		t.Errorf("last link %q, want page %d", first.Last, first.Pages)
	}
	if want := (first.Matched + 99) / 100; first.Pages != want {
		t.Errorf("%d pages for %d instances, want %d", first.Pages, first.Matched, want)
	}

	keys, pages := listAll(t, snap, query)
	if pages != first.Pages || len(keys) != first.Matched {
		t.Errorf("following next: %d pages, %d instances; want %d and %d", pages, len(keys), first.Pages, first.Matched)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] || k == "" {
			t.Fatalf("instance %q listed twice or not found", k)
		}
		seen[k] = true
	}

	beyond, err := newListData(snap, values(t, query+"&page=999"))
	if err != nil {
		t.Fatal(err)
	}
	if len(beyond.Instances) != 0 || beyond.Next != "" || !strings.Contains(beyond.Prev, "page="+itoa(int64(first.Pages))) {
		t.Errorf("past the last page: %d instances, next %q, previous %q (want the last page)", len(beyond.Instances), beyond.Next, beyond.Prev)
	}
	huge, err := newListData(snap, values(t, "per_page=100000"))
	if err != nil || huge.PerPage != MaxPerPage || len(huge.Instances) != MaxPerPage {
		t.Errorf("per_page=100000: %v, per page %d, %d listed; want %d", err, huge.PerPage, len(huge.Instances), MaxPerPage)
	}
}

func TestStatusInstanceListPage(t *testing.T) {
	ts, _ := newTestServer(t, mixedFleet(3000))
	code, body := get(t, ts.URL+`/instances?slo=api-latency&sort=budget&per_page=20&page=2`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	for _, want := range []string{
		"api-latency instances", // the title of a per-SLO list
		`<a href="instances?page=3&amp;per_page=20&amp;slo=api-latency&amp;sort=budget">next</a>`,
		`<a href="instances?per_page=20&amp;slo=api-latency&amp;sort=-budget">budget left ▲</a>`, // reverses
		`<a href="instances?per_page=20&amp;slo=api-latency&amp;sort=burn">burn now</a>`,
		`<option selected>api-latency</option>`,
		"matching: 1000 · page 2 of 50",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if n := strings.Count(body, "<tr>"); n != 21 {
		t.Errorf("%d table rows, want a header and 20", n)
	}
}

// The first screen of 100,000 instances with 1,000 page incidents shows
// every incident, one row per SLO and the 50 most threatened instances,
// not the fleet.
func TestStatusFirstScreenOf100kInstancesIsUnder1MB(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 100,000 instances")
	}
	snap := fleet(100_000, 100)
	if len(snap.Incidents) != 1000 {
		t.Fatalf("%d incidents, want 1000", len(snap.Incidents))
	}
	ts, _ := newTestServer(t, snap)
	code, body := get(t, ts.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(body) >= 1<<20 {
		t.Errorf("first screen is %d bytes, want under 1 MiB", len(body))
	}
	for _, want := range []string{"<td>1</td>", "<td>1000</td>", "Instances not ok: the 50 most threatened of 1000",
		`<a href="instances?slo=api-latency&amp;state=page">333</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("first screen lacks %s", want)
		}
	}
	if n := strings.Count(body, `<td><span class="badge ok">`); n != 0 {
		t.Errorf("first screen lists %d ok instances", n)
	}
	t.Logf("first screen: %d bytes", len(body))
}

// A fleet too large to chart every budget: an instance without a chart
// shows none, not "collecting data".
func TestStatusPageWithoutChartsForEveryInstance(t *testing.T) {
	snap := testSnapshot()
	snap.BudgetForIncidentsOnly = true
	d := newPageData(snap)
	for _, v := range d.Instances {
		if v.NoChart != (v.Labels != "" || v.SLO == "shop-new") {
			t.Errorf("%s %s: no chart %v", v.SLO, v.Labels, v.NoChart)
		}
	}
}

func TestStatusAndAPIBadQueriesAre400WithTheReason(t *testing.T) {
	ts, _ := newTestServer(t, mixedFleet(30))
	cases := []struct {
		name, query string
		want        []string
	}{
		{"an unbalanced regexp", `labels=route=~"("`, []string{`labels {route=~"("}`, "missing closing )", `want label matchers such as route=~"/api/.*"`}},
		{"a value without quotes", `labels=route=/x`, []string{`labels {route=/x}`, "parse error"}},
		{"an unterminated list", `labels={route="/x"`, []string{"parse error", "unexpected end of input"}},
		{"an unknown state", `state=paging`, []string{`state "paging": want one of page, ticket, misconfigured, nodata, ok, pending`}},
		{"every bad parameter at once", `state=paging&labels=a=~"["`, []string{`state "paging"`, "missing closing ]"}},
	}
	for _, tc := range cases {
		for _, path := range []string{"/instances?", "/api/v1/slos?", "/api/v1/slos?summary=1&"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				code, body := get(t, ts.URL+path+values(t, tc.query).Encode())
				if code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", code)
				}
				for _, w := range tc.want {
					if !strings.Contains(body, w) {
						t.Errorf("message %q lacks %q", body, w)
					}
				}
			})
		}
	}
	for path, want := range map[string]string{
		"/instances?sort=cost":        `sort "cost": want one of state, budget, burn, name, slo`,
		"/instances?page=0":           `page "0"`,
		"/instances?per_page=x":       `per_page "x"`,
		"/api/v1/slos?limit=-1":       `limit "-1"`,
		"/api/v1/slos?cursor=abc":     `cursor "abc": not a cursor from this API`,
		"/api/v1/slos?summary=please": `summary "please"`,
	} {
		code, body := get(t, ts.URL+path)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want 400 with %q", path, code, body, want)
		}
	}
}
