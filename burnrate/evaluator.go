package burnrate

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/slodhq/slod/slo"
)

// DefaultStep is the evaluator's step (the resolution of its finest tier)
// when Options.Step is zero.
const DefaultStep = time.Minute

// DefaultMaxInstances caps the label sets of one SLO when Options.MaxInstances is zero.
const DefaultMaxInstances = 10000

// Options configure an Evaluator.
type Options struct {
	// Spec is the SLO; required. Its Window, Objective, MinEvents and GroupBy are used.
	Spec *slo.Spec
	// Policy is evaluated on every instance; zero means DefaultPolicy().
	Policy Policy
	// Step is the length of one ingested step, a whole number of seconds
	// (default DefaultStep). Sources query counts at this resolution.
	Step time.Duration
	// MaxInstances caps the label sets tracked for the SLO (default
	// DefaultMaxInstances); new label sets beyond it are refused with a
	// *CardinalityError.
	MaxInstances int
}

// StepCount is the errors and events of the step that ends at End.
// A NaN Total marks a step the source has no data for.
type StepCount struct {
	End    time.Time
	Errors float64
	Total  float64
}

// Series is the step counts of one label set.
type Series struct {
	// Labels are the group_by labels (empty for an SLO without group_by).
	Labels map[string]string
	// Key is LabelsKey(Labels) when the source already has it (it saves
	// the evaluator rebuilding it on every tick); empty otherwise.
	Key string
	// Steps are sorted by End, each End a multiple of the batch resolution.
	Steps []StepCount
}

// Batch is what a source read for the steps ending in (From, To].
// Within that range the batch is authoritative for the series it carries:
// a step a series does not list is set unknown. Label sets absent from the
// batch are left as they were (their newer steps are unknown until read).
type Batch struct {
	From, To time.Time
	// Resolution is the length each StepCount covers; zero means the
	// evaluator's step. A coarser resolution (a multiple of the step) is
	// used by backfill for history that only the coarse tiers keep: its
	// counts go to the last step of each interval, the others count as
	// known steps without events.
	Resolution time.Duration
	Series     []Series
}

// CardinalityError reports label sets refused because the SLO reached its
// instance cap.
type CardinalityError struct {
	SLO     string
	Max     int
	Dropped int    // label sets refused by this Ingest
	Example string // one of them, as LabelsKey renders it
}

func (e *CardinalityError) Error() string {
	return fmt.Sprintf("slo %q: %d new label sets dropped: the SLO already has max_instances=%d instances (for example %s); "+
		"narrow group_by or raise the cap", e.SLO, e.Dropped, e.Max, e.Example)
}

// ErrStepTooOld is wrapped by Ingest when a step is older than the fine
// tier keeps (it can no longer be set) or than the instance's first step.
var ErrStepTooOld = errors.New("step too old to set")

// Evaluator keeps the ring buffers of every instance of one SLO and
// evaluates its policy on them. It is safe for concurrent use.
type Evaluator struct {
	spec    *slo.Spec
	policy  Policy
	step    time.Duration
	max     int
	tiers   []tierLayout
	factors []float64
	// budget is set when a row uses the budget measure; wSteps is W in
	// steps.
	budget bool
	wSteps float64

	mu        sync.Mutex
	instances []*Instance
	index     map[string]int
	lastStep  time.Time
	dropped   int // label sets refused by the cap, all time
	// free holds instances removed by Prune (and spares of an Ingest) whose
	// ring storage, shared with other instances, a new label set takes
	// first.
	free []*Instance
	// ins is Ingest's series-to-instance scratch, kept between calls.
	ins []*Instance
	// pl is the plan of the evaluation under way.
	pl plan
	// excl are the SLO's budget exclusions (SetExclusions) and xs the
	// scratch their step spans are worked out in (exclusion.go).
	excl []*slo.Exclusion
	xs   exclusionScratch
}

