package burnrate

import (
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/slodhq/slod/slo"
)

// DefaultGrace is how much later than a dependent's burn an upstream burn
// may begin and still count as its cause (Correlation.Grace): detection
// times differ by objective and burn, by a minute or two for a full outage.
const DefaultGrace = 2 * time.Minute

// MaxSymptoms bounds the symptoms a root incident lists; SymptomCount
// counts them all.
const MaxSymptoms = 50

// Correlation is what dependency correlation records on an incident. A
// root lists its Symptoms; a symptom names its root in CausedBy.
type Correlation struct {
	// CausedBy names the root incident this burn is a symptom of; nil for a
	// root or an uncorrelated incident.
	CausedBy *Cause `json:"caused_by,omitempty"`
	// Symptoms are the incidents correlated with this root, oldest first,
	// at most MaxSymptoms; SymptomCount counts every one.
	Symptoms     []Symptom `json:"symptoms,omitempty"`
	SymptomCount int       `json:"symptom_count,omitempty"`
	// Suppressed is set while the incident is a symptom under the suppress
	// policy: its own opens, escalations and no-data pages stay silent.
	Suppressed bool `json:"suppressed,omitempty"`
	// Silent is set while no change of the incident has reached a
	// receiver (held or suppressed from its start): its resolve is silent too.
	Silent bool `json:"silent,omitempty"`
	// HeldUntil is, while the incident's page is held waiting for an
	// upstream cause, when the hold ends and the incident pages on its own.
	HeldUntil time.Time `json:"held_until,omitzero"`
	// Paged is set once a page-severity change of the incident reached
	// the receivers (not a ticket, not a silent change).
	Paged bool `json:"paged,omitempty"`
}

// Cause is the root incident of a symptom.
type Cause struct {
	SLO    string            `json:"slo"`
	Key    string            `json:"key"`
	Labels map[string]string `json:"labels,omitempty"`
	Start  time.Time         `json:"start"`
	// Policy is the dependency policy the link was made under.
	Policy slo.DependencyPolicy `json:"policy"`
	// RootResolved is set when the root resolved while the symptom was
	// still open: from then on it pages on its own if it still burns.
	RootResolved time.Time `json:"root_resolved,omitzero"`
}

// Symptom is one incident correlated with a root, as the root's page and
// views list it.
type Symptom struct {
	SLO      string            `json:"slo"`
	Key      string            `json:"key"`
	Labels   map[string]string `json:"labels,omitempty"`
	Start    time.Time         `json:"start"`
	Severity Severity          `json:"severity"`
	// Burn is the symptom's current burn when it was linked or last changed.
	Burn Figure `json:"burn"`
	// Resolved is set once the symptom resolved (or its root did).
	Resolved time.Time `json:"resolved,omitzero"`
}

func (c Correlation) clone() Correlation {
	if c.CausedBy != nil {
		cause := *c.CausedBy
		c.CausedBy = &cause
	}
	c.Symptoms = slices.Clone(c.Symptoms)
	return c
}

// CorrelationOptions configure Tracker.Correlate.
type CorrelationOptions struct {
	// Graph is the dependency graph of the running SLOs; nil or empty
	// correlates nothing (Correlate still marks what paged).
	Graph *slo.Graph
	// Grace is how much later than a dependent's burn an upstream burn may
	// begin and still be its cause. A dependent that opens while no
	// upstream burns holds its page this long waiting for one.
	Grace time.Duration
}

