package source

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestPrefetchAnswersEachStepAsTheServerWould: a replay that asks for the
// newest steps one tick at a time gets, from the prefetched chunk, exactly
// the matrix a direct query returns, while the source sees one query per
// chunk; queries at another step or past Until go straight through.
func TestPrefetchAnswersEachStepAsTheServerWould(t *testing.T) {
	e := NewEmbedded()
	// /b stops after 50 minutes: a slice past its end must leave it out.
	if err := e.LoadSeries(fixtureStart, 15*time.Second, `
http_requests_total{route="/a"} 0+15x800
http_requests_total{route="/b"} 0+15x200`); err != nil {
		t.Fatal(err)
	}
	var sent int
	counting := querierFunc(func(ctx context.Context, q string, start, end time.Time, step time.Duration) (model.Matrix, error) {
		sent++
		return e.QueryRange(ctx, q, start, end, step)
	})
	const q = `sum by (route) (increase(http_requests_total[1m]))`
	until := fixtureStart.Add(3 * time.Hour)
	pf := &Prefetch{Querier: counting, Step: time.Minute, Until: until, Points: 60}
	ctx := context.Background()
	steps := 0
	for now := fixtureStart.Add(5 * time.Minute); !now.After(until); now = now.Add(time.Minute) {
		start := now.Add(-2 * time.Minute)
		got, err := pf.QueryRange(ctx, q, start, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.QueryRange(ctx, q, start, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			want = model.Matrix{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("at %s:\n got %v\nwant %v", now, got, want)
		}
		steps++
	}
	// 176 ticks in chunks of 60 points, each re-reading 2 steps: 4 reads.
	if sent > 4 || pf.Queries() != sent {
		t.Errorf("%d ticks sent %d queries (counted %d), want at most 4", steps, sent, pf.Queries())
	}
	before := sent
	if _, err := pf.QueryRange(ctx, q, fixtureStart, fixtureStart.Add(time.Hour), 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := pf.QueryRange(ctx, q, until, until.Add(time.Minute), time.Minute); err != nil {
		t.Fatal(err)
	}
	if sent != before+2 {
		t.Errorf("a query at another step and one past Until sent %d queries, want 2", sent-before)
	}
}
