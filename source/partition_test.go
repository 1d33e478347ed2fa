package source

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
)

// anchored compiles a matcher's regex as Prometheus does (fully anchored).
func anchored(t *testing.T, re string) *regexp.Regexp {
	t.Helper()
	return regexp.MustCompile("^(?:" + re + ")$")
}

// TestPartitionIsExact: for random and awkward label values, exactly one
// shard's regex matches each value, and it is the shard Owns names.
func TestPartitionIsExact(t *testing.T) {
	values := []string{"", "a", "/", "}", "é", "/a", "ab", "/api/v1/users/{id}", "日本語", "a\nb", "x\n", "\n",
		"\x00", "a\x7f", "\x7fé", "é\x7f", "-", "]", "\\", "^", "a-b", `"quoted"`}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("abcxyz/{}-_.0123456789é日\n\\]^[\x00\x7f")
	for range 3000 {
		n := rng.IntN(6)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		values = append(values, b.String())
	}
	for _, count := range []int{2, 3, 4, 5, 7, 8, 16} {
		res := make([]*regexp.Regexp, count)
		for i := range count {
			res[i] = anchored(t, Partition{Label: "route", Index: i, Count: count}.Regex())
		}
		for _, v := range values {
			var matched []int
			for i, re := range res {
				if re.MatchString(v) {
					matched = append(matched, i)
				}
			}
			owner := Partition{Label: "route", Count: count}.Shard(v)
			if len(matched) != 1 || matched[0] != owner {
				t.Fatalf("%d shards: value %q matches shards %v, Owns says %d", count, v, matched, owner)
			}
		}
	}
}

// TestPartitionIsStable: a value's shard depends on that value alone.
func TestPartitionIsStable(t *testing.T) {
	p := Partition{Label: "route", Count: 4}
	before := map[string]int{}
	for i := range 100 {
		v := fmt.Sprintf("/r/%05d", i)
		before[v] = p.Shard(v)
	}
	for i := 100; i < 1000; i++ {
		p.Shard(fmt.Sprintf("/r/%05d", i))
	}
	for v, s := range before {
		if p.Shard(v) != s {
			t.Fatalf("%s moved from shard %d", v, s)
		}
	}
}

// TestPartitionKeyOwnership reads the label out of burnrate.LabelsKey,
// even when another label's value looks like the partition label.
func TestPartitionKeyOwnership(t *testing.T) {
	p := Partition{Label: "route", Index: 1, Count: 2}
	for _, ls := range []map[string]string{
		{"route": "/a"}, {"route": "/b"}, {"a": `x,route="/b`, "route": "/a"}, {"a": "x,route=", "route": "/b"},
		{"b": "y"}, {}, {"route": "é\"\\"},
	} {
		if got, want := p.OwnsKey(burnrate.LabelsKey(ls)), p.Owns(ls["route"]); got != want {
			t.Errorf("%v: OwnsKey %v, Owns %v", ls, got, want)
		}
	}
	if p.OwnsKey("not a key") {
		t.Error("a key that does not parse is owned")
	}
}

// TestPartitionSelectsEverySelector: every vector selector of the SLI
// gets the matcher, and the result still parses.
func TestPartitionSelectsEverySelector(t *testing.T) {
	p := Partition{Label: "route", Index: 1, Count: 3}
	for _, q := range []string{
		`sum by (route) (rate(http_requests_total{code=~"5.."}[1m]))`,
		`sum by (route) (rate(a[1m])) / on (route) group_left sum by (route) (rate(b[1m] offset 5m))`,
		`avg by (route) (max_over_time(up{job="x"}[5m:1m]))`,
		`sum by (route) (rate(x_bucket{le="+Inf"}[1m])) - sum by (route) (rate(x_bucket{le="0.3"}[1m] @ 100))`,
	} {
		out, err := p.Select(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(out)
		if err != nil {
			t.Fatalf("rewritten %s does not parse: %v", out, err)
		}
		n := 0
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				n++
				found := false
				for _, m := range vs.LabelMatchers {
					found = found || (m.Name == "route" && m.Value == p.Regex())
				}
				if !found {
					t.Errorf("%s: selector %s lacks the partition matcher", q, vs)
				}
			}
			return nil
		})
		if n == 0 {
			t.Errorf("%s: no selector", q)
		}
	}
}