// NewEvaluator returns an evaluator with no instances.
func NewEvaluator(o Options) (*Evaluator, error) {
	if o.Spec == nil {
		return nil, errors.New("burnrate: evaluator needs an SLO spec")
	}
	if o.Spec.Window <= 0 {
		return nil, fmt.Errorf("slo %q: window %s is not positive", o.Spec.ID, o.Spec.Window)
	}
	if b := o.Spec.ErrorBudget(); !(b > 0 && b < 1) {
		return nil, fmt.Errorf("slo %q: objective %v%% leaves no error budget", o.Spec.ID, o.Spec.Objective)
	}
	if len(o.Policy.Rows) == 0 {
		o.Policy = DefaultPolicy()
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Step < time.Second || o.Step%time.Second != 0 {
		return nil, fmt.Errorf("slo %q: step %s is not a whole number of seconds", o.Spec.ID, o.Step)
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if err := checkTimeSlices(o.Spec, o.Step); err != nil {
		return nil, err
	}
	e := &Evaluator{
		spec: o.Spec, policy: o.Policy, step: o.Step, max: o.MaxInstances,
		tiers: layout(o.Step, o.Spec.History()),
		index: make(map[string]int),
	}
	for _, r := range o.Policy.Rows {
		e.factors = append(e.factors, r.Threshold(o.Spec.Window, o.Spec.ErrorBudget()))
	}
	e.budget = o.Policy.HasBudget()
	e.wSteps = float64(o.Spec.Window / o.Step)
	return e, nil
}

// Spec is the SLO the evaluator was built for.
func (e *Evaluator) Spec() *slo.Spec { return e.spec }

// Policy is the policy the evaluator applies.
func (e *Evaluator) Policy() Policy { return e.policy }

// Step is the length of one step.
func (e *Evaluator) Step() time.Duration { return e.step }

// Tier describes one ring of the evaluator: buckets of Resolution, kept
// for Span. Backfill reads history that only a coarse tier keeps at that
// tier's resolution.
type Tier struct {
	Resolution time.Duration
	Span       time.Duration
}

// Tiers lists the evaluator's rings, finest first.
func (e *Evaluator) Tiers() []Tier {
	out := make([]Tier, len(e.tiers))
	for i, l := range e.tiers {
		r := time.Duration(l.m) * e.step
		out[i] = Tier{Resolution: r, Span: time.Duration(l.n-2) * r}
	}
	return out
}

// LastStep is the end of the newest batch ingested (Batch.To); zero before
// the first. A source resumes reading after it.
func (e *Evaluator) LastStep() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lastStep
}

// Len is the number of instances.
func (e *Evaluator) Len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.instances)
}

// SetMaxInstances changes the cap on label sets: a daemon's total cap
// hands each SLO what is left of it. Instances already tracked are kept
// when the cap falls below their number; only new ones are refused.
func (e *Evaluator) SetMaxInstances(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n > 0 {
		e.max = n
	}
}

// MaxInstances is the current cap on label sets.
func (e *Evaluator) MaxInstances() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.max
}

// Dropped is how many new label sets the cardinality cap has refused so far.
func (e *Evaluator) Dropped() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}

