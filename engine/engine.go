package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// Rereads is how many of the newest steps every tick reads again: their
// samples may have arrived late. Ingest sets slots, so this is idempotent.
// When ticks run with a background (Options.ReadWait > 0), a steady tick
// reads only its new steps and leaves the re-read to Engine.Reread, after
// the tick: at 100,000 instances it is a third of the points and half the
// server's time, which a tick then does not wait for.
const Rereads = 2

// DefaultConcurrency bounds the SLOs read at once within a tick.
const DefaultConcurrency = 8

// DefaultMaxInstancesPerSLO and DefaultMaxInstances are the instance caps
// of one SLO and of the whole engine: 100,000 routes of one group_by SLO
// fit, and a runaway label (a request id in group_by) stops at a known size.
const (
	DefaultMaxInstancesPerSLO = 200_000
	DefaultMaxInstances       = 1_000_000
)

// DefaultMaxReplay bounds how far back a tick after a gap evaluates every
// missed tick: the span of the finest ring tier, beyond which short windows
// can no longer be told apart.
const DefaultMaxReplay = 6 * time.Hour

// Options configure an Engine. Querier is required.
type Options struct {
	// Querier is where counts come from: the Prometheus HTTP API or the
	// embedded PromQL engine.
	Querier source.Querier
	// Step is the evaluator step (default burnrate.DefaultStep).
	Step time.Duration
	// Interval is the time between ticks (default Step): after a gap longer
	// than it, every missed tick is evaluated.
	Interval time.Duration
	// QueryDelay leaves the newest steps to the source's ingestion.
	QueryDelay time.Duration
	// MaxReplay bounds the replay after a gap (default DefaultMaxReplay).
	MaxReplay time.Duration
	// HoldDown, when > 0, replaces each incident's default hold-down.
	HoldDown time.Duration
	// KeepResolved is how many resolved incidents Recent keeps (default 50).
	KeepResolved int
	// Concurrency bounds the SLOs read at once (default DefaultConcurrency),
	// background backfills included. A read sends its errors and total
	// queries together: up to twice as many queries are in flight.
	Concurrency int
	// ReadWait, when > 0, is how long a tick waits for its reads. A read
	// still running then (a cold backfill, a long gap) goes on in the
	// background and its SLO is evaluated at the first tick after it ends,
	// so one large SLO does not hold back the others (progressive
	// readiness). Zero waits for every read (backtest, tests).
	ReadWait time.Duration
	// MaxInstancesPerSLO caps the label sets (instances) of one SLO
	// (default DefaultMaxInstancesPerSLO); MaxInstances caps them over all
	// SLOs (default DefaultMaxInstances). New label sets beyond a cap are
	// dropped, and said so: TickResult.Capped, the log, a metric, a banner.
	MaxInstancesPerSLO int
	MaxInstances       int
	// Shard places the SLOs among several engines that share the load
	// (the zero value: one engine evaluates everything).
	Shard Shard
	// Owns, when set, further restricts the instances this engine
	// evaluates, after they are read; nil owns all. labelsKey is
	// burnrate.LabelsKey of the instance labels.
	Owns func(sloID, labelsKey string) bool
	// Diagnose, when set, explains (source.Diagnose) an SLO whose first read
	// left its newest steps without data.
	Diagnose bool
	// Check, when set, runs the live checks of `sloctl lint --prometheus-url`
	// (source.Check) on every SLO after its first read following a load or
	// reload: no series, a latency threshold that is no bucket, group_by
	// labels missing. An SLO with an error finding is misconfigured. They
	// run beside the evaluation, once the read has ended: their findings
	// show from the first tick after they finish.
	Check bool
	// ReadDone, when set, is called (from the read's goroutine) each time a
	// read ends: a caller that ticks on a schedule can tick at once when a
	// background read has ended (BackfillDone) instead of at its next
	// scheduled tick.
	ReadDone func()
	// Observe, when set, sees every evaluation in order, before the tracker.
	Observe func(id string, ie burnrate.InstanceEvaluation)
	// Progress, when set, sees every backfill segment read.
	Progress func(source.Progress)
	// Correlation configures dependency correlation (correlate.go).
	Correlation Correlation
	Logger      *slog.Logger
}