// TestPartitionedReadReturnsOnlyItsSeries: through the embedded PromQL
// engine, each shard's read returns only its own routes, and the shards
// together return every route once.
func TestPartitionedReadReturnsOnlyItsSeries(t *testing.T) {
	e := NewEmbedded()
	var b strings.Builder
	var routes []string
	for i := range 40 {
		r := fmt.Sprintf("/api/v1/items/%d", i)
		routes = append(routes, r)
		fmt.Fprintf(&b, "http_requests_total{route=%q,code=\"200\"} 0+15x400\n", r)
		fmt.Fprintf(&b, "http_requests_total{route=%q,code=\"500\"} 0+1x400\n", r)
	}
	if err := e.LoadSeries(fixtureStart, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	spec := eventsSpec(7*24*time.Hour, "route")
	const count = 3
	seen := map[string]int{}
	for i := range count {
		p := &Partition{Label: "route", Index: i, Count: count}
		rec := &recordingQuerier{q: e}
		r := &Reader{Querier: rec, Spec: spec, Step: time.Minute, Partition: p}
		to := fixtureStart.Add(90 * time.Minute)
		batch, _, err := r.Read(context.Background(), to.Add(-30*time.Minute), to, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range rec.queries {
			if !strings.Contains(q, "route=~") {
				t.Errorf("shard %d sent %s without the partition", i, q)
			}
		}
		for _, s := range batch.Series {
			if !p.Owns(s.Labels["route"]) {
				t.Errorf("shard %d read %s, which it does not own", i, s.Labels["route"])
			}
			seen[s.Labels["route"]]++
		}
	}
	for _, r := range routes {
		if seen[r] != 1 {
			t.Errorf("%s read by %d shards, want 1", r, seen[r])
		}
	}
}

type recordingQuerier struct {
	q       Querier
	mu      sync.Mutex
	queries []string
}

func (r *recordingQuerier) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	r.mu.Lock()
	r.queries = append(r.queries, query)
	r.mu.Unlock()
	return r.q.QueryRange(ctx, query, start, end, step)
}

// restRoutes are route names as HTTP frameworks report them: templated
// paths of a few dozen resources, several versions and sub-resources.
func restRoutes() []string {
	resources := []string{"users", "orders", "items", "carts", "payments", "invoices", "shipments", "products", "reviews",
		"sessions", "tokens", "accounts", "addresses", "coupons", "refunds", "returns", "stores", "inventory", "prices",
		"categories", "search", "recommendations", "wishlists", "notifications", "webhooks", "reports", "exports",
		"imports", "subscriptions", "plans", "teams", "members", "roles", "permissions", "audit", "events", "metrics",
		"health", "config", "flags"}
	suffixes := []string{"", "/{id}", "/{id}/items", "/{id}/history", "/search", "/{id}/status", "/bulk", "/{id}/comments",
		"/export", "/{id}/attachments/{attachment_id}"}
	var out []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		for _, v := range []string{"v1", "v2", "v3"} {
			for _, r := range resources {
				for _, s := range suffixes {
					out = append(out, m+" /api/"+v+"/"+r+s)
				}
			}
		}
	}
	return out
}

