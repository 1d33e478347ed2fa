package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
)

// TestASlowBackfillDoesNotHoldBackTheOthers: with Options.ReadWait, an
// SLO whose backfill outlasts the wait goes on reading in the background
// while the others are evaluated (pay's page opens at once); it is
// reported as backfilling, keeps no evaluation, and is evaluated — with
// the steps that completed meanwhile — at the first tick after its read
// ends.
func TestASlowBackfillDoesNotHoldBackTheOthers(t *testing.T) {
	emb := fixture(t)
	release := make(chan struct{})
	var shipQueries atomic.Int32
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		if strings.Contains(q, `svc="ship"`) {
			if shipQueries.Add(1) == 1 {
				select {
				case <-release:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q, ReadWait: 200 * time.Millisecond})
	now := start.Add(47*time.Hour + 10*time.Minute)
	// Tick until every SLO but ship has read its window (on a slow machine
	// that can take more than one wait): ship stays backfilling throughout.
	var changes []burnrate.Change
	for deadline := time.Now().Add(30 * time.Second); ; now = now.Add(time.Minute) {
		res := e.Tick(context.Background(), now)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, res.Changes...)
		var ids []string
		for _, b := range res.Backfilling {
			ids = append(ids, b.SLO)
		}
		if !slices.Contains(ids, "ship-availability") {
			t.Fatalf("backfilling %v: ship's blocked read is not among them", ids)
		}
		if len(ids) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still backfilling %v", ids)
		}
	}
	if len(changes) != 1 || changes[0].Incident.SLO != "pay-availability" || changes[0].Kind != burnrate.ChangeOpened {
		t.Fatalf("changes %+v, want pay's page while ship still reads", changes)
	}
	if !e.SLO("ship-availability").Backfilling() || e.SLO("pay-availability").Backfilling() {
		t.Error("Backfilling() does not tell ship from pay")
	}
	for _, l := range e.Latest() {
		if l.SLO == "ship-availability" {
			t.Fatalf("ship has an evaluation before its backfill ended: %+v", l)
		}
	}
	if n := shipQueries.Load(); n != 1 {
		t.Errorf("ship was queried %d times while its first read hung, want once (no second read at once)", n)
	}

	var res TickResult
	close(release)
	deadline := time.Now().Add(30 * time.Second)
	for e.SLO("ship-availability").bg != nil {
		// On a loaded machine the read of the steps that completed
		// meanwhile may outlast the wait too: it goes on in the background
		// as the same backfill, and the loop waits for it as well.
		select {
		case <-e.SLO("ship-availability").bg.done:
			now = now.Add(time.Minute)
			res = e.Tick(context.Background(), now)
		case <-time.After(time.Until(deadline)):
			t.Fatal("ship's backfill never ended")
		}
	}
	if slices.ContainsFunc(res.Backfilling, func(b Backfill) bool { return b.SLO == "ship-availability" }) || res.Err() != nil {
		t.Fatalf("after the backfill: backfilling %+v, err %v", res.Backfilling, res.Err())
	}
	var cold *Backfill
	for i := range res.Backfills {
		if res.Backfills[i].SLO == "ship-availability" {
			cold = &res.Backfills[i]
		}
	}
	if cold == nil || !cold.Cold || !cold.To.Equal(res.Target) {
		t.Fatalf("backfills %+v, want ship's cold backfill through %s", res.Backfills, res.Target)
	}
	ship := e.SLO("ship-availability").Evaluator()
	if !ship.LastStep().Equal(res.Target) {
		t.Errorf("ship's rings end at %s, want the tick's target %s (the steps read after the backfill)", ship.LastStep(), res.Target)
	}
	ev, ok := ship.EvaluateInstance(nil, res.Target)
	if !ok || !ev.WindowBurn.Known() || ev.NoDataFor != 0 {
		t.Fatalf("ship not evaluated after its backfill: %+v %v", ev, ok)
	}
	found := false
	for _, l := range e.Latest() {
		found = found || l.SLO == "ship-availability"
	}
	if !found {
		t.Error("ship has no evaluation after its backfill")
	}
	for _, c := range res.Changes {
		if c.Incident.SLO == "ship-availability" && c.Kind == burnrate.ChangeOpened {
			t.Errorf("healthy ship opened an incident: %+v", c)
		}
	}
}