// SLO is one running SLO: spec, policy and evaluator.
type SLO struct {
	spec   *slo.Spec
	policy burnrate.Policy
	eval   *burnrate.Evaluator
	fp     string
	// hint says why the first read had no recent data ("" when it had).
	hint      string
	diagnosed bool
	// findings are the live checks' results; checked once they ran.
	findings []source.Finding
	checked  bool
	// bufs are two evaluation buffers used in turn: the newest tick's
	// evaluations (which Latest hands out) stay untouched for one more
	// tick while the next is written into the other; scratch serves the
	// replayed ticks, which nothing keeps.
	bufs    [2][]burnrate.InstanceEvaluation
	cur     int
	scratch []burnrate.InstanceEvaluation
	// keys caches the engine-wide key (SLO id + instance key) of each
	// instance key, so a tick does not build 100,000 strings.
	keys map[string]string
	// evaluated: see RestoredSLO.Evaluated.
	evaluated time.Time
	// bg is the SLO's read still running in the background, or nil.
	bg *pendingRead
	// rr is the SLO's background re-read of its newest steps (Reread), or
	// nil; rereadDue is set when the tick's read left them to it, and
	// cleared once Reread starts it; rereadTo is the newest step it reads
	// (the newest before the tick's read).
	rr        *pendingRead
	rereadDue bool
	rereadTo  time.Time
	// chk is the SLO's live checks still running, or nil; after checkFails
	// failures in a row they run again at checkAgain (takeCheck).
	chk        *pendingCheck
	checkFails int
	checkAgain time.Time
	// synced is set once a read of the SLO has ended well (or its rings
	// were restored or carried over a reload): until then its reads keep
	// the cold start's layout (source.SyncOptions.Cold), also when they
	// resume a cold read that failed halfway.
	synced bool
	// place is the SLO's shard placement (Options.Shard).
	place placement
	// reads keeps the series the SLO's reads have seen and their buffers,
	// so a steady tick does not allocate per series.
	reads source.SeriesCache
}

// Spec is the SLO's definition.
func (s *SLO) Spec() *slo.Spec { return s.spec }

// Policy is the SLO's resolved policy.
func (s *SLO) Policy() burnrate.Policy { return s.policy }

// Evaluator holds the SLO's rings.
func (s *SLO) Evaluator() *burnrate.Evaluator { return s.eval }

// Fingerprint identifies what the SLO's stored counts mean.
func (s *SLO) Fingerprint() string { return s.fp }

// Hint says why the SLO's first read found no recent data, or "".
func (s *SLO) Hint() string { return s.hint }

// Findings are the live checks' findings for the SLO (Options.Check).
func (s *SLO) Findings() []source.Finding { return s.findings }

// Misconfigured reports whether a live check found an error: the SLO's
// data cannot mean what its file says (no series, a missing bucket), so
// it is shown as misconfigured, never as ok.
func (s *SLO) Misconfigured() bool {
	for _, f := range s.findings {
		if f.Severity == slo.SeverityError {
			return true
		}
	}
	return false
}

// Latest is the newest evaluation of one SLO instance.
type Latest struct {
	SLO    string
	Labels map[string]string
	burnrate.Evaluation
}

// Engine is the catalogue of running SLOs, their rings and their
// incidents. It reads no clock: every call takes its time. It is not safe
// for concurrent use; Tick parallelises its reads internally.
type Engine struct {
	o       Options
	log     *slog.Logger
	slos    map[string]*SLO
	ids     []string
	tracker *burnrate.Tracker
	latest  map[string]Latest
	// files names, for SLOs known from a restored state, their file;
	// badFiles are the files that failed on the last Apply.
	files    map[string]string
	badFiles map[string]bool
	stats    Stats
	// sem bounds the reads running at once, across ticks.
	sem chan struct{}
	// graph is the running SLOs' dependency graph; order the indexes of
	// ids roots first, the order a tick evaluates them in (correlate.go).
	graph *slo.Graph
	order []int
}