// Correlate links the incident changes of one evaluation of SLO id (""
// for changes of no evaluation, such as Forget's) with the incidents of
// the SLOs it depends on, and decides which changes reach receivers. Call
// it after each SLO's evaluation, roots before dependents
// (slo.Graph.Order), so that an upstream burn opened in the same tick is
// seen. It returns the changes to deliver: the given ones, with Silent
// set where the root's page speaks for them, plus pages released from a
// hold and ChangeSymptoms of roots that gained a symptom.
//
// The rules (docs/incidents.md): an incident that opens or escalates while
// an SLO it transitively depends on has an open burn incident that began
// no later than its own burn plus Grace becomes a symptom of that
// incident's root; under the suppress policy it does not page, under
// annotate it pages naming its root. A dependent that opens with no such
// upstream burn holds its page for Grace, then pages on its own. When a
// root resolves while a symptom still fires, the symptom pages on its own.
func (t *Tracker) Correlate(o CorrelationOptions, id string, changes []Change, at time.Time) []Change {
	t.buildWaiting()
	cr := correlator{t: t, o: o, at: at}
	out := make([]Change, 0, len(changes))
	for _, ch := range changes {
		out = cr.change(out, ch)
	}
	if id != "" {
		out = cr.pending(out, id)
	}
	return out
}

type correlator struct {
	t  *Tracker
	o  CorrelationOptions
	at time.Time
	// bySLO indexes the open burn incidents by SLO id, built on first use.
	bySLO map[string][]*Incident
}

// buildWaiting finds, after a restore, the incidents correlation must
// look at again.
func (t *Tracker) buildWaiting() {
	if t.waiting != nil {
		return
	}
	t.waiting = map[string]map[trackKey]bool{}
	for k, inc := range t.open {
		if !inc.HeldUntil.IsZero() || (inc.CausedBy != nil && !inc.CausedBy.RootResolved.IsZero()) {
			t.wait(k, inc)
		}
	}
}

func (t *Tracker) wait(k trackKey, inc *Incident) {
	m := t.waiting[inc.SLO]
	if m == nil {
		m = map[trackKey]bool{}
		t.waiting[inc.SLO] = m
	}
	m[k] = true
}

func (t *Tracker) unwait(k trackKey, sloID string) {
	if m := t.waiting[sloID]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(t.waiting, sloID)
		}
	}
}

// emit appends a change of inc, silent or not, and records what reached
// the receivers.
func (cr *correlator) emit(out []Change, kind ChangeKind, inc *Incident) []Change {
	if kind != ChangeResolved && !(Change{Kind: kind, Incident: *inc}).Silent() {
		inc.Silent = false
		if inc.Severity == SeverityPage {
			inc.Paged = true
		}
	}
	return append(out, Change{Kind: kind, Incident: cr.t.copy(inc)})
}

// Silent reports whether the change must reach no receiver: a change of
// a symptom whose root's page speaks for it, of a page held for the
// correlation grace, or the resolve of an incident no receiver was told of.
func (c Change) Silent() bool {
	if c.Kind == ChangeResolved {
		return c.Incident.Silent
	}
	return c.Incident.Silent || c.Incident.Suppressed
}

func (cr *correlator) change(out []Change, ch Change) []Change {
	k := trackKey{ch.Incident.Key, ch.Incident.Class}
	inc := cr.t.open[k]
	if ch.Kind == ChangeResolved || inc == nil {
		return cr.resolved(out, ch)
	}
	if inc.Class != ClassBurn {
		return cr.emit(out, ch.Kind, inc)
	}
	switch ch.Kind {
	case ChangeOpened:
		if root, p := cr.cause(inc, inc.Start); root != nil {
			inc.Silent = p == slo.PolicySuppress
			out = cr.link(out, inc, root, p)
			return cr.emit(out, ChangeOpened, inc)
		}
		if cr.o.Grace > 0 && cr.hasUpstream(inc.SLO) {
			inc.Silent, inc.HeldUntil = true, inc.Start.Add(cr.o.Grace)
			cr.t.wait(k, inc)
		}
	case ChangeEscalated:
		if inc.CausedBy == nil && inc.HeldUntil.IsZero() {
			// A slow burn that turns fast: the page-level burn began now.
			if root, p := cr.cause(inc, cr.at); root != nil {
				out = cr.link(out, inc, root, p)
			}
		}
	}
	return cr.emit(out, ch.Kind, inc)
}

