package burnrate

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/slo"
)

// IncidentClass separates the two reasons an SLO instance can be in trouble.
// Together with the SLO id and the instance labels it forms the dedup key of
// the pages an incident raises, so it must stay stable: escalation from
// ticket to page keeps the class (and so the key) of the incident.
type IncidentClass string

// The incident classes.
const (
	// ClassBurn is an error budget burning faster than a policy row allows.
	ClassBurn IncidentClass = "burn"
	// ClassNoData is an SLI that has had no known step for too long.
	ClassNoData IncidentClass = "nodata"
)

// DefaultNoDataAfter is how long an SLI may have no data before its no-data
// incident opens, when neither the SLO nor the tracker names a duration.
const DefaultNoDataAfter = 15 * time.Minute

// WindowBurn is a burn rate over one window.
type WindowBurn struct {
	Window time.Duration `json:"window"`
	Burn   float64       `json:"burn"`
}

// Incident is one burn (or one stretch without data) of one SLO instance,
// from the first firing evaluation to its resolution. It is one incident per
// burn, not one per policy row: rows that fire together or one after the
// other while it is open only raise its severity and peaks.
type Incident struct {
	// Key identifies the SLO instance (the caller's stable instance key).
	Key    string            `json:"key"`
	SLO    string            `json:"slo"`
	Labels map[string]string `json:"labels,omitempty"`
	Class  IncidentClass     `json:"class"`
	// Severity is the most urgent severity reached; it escalates from
	// ticket to page in place and never goes back down.
	Severity Severity `json:"severity"`
	// StartSeverity is the severity the incident opened with; when it
	// differs from Severity the incident escalated, and a resolve must reach
	// the receivers of both.
	StartSeverity Severity `json:"start_severity"`
	// Window is the SLO window W the budget figures refer to.
	Window time.Duration `json:"window"`
	Start  time.Time     `json:"start"`
	// Updated is the time of the newest evaluation folded in.
	Updated time.Time `json:"updated"`
	// LastFiring is the newest evaluation at which a row fired (or, for a
	// no-data incident, at which data was still missing).
	LastFiring time.Time `json:"last_firing"`
	// HoldDown is how long no row may fire before the incident resolves.
	// Only evaluations with every window known count toward it.
	HoldDown time.Duration `json:"hold_down"`
	// LastUnknown is the newest evaluation at which some row's window held
	// no known step: the hold-down counts from it too, so an incident never
	// resolves on missing data.
	LastUnknown time.Time `json:"last_unknown,omitzero"`
	// NoDataSince is, while the newest step of the SLI is unknown, the end
	// of its last known step (the start of the gap); zero while data comes.
	NoDataSince time.Time `json:"no_data_since,omitzero"`
	// NoDataRaised is set once the gap has lasted the no-data delay and the
	// incident's page was raised again to say so (ChangeNoData).
	NoDataRaised bool `json:"no_data_raised,omitempty"`
	// Resolved is zero while the incident is open.
	Resolved time.Time `json:"resolved,omitzero"`
	// PeakBurn is the highest burn seen per window while open, shortest window first.
	PeakBurn []WindowBurn `json:"peak_burn,omitempty"`
	// The figures below are unknown (see Figure) when the windows they
	// need hold no known step, as for an SLI without data.

	// BudgetAtStart is the budget remaining over W at the opening evaluation.
	BudgetAtStart Figure `json:"budget_at_start"`
	// BudgetSpent is the share of W's budget spent since the start:
	// BudgetAtStart − BudgetRemaining, never below zero (old errors that
	// roll out of W while the incident is open do not count as negative
	// spend); unknown when either operand is.
	BudgetSpent Figure `json:"budget_spent"`
	// BudgetRemaining is the share of W's budget left at Updated (negative when overspent).
	BudgetRemaining Figure `json:"budget_remaining"`
	// Burn is the current burn rate: the burn over the shortest window of the
	// policy that holds data.
	Burn Figure `json:"burn"`
	// TimeToExhaustion is how long, in seconds, until the budget is gone at
	// the current burn (see the function TimeToExhaustion): 0 when it is
	// already gone, +Inf when nothing burns. Render it with
	// FormatTimeToExhaustion.
	TimeToExhaustion Figure `json:"time_to_exhaustion_seconds"`
	// NoDataState is, for a no-data incident, which state raised it:
	// broken (no known data), idle or collapsed (Evaluation.Quiet).
	NoDataState slo.NoDataState `json:"no_data_state,omitempty"`
	// NoDataFor is how long the SLI had no data at Updated.
	NoDataFor time.Duration `json:"no_data_for,omitempty"`
	// Correlation (Tracker.Correlate, correlate.go): CausedBy, Symptoms,
	// Suppressed, Silent, HeldUntil and Paged.
	Correlation
}