// Stats count what the engine has read since it was made.
type Stats struct {
	Queries int64
	// Steps are evaluator steps covered by segments read.
	Steps int64
}

// Problem is something an operator should see: a skipped file, an SLO kept
// on its previous version.
type Problem struct {
	Where   string
	Message string
}

// New returns an engine with no SLOs.
func New(o Options) (*Engine, error) {
	if o.Querier == nil {
		return nil, errors.New("engine: no querier")
	}
	if o.Step <= 0 {
		o.Step = burnrate.DefaultStep
	}
	if o.Interval <= 0 {
		o.Interval = o.Step
	}
	if o.MaxReplay == 0 {
		o.MaxReplay = DefaultMaxReplay
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxInstancesPerSLO <= 0 {
		o.MaxInstancesPerSLO = DefaultMaxInstancesPerSLO
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		o: o, log: o.Logger, slos: map[string]*SLO{}, latest: map[string]Latest{}, sem: make(chan struct{}, o.Concurrency),
		files: map[string]string{}, badFiles: map[string]bool{},
		tracker: burnrate.NewTracker(burnrate.TrackerOptions{HoldDown: o.HoldDown, KeepResolved: o.KeepResolved}),
	}, nil
}

// Fingerprint hashes what makes stored counts valid for an SLO at a step
// (not its objective or policy: those apply to the counts at evaluation,
// so a new objective keeps the history).
func Fingerprint(spec *slo.Spec, step time.Duration) string {
	errQ, totQ, _ := spec.SLI.Queries(spec.GroupBy...)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00%s\x00%s\x00%s", spec.ID, errQ, totQ, spec.Window, step,
		strings.Join(spec.GroupBy, ","), spec.SLI.Kind())
	if c := spec.Calendar; c != nil {
		// A calendar window's rings are laid out for its longest period.
		fmt.Fprintf(h, "\x00calendar %s", c)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ErrNoSLO is returned by Apply when nothing can run.
var ErrNoSLO = errors.New("no valid SLO")

// Apply swaps in a catalogue. Evaluators of SLOs whose counts mean the same
// keep their rings. A typo must not resolve a live page: an SLO whose file
// fails this time (or whose policy is missing) keeps running on its
// previous version; only SLOs whose file was deleted, or now loads cleanly
// without them, are forgotten, and their open incidents resolve at at.
// When nothing runnable remains the previous set stays and ErrNoSLO is
// returned (alone when there was no previous set).
func (e *Engine) Apply(cat *Catalogue, at time.Time) ([]burnrate.Change, []Problem, error) {
	var problems []Problem
	for _, d := range cat.Diagnostics {
		if d.Severity == slo.SeverityError {
			problems = append(problems, Problem{Where: d.Pos.File, Message: d.String() + " (file skipped)"})
		}
	}
	for _, d := range cat.Unresolved {
		problems = append(problems, Problem{Where: d.Pos.String(), Message: d.Message + " (skipped)"})
	}
	next := map[string]*SLO{}
	listed := map[string]bool{}
	for _, en := range cat.Entries {
		listed[en.Spec.ID] = true
		r := &SLO{spec: en.Spec, policy: en.Policy, fp: exclusionFingerprint(Fingerprint(en.Spec, e.o.Step), en.Exclusions), place: e.o.Shard.place(en.Spec)}
		ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: en.Spec, Policy: en.Policy, Step: e.o.Step, MaxInstances: e.o.MaxInstancesPerSLO})
		if err != nil {
			problems = append(problems, Problem{Where: en.Spec.Pos.String(), Message: err.Error() + " (skipped)"})
			continue
		}
		ev.SetExclusions(en.Exclusions)
		r.eval = ev
		if old := e.slos[en.Spec.ID]; old != nil && old.fp == r.fp {
			// A background read stops; the new evaluator starts from what
			// it had ingested and reads the rest as a gap.
			old.stopRead()
			r.diagnosed, r.hint = old.diagnosed, old.hint
			if err := ev.CopyFrom(old.eval); err != nil {
				e.log.Warn("slo state not carried over reload", "slo", en.Spec.ID, "err", err)
			} else {
				r.synced = old.synced
			}
		}
		next[en.Spec.ID] = r
	}
	fresh := len(next)
	for _, id := range e.ids {
		old := e.slos[id]
		if next[id] != nil || !(cat.BadFiles[old.spec.Pos.File] || listed[id]) {
			continue
		}
		next[id] = old
		problems = append(problems, Problem{Where: old.spec.Pos.File,
			Message: fmt.Sprintf("slo %q: still running its previous version until the file loads again", id)})
		e.log.Warn("slo kept on its previous version", "slo", id, "file", old.spec.Pos.File)
	}
	e.badFiles = cat.BadFiles
	if fresh == 0 {
		if len(e.slos) == 0 {
			return nil, problems, ErrNoSLO
		}
		return nil, problems, fmt.Errorf("%w left: still running the previous set", ErrNoSLO)
	}
	var changes []burnrate.Change
	for _, id := range e.ids {
		if next[id] != e.slos[id] {
			e.slos[id].stopRead()
		}
		if next[id] == nil {
			changes = append(changes, e.forgetSLO(id, at)...)
		}
	}
	e.slos = next
	e.ids = sortedKeys(next)
	e.buildGraph()
	changes = append(changes, e.resolveOrphans(at)...)
	return changes, problems, nil
}