// TestPartitionBalance reports how evenly the partition splits route
// names: the largest shard's share against the even share 1/n. A set of
// values that end alike (templated REST routes, which end in "}" or a
// handful of words) splits unevenly; numbered routes split evenly.
func TestPartitionBalance(t *testing.T) {
	var numbered []string
	for i := range 100_000 {
		numbered = append(numbered, fmt.Sprintf("/r/%05d", i))
	}
	for _, set := range []struct {
		name   string
		values []string
		// worst is the bound on the largest shard over the even share.
		worst float64
	}{
		{"numbered /r/NNNNN (the scale fixture)", numbered, 1.15},
		{"templated REST routes", restRoutes(), 2.0},
	} {
		for _, n := range []int{2, 3, 4, 8} {
			sizes := make([]int, n)
			for _, v := range set.values {
				sizes[Partition{Label: "route", Count: n}.Shard(v)]++
			}
			largest := 0
			for _, s := range sizes {
				largest = max(largest, s)
			}
			ratio := float64(largest) * float64(n) / float64(len(set.values))
			t.Logf("%s, %d values, %d shards: sizes %v, largest %.2f× the even share", set.name, len(set.values), n, sizes, ratio)
			if ratio > set.worst {
				t.Errorf("%s over %d shards: largest shard %.2f× the even share, want at most %.2f×", set.name, n, ratio, set.worst)
			}
		}
	}
}

func TestSplittable(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{`sum by (route) (rate(http_requests_total{code="500"}[1m]))`, true},
		{`sum by (route, code) (increase(x[10m]))`, true},
		{`(sum by (route) (rate(x_bucket{le="0.3"}[1m])))`, true},
		{`sum by (route) (sum_over_time(x[1m]))`, true},
		{`sum by (route) (sum by (route, code) (rate(x[1m])))`, true}, // as BuildQueries wraps it
		{`sum by (route) (sum by (code) (rate(x[1m])))`, false},
		{`sum by (route) (topk by (route) (1, rate(x[1m])))`, false},
		{`sum by (code) (rate(x[1m]))`, false},                                 // grouping drops the label
		{`sum without (code) (rate(x[1m]))`, false},                            // without: not told
		{`rate(x[1m])`, false},                                                 // no aggregation
		{`sum by (route) (rate(x[1m])) / sum by (route) (rate(y[1m]))`, false}, // binary at the top
		{`sum by (route) (rate(x[1m]) * on() group_left vector(1))`, false},    // binary inside
		{`sum by (route) (label_replace(rate(x[1m]), "route", "$1", "path", "(.*)"))`, false},
		{`sum by (route) (absent_over_time(x[1m]))`, false},
		{`sum by (route) (rate(x[5m:1m]))`, false}, // subquery
		{`sum by (route) (`, false},
	} {
		if got := Splittable(tc.query, "route"); got != tc.want {
			t.Errorf("Splittable(%s) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestSplitPartsMakeTheirShard: the parts of a shard (or of everything)
// hold every value of the shard exactly once, and nothing else.
func TestSplitPartsMakeTheirShard(t *testing.T) {
	values := []string{"", "a", "/r/00000", "/r/00001", "/r/12345", "ü", "xyzzy", "/checkout", "/pay/ÿ"}
	for i := range 500 {
		values = append(values, fmt.Sprintf("/route/%d", i*7919))
	}
	for _, shard := range []*Partition{nil, {Label: "route", Index: 1, Count: 3}, {Label: "route", Index: 0, Count: 2}} {
		for _, parts := range []int{2, 3, 4} {
			for _, v := range values {
				owners := 0
				for j := range parts {
					p := Split(shard, "route", j, parts)
					if p.Owns(v) {
						owners++
					}
				}
				want := 1
				if shard != nil && !shard.Owns(v) {
					want = 0
				}
				if owners != want {
					t.Fatalf("shard %v, %d parts: value %q in %d parts, want %d", shard, parts, v, owners, want)
				}
			}
		}
	}
}

func TestShortQueryKeepsErrorsReadable(t *testing.T) {
	p := Partition{Label: "route", Index: 1, Count: 4}
	q, err := p.Select(`sum by (route) (rate(http_requests_total{code="500"}[1m]))`)
	if err != nil {
		t.Fatal(err)
	}
	s := shortQuery(q)
	if len(q) < 1000 || len(s) > 400 || !strings.HasPrefix(s, "sum by (route)") || !strings.HasSuffix(s, "[1m]))") {
		t.Fatalf("query of %d bytes shortened to %d: %s", len(q), len(s), s)
	}
	if short := "sum(rate(x[1m]))"; shortQuery(short) != short {
		t.Fatal("a short query was changed")
	}
}
