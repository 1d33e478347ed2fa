package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/source"
)

// shardFixture holds the catalogue's three services, api with 30 routes.
func shardFixture(t *testing.T) *source.Embedded {
	t.Helper()
	e := source.NewEmbedded()
	const scrapes = 3 * 60 * 4
	var b strings.Builder
	series := []string{`svc="pay"`, `svc="ship"`}
	for i := range 30 {
		series = append(series, fmt.Sprintf(`svc="api",route="/api/v1/things/%d"`, i))
	}
	for _, s := range series {
		fmt.Fprintf(&b, "requests_total{%s,code=\"200\"} 0+1500x%d\n", s, scrapes)
		fmt.Fprintf(&b, "requests_total{%s,code=\"500\"} 0+3x%d\n", s, scrapes)
	}
	if err := e.LoadSeries(start, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	return e
}

// capture records every query and checks what it returns.
type capture struct {
	q       source.Querier
	mu      sync.Mutex
	queries []string
	// returned are the api routes the source returned.
	returned map[string]bool
}

func (c *capture) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
	m, err := c.q.QueryRange(ctx, q, start, end, step)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries = append(c.queries, q)
	for _, s := range m {
		if r, ok := s.Metric["route"]; ok {
			c.returned[string(r)] = true
		}
	}
	return m, err
}

// TestShardsEvaluateEveryInstanceOnce: n engines on shards 0..n-1 together
// evaluate every instance exactly once. Whole SLOs are queried by their
// shard only; the split group_by SLO's queries carry the partition on
// every shard, and every route a shard's queries return is its own.
func TestShardsEvaluateEveryInstanceOnce(t *testing.T) {
	src := shardFixture(t)
	for _, split := range []map[string]string{nil, {SplitAll: ""}, {"api-availability": "route"}} {
		for _, n := range []int{2, 3} {
			t.Run(fmt.Sprintf("split %v over %d", split, n), func(t *testing.T) {
				seen := map[string]int{}
				for i := range n {
					sh := Shard{Index: i, Count: n, Split: split}
					c := &capture{q: src, returned: map[string]bool{}}
					e := newEngine(t, Options{Querier: c, Shard: sh})
					if err := e.Tick(context.Background(), start.Add(3*time.Hour)).Err(); err != nil {
						t.Fatal(err)
					}
					for key := range e.Latest() {
						seen[key]++
					}
					part := e.Partition("api-availability")
					if (part != nil) != (split != nil) {
						t.Fatalf("shard %d: partition %v with split %v", i, part, split)
					}
					for _, q := range c.queries {
						for _, svc := range []string{"api", "pay", "ship"} {
							if strings.Contains(q, `svc="`+svc+`"`) && part == nil && !sh.OwnsSLO(svc+"-availability") {
								t.Errorf("shard %d queried %s, which another shard owns whole: %s", i, svc, q)
							}
						}
						if part != nil && strings.Contains(q, `svc="api"`) && !strings.Contains(q, `route=~"`) {
							t.Errorf("shard %d: api query without the partition: %s", i, q)
						}
					}
					for r := range c.returned {
						if part != nil && !part.Owns(r) {
							t.Errorf("shard %d: the source returned %s, which it does not own", i, r)
						}
						if key := burnrate.LabelsKey(map[string]string{"route": r}); !e.Owns("api-availability", key) {
							t.Errorf("shard %d read %s but does not own it", i, r)
						}
					}
					if part != nil && (len(c.returned) == 0 || len(c.returned) == 30) {
						t.Errorf("shard %d read %d of 30 routes: the partition did not split them", i, len(c.returned))
					}
				}
				if len(seen) != 32 {
					t.Errorf("%d instances evaluated across the shards, want 32 (30 routes, pay, ship)", len(seen))
				}
				for k, c := range seen {
					if c != 1 {
						t.Errorf("%s evaluated by %d shards", k, c)
					}
				}
			})
		}
	}
}