func (e *Engine) forgetSLO(id string, at time.Time) []burnrate.Change {
	var changes []burnrate.Change
	prefix := id + "{"
	for _, key := range e.tracker.Keys() {
		if strings.HasPrefix(key, prefix) {
			changes = append(changes, e.correlate("", e.tracker.Forget(key, at), at)...)
		}
	}
	for key := range e.latest {
		if strings.HasPrefix(key, prefix) {
			delete(e.latest, key)
		}
	}
	return changes
}

// Restored is what a state snapshot gives back to an engine.
type Restored struct {
	// SLOs are the rings per SLO id, valid for the fingerprint they carry.
	SLOs map[string]RestoredSLO
	// Incidents are open and recently resolved incidents.
	Incidents []burnrate.Incident
}

// RestoredSLO is one SLO's saved rings and the file it came from.
type RestoredSLO struct {
	Fingerprint string
	Evaluator   []byte
	File        string
	// Evaluated is the newest time the restored incidents hold the SLO's
	// evaluation of. Rings restored from an older checkpoint make the next
	// tick replay from their LastStep; the replay does not fold the
	// evaluations up to Evaluated into the incidents again.
	Evaluated time.Time
}

// Restore loads saved rings into the running SLOs whose fingerprint
// matches, restores the incidents, and resolves at at the open incidents
// nothing will evaluate again (their SLO is gone, or another shard owns
// their instance). It returns those resolves and how many SLOs got rings.
func (e *Engine) Restore(r Restored, at time.Time) ([]burnrate.Change, int) {
	restored := 0
	for _, id := range sortedKeys(r.SLOs) {
		s := r.SLOs[id]
		e.files[id] = s.File
		run := e.slos[id]
		if run != nil {
			run.evaluated = s.Evaluated
		}
		if run == nil || run.fp != s.Fingerprint || len(s.Evaluator) == 0 {
			continue
		}
		if err := run.eval.UnmarshalBinary(s.Evaluator); err != nil {
			e.log.Warn("slo state not restored", "slo", id, "err", err)
			continue
		}
		run.synced = true
		restored++
	}
	e.tracker.Restore(r.Incidents)
	return e.resolveOrphans(at), restored
}