// Prune removes instances that have had no data for longer than ttl
// (the SLO window when ttl is zero) and returns their keys, so that callers
// can drop their metrics. The instance of an SLO without group_by stays.
// A removed instance's storage goes to the next new label set: an
// *Instance obtained before must not be used after Prune removed it.
func (e *Evaluator) Prune(now time.Time, ttl time.Duration) []string {
	if ttl <= 0 {
		ttl = e.spec.Window
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var gone []string
	for i := 0; i < len(e.instances); {
		in := e.instances[i]
		if len(e.spec.GroupBy) == 0 || in.NoDataFor(now) <= ttl {
			i++
			continue
		}
		gone = append(gone, in.key)
		last := len(e.instances) - 1
		e.instances[i] = e.instances[last]
		e.index[e.instances[i].key] = i
		e.instances[last] = nil
		e.instances = e.instances[:last]
		delete(e.index, in.key)
		// Its rings share a block with other instances: a new label
		// set reuses them.
		in.recycle()
		e.free = append(e.free, in)
	}
	if len(e.free) > len(e.instances)/2+blockWidth {
		e.compact()
	}
	return gone
}

// compact moves every instance's rings to new blocks and lets the free
// list go, so that the storage of label sets that are gone for good (a
// group_by whose cardinality fell) returns to the heap: a block is freed
// only once none of its instances uses it. The instances keep their
// identity; only their storage moves.
func (e *Evaluator) compact() {
	fresh := allocInstances(len(e.instances), e.step, e.tiers)
	for i, in := range e.instances {
		to := fresh[i]
		for ti := range in.tiers {
			src, dst := &in.tiers[ti], &to.tiers[ti]
			for s := range src.n {
				dst.put(s, src.at(s))
			}
			src.w, src.ev, src.known = dst.w, dst.ev, dst.known
		}
	}
	e.free = nil
}

// InstanceEvaluation is the evaluation of one instance.
type InstanceEvaluation struct {
	Key    string
	Labels map[string]string
	Evaluation
}

// Evaluate evaluates the policy on every instance for windows ending at now
// (normally the end of the newest ingested step). Instances come in the
// order they first appeared. The Labels maps must not be modified. The
// result is the caller's to keep; a caller that evaluates every tick and
// keeps nothing from one tick to the next can use EvaluateInto instead.
func (e *Evaluator) Evaluate(now time.Time) []InstanceEvaluation {
	return e.EvaluateInto(nil, now)
}

// EvaluateInto is Evaluate reusing buf: the evaluations and the Rows arrays
// of buf[:cap(buf)] are overwritten, so that evaluating every tick into the
// same buffer allocates nothing once the instances stop growing (100,000
// instances of the default policy take 40 MB per tick otherwise). The
// result shares memory with buf: it, its Rows and every Evaluation copied
// from it are valid only until buf (or the result) is passed again; a
// caller that keeps an Evaluation longer must copy its Rows.
func (e *Evaluator) EvaluateInto(buf []InstanceEvaluation, now time.Time) []InstanceEvaluation {
	e.mu.Lock()
	defer e.mu.Unlock()
	n, nr := len(e.instances), len(e.policy.Rows)
	if cap(buf) < n {
		// Keep the old evaluations' Rows arrays for reuse.
		nb := make([]InstanceEvaluation, n)
		copy(nb, buf[:cap(buf)])
		buf = nb
	}
	out := buf[:n]
	need := 0
	for i := range out {
		if cap(out[i].Rows) < nr {
			need++
		}
	}
	if need > 0 {
		// One array for every evaluation that has none yet.
		rows := make([]RowResult, need*nr)
		for i := range out {
			if cap(out[i].Rows) < nr {
				out[i].Rows, rows = rows[:nr:nr], rows[nr:]
			}
		}
	}
	p := e.plan(now)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			in := e.instances[i]
			out[i] = InstanceEvaluation{Key: in.key, Labels: in.labels, Evaluation: e.evaluate(in, p, out[i].Rows[:nr])}
		}
	})
	return out
}

// EvaluateInstance evaluates the instance of one label set; false when the
// evaluator has no such instance.
func (e *Evaluator) EvaluateInstance(labels map[string]string, now time.Time) (Evaluation, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.index[LabelsKey(labels)]
	if !ok {
		return Evaluation{}, false
	}
	return e.evaluate(e.instances[i], e.plan(now), make([]RowResult, len(e.policy.Rows))), true
}

// Instance returns the ring buffers of one label set for read-only use
// while no Ingest runs (tests, backtests); nil when there is none.
func (e *Evaluator) Instance(labels map[string]string) *Instance {
	e.mu.Lock()
	defer e.mu.Unlock()
	if i, ok := e.index[LabelsKey(labels)]; ok {
		return e.instances[i]
	}
	return nil
}

// plan is what every instance's evaluation at one instant shares: the
// right edge step and the left edges of the policy's windows (each row's
// long and short, then W).
type plan struct {
	now   time.Time
	re    int64
	edges []leftEdge
	// bw is the budget window at now (budgetWindow).
	bw time.Duration
	// excluded and xiv: see planExclusions.
	excluded string
	xiv      []slo.Interval
}

// plan fills the evaluator's plan for now (callers hold e.mu).
func (e *Evaluator) plan(now time.Time) *plan {
	step := int64(e.step / time.Second)
	p := &e.pl
	p.now, p.re, p.edges = now, floorDiv(now.Unix(), step), p.edges[:0]
	e.planExclusions(p)
	add := func(w time.Duration) {
		p.edges = append(p.edges, newLeftEdge(p.re-int64(w/time.Second)/step, e.tiers))
	}
	for _, row := range e.policy.Rows {
		add(row.Long)
		add(row.Short)
	}
	p.bw = e.budgetWindow(now)
	add(p.bw)
	return p
}

