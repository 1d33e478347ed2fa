package burnrate

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

const day = 24 * time.Hour

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// eval builds an evaluation of the default policy for a 30d window where
// every window burns at burn except the ones listed in override.
func eval(at time.Duration, remaining float64, burns [4][2]float64) Evaluation {
	p := DefaultPolicy()
	ev := Evaluation{At: t0.Add(at), BudgetRemaining: Figure(remaining), WindowBurn: Figure(1 - remaining)}
	for i, r := range p.Rows {
		f := r.Factor(30 * day)
		ev.Rows = append(ev.Rows, RowResult{
			Row: r, Factor: f, LongBurn: Figure(burns[i][0]), ShortBurn: Figure(burns[i][1]),
			Fires: burns[i][0] >= f && burns[i][1] >= f,
		})
	}
	return ev
}

// uniform gives every window the same burn.
func uniform(b float64) [4][2]float64 {
	return [4][2]float64{{b, b}, {b, b}, {b, b}, {b, b}}
}

// never is the time to exhaustion of a budget that does not burn.
var never = Figure(math.Inf(1))

// unknownFigures gives inc the figures of an SLI without data: all unknown.
func unknownFigures(inc Incident) Incident {
	inc.BudgetAtStart, inc.BudgetSpent, inc.BudgetRemaining = Unknown(), Unknown(), Unknown()
	inc.Burn, inc.TimeToExhaustion = Unknown(), Unknown()
	return inc
}

var subj = Subject{Key: "api-availability{}", SLO: "api-availability", Window: 30 * day}

func kinds(cs []Change) []ChangeKind {
	var out []ChangeKind
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

func TestTrackerLifecycle(t *testing.T) {
	type step struct {
		at        time.Duration
		remaining float64
		burns     [4][2]float64
		noData    time.Duration
		want      []ChangeKind
		wantSev   Severity // severity of the open burn incident after the step ("" = none open)
		wantStart Severity // when set, the StartSeverity of the first change
	}
	cases := []struct {
		name  string
		opts  TrackerOptions
		steps []step
	}{
		{
			name: "a quiet SLO opens nothing",
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(0.5)},
				{at: time.Minute, remaining: 0.9, burns: uniform(0.9)},
			},
		},
		{
			name: "a fast burn opens a page and resolves after the 5m hold-down of the 1h row",
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(20), want: []ChangeKind{ChangeOpened}, wantSev: SeverityPage},
				{at: time.Minute, remaining: 0.88, burns: uniform(0), wantSev: SeverityPage},
				{at: 4 * time.Minute, remaining: 0.88, burns: uniform(0), wantSev: SeverityPage},
				{at: 5 * time.Minute, remaining: 0.88, burns: uniform(0), want: []ChangeKind{ChangeResolved}},
			},
		},
		{
			name: "a ticket escalates to a page in place and resolves once",
			steps: []step{
				{at: 0, remaining: 0.9, burns: [4][2]float64{{1, 1}, {1, 1}, {3.5, 3.5}, {1, 1}}, want: []ChangeKind{ChangeOpened}, wantSev: SeverityTicket},
				{at: time.Hour, remaining: 0.8, burns: uniform(15), want: []ChangeKind{ChangeEscalated}, wantSev: SeverityPage},
				{at: 2 * time.Hour, remaining: 0.8, burns: [4][2]float64{{1, 1}, {1, 1}, {3.5, 3.5}, {1, 1}}, wantSev: SeverityPage},
				{at: 3 * time.Hour, remaining: 0.8, burns: uniform(0.5), wantSev: SeverityPage},
				{at: 4 * time.Hour, remaining: 0.8, burns: uniform(0.5), want: []ChangeKind{ChangeResolved}, wantStart: SeverityTicket},
			},
		},
		{
			name: "a flapping burn inside the hold-down stays one incident",
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(20), want: []ChangeKind{ChangeOpened}, wantSev: SeverityPage},
				{at: 2 * time.Minute, remaining: 0.9, burns: uniform(0), wantSev: SeverityPage},
				{at: 4 * time.Minute, remaining: 0.9, burns: uniform(20), wantSev: SeverityPage},
				{at: 8 * time.Minute, remaining: 0.9, burns: uniform(0), wantSev: SeverityPage},
				{at: 9 * time.Minute, remaining: 0.9, burns: uniform(0), want: []ChangeKind{ChangeResolved}},
			},
		},
		{
			name: "a fixed hold-down overrides the row's short window",
			opts: TrackerOptions{HoldDown: time.Hour},
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(20), want: []ChangeKind{ChangeOpened}, wantSev: SeverityPage},
				{at: 30 * time.Minute, remaining: 0.9, burns: uniform(0), wantSev: SeverityPage},
				{at: time.Hour, remaining: 0.9, burns: uniform(0), want: []ChangeKind{ChangeResolved}},
			},
		},
		{
			name: "a new burn after resolution opens a new incident",
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(20), want: []ChangeKind{ChangeOpened}, wantSev: SeverityPage},
				{at: 10 * time.Minute, remaining: 0.9, burns: uniform(0), want: []ChangeKind{ChangeResolved}},
				{at: 20 * time.Minute, remaining: 0.9, burns: uniform(20), want: []ChangeKind{ChangeOpened}, wantSev: SeverityPage},
			},
		},
		{
			name: "an SLI without data for the threshold opens a no-data ticket that resolves when data returns",
			opts: TrackerOptions{NoDataAfter: 10 * time.Minute},
			steps: []step{
				{at: 0, remaining: 0.9, burns: uniform(math.NaN()), noData: 5 * time.Minute},
				{at: 5 * time.Minute, remaining: 0.9, burns: uniform(math.NaN()), noData: 10 * time.Minute, want: []ChangeKind{ChangeOpened}},
				{at: 6 * time.Minute, remaining: 0.9, burns: uniform(math.NaN()), noData: 11 * time.Minute},
				{at: 7 * time.Minute, remaining: 0.9, burns: uniform(0.1), want: []ChangeKind{ChangeResolved}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.opts)
			for i, s := range tc.steps {
				ev := eval(s.at, s.remaining, s.burns)
				ev.NoDataFor = s.noData
				changes := tr.Observe(subj, ev)
				got := kinds(changes)
				if s.wantStart != "" && changes[0].Incident.StartSeverity != s.wantStart {
					t.Fatalf("step %d: start severity %q, want %q", i, changes[0].Incident.StartSeverity, s.wantStart)
				}
				if len(got) != len(s.want) || (len(got) > 0 && got[0] != s.want[0]) {
					t.Fatalf("step %d (%v): changes %v, want %v", i, s.at, got, s.want)
				}
				var sev Severity
				for _, inc := range tr.Open() {
					if inc.Class == ClassBurn {
						sev = inc.Severity
					}
				}
				if sev != s.wantSev {
					t.Fatalf("step %d (%v): open burn severity %q, want %q", i, s.at, sev, s.wantSev)
				}
			}
		})
	}
}

