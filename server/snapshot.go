// Package server serves slod's HTTP interface: /metrics, /healthz, /readyz,
// the JSON API (/api/v1/slos, /api/v1/incidents) and the server-rendered
// status page at /. It reads the daemon's state through one function that
// returns an immutable Snapshot, so handlers never lock evaluator state.
package server

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// Snapshot is everything the HTTP interface shows, taken at one instant.
// The daemon builds a new one after every tick; handlers only read it.
type Snapshot struct {
	At time.Time
	// Ready is false until state is restored and the gap backfilled.
	Ready bool
	// Reason says why the daemon is not ready (for /readyz), or is empty.
	Reason string
	// Incidents are the open incidents, ranked by threat.
	Incidents []burnrate.Incident
	// Recent are recently resolved incidents, newest first.
	Recent []burnrate.Incident
	SLOs   []SLO
	// Source describes the health of the source of event counts.
	Source SourceStatus
	// Problems are things an operator must fix: SLO files skipped at
	// load or reload, notify configuration errors.
	Problems []Problem
	// Shard is "i/n" when the daemon evaluates only a shard, else empty.
	Shard string
	// Banners are damage the daemon recovered from that an operator must
	// know about (a state or outbox file moved aside): shown at the top of
	// the status page and as warnings in /readyz.
	Banners []string
	// BudgetForIncidentsOnly is set when the fleet is too large to draw
	// every instance's budget over the window: only instances with an open
	// incident carry a Budget, and the page shows no chart, rather than
	// "collecting data", for the others.
	BudgetForIncidentsOnly bool
	// Onsets are the burn onsets of the incidents shown (open and recent),
	// by OnsetKey; an incident without one shows its onset as unknown.
	Onsets map[string]burnrate.Onset

	// once builds idx, what every table reads: see index.
	once sync.Once
	idx  *index
	// holds counts the readers holding the snapshot (Acquire); a pinned
	// snapshot keeps one for good.
	holds atomic.Int64
}

// Acquire returns the newest snapshot of load (nil when there is none),
// held until Release: a publisher that recycles the memory of snapshots
// it has replaced (Recyclable) leaves a held one alone. A snapshot is
// held only while load still returns it, so one that load no longer
// returns and that no one holds can never be held again.
func Acquire(load func() *Snapshot) *Snapshot {
	for {
		s := load()
		if s == nil {
			return nil
		}
		s.holds.Add(1)
		if load() == s {
			return s
		}
		s.holds.Add(-1) // replaced meanwhile: take the newer one
	}
}

// Release ends a hold of Acquire.
func (s *Snapshot) Release() {
	if s != nil {
		s.holds.Add(-1)
	}
}

// Pin acquires the newest snapshot of load for good, for a caller that
// cannot say when it is done with it.
func Pin(load func() *Snapshot) *Snapshot { return Acquire(load) }

// Recyclable reports whether no one holds s. Ask it only of a snapshot
// that load no longer returns: then the answer stays true, and its
// Instances' memory may be reused for a new snapshot.
func (s *Snapshot) Recyclable() bool { return s.holds.Load() == 0 }

// SourceStatus is the health of the source (Prometheus or the embedded engine).
type SourceStatus struct {
	Name string
	// Up is false after a failed query until the next successful one.
	Up          bool
	LastError   string
	LastSuccess time.Time
	// Lag is how far the newest ingested step trails the newest wanted one.
	Lag time.Duration
}

// Problem is one thing an operator must fix.
type Problem struct {
	Where   string // a file path, "notify" or "source"
	Message string
}

// SLO is one SLO with its instances.
type SLO struct {
	ID          string
	Name        string
	Service     string
	Description string
	Objective   float64
	Window      time.Duration
	Policy      string
	Labels      map[string]string
	Instances   []Instance
	// Misconfigured holds the live checks' error findings (file:line:
	// message): the SLO's data cannot mean what its file says, and its
	// instances read "misconfigured" unless they page or ticket.
	Misconfigured []string
	// Backfilling is set while the SLO's first read of its window (or of a
	// long gap) goes on in the background: it is not evaluated yet, and
	// its instances read pending.
	Backfilling bool
	// Annotations are the SLO file's annotations: the SLO page links its
	// runbook and dashboard.
	Annotations map[string]string
	// Runbook is the runbook link of the SLO's pages, "" when none is set.
	Runbook string
	// Rings reads the SLO's ring buffers for the charts of its page; nil
	// when there are none (the page then says so).
	Rings Rings
}