// resolved handles an incident that resolved: a silent resolve for one
// that never reached a receiver, its entry in its root's list closed,
// and its own symptoms left to page on their own if they still burn.
func (cr *correlator) resolved(out []Change, ch Change) []Change {
	inc := ch.Incident
	k := trackKey{inc.Key, inc.Class}
	cr.t.unwait(k, inc.SLO)
	if c := inc.CausedBy; c != nil {
		if root := cr.t.open[trackKey{c.Key, ClassBurn}]; root != nil {
			for i := range root.Symptoms {
				if root.Symptoms[i].Key == inc.Key && root.Symptoms[i].Resolved.IsZero() {
					root.Symptoms[i].Resolved = inc.Resolved
				}
			}
		}
	}
	for _, s := range inc.Symptoms {
		sk := trackKey{s.Key, ClassBurn}
		sym := cr.t.open[sk]
		if sym == nil || sym.CausedBy == nil || sym.CausedBy.Key != inc.Key {
			continue
		}
		// Judged at the symptom's own evaluation (pending): it pages if
		// it still fires then, else it resolves as it is.
		sym.CausedBy.RootResolved = inc.Resolved
		cr.t.wait(sk, sym)
	}
	return append(out, ch)
}

// pending looks again at SLO id's held pages and orphaned symptoms.
func (cr *correlator) pending(out []Change, id string) []Change {
	m := cr.t.waiting[id]
	if len(m) == 0 {
		return out
	}
	keys := make([]trackKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].key < keys[j].key })
	for _, k := range keys {
		inc := cr.t.open[k]
		if inc == nil {
			cr.t.unwait(k, id)
			continue
		}
		switch {
		case !inc.HeldUntil.IsZero():
			if root, p := cr.cause(inc, inc.Start); root != nil {
				inc.HeldUntil = time.Time{}
				cr.t.unwait(k, id)
				inc.Silent = p == slo.PolicySuppress
				out = cr.link(out, inc, root, p)
				if !inc.Silent {
					out = cr.emit(out, ChangeOpened, inc)
				}
				continue
			}
			if !cr.at.Before(inc.HeldUntil) {
				// No cause came within the grace: the incident is its own.
				inc.HeldUntil, inc.Silent = time.Time{}, false
				cr.t.unwait(k, id)
				out = cr.emit(out, ChangeOpened, inc)
			}
		case inc.CausedBy != nil && !inc.CausedBy.RootResolved.IsZero():
			if !inc.LastFiring.Equal(cr.at) {
				continue // in its hold-down: it resolves as a symptom
			}
			cr.t.unwait(k, id)
			if root, p := cr.cause(inc, inc.Start); root != nil {
				out = cr.link(out, inc, root, p)
				continue
			}
			// The root is gone and this still burns: it is an incident
			// of its own now, and pages.
			kind := ChangeEscalated
			if inc.Silent {
				kind = ChangeOpened
			}
			inc.Suppressed, inc.Silent = false, false
			out = cr.emit(out, kind, inc)
		}
	}
	return out
}

// hasUpstream reports whether SLO id depends on any SLO through an edge
// that is not off.
func (cr *correlator) hasUpstream(id string) bool {
	found := false
	cr.o.Graph.Transitive(id, func(string, slo.DependencyPolicy) bool {
		found = true
		return false
	})
	return found
}

// cause finds the root incident of inc: among the open burn incidents of
// the SLOs inc's SLO transitively depends on that began no later than
// ref + Grace, the root (following their own CausedBy) that began first.
// The policy is the weakest on the path; suppress becomes annotate when
// the root's severity is below inc's, so a page is never hidden behind a
// ticket.
func (cr *correlator) cause(inc *Incident, ref time.Time) (*Incident, slo.DependencyPolicy) {
	if cr.o.Graph.Empty() {
		return nil, ""
	}
	if cr.bySLO == nil {
		cr.bySLO = map[string][]*Incident{}
		for k, o := range cr.t.open {
			if k.class == ClassBurn {
				cr.bySLO[o.SLO] = append(cr.bySLO[o.SLO], o)
			}
		}
	}
	var best *Incident
	var policy slo.DependencyPolicy
	limit := ref.Add(cr.o.Grace)
	cr.o.Graph.Transitive(inc.SLO, func(up string, p slo.DependencyPolicy) bool {
		for _, u := range cr.bySLO[up] {
			if !u.Open() || u.Start.After(limit) {
				continue
			}
			root := cr.rootOf(u)
			if root == inc || root.CausedBy != nil && root.CausedBy.Key == inc.Key {
				continue
			}
			if best == nil || root.Start.Before(best.Start) || (root.Start.Equal(best.Start) && root.Key < best.Key) {
				best, policy = root, p
			}
		}
		return true
	})
	if best != nil && policy == slo.PolicySuppress && severityRank(best.Severity) > severityRank(inc.Severity) {
		policy = slo.PolicyAnnotate
	}
	return best, policy
}