// TestAReloadStopsABackgroundBackfill: an SLO replaced by a reload while
// its backfill runs in the background has that read cancelled and
// waited for (no goroutine is left writing into rings nothing uses).
func TestAReloadStopsABackgroundBackfill(t *testing.T) {
	emb := fixture(t)
	var cancelled atomic.Bool
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		if strings.Contains(q, `svc="ship"`) {
			<-ctx.Done()
			cancelled.Store(true)
			return nil, ctx.Err()
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q, ReadWait: 200 * time.Millisecond})
	now := start.Add(47*time.Hour + 10*time.Minute)
	if res := e.Tick(context.Background(), now); !e.SLO("ship-availability").Backfilling() {
		t.Fatalf("backfilling %+v, want ship among them", res.Backfilling)
	}
	old := e.SLO("ship-availability")
	if _, _, err := e.Apply(catalogue(t), now); err != nil {
		t.Fatal(err)
	}
	if !cancelled.Load() || old.bg != nil {
		t.Fatal("the reload left the background backfill running")
	}
	if e.SLO("ship-availability").Backfilling() {
		t.Error("the reloaded SLO claims a backfill it never started")
	}
}

// TestLiveChecksRunBesideTheEvaluation: the live checks (Options.Check)
// read an hour of every series the SLI names — minutes at 100,000 series
// — so they must not hold back the first evaluation after a start (nor,
// at a restart, readiness). With the checks' queries blocked, the first
// tick still evaluates every SLO and opens pay's page; the findings are
// taken at the first tick after the checks end.
func TestLiveChecksRunBesideTheEvaluation(t *testing.T) {
	emb := fixture(t)
	release := make(chan struct{})
	var checks atomic.Int32
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		// The checks read the hour (60 steps) before the tick's step.
		if en.Sub(s) == 59*step {
			checks.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q, ReadWait: 5 * time.Second, Check: true})
	// Not on a 10-minute boundary: a cold read's newest segment at the
	// step is then longer than the checks' hour (source.Plan).
	now := start.Add(47*time.Hour + 15*time.Minute)
	res := e.Tick(context.Background(), now)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(res.Backfilling) != 0 {
		t.Fatalf("backfilling %+v: the reads did not end within the wait", res.Backfilling)
	}
	if len(res.Changes) != 1 || res.Changes[0].Incident.SLO != "pay-availability" {
		t.Fatalf("changes %+v, want pay's page opened while the checks are still running", res.Changes)
	}
	for _, r := range e.SLOs() {
		if r.checked || r.chk == nil {
			t.Errorf("slo %s: checked %v, running %v; want its checks running", r.spec.ID, r.checked, r.chk != nil)
		}
	}
	close(release)
	for _, r := range e.SLOs() {
		<-r.chk.done
	}
	if checks.Load() == 0 {
		t.Fatal("no check query was seen: the test no longer blocks the checks")
	}
	e.Tick(context.Background(), now.Add(time.Minute))
	for _, r := range e.SLOs() {
		if !r.checked || r.chk != nil {
			t.Errorf("slo %s: checked %v, running %v after the checks ended", r.spec.ID, r.checked, r.chk != nil)
		}
	}
}