// Rings reads one SLO's ring buffers (a *burnrate.Evaluator); it must be
// safe to call while the daemon ingests.
type Rings interface {
	// Counts are the windows of length w ending at each of ends for the
	// instance with labels; false when there is no such instance.
	Counts(labels map[string]string, ends []time.Time, w time.Duration) ([]burnrate.WindowCount, bool)
	// Step is the length of one step of the rings.
	Step() time.Duration
}

// OnsetKey keys Snapshot.Onsets: one burn incident of one instance.
func OnsetKey(inc burnrate.Incident) string {
	return inc.Key + "\x00" + inc.Start.UTC().Format(time.RFC3339Nano)
}

// Instance is one SLO instance (one label set of a group_by SLO, or the
// single instance of an ungrouped one) with its newest evaluation.
type Instance struct {
	Key    string
	Labels map[string]string
	// Evaluated is false until the first evaluation.
	Evaluated  bool
	Evaluation burnrate.Evaluation
	// Budget is the burndown of the current window: budget remaining after
	// each point in time from the window's start to now, oldest first.
	Budget []BudgetPoint
	// Misconfigured is set when the SLO's live checks found an error.
	Misconfigured bool
}

// BudgetPoint is the share of the window's error budget remaining at At.
type BudgetPoint struct {
	At        time.Time
	Remaining float64
}

// State summarises one instance: "page", "ticket", "nodata",
// "misconfigured", "ok" or "pending" (not evaluated yet). A misconfigured
// SLO (its data cannot mean what its file says) never reads ok, pending
// or plain no data. It reads every incident; tables, which need the state
// of every instance, use Snapshot.State, one map lookup each.
func (in Instance) State(incidents []burnrate.Incident) string {
	state := "pending"
	if in.Evaluated {
		state = "ok"
	}
	for _, inc := range incidents {
		if inc.Key != in.Key {
			continue
		}
		switch {
		case inc.Severity == burnrate.SeverityPage && inc.Class == burnrate.ClassBurn:
			return "page"
		case inc.Class == burnrate.ClassBurn:
			state = "ticket"
		case state == "ok" || state == "pending":
			state = "nodata"
		}
	}
	if in.Misconfigured && state != "ticket" {
		return "misconfigured"
	}
	return state
}

// State is an instance's state in tables. The values are in threat order,
// the order of the status page: pages first, instances not evaluated yet
// last.
type State uint8

// The states; Instance.State has the rules.
const (
	StatePage          State = iota // a burn incident at page severity
	StateTicket                     // a burn incident at ticket severity
	StateMisconfigured              // the SLO's live checks found an error
	StateNoData                     // a no-data incident
	StateOK                         // evaluated, no incident
	StatePending                    // not evaluated yet
	numStates
)

var stateNames = [numStates]string{"page", "ticket", "misconfigured", "nodata", "ok", "pending"}

// String is the state's name, as in the API and the query parameter state.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "unknown"
}

// ParseState reads a state's name.
func ParseState(name string) (State, bool) {
	i := slices.Index(stateNames[:], name)
	return State(i), i >= 0
}

// Counts are instances by state.
type Counts struct {
	Page          int `json:"page"`
	Ticket        int `json:"ticket"`
	Misconfigured int `json:"misconfigured"`
	NoData        int `json:"nodata"`
	OK            int `json:"ok"`
	Pending       int `json:"pending"`
}

func (c *Counts) field(s State) *int {
	return [numStates]*int{&c.Page, &c.Ticket, &c.Misconfigured, &c.NoData, &c.OK, &c.Pending}[s]
}

// Of is the number of instances in state s.
func (c Counts) Of(s State) int { return *c.field(s) }

func (c *Counts) add(s State) { *c.field(s)++ }

// Total is the number of instances counted.
func (c Counts) Total() int {
	return c.Page + c.Ticket + c.Misconfigured + c.NoData + c.OK + c.Pending
}

// Worst is the most threatening state counted, and false when none is.
func (c Counts) Worst() (State, bool) {
	for s := range numStates {
		if c.Of(s) > 0 {
			return s, true
		}
	}
	return 0, false
}

// incidentMark is what the open incidents of one instance key say of its
// state, whatever their number and order.
type incidentMark uint8

const (
	markPage   incidentMark = 1 << iota // a burn incident at page severity
	markBurn                            // a burn incident at another severity
	markNoData                          // a no-data incident
)