// resolveOrphans resolves the open incidents that nothing evaluates: their
// SLO no longer exists, or their instance belongs to another shard. An SLO
// missing because its file fails to load (or, when it is not known which
// file held it, while any file fails) keeps its incidents open.
func (e *Engine) resolveOrphans(at time.Time) []burnrate.Change {
	var changes []burnrate.Change
	seen := map[string]bool{}
	for _, inc := range e.tracker.Open() {
		if seen[inc.Key] {
			continue
		}
		seen[inc.Key] = true
		why := ""
		switch {
		case e.slos[inc.SLO] == nil:
			if file, ok := e.files[inc.SLO]; (ok && file != "" && e.badFiles[file]) || ((!ok || file == "") && len(e.badFiles) > 0) {
				e.log.Warn("incident kept open: its slo's file fails to load", "slo", inc.SLO, "key", inc.Key)
				continue
			}
			why = "slo no longer exists"
		case !e.owns(inc.SLO, strings.TrimPrefix(inc.Key, inc.SLO)):
			why = "instance belongs to another shard"
		default:
			continue
		}
		e.log.Warn("incident resolved: nothing evaluates it", "slo", inc.SLO, "key", inc.Key, "why", why)
		changes = append(changes, e.correlate("", e.tracker.Forget(inc.Key, at), at)...)
	}
	return changes
}

func (e *Engine) owns(id, labelsKey string) bool {
	if r := e.slos[id]; r != nil && !r.place.owns(labelsKey) {
		return false
	}
	return e.o.Owns == nil || e.o.Owns(id, labelsKey)
}

// Owns reports whether this engine evaluates the instance labelsKey
// (burnrate.LabelsKey of its labels) of SLO id: Options.Shard's placement,
// then Options.Owns. An SLO it does not run is owned by nobody here.
func (e *Engine) Owns(id, labelsKey string) bool {
	return e.slos[id] != nil && e.owns(id, labelsKey)
}

// Partition is the query partition of a running SLO split among shards,
// or nil when it runs whole (or not at all) on this engine.
func (e *Engine) Partition(id string) *source.Partition {
	if r := e.slos[id]; r != nil {
		return r.place.part
	}
	return nil
}

// BackfillDone reports whether a read that went on in the background has
// ended since the last tick: the next tick evaluates its SLO.
func (e *Engine) BackfillDone() bool {
	for _, r := range e.slos {
		if r.bg == nil {
			continue
		}
		select {
		case <-r.bg.done:
			return true
		default:
		}
	}
	return false
}

// SLOs are the running SLOs in id order.
func (e *Engine) SLOs() []*SLO {
	out := make([]*SLO, 0, len(e.ids))
	for _, id := range e.ids {
		out = append(out, e.slos[id])
	}
	return out
}

// SLO is the running SLO with that id, or nil.
func (e *Engine) SLO(id string) *SLO { return e.slos[id] }

// File is the SLO file that held id: the running SLO's, else the one a
// restored snapshot named ("" when unknown).
func (e *Engine) File(id string) string {
	if r := e.slos[id]; r != nil {
		return r.spec.Pos.File
	}
	return e.files[id]
}

// Latest is the newest evaluation of every instance, by instance key
// (SLO id and labels), as of the last tick. Its evaluations' Rows share
// the engine's buffers: they stay as they are until the tick after next,
// long enough for one published view; a reader that keeps one longer
// copies its Rows.
func (e *Engine) Latest() map[string]Latest { return e.latest }

// Open are the open incidents; Recent the recently resolved, newest first.
func (e *Engine) Open() []burnrate.Incident   { return e.tracker.Open() }
func (e *Engine) Recent() []burnrate.Incident { return e.tracker.Recent() }

// Forget resolves the incidents of an instance key at at.
func (e *Engine) Forget(key string, at time.Time) []burnrate.Change {
	return e.correlate("", e.tracker.Forget(key, at), at)
}

// Stats are the queries and steps read so far.
func (e *Engine) Stats() Stats { return e.stats }

// OldestStep is the oldest newest-ingested step over the SLOs (zero when
// none has data yet): how far behind the slowest SLO is.
func (e *Engine) OldestStep() time.Time {
	var oldest time.Time
	for _, r := range e.slos {
		if l := r.eval.LastStep(); !l.IsZero() && (oldest.IsZero() || l.Before(oldest)) {
			oldest = l
		}
	}
	return oldest
}

func sortedKeys[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