// TestFailingLiveChecksBackOff: live checks that fail (here: every query
// of the hour they read fails, as a loaded server's timeouts did at
// 100,000 instances) are not sent again at every tick, which added a
// large query to each: 5 minutes after the first failure, then 10.
func TestFailingLiveChecksBackOff(t *testing.T) {
	emb := fixture(t)
	var checks atomic.Int32
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		if en.Sub(s) == 59*step {
			checks.Add(1)
			return nil, errors.New("query timed out after 30s")
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q, Check: true})
	now := start.Add(47*time.Hour + 15*time.Minute)
	var at []int // minutes after now at which checks were sent
	for m := range 20 {
		before := checks.Load()
		if err := e.Tick(context.Background(), now.Add(time.Duration(m)*time.Minute)).Err(); err != nil {
			t.Fatal(err)
		}
		if checks.Load() > before {
			at = append(at, m)
		}
	}
	if fmt.Sprint(at) != "[0 5 15]" {
		t.Fatalf("checks sent at minutes %v, want [0 5 15] (5 minutes after the first failure, then 10)", at)
	}
	for _, r := range e.SLOs() {
		if r.checked {
			t.Errorf("slo %s checked though every check failed", r.spec.ID)
		}
	}
}

// TestSteadyTicksLeaveTheRereadToTheBackground: with a background
// (ReadWait), a steady tick reads one point per series, its new step, and
// Reread reads the two steps before it again afterwards, so a step is
// read three times, as when the tick re-read them itself: a step whose
// errors were half in when it was new holds them all once the re-read of
// the tick after has run, and the next evaluation counts them.
func TestSteadyTicksLeaveTheRereadToTheBackground(t *testing.T) {
	emb := fixture(t)
	var (
		mu       sync.Mutex
		inTick   bool
		newest   time.Time
		payReads [][2]time.Time // (start, end) of pay's error queries
	)
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		m, err := emb.QueryRange(ctx, q, s, en, step)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || !strings.Contains(q, `svc="pay",code="500"`) {
			return m, err
		}
		payReads = append(payReads, [2]time.Time{s, en})
		if inTick {
			// Half the newest step's errors are still on their way.
			for _, ss := range m {
				for i := range ss.Values {
					if ss.Values[i].Timestamp.Time().Equal(newest) {
						ss.Values[i].Value /= 2
					}
				}
			}
		}
		return m, nil
	})
	e := newEngine(t, Options{Querier: q, ReadWait: 30 * time.Second})
	tick := func(now time.Time) TickResult {
		t.Helper()
		mu.Lock()
		inTick, newest, payReads = true, now.Truncate(time.Minute), nil
		mu.Unlock()
		res := e.Tick(context.Background(), now)
		mu.Lock()
		inTick = false
		mu.Unlock()
		if err := res.Err(); err != nil || len(res.Backfilling) > 0 {
			t.Fatalf("tick at %s: err %v, backfilling %+v", now, err, res.Backfilling)
		}
		return res
	}
	reread := func() [][2]time.Time {
		t.Helper()
		mu.Lock()
		payReads = nil
		mu.Unlock()
		e.Reread(context.Background())
		for _, id := range e.ids {
			if p := e.slos[id].rr; p != nil {
				<-p.done
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(payReads)
	}
	pay := func(at time.Time) float64 {
		t.Helper()
		in := e.SLO("pay-availability").Evaluator().Instance(nil)
		if in == nil {
			t.Fatal("pay has no instance")
		}
		return in.Window(at, time.Minute).Errors
	}

	now := start.Add(47*time.Hour + 10*time.Minute)
	tick(now) // cold: the whole window, re-read included
	if got := reread(); len(got) != 0 {
		t.Fatalf("re-read after the cold tick read %v: it read its own steps", got)
	}
	k := now.Add(time.Minute)
	tick(k)
	mu.Lock()
	reads := slices.Clone(payReads)
	mu.Unlock()
	if len(reads) != 1 || !reads[0][0].Equal(k) || !reads[0][1].Equal(k) {
		t.Fatalf("steady tick read pay's errors over %v, want the one new step %s", reads, k)
	}
	half := pay(k)
	if got := reread(); len(got) != 1 || !got[0][0].Equal(k.Add(-2*time.Minute)) || !got[0][1].Equal(k.Add(-time.Minute)) {
		t.Fatalf("re-read after the tick at %s read %v, want the two steps before it", k, got)
	}
	if got := pay(k); got != half {
		t.Fatalf("the step %s changed to %g (from %g) before any re-read of it", k, got, half)
	}
	if res := tick(k.Add(time.Minute)); res.Reread <= 0 {
		t.Errorf("TickResult.Reread %s: the re-read after the last tick is not reported", res.Reread)
	}
	if got := reread(); len(got) != 1 || !got[0][0].Equal(k.Add(-time.Minute)) || !got[0][1].Equal(k) {
		t.Fatalf("second re-read read %v, want the steps up to %s", got, k)
	}
	full := pay(k)
	if !(half > 0) || math.Abs(full-2*half) > 1e-9*full {
		t.Fatalf("step %s holds %g errors after its re-read, want twice the %g it held when new", k, full, half)
	}
	// A re-read that was never started is owed: the next tick does it.
	tick(k.Add(2 * time.Minute))
	mu.Lock()
	payReads = nil
	mu.Unlock()
	tick(k.Add(3 * time.Minute))
	mu.Lock()
	reads = slices.Clone(payReads)
	mu.Unlock()
	if len(reads) != 1 || !reads[0][0].Equal(k.Add(time.Minute)) || !reads[0][1].Equal(k.Add(3*time.Minute)) {
		t.Fatalf("tick after a skipped Reread read %v, want its new step and the two owed", reads)
	}
}

// TestAReReadStillRunningAtTheNextTickIsMadeUpByIt: a background re-read
// that has not ended when the next tick starts is cancelled, and that
// tick reads the steps it owed along with its new one.
func TestAReReadStillRunningAtTheNextTickIsMadeUpByIt(t *testing.T) {
	emb := fixture(t)
	var (
		mu       sync.Mutex
		hang     bool
		payReads [][2]time.Time
		hung     = make(chan struct{}, 1)
	)
	q := querierFunc(func(ctx context.Context, q string, s, en time.Time, step time.Duration) (model.Matrix, error) {
		mu.Lock()
		block := hang
		if strings.Contains(q, `svc="pay",code="500"`) {
			payReads = append(payReads, [2]time.Time{s, en})
		}
		mu.Unlock()
		if block {
			if strings.Contains(q, `svc="pay"`) {
				select {
				case hung <- struct{}{}:
				default:
				}
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return emb.QueryRange(ctx, q, s, en, step)
	})
	e := newEngine(t, Options{Querier: q, ReadWait: 30 * time.Second})
	now := start.Add(47*time.Hour + 10*time.Minute)
	for i := range 3 {
		if res := e.Tick(context.Background(), now.Add(time.Duration(i)*time.Minute)); res.Err() != nil {
			t.Fatal(res.Err())
		}
		if i < 2 {
			e.Reread(context.Background())
			if p := e.SLO("pay-availability").rr; p != nil {
				<-p.done
			}
		}
	}
	mu.Lock()
	hang = true
	mu.Unlock()
	e.Reread(context.Background())
	if e.SLO("pay-availability").rr == nil {
		t.Fatal("no re-read started after a steady tick")
	}
	// pay's re-read must be inside a query before the querier stops
	// hanging, or it could simply end well before the tick.
	select {
	case <-hung:
	case <-time.After(time.Minute):
		t.Fatal("the background re-read never queried")
	}
	mu.Lock()
	hang, payReads = false, nil
	mu.Unlock()
	k := now.Add(3 * time.Minute)
	if res := e.Tick(context.Background(), k); res.Err() != nil {
		t.Fatalf("the tick after a hung re-read failed: %v", res.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(payReads); n == 0 || !payReads[n-1][0].Equal(k.Add(-2*time.Minute)) || !payReads[n-1][1].Equal(k) {
		t.Fatalf("pay's reads %v: want the tick's new step and the two owed, up to %s", payReads, k)
	}
}