// UnmarshalJSON reads an incident as encoding/json writes it, and also as
// slod wrote it into state snapshots before figures were Figures: a
// time_to_exhaustion in nanoseconds (the largest int64 for never) and an
// "unknown" object of flags whose figures held 0. Those become seconds,
// +Inf and unknown figures, so an upgrade keeps its open incidents.
func (i *Incident) UnmarshalJSON(b []byte) error {
	type plain Incident // no methods: no recursion
	v := struct {
		*plain
		LegacyTimeToExhaustion *int64 `json:"time_to_exhaustion"`
		LegacyUnknown          *struct {
			BudgetAtStart    bool `json:"budget_at_start"`
			BudgetSpent      bool `json:"budget_spent"`
			BudgetRemaining  bool `json:"budget_remaining"`
			Burn             bool `json:"burn"`
			TimeToExhaustion bool `json:"time_to_exhaustion"`
		} `json:"unknown"`
	}{plain: (*plain)(i)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if ns := v.LegacyTimeToExhaustion; ns != nil {
		i.TimeToExhaustion = Figure(time.Duration(*ns).Seconds())
		if *ns == math.MaxInt64 {
			i.TimeToExhaustion = Figure(math.Inf(1))
		}
	}
	if u := v.LegacyUnknown; u != nil {
		for _, f := range []struct {
			unknown bool
			fig     *Figure
		}{
			{u.BudgetAtStart, &i.BudgetAtStart},
			{u.BudgetSpent, &i.BudgetSpent},
			{u.BudgetRemaining, &i.BudgetRemaining},
			{u.Burn, &i.Burn},
			{u.TimeToExhaustion, &i.TimeToExhaustion},
		} {
			if f.unknown {
				*f.fig = Unknown()
			}
		}
	}
	return nil
}

// Open reports whether the incident has not been resolved.
func (i *Incident) Open() bool { return i.Resolved.IsZero() }

// Subject names the SLO instance an evaluation belongs to.
type Subject struct {
	// Key is a stable identity of the instance (SLO id and labels); the tracker keys incidents by it.
	Key    string
	SLO    string
	Labels map[string]string
	// Window is the SLO window W.
	Window time.Duration
	// NoDataAfter overrides the tracker's no-data threshold for this SLO when > 0.
	NoDataAfter time.Duration
}

// ChangeKind says what happened to an incident at an evaluation.
type ChangeKind string

// The incident changes that raise notifications.
const (
	ChangeOpened    ChangeKind = "opened"
	ChangeEscalated ChangeKind = "escalated"
	ChangeResolved  ChangeKind = "resolved"
	// ChangeNoData is an open burn incident whose SLI has had no data for
	// the no-data delay: the incident stays open (unknown is not good) and
	// its page is raised again saying since when data is missing, instead
	// of a separate, lower-severity no-data incident.
	ChangeNoData ChangeKind = "nodata"
	// ChangeSymptoms is a root incident whose list of symptoms grew: its
	// page is raised again listing them (Tracker.Correlate).
	ChangeSymptoms ChangeKind = "symptoms"
)

// Change is an incident transition; the daemon turns each into a page or a resolve.
type Change struct {
	Kind     ChangeKind
	Incident Incident
}

// TrackerOptions configures a Tracker. Zero values take defaults.
type TrackerOptions struct {
	// HoldDown, when > 0, replaces the default hold-down (the short window of
	// the row that last fired; the shortest one when several fired) for every incident.
	HoldDown time.Duration
	// NoDataAfter is how long an SLI may have no data before a no-data
	// incident opens (default DefaultNoDataAfter).
	NoDataAfter time.Duration
	// KeepResolved is how many resolved incidents Recent returns (default 50).
	KeepResolved int
}

// Tracker folds evaluations into incidents. It does no I/O and reads no
// clock: time is the At of each evaluation. It is not safe for concurrent use.
type Tracker struct {
	opts     TrackerOptions
	open     map[trackKey]*Incident
	resolved []Incident // newest last, at most opts.KeepResolved
	// waiting are the open incidents correlation looks at again (held
	// pages, symptoms whose root resolved), by SLO id; nil until built.
	waiting map[string]map[trackKey]bool
}

type trackKey struct {
	key   string
	class IncidentClass
}

// NewTracker returns an empty tracker.
func NewTracker(opts TrackerOptions) *Tracker {
	if opts.NoDataAfter <= 0 {
		opts.NoDataAfter = DefaultNoDataAfter
	}
	if opts.KeepResolved <= 0 {
		opts.KeepResolved = 50
	}
	return &Tracker{opts: opts, open: map[trackKey]*Incident{}}
}

// Observe folds one evaluation of an instance into its incidents and
// returns the transitions it caused, in a stable order.
func (t *Tracker) Observe(s Subject, ev Evaluation) []Change {
	var changes []Change
	changes = append(changes, t.observeBurn(s, ev)...)
	changes = append(changes, t.observeNoData(s, ev)...)
	return changes
}

func (t *Tracker) observeBurn(s Subject, ev Evaluation) []Change {
	k := trackKey{s.Key, ClassBurn}
	inc := t.open[k]
	sev, firing := ev.Severity()
	switch {
	case inc == nil && !firing:
		return nil
	case inc == nil:
		inc = t.start(s, ClassBurn, sev, ev)
		t.open[k] = inc
		inc.LastFiring, inc.HoldDown = ev.At, t.holdDown(ev)
		return []Change{{ChangeOpened, t.copy(inc)}}
	}
	update(inc, ev)
	var changes []Change
	if ev.NoDataFor > 0 {
		if inc.NoDataSince.IsZero() {
			inc.NoDataSince = ev.At.Add(-ev.NoDataFor)
		}
		if !inc.NoDataRaised && ev.NoDataFor >= t.noDataAfter(s) {
			inc.NoDataRaised = true
			changes = append(changes, Change{ChangeNoData, t.copy(inc)})
		}
	} else {
		inc.NoDataSince, inc.NoDataRaised = time.Time{}, false
	}
	if firing {
		inc.LastFiring, inc.HoldDown = ev.At, t.holdDown(ev)
		if sev == SeverityPage && inc.Severity != SeverityPage {
			inc.Severity = SeverityPage
			return append(changes, Change{ChangeEscalated, t.copy(inc)})
		}
		return changes
	}
	if !ev.Known() {
		// Unknown is not good: a window without data neither fires nor
		// counts toward the hold-down, so a dead app, a scrape gap or a
		// source outage never resolves a burn.
		inc.LastUnknown = ev.At
		return changes
	}
	quiet := inc.LastFiring
	if inc.LastUnknown.After(quiet) {
		quiet = inc.LastUnknown
	}
	if ev.At.Sub(quiet) < inc.HoldDown {
		return changes
	}
	return append(changes, t.resolve(k, inc, ev.At))
}

// noDataAfter is the no-data delay for a subject.
func (t *Tracker) noDataAfter(s Subject) time.Duration {
	if s.NoDataAfter > 0 {
		return s.NoDataAfter
	}
	return t.opts.NoDataAfter
}

func (t *Tracker) observeNoData(s Subject, ev Evaluation) []Change {
	k := trackKey{s.Key, ClassNoData}
	state := slo.NoDataState("")
	switch {
	case ev.NoDataFor >= t.noDataAfter(s):
		state = slo.NoDataBroken
	case ev.Quiet != "":
		state = ev.Quiet
	}
	missing := state != ""
	inc := t.open[k]
	switch {
	case inc == nil && !missing:
		return nil
	case inc == nil && t.open[trackKey{s.Key, ClassBurn}] != nil:
		// A burning incident is open: the missing data is raised within it
		// (ChangeNoData), not as a second, lower-severity incident.
		return nil
	case inc == nil:
		inc = t.start(s, ClassNoData, SeverityTicket, ev)
		inc.LastFiring, inc.NoDataState = ev.At, state
		t.open[k] = inc
		return []Change{{ChangeOpened, t.copy(inc)}}
	}
	update(inc, ev)
	if missing {
		inc.LastFiring = ev.At
		return nil
	}
	// Data is back: the SLI is measurable again, no hold-down needed.
	return []Change{t.resolve(k, inc, ev.At)}
}

func (t *Tracker) start(s Subject, class IncidentClass, sev Severity, ev Evaluation) *Incident {
	inc := &Incident{
		Key:           s.Key,
		SLO:           s.SLO,
		Labels:        s.Labels,
		Class:         class,
		Severity:      sev,
		StartSeverity: sev,
		Window:        s.Window,
		Start:         ev.At,
	}
	inc.BudgetAtStart = measured(ev.BudgetRemaining)
	update(inc, ev)
	return inc
}

// holdDown is the tracker's fixed hold-down, or else the short window of
// the most sensitive row firing in ev (the shortest short window among the
// rows that fired last). Slower rows that keep firing keep the incident
// open by themselves; the hold-down only bridges a flapping fast row.
func (t *Tracker) holdDown(ev Evaluation) time.Duration {
	if t.opts.HoldDown > 0 {
		return t.opts.HoldDown
	}
	var d time.Duration
	for _, r := range ev.Rows {
		if r.Fires && (d == 0 || r.Row.Short < d) {
			d = r.Row.Short
		}
	}
	return d
}

func (t *Tracker) resolve(k trackKey, inc *Incident, at time.Time) Change {
	inc.Resolved = at
	delete(t.open, k)
	c := t.copy(inc)
	t.resolved = append(t.resolved, c)
	if n := len(t.resolved) - t.opts.KeepResolved; n > 0 {
		t.resolved = slices.Delete(t.resolved, 0, n)
	}
	return Change{ChangeResolved, c}
}

// Forget resolves every open incident of an instance that no longer exists
// (its SLO was removed, its label set vanished, or another shard owns it).
func (t *Tracker) Forget(key string, at time.Time) []Change {
	var changes []Change
	for _, class := range []IncidentClass{ClassBurn, ClassNoData} {
		k := trackKey{key, class}
		if inc := t.open[k]; inc != nil {
			changes = append(changes, t.resolve(k, inc, at))
		}
	}
	return changes
}

// Keys returns the instance keys that have an open incident, sorted.
func (t *Tracker) Keys() []string {
	seen := map[string]bool{}
	var keys []string
	for k := range t.open {
		if !seen[k.key] {
			seen[k.key] = true
			keys = append(keys, k.key)
		}
	}
	sort.Strings(keys)
	return keys
}

// Open returns copies of the open incidents, ranked by threat.
func (t *Tracker) Open() []Incident {
	out := make([]Incident, 0, len(t.open))
	for _, inc := range t.open {
		out = append(out, t.copy(inc))
	}
	Rank(out)
	return out
}

// Recent returns copies of the most recently resolved incidents, newest first.
func (t *Tracker) Recent() []Incident {
	out := slices.Clone(t.resolved)
	slices.Reverse(out)
	return out
}

// Restore replaces the tracker's state with incidents saved from Open and
// Recent (for example from a state snapshot): open ones resume, resolved
// ones go back to the recent list.
func (t *Tracker) Restore(incidents []Incident) {
	t.open = map[trackKey]*Incident{}
	t.resolved = nil
	t.waiting = nil
	for _, inc := range incidents {
		inc := inc
		if inc.Open() {
			t.open[trackKey{inc.Key, inc.Class}] = &inc
		} else {
			t.resolved = append(t.resolved, inc)
		}
	}
	sort.SliceStable(t.resolved, func(i, j int) bool { return t.resolved[i].Resolved.Before(t.resolved[j].Resolved) })
	if n := len(t.resolved) - t.opts.KeepResolved; n > 0 {
		t.resolved = slices.Delete(t.resolved, 0, n)
	}
}

func (t *Tracker) copy(inc *Incident) Incident {
	c := *inc
	c.PeakBurn = slices.Clone(inc.PeakBurn)
	c.Correlation = inc.Correlation.clone()
	return c
}

// update folds ev's figures into an incident: peaks, budget, current burn
// and time to exhaustion.
func update(inc *Incident, ev Evaluation) {
	inc.Updated = ev.At
	inc.NoDataFor = ev.NoDataFor
	for _, r := range ev.Rows {
		inc.PeakBurn = raisePeak(inc.PeakBurn, r.Row.Long, r.LongBurn)
		inc.PeakBurn = raisePeak(inc.PeakBurn, r.Row.Short, r.ShortBurn)
	}
	inc.BudgetRemaining = measured(ev.BudgetRemaining)
	inc.BudgetSpent = Unknown()
	if inc.BudgetAtStart.Known() && inc.BudgetRemaining.Known() {
		inc.BudgetSpent = max(0, inc.BudgetAtStart-inc.BudgetRemaining)
	}
	inc.Burn = CurrentBurn(ev)
	inc.TimeToExhaustion = TimeToExhaustion(inc.BudgetRemaining, inc.Window, inc.Burn)
}

// raisePeak raises the peak of window w to burn; an unknown (or infinite)
// burn is no peak, so peaks are always known.
func raisePeak(peaks []WindowBurn, w time.Duration, f Figure) []WindowBurn {
	burn := float64(f)
	if math.IsNaN(burn) || math.IsInf(burn, 0) {
		return peaks
	}
	i, found := slices.BinarySearchFunc(peaks, w, func(p WindowBurn, w time.Duration) int {
		return cmp.Compare(p.Window, w)
	})
	if !found {
		return slices.Insert(peaks, i, WindowBurn{Window: w, Burn: burn})
	}
	peaks[i].Burn = max(peaks[i].Burn, burn)
	return peaks
}

// CurrentBurn is the burn over the shortest policy window that holds data
// in ev: the best estimate of how fast the budget burns right now. It is
// unknown when no window holds data.
func CurrentBurn(ev Evaluation) Figure {
	best, burn := time.Duration(math.MaxInt64), Unknown()
	consider := func(w time.Duration, b Figure) {
		if !b.Known() || math.IsInf(float64(b), 0) || w >= best {
			return
		}
		best, burn = w, b
	}
	for _, r := range ev.Rows {
		consider(r.Row.Short, r.ShortBurn)
		consider(r.Row.Long, r.LongBurn)
	}
	return burn
}

// TimeToExhaustion is how long, in seconds, the remaining share of the
// budget of a window W lasts at burn rate burn. A burn of 1 spends the
// whole budget in exactly W, so a share r lasts r × W / burn. It is 0 when
// nothing remains (gone is gone, whatever the burn), +Inf when nothing
// burns or when it would outlast the largest time.Duration, and unknown
// when the remaining budget is, or when budget remains but its burn is
// unknown.
func TimeToExhaustion(remaining Figure, window time.Duration, burn Figure) Figure {
	switch {
	case !remaining.Known():
		// No step of W is known: nothing says how much budget is left.
		return Unknown()
	case remaining <= 0:
		return 0
	case !burn.Known():
		// Budget is left but no policy window says how fast it burns.
		return Unknown()
	case burn <= 0:
		return Figure(math.Inf(1))
	}
	s := remaining * Figure(window.Seconds()) / burn
	if s >= Figure(time.Duration(math.MaxInt64).Seconds()) {
		return Figure(math.Inf(1))
	}
	return s
}

// severityRank orders severities, most urgent first.
func severityRank(s Severity) int {
	if s == SeverityPage {
		return 0
	}
	return 1
}

// Rank sorts incidents by threat. Incidents with a known time to exhaustion
// come first, soonest exhaustion first (never, +Inf, last among them); incidents
// whose time to exhaustion is unknown (an SLI without data) follow all of
// them, because an unmeasured threat cannot be shown to be nearer than a
// measured one. Within equal times, and among the unknown ones, the more
// urgent severity comes first, then a known burn before an unknown one,
// then the faster burn; ties fall back to SLO id, key and class so the
// order is stable.
func Rank(incs []Incident) {
	sort.SliceStable(incs, func(i, j int) bool {
		a, b := &incs[i], &incs[j]
		if ka, kb := a.TimeToExhaustion.Known(), b.TimeToExhaustion.Known(); ka != kb {
			return ka
		}
		if a.TimeToExhaustion.Known() && a.TimeToExhaustion != b.TimeToExhaustion {
			return a.TimeToExhaustion < b.TimeToExhaustion
		}
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if ka, kb := a.Burn.Known(), b.Burn.Known(); ka != kb {
			return ka
		}
		if a.Burn.Known() && a.Burn != b.Burn {
			return a.Burn > b.Burn
		}
		if c := strings.Compare(a.SLO, b.SLO); c != 0 {
			return c < 0
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Class < b.Class
	})
}

// measured is a budget figure of an evaluation, unknown when it is ±Inf
// as well as when it is unknown: an infinite budget share measures nothing.
func measured(f Figure) Figure {
	if math.IsInf(float64(f), 0) {
		return Unknown()
	}
	return f
}