// evaluate applies the policy to one instance, writing rows into r.
func (e *Evaluator) evaluate(in *Instance, p *plan, r []RowResult) Evaluation {
	budget := e.spec.ErrorBudget()
	burn := func(c WindowCount) float64 { return Burn(c.ErrorRatio(), budget) }
	re := p.re
	var (
		right            cum
		newErrs, newTots float64
	)
	switch {
	case in.last != 0 && re < in.last:
		right = in.cumAt(re)
	case in.last != 0:
		// Every window ends at now: read the right edge once.
		t := &in.tiers[0]
		newErrs, newTots = t.sums(t.slot(t.newest))
	}
	// known, set by window when the policy has a budget row, is how many
	// steps of the window just read are known: the budget measure scales
	// each window's counts to its whole length from its known steps.
	var known float64
	var newKnown uint32
	if e.budget && in.last != 0 && re >= in.last {
		t := &in.tiers[0]
		newKnown = t.known[t.slot(t.newest)*t.w]
	}
	window := func(i int, w time.Duration) WindowCount {
		switch {
		case in.last == 0:
			known = 0
			return WindowCount{}
		case re < in.last:
			// Evaluating the past (a replay after a gap): full lookups.
			c := in.window(re, right, w)
			known = float64(c.Known)
			return c
		}
		// The window ends at or after the newest step: the newest step's
		// sums are its right edge, and it holds a known step exactly when
		// the newest known step lies after its (quantised) left edge.
		le, lt, edge := in.evAt(&p.edges[i], newErrs, newTots)
		c := WindowCount{Errors: max(newErrs-le, 0), Total: max(newTots-lt, 0)}
		if in.lastKnown > edge {
			c.Known = 1 // at least one; Evaluate needs no more
		}
		if e.budget {
			known = float64(newKnown - in.knownAt(&p.edges[i], newKnown))
		}
		return c
	}
	// The budget window: W, or for a calendar window the period so far.
	w := window(2*len(e.policy.Rows), p.bw)
	// events(W) for the budget measure: the events of W's known steps,
	// projected to the whole of W at their mean rate while less than W is
	// known (a new SLO, a gap). Unknown (NaN) when no step of W is known:
	// a budget row then neither fires nor reads as good.
	eventsW := math.NaN()
	if e.budget && known > 0 && w.Known > 0 {
		eventsW = w.Total * e.wSteps / known
	}
	for i, row := range e.policy.Rows {
		long := window(2*i, row.Long)
		longKnown := known
		short := window(2*i+1, row.Short)
		f := e.factors[i]
		var lb, sb float64
		if row.Budget() {
			lb = budgetBurn(long, longKnown, eventsW, budget, e.wSteps)
			sb = budgetBurn(short, known, eventsW, budget, e.wSteps)
		} else {
			lb, sb = burn(long), burn(short)
		}
		r[i] = RowResult{
			Row: row, Factor: f, LongBurn: Figure(lb), ShortBurn: Figure(sb),
			// NaN compares false: a window without data never fires.
			Fires: lb >= f && sb >= f && long.Total >= e.spec.MinEvents,
		}
	}
	wb := burn(w)
	return Evaluation{
		At: p.now, Rows: r,
		WindowBurn: Figure(wb), BudgetRemaining: Figure(1 - wb),
		WindowErrors: w.Errors, WindowTotal: w.Total, WindowEvents: Figure(eventsW),
		NoDataFor: p.noDataFor(in),
		Excluded:  p.excluded,
	}
}

// budgetBurn is the budget measure of a window c with known of its steps
// known: errors(w) / ((1 − objective) × events(W)) × W / w, with errors(w)
// the errors of its known steps projected to its whole length, as events(W)
// is: errors over known steps ÷ (budget × events(W)) × W steps. Unknown
// steps never read as steps without errors. It is NaN (never fires) when
// the window or events(W) is unknown, and 0 when W held known steps
// without a single event (nothing to spend).
func budgetBurn(c WindowCount, known, eventsW, budget, wSteps float64) float64 {
	switch {
	case c.Known == 0 || known <= 0 || math.IsNaN(eventsW):
		return math.NaN()
	case eventsW <= 0:
		return 0
	}
	return c.Errors / known / (budget * eventsW) * wSteps
}