func markOf(inc burnrate.Incident) incidentMark {
	switch {
	case inc.Class != burnrate.ClassBurn:
		return markNoData
	case inc.Severity == burnrate.SeverityPage:
		return markPage
	}
	return markBurn
}

// stateOf is Instance.State from the instance's incident marks.
func stateOf(in *Instance, m incidentMark) State {
	switch {
	case m&markPage != 0:
		return StatePage
	case m&markBurn != 0:
		return StateTicket
	case in.Misconfigured:
		return StateMisconfigured
	case m&markNoData != 0:
		return StateNoData
	case in.Evaluated:
		return StateOK
	}
	return StatePending
}

// ref names instance inst of SLO slo of a snapshot.
type ref struct{ slo, inst int32 }

// index is derived from a snapshot once, on first use, and read by every
// request: the state of each instance (one lookup in a map built from the
// open incidents, not a scan of the incidents per instance), the counts by
// state, and the orders the tables and the API walk.
type index struct {
	states [][]State // by SLO, then instance
	counts []Counts  // by SLO
	// worst is each SLO's lowest known budget remaining (unknown when none is).
	worst []burnrate.Figure
	total Counts
	// bySLO finds an SLO by ID; sloOrder lists the SLOs by ID.
	bySLO    map[string]int
	sloOrder []int32
	// byKey lists each SLO's instances by key (the API's cursor order).
	byKey [][]int32
	// notOK are the instances not ok nor pending, most threatened first.
	notOK []ref
}

// index returns the snapshot's index, building it on first use.
func (s *Snapshot) index() *index {
	s.once.Do(func() { s.idx = newIndex(s) })
	return s.idx
}

func newIndex(s *Snapshot) *index {
	marks := make(map[string]incidentMark, len(s.Incidents))
	for _, inc := range s.Incidents {
		marks[inc.Key] |= markOf(inc)
	}
	x := &index{
		states: make([][]State, len(s.SLOs)), counts: make([]Counts, len(s.SLOs)),
		worst: make([]burnrate.Figure, len(s.SLOs)), bySLO: make(map[string]int, len(s.SLOs)),
		byKey: make([][]int32, len(s.SLOs)),
	}
	for i := range s.SLOs {
		sl := &s.SLOs[i]
		x.bySLO[sl.ID] = i
		x.sloOrder = append(x.sloOrder, int32(i))
		states := make([]State, len(sl.Instances))
		worst := burnrate.Unknown()
		sorted := true
		for j := range sl.Instances {
			in := &sl.Instances[j]
			st := stateOf(in, marks[in.Key])
			states[j] = st
			x.counts[i].add(st)
			if st < StateOK {
				x.notOK = append(x.notOK, ref{int32(i), int32(j)})
			}
			if b := in.Evaluation.BudgetRemaining; in.Evaluated && b.Known() && (!worst.Known() || b < worst) {
				worst = b
			}
			sorted = sorted && (j == 0 || sl.Instances[j-1].Key < in.Key)
		}
		x.states[i], x.worst[i] = states, worst
		order := make([]int32, len(sl.Instances))
		for j := range order {
			order[j] = int32(j)
		}
		if !sorted { // the daemon publishes instances by key; others may not
			slices.SortStableFunc(order, func(a, b int32) int {
				return strings.Compare(sl.Instances[a].Key, sl.Instances[b].Key)
			})
		}
		x.byKey[i] = order
		for st := range numStates {
			*x.total.field(st) += x.counts[i].Of(st)
		}
	}
	slices.SortStableFunc(x.sloOrder, func(a, b int32) int { return strings.Compare(s.SLOs[a].ID, s.SLOs[b].ID) })
	s.sortRefs(x, x.notOK, order{col: sortState})
	return x
}

// State is the state of instance inst of SLO slo (indices into SLOs and
// Instances), as Instance.State gives it.
func (s *Snapshot) State(slo, inst int) State { return s.index().states[slo][inst] }

// Counts are the instances of SLO slo (an index into SLOs) by state.
func (s *Snapshot) Counts(slo int) Counts { return s.index().counts[slo] }

// Total are all instances by state.
func (s *Snapshot) Total() Counts { return s.index().total }

// compareFigures orders known figures ascending and unknown ones last.
func compareFigures(a, b burnrate.Figure) int {
	switch ak, bk := a.Known(), b.Known(); {
	case ak && bk:
		return cmp.Compare(a, b)
	case ak:
		return -1
	case bk:
		return 1
	}
	return 0
}