func TestIncidentFigures(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	tr.Observe(subj, eval(0, 0.8, [4][2]float64{{20, 30}, {10, 20}, {3, 5}, {1, 3}}))
	tr.Observe(subj, eval(time.Minute, 0.7, [4][2]float64{{25, 10}, {12, 18}, {4, 6}, {1.5, 3}}))
	open := tr.Open()
	if len(open) != 1 {
		t.Fatalf("%d open incidents, want 1", len(open))
	}
	inc := open[0]
	if !inc.Start.Equal(t0) || !inc.Updated.Equal(t0.Add(time.Minute)) {
		t.Errorf("start %v updated %v", inc.Start, inc.Updated)
	}
	wantPeaks := []WindowBurn{
		{5 * time.Minute, 30}, {30 * time.Minute, 20}, {time.Hour, 25}, {2 * time.Hour, 6},
		{6 * time.Hour, 12}, {24 * time.Hour, 4}, {3 * day, 1.5},
	}
	if len(inc.PeakBurn) != len(wantPeaks) {
		t.Fatalf("peaks %v, want %v", inc.PeakBurn, wantPeaks)
	}
	for i, p := range wantPeaks {
		if inc.PeakBurn[i] != p {
			t.Errorf("peak %d: %v, want %v", i, inc.PeakBurn[i], p)
		}
	}
	if math.Abs(float64(inc.BudgetSpent)-0.1) > 1e-12 || inc.BudgetRemaining != 0.7 || inc.BudgetAtStart != 0.8 {
		t.Errorf("budget at start %v spent %v remaining %v", inc.BudgetAtStart, inc.BudgetSpent, inc.BudgetRemaining)
	}
	// Current burn is the 5m window's: 10. 0.7 of a 30d budget at 10× lasts 0.7 × 30d / 10 = 2.1d.
	if inc.Burn != 10 {
		t.Errorf("burn %v, want 10 (the 5m window)", inc.Burn)
	}
	if want := 0.7 * (30 * day).Seconds() / 10; math.Abs(float64(inc.TimeToExhaustion)-want) > 1e-6 {
		t.Errorf("time to exhaustion %vs, want %vs", inc.TimeToExhaustion, want)
	}
	if _, err := json.Marshal(open); err != nil {
		t.Errorf("incidents do not serialise: %v", err)
	}
}