// rootOf follows CausedBy links to the root incident (bounded, in case of
// a cycle the graph's lint missed).
func (cr *correlator) rootOf(inc *Incident) *Incident {
	for range 16 {
		c := inc.CausedBy
		if c == nil || !c.RootResolved.IsZero() {
			return inc
		}
		up := cr.t.open[trackKey{c.Key, ClassBurn}]
		if up == nil {
			return inc
		}
		inc = up
	}
	return inc
}

// link makes inc a symptom of root and raises the root's page with its
// list of symptoms.
func (cr *correlator) link(out []Change, inc, root *Incident, p slo.DependencyPolicy) []Change {
	inc.CausedBy = &Cause{SLO: root.SLO, Key: root.Key, Labels: root.Labels, Start: root.Start, Policy: p}
	inc.Suppressed = p == slo.PolicySuppress
	sym := Symptom{SLO: inc.SLO, Key: inc.Key, Labels: maps.Clone(inc.Labels), Start: inc.Start, Severity: inc.Severity, Burn: inc.Burn}
	i := slices.IndexFunc(root.Symptoms, func(s Symptom) bool { return s.Key == inc.Key })
	switch {
	case i >= 0:
		root.Symptoms[i] = sym
	case len(root.Symptoms) < MaxSymptoms:
		root.Symptoms = append(root.Symptoms, sym)
		root.SymptomCount++
	default:
		root.SymptomCount++
	}
	return cr.emit(out, ChangeSymptoms, root)
}

// Group is a root incident and its open symptoms, as views nest them.
type Group struct {
	Root     Incident
	Symptoms []Incident
}

// Nest groups open incidents under their roots: each incident whose
// CausedBy root is among incs goes under it; the others are roots. Groups
// are ranked by the root's threat (Rank: time to exhaustion first), and
// among equal times, the group affecting more SLOs first. Symptoms keep
// Rank's order.
func Nest(incs []Incident) []Group {
	ranked := slices.Clone(incs)
	Rank(ranked)
	index := map[string]int{}
	var groups []Group
	var symptoms []Incident
	for _, inc := range ranked {
		if c := inc.CausedBy; c != nil && c.RootResolved.IsZero() {
			symptoms = append(symptoms, inc)
			continue
		}
		if inc.Class == ClassBurn {
			index[inc.Key] = len(groups)
		}
		groups = append(groups, Group{Root: inc})
	}
	for _, s := range symptoms {
		if i, ok := index[s.CausedBy.Key]; ok {
			groups[i].Symptoms = append(groups[i].Symptoms, s)
			continue
		}
		groups = append(groups, Group{Root: s})
	}
	order := make(map[string]int, len(ranked))
	for i, inc := range ranked {
		order[inc.Key+"\x00"+string(inc.Class)] = i
	}
	sort.SliceStable(groups, func(i, j int) bool {
		a, b := &groups[i].Root, &groups[j].Root
		if a.TimeToExhaustion.Known() && b.TimeToExhaustion.Known() && a.TimeToExhaustion == b.TimeToExhaustion &&
			len(groups[i].Symptoms) != len(groups[j].Symptoms) {
			return len(groups[i].Symptoms) > len(groups[j].Symptoms)
		}
		return order[a.Key+"\x00"+string(a.Class)] < order[b.Key+"\x00"+string(b.Class)]
	})
	return groups
}