func TestTimeToExhaustion(t *testing.T) {
	cases := []struct {
		name      string
		remaining Figure
		burn      Figure
		want      Figure
	}{
		{"half the budget at burn 1 lasts half the window", 0.5, 1, secs(15 * day)},
		{"the whole budget at 14.4 lasts 50 hours", 1, 14.4, secs(50 * time.Hour)},
		{"a spent budget is exhausted now", 0, 10, 0},
		{"an overspent budget is exhausted now", -0.3, 10, 0},
		{"a spent budget is exhausted now whatever its burn", 0, Unknown(), 0},
		{"no burn never exhausts", 0.5, 0, never},
		{"a burn too slow for a Duration never exhausts", 0.5, 1e-300, never},
		{"an unknown burn with budget left is unknown", 0.5, Unknown(), Unknown()},
		{"an unknown budget is unknown", Unknown(), 10, Unknown()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := TimeToExhaustion(tc.remaining, 30*day, tc.burn)
			switch {
			case !tc.want.Known():
				if got.Known() {
					t.Errorf("got %v, want unknown", got)
				}
			case math.IsInf(float64(tc.want), 1):
				if !math.IsInf(float64(got), 1) {
					t.Errorf("got %v, want +Inf", got)
				}
			case math.Abs(float64(got-tc.want)) > 1e-6:
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRank(t *testing.T) {
	unknown := Unknown()
	cases := []struct {
		name string
		incs []Incident
		want []string
	}{
		{
			name: "known times rank soonest first, then severity, then burn, never last",
			incs: []Incident{
				{Key: "slow-ticket", Severity: SeverityTicket, TimeToExhaustion: secs(10 * day), Burn: 3},
				{Key: "never", Severity: SeverityPage, TimeToExhaustion: never, Burn: 0},
				{Key: "soon-ticket", Severity: SeverityTicket, TimeToExhaustion: secs(time.Hour), Burn: 5},
				{Key: "soon-page-slow", Severity: SeverityPage, TimeToExhaustion: secs(time.Hour), Burn: 5},
				{Key: "soon-page-fast", Severity: SeverityPage, TimeToExhaustion: secs(time.Hour), Burn: 50},
				{Key: "gone", Severity: SeverityTicket, TimeToExhaustion: 0, Burn: 1},
			},
			want: []string{"gone", "soon-page-fast", "soon-page-slow", "soon-ticket", "slow-ticket", "never"},
		},
		{
			name: "a no-data ticket with unknown figures ranks after a full-outage page",
			incs: []Incident{
				unknownFigures(Incident{Key: "nodata", Class: ClassNoData, Severity: SeverityTicket}),
				{Key: "outage", Class: ClassBurn, Severity: SeverityPage, TimeToExhaustion: secs(95 * time.Minute), Burn: 20},
			},
			want: []string{"outage", "nodata"},
		},
		{
			name: "an unknown time ranks after every known one, even a budget that never runs out",
			incs: []Incident{
				unknownFigures(Incident{Key: "nodata-page", Severity: SeverityPage}),
				{Key: "never-ticket", Severity: SeverityTicket, TimeToExhaustion: never},
				{Key: "gone-ticket", Severity: SeverityTicket, TimeToExhaustion: 0, Burn: 1},
			},
			want: []string{"gone-ticket", "never-ticket", "nodata-page"},
		},
		{
			name: "among unknown times: severity, then a known burn, then the faster burn",
			incs: []Incident{
				unknownFigures(Incident{Key: "ticket-unknown-burn", Severity: SeverityTicket}),
				{Key: "ticket-slow", Severity: SeverityTicket, Burn: 2, TimeToExhaustion: unknown},
				{Key: "ticket-fast", Severity: SeverityTicket, Burn: 9, TimeToExhaustion: unknown},
				unknownFigures(Incident{Key: "page-unknown-burn", Severity: SeverityPage}),
			},
			want: []string{"page-unknown-burn", "ticket-fast", "ticket-slow", "ticket-unknown-burn"},
		},
		{
			name: "an unknown burn of 0 does not outrank a known burn at the same time",
			incs: []Incident{
				{Key: "unknown-burn", Severity: SeverityTicket, TimeToExhaustion: 0, Burn: unknown},
				{Key: "known-burn", Severity: SeverityTicket, TimeToExhaustion: 0, Burn: 0.5},
			},
			want: []string{"known-burn", "unknown-burn"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			Rank(tc.incs)
			var got []string
			for _, inc := range tc.incs {
				got = append(got, inc.Key)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

func TestForgetResolvesOpenIncidents(t *testing.T) {
	tr := NewTracker(TrackerOptions{NoDataAfter: time.Minute})
	// The SLI has no data (its no-data incident opens), then a burn fires.
	quiet := eval(0, 0, uniform(0))
	quiet.NoDataFor = time.Minute
	burn := eval(time.Minute, 0.5, uniform(20))
	burn.NoDataFor = time.Minute
	if got := append(kinds(tr.Observe(subj, quiet)), kinds(tr.Observe(subj, burn))...); len(got) != 2 {
		t.Fatalf("changes %v, want a no-data and a burn opening", got)
	}
	got := tr.Forget(subj.Key, t0.Add(time.Minute))
	if len(got) != 2 || got[0].Kind != ChangeResolved || got[1].Kind != ChangeResolved {
		t.Fatalf("forget changes %v", got)
	}
	if len(tr.Open()) != 0 || len(tr.Recent()) != 2 {
		t.Errorf("open %d recent %d", len(tr.Open()), len(tr.Recent()))
	}
}

func TestRestoreResumesOpenIncidents(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	tr.Observe(subj, eval(0, 0.9, uniform(20)))
	saved, err := json.Marshal(append(tr.Open(), tr.Recent()...))
	if err != nil {
		t.Fatal(err)
	}
	var incs []Incident
	if err := json.Unmarshal(saved, &incs); err != nil {
		t.Fatal(err)
	}
	back := NewTracker(TrackerOptions{})
	back.Restore(incs)
	// Still firing after the restart: no second opening.
	if got := back.Observe(subj, eval(time.Minute, 0.9, uniform(20))); len(got) != 0 {
		t.Fatalf("restored tracker reported %v, want nothing", kinds(got))
	}
	// The restored hold-down still applies: resolves 5m after the last firing.
	if got := kinds(back.Observe(subj, eval(6*time.Minute, 0.9, uniform(0)))); len(got) != 1 || got[0] != ChangeResolved {
		t.Fatalf("changes %v, want resolved", got)
	}
}

// The reviewer's case: an SLO without any data beside a full outage. The
// no-data ticket knows neither its budget nor its burn; it must not rank
// above the page whose budget runs out in 1h35m, nor claim a spent budget.
func TestTrackerRanksNoDataAfterAKnownPage(t *testing.T) {
	tr := NewTracker(TrackerOptions{NoDataAfter: 10 * time.Minute})
	outage := Subject{Key: "checkout{}", SLO: "checkout", Window: 30 * day}
	empty := Subject{Key: "empty{}", SLO: "empty", Window: 30 * day}
	tr.Observe(outage, eval(0, 0.044, uniform(20)))
	nodata := eval(0, math.NaN(), uniform(math.NaN()))
	nodata.NoDataFor = time.Hour
	tr.Observe(empty, nodata)
	open := tr.Open()
	if len(open) != 2 {
		t.Fatalf("%d open incidents, want 2", len(open))
	}
	if open[0].SLO != "checkout" || open[1].SLO != "empty" {
		t.Fatalf("ranked %s (tte %v) before %s (tte %v), want the page first",
			open[0].SLO, open[0].TimeToExhaustion, open[1].SLO, open[1].TimeToExhaustion)
	}
	if got := unknownOf(open[0]); len(got) != 0 {
		t.Errorf("the outage's figures are measured, got unknown %v", got)
	}
	want := []string{"budget_at_start", "budget_spent", "budget_remaining", "burn", "time_to_exhaustion"}
	if got := unknownOf(open[1]); !slices.Equal(got, want) {
		t.Errorf("the no-data incident's unknown figures %v, want %v", got, want)
	}
}

// unknownOf names inc's unknown figures, in field order.
func unknownOf(inc Incident) []string {
	var out []string
	for _, f := range []struct {
		name string
		fig  Figure
	}{
		{"budget_at_start", inc.BudgetAtStart}, {"budget_spent", inc.BudgetSpent},
		{"budget_remaining", inc.BudgetRemaining}, {"burn", inc.Burn}, {"time_to_exhaustion", inc.TimeToExhaustion},
	} {
		if !f.fig.Known() {
			out = append(out, f.name)
		}
	}
	return out
}

// sameFigure is == where two unknown figures are the same.
func sameFigure(a, b Figure) bool { return a == b || !a.Known() && !b.Known() }

func TestIncidentUnknownFigures(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name      string
		remaining float64
		burns     [4][2]float64
		wantTTE   Figure
		want      []string
	}{
		{"budget and burn known", 0.5, uniform(20), Figure(0.5 * (30 * day).Seconds() / 20), nil},
		{"budget known, no policy window holds data", 0.5, uniform(nan), Unknown(), []string{"burn", "time_to_exhaustion"}},
		{"budget gone, burn unknown: exhausted now", -0.2, uniform(nan), 0, []string{"burn"}},
		{"no known step in W", nan, uniform(nan), Unknown(),
			[]string{"budget_spent", "budget_remaining", "burn", "time_to_exhaustion"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := Incident{Window: 30 * day}
			update(&inc, eval(0, tc.remaining, tc.burns))
			if got := unknownOf(inc); !slices.Equal(got, tc.want) {
				t.Errorf("unknown %v, want %v", got, tc.want)
			}
			if !sameFigure(inc.TimeToExhaustion, tc.wantTTE) {
				t.Errorf("time to exhaustion %v, want %v", inc.TimeToExhaustion, tc.wantTTE)
			}
			if _, err := json.Marshal(inc); err != nil {
				t.Errorf("incident does not serialise: %v", err)
			}
		})
	}
}

// A no-data incident goes through the daemon's state snapshot (JSON) and
// comes back with its unknown figures still unknown.
func TestIncidentJSONRoundTripKeepsUnknownFigures(t *testing.T) {
	tr := NewTracker(TrackerOptions{NoDataAfter: time.Minute})
	ev := eval(0, math.NaN(), uniform(math.NaN()))
	ev.NoDataFor = time.Hour
	tr.Observe(subj, ev)
	tr.Observe(Subject{Key: "b", SLO: "b", Window: 30 * day}, eval(0, 0.5, uniform(20)))
	tr.Observe(Subject{Key: "c", SLO: "c", Window: 30 * day}, eval(0, 0.5, [4][2]float64{{0, 0}, {0, 0}, {3.5, 3.5}, {0, 0}}))
	saved := tr.Open()
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var back []Incident
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	restored := NewTracker(TrackerOptions{NoDataAfter: time.Minute})
	restored.Restore(back)
	got := restored.Open()
	if len(got) != len(saved) {
		t.Fatalf("%d incidents back, want %d", len(got), len(saved))
	}
	for i := range saved {
		if got[i].Key != saved[i].Key || !slices.Equal(unknownOf(got[i]), unknownOf(saved[i])) ||
			!sameFigure(got[i].TimeToExhaustion, saved[i].TimeToExhaustion) || !sameFigure(got[i].BudgetRemaining, saved[i].BudgetRemaining) {
			t.Errorf("incident %d: %+v, want %+v", i, got[i], saved[i])
		}
	}
	// b burns; c fires on the 6h/24h row but its 5m window, the current
	// burn, is 0: its budget never runs out; the no-data incident ranks last.
	if got[0].Key != "b" || !got[0].TimeToExhaustion.Known() || math.IsInf(float64(got[0].TimeToExhaustion), 0) {
		t.Errorf("the burning incident came back as %+v", got[0])
	}
	if got[1].Key != "c" || !math.IsInf(float64(got[1].TimeToExhaustion), 1) {
		t.Errorf("the incident that never runs out came back as %+v", got[1])
	}
	if got[2].Class != ClassNoData || got[2].TimeToExhaustion.Known() {
		t.Errorf("the no-data incident lost its unknown figures: %+v", got[2])
	}
}

// Snapshots written before figures were Figures hold the time to
// exhaustion in nanoseconds (the largest int64 for never) and flag unknown
// figures, which held 0, in an "unknown" object; without the object, every
// figure was known.
func TestIncidentReadsLegacySnapshots(t *testing.T) {
	cases := []struct {
		name        string
		json        string
		wantTTE     Figure
		wantUnknown []string
		wantBurn    Figure
	}{
		{
			name: "a burning incident's nanoseconds become seconds",
			json: `{"key":"api{}","slo":"api","class":"burn","severity":"page","start_severity":"page",
				"window":2592000000000000,"start":"2026-11-01T12:00:00Z","updated":"2026-11-01T12:01:00Z",
				"last_firing":"2026-11-01T12:01:00Z","hold_down":300000000000,
				"peak_burn":[{"window":300000000000,"burn":30}],
				"budget_at_start":0.8,"budget_spent":0.1,"budget_remaining":0.7,"burn":10,
				"time_to_exhaustion":181440000000000}`,
			wantTTE:  Figure(181440),
			wantBurn: 10,
		},
		{
			name:     "the largest int64 is never",
			json:     `{"key":"k","budget_remaining":0.4,"burn":0,"time_to_exhaustion":9223372036854775807}`,
			wantTTE:  Figure(math.Inf(1)),
			wantBurn: 0,
		},
		{
			name: "flagged figures are unknown, not the 0 they held",
			json: `{"key":"empty{}","slo":"empty","class":"nodata","severity":"ticket","start_severity":"ticket",
				"window":2592000000000000,"start":"2026-11-01T12:00:00Z","updated":"2026-11-01T13:00:00Z",
				"last_firing":"2026-11-01T13:00:00Z","hold_down":0,
				"budget_at_start":0,"budget_spent":0,"budget_remaining":0,"burn":0,"time_to_exhaustion":0,
				"unknown":{"budget_at_start":true,"budget_spent":true,"budget_remaining":true,"burn":true,"time_to_exhaustion":true},
				"no_data_for":3600000000000}`,
			wantTTE:     Unknown(),
			wantUnknown: []string{"budget_at_start", "budget_spent", "budget_remaining", "burn", "time_to_exhaustion"},
			wantBurn:    Unknown(),
		},
		{
			name: "a spent budget with an unknown burn keeps its known 0",
			json: `{"key":"k","budget_at_start":0.1,"budget_spent":0.3,"budget_remaining":-0.2,"burn":0,
				"time_to_exhaustion":0,"unknown":{"burn":true}}`,
			wantTTE:     0,
			wantUnknown: []string{"burn"},
			wantBurn:    Unknown(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var inc Incident
			if err := json.Unmarshal([]byte(tc.json), &inc); err != nil {
				t.Fatal(err)
			}
			if !sameFigure(inc.TimeToExhaustion, tc.wantTTE) {
				t.Errorf("time to exhaustion %vs, want %vs", inc.TimeToExhaustion, tc.wantTTE)
			}
			if got := unknownOf(inc); !slices.Equal(got, tc.wantUnknown) {
				t.Errorf("unknown %v, want %v", got, tc.wantUnknown)
			}
			if !sameFigure(inc.Burn, tc.wantBurn) {
				t.Errorf("burn %v, want %v", inc.Burn, tc.wantBurn)
			}
			// Read as it is written now, it comes back the same.
			data, err := json.Marshal(inc)
			if err != nil {
				t.Fatal(err)
			}
			var again Incident
			if err := json.Unmarshal(data, &again); err != nil {
				t.Fatal(err)
			}
			if !sameFigure(again.TimeToExhaustion, inc.TimeToExhaustion) || !slices.Equal(unknownOf(again), unknownOf(inc)) {
				t.Errorf("rewritten as %s it reads back as %+v", data, again)
			}
		})
	}
	// The fields the previous version wrote, beyond the figures, still read.
	var inc Incident
	if err := json.Unmarshal([]byte(cases[0].json), &inc); err != nil {
		t.Fatal(err)
	}
	if inc.Key != "api{}" || inc.Class != ClassBurn || inc.Window != 30*day || inc.HoldDown != 5*time.Minute ||
		!inc.Updated.Equal(t0.Add(time.Minute)) || len(inc.PeakBurn) != 1 || inc.BudgetRemaining != 0.7 || inc.BudgetSpent != 0.1 {
		t.Errorf("legacy incident reads as %+v", inc)
	}
}

// unknownRows is an evaluation whose windows hold no known step since
// noData: every burn is unknown, as for a dead app or a scrape gap.
func unknownRows(at time.Duration, noData time.Duration) Evaluation {
	ev := eval(at, 0.5, uniform(0))
	for i := range ev.Rows {
		ev.Rows[i].LongBurn, ev.Rows[i].ShortBurn, ev.Rows[i].Fires = Unknown(), Unknown(), false
	}
	ev.NoDataFor = noData
	return ev
}

// TestUnknownNeverResolvesABurn: while the data of a burning instance is
// missing the incident stays open however long the gap lasts, says since
// when data is missing, raises that once within the same incident (no
// second, lower-severity no-data incident), and resolves only after a full
// hold-down of known, quiet evaluations once data returns.
func TestUnknownNeverResolvesABurn(t *testing.T) {
	tr := NewTracker(TrackerOptions{NoDataAfter: 15 * time.Minute})
	if got := kinds(tr.Observe(subj, eval(0, 0.9, uniform(20)))); !slices.Equal(got, []ChangeKind{ChangeOpened}) {
		t.Fatalf("changes %v, want the burn opened", got)
	}
	var raised []Change
	for m := 1; m <= 60; m++ {
		for _, c := range tr.Observe(subj, unknownRows(time.Duration(m)*time.Minute, time.Duration(m)*time.Minute)) {
			if c.Kind != ChangeNoData {
				t.Fatalf("minute %d of the gap: change %s, want none but the no-data raise", m, c.Kind)
			}
			raised = append(raised, c)
		}
	}
	if len(raised) != 1 || raised[0].Incident.Class != ClassBurn || !raised[0].Incident.NoDataSince.Equal(t0) {
		t.Fatalf("no-data raises %+v, want one, within the burn incident, no data since %s", raised, t0)
	}
	open := tr.Open()
	if len(open) != 1 || open[0].Class != ClassBurn {
		t.Fatalf("open %+v, want only the burn incident", open)
	}
	// Data returns, healthy: the 5m hold-down of the page row counts from
	// the last unknown evaluation, not from the last firing one.
	for m := 61; m < 65; m++ {
		if got := tr.Observe(subj, eval(time.Duration(m)*time.Minute, 0.9, uniform(0))); len(got) != 0 {
			t.Fatalf("minute %d: %v before a full hold-down of known data", m, kinds(got))
		}
	}
	got := tr.Observe(subj, eval(65*time.Minute, 0.9, uniform(0)))
	if len(got) != 1 || got[0].Kind != ChangeResolved {
		t.Fatalf("changes %v, want the resolve five known quiet minutes after the gap", kinds(got))
	}
	if !got[0].Incident.NoDataSince.IsZero() {
		t.Errorf("resolved incident still says no data since %s", got[0].Incident.NoDataSince)
	}
}

// TestAGapInASlowBurnIsNoResolve: a 3% burn (ticket rows firing) with a
// 12-minute gap in its data gives no resolve and no second incident, as it
// did when unknown read as not firing.
func TestAGapInASlowBurnIsNoResolve(t *testing.T) {
	tr := NewTracker(TrackerOptions{})
	burning := func(m int) Evaluation {
		return eval(time.Duration(m)*time.Minute, 0.5, [4][2]float64{{2, 2}, {2, 2}, {3.2, 3.2}, {1.1, 1.1}})
	}
	var all []ChangeKind
	for m := 0; m < 30; m++ {
		all = append(all, kinds(tr.Observe(subj, burning(m)))...)
	}
	for m := 30; m < 42; m++ {
		// The gap: short windows empty, long ones still known.
		ev := burning(m)
		for i := range ev.Rows {
			ev.Rows[i].ShortBurn, ev.Rows[i].Fires = Unknown(), false
		}
		ev.NoDataFor = time.Duration(m-29) * time.Minute
		all = append(all, kinds(tr.Observe(subj, ev))...)
	}
	for m := 42; m < 60; m++ {
		all = append(all, kinds(tr.Observe(subj, burning(m)))...)
	}
	if !slices.Equal(all, []ChangeKind{ChangeOpened}) {
		t.Fatalf("changes %v, want one opening and nothing else", all)
	}
}
