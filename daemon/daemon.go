package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// Options are what a Daemon is built from besides its Config.
type Options struct {
	Config Config
	// Reader reads step counts; required.
	Reader Reader
	// SourceName is shown on the status page ("prometheus", "embedded").
	SourceName string
	Logger     *slog.Logger
	// Registry receives every metric; a new one when nil.
	Registry *prometheus.Registry
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Stdout is where the log receiver writes pages (default os.Stdout).
	Stdout io.Writer
	// BeforeTick, when set, runs at the start of every tick with its time
	// (the demo appends its synthetic traffic up to that time).
	BeforeTick func(now time.Time)
	// Listener, when set, is served instead of listening on Config.Listen.
	Listener net.Listener
}

// Daemon is a running slod.
type Daemon struct {
	opts       Options
	cfg        Config
	log        *slog.Logger
	reg        *prometheus.Registry
	m          *Metrics
	now        func() time.Time
	dispatcher *notify.Dispatcher
	http       *server.Server
	snap       atomic.Pointer[server.Snapshot]
	reloadC    chan string

	// Owned by the evaluation loop (and New before it starts).
	slos       map[string]*sloRun
	tracker    *burnrate.Tracker
	lastEval   map[string]evalRecord
	problems   []server.Problem
	source     server.SourceStatus
	ready      bool
	pending    []notify.Page
	lastSave   time.Time
	dirty      bool
	lastTarget time.Time
	dirSig     string
	// badFiles are the SLO files that failed to load on the last load;
	// sloFiles names, for the SLOs of the restored snapshot, their file.
	badFiles map[string]bool
	sloFiles map[string]string
}

type sloRun struct {
	spec   *slo.Spec
	policy burnrate.Policy
	eval   *burnrate.Evaluator
	fp     string
	// diagnosed is set once the first read of this SLO was checked for
	// recent data; hint says why none came (empty when data came).
	diagnosed bool
	hint      string
}

type evalRecord struct {
	slo    string
	labels map[string]string
	ev     burnrate.Evaluation
}

// New loads the SLOs, restores the state snapshot and opens the notify
// outbox. It fails when no SLO loads or the notify config is invalid.
func New(opts Options) (*Daemon, error) {
	if opts.Reader == nil {
		return nil, errors.New("daemon: no reader")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.SourceName == "" {
		opts.SourceName = "prometheus"
	}
	cfg := opts.Config
	d := &Daemon{
		opts: opts, cfg: cfg, log: opts.Logger, reg: opts.Registry, now: opts.Now,
		m:        NewMetrics(opts.Registry),
		reloadC:  make(chan string, 1),
		slos:     map[string]*sloRun{},
		lastEval: map[string]evalRecord{},
		sloFiles: map[string]string{},
		tracker:  burnrate.NewTracker(burnrate.TrackerOptions{HoldDown: cfg.HoldDown}),
		source:   server.SourceStatus{Name: opts.SourceName, Up: true},
	}
	d.m.sourceUp.Set(1)
	if err := d.load(); err != nil {
		return nil, err
	}
	if err := d.openNotify(); err != nil {
		return nil, err
	}
	d.restore()
	srv, err := server.New(server.Options{Snapshot: d.snap.Load, Gatherer: d.reg, Logger: d.log})
	if err != nil {
		return nil, err
	}
	d.http = srv
	d.publish(d.now())
	return d, nil
}

// Handler is the daemon's HTTP interface.
func (d *Daemon) Handler() http.Handler { return d.http }

// Snapshot is the newest snapshot the HTTP interface shows.
func (d *Daemon) Snapshot() *server.Snapshot { return d.snap.Load() }

func (d *Daemon) openNotify() error {
	var cfg *notify.Config
	if d.cfg.NotifyConfig != "" {
		c, err := notify.LoadConfig(d.cfg.NotifyConfig)
		if err != nil {
			return fmt.Errorf("notify config: %w", err)
		}
		cfg = c
	} else {
		c, err := notify.ParseConfig([]byte("receivers:\n  - name: log\n    log: {}\nroute:\n  receiver: log\n"), "built-in", os.LookupEnv)
		if err != nil {
			return fmt.Errorf("built-in notify config: %w", err)
		}
		cfg = c
	}
	senders, err := receiver.Build(cfg, receiver.Options{Stdout: d.opts.Stdout, Now: d.now})
	if err != nil {
		return fmt.Errorf("notify receivers: %w", err)
	}
	if err := os.MkdirAll(d.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	disp, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: d.cfg.StateDir,
		Logger: d.log.With("component", "notify"), Registerer: d.reg})
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	d.dispatcher = disp
	return nil
}

// load reads the SLO directory and swaps the valid SLOs in. Files with
// errors are reported and skipped, and the SLOs they held keep running on
// their previous version; when nothing valid remains the old set stays.
// Evaluators of SLOs whose counts mean the same keep their state.
func (d *Daemon) load() error {
	dir := d.cfg.SLODir
	set, diags := slo.Check(dir)
	diags = append(diags, burnrate.Lint(set)...)
	good := set.SkipBadFiles(diags)
	var problems []server.Problem
	badFiles := map[string]bool{}
	for _, dg := range diags {
		if dg.Severity != slo.SeverityError {
			continue
		}
		badFiles[dg.Pos.File] = true
		problems = append(problems, server.Problem{Where: dg.Pos.File, Message: dg.String() + " (file skipped)"})
		d.log.Error("slo file skipped", "file", dg.Pos.File, "err", dg.String())
	}
	d.m.sloFilesBad.Set(float64(len(badFiles)))
	d.badFiles = badFiles
	policies := burnrate.Policies(good)
	next := map[string]*sloRun{}
	for _, spec := range good.SLOs {
		pol, ok := burnrate.PolicyFor(spec, policies)
		if !ok {
			problems = append(problems, server.Problem{Where: spec.Pos.String(), Message: fmt.Sprintf("slo %q: unknown policy %q (skipped)", spec.ID, spec.Policy)})
			continue
		}
		r := &sloRun{spec: spec, policy: pol, fp: fingerprint(spec, d.cfg.Step)}
		ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: spec, Policy: pol, Step: d.cfg.Step})
		if err != nil {
			problems = append(problems, server.Problem{Where: spec.Pos.String(), Message: err.Error() + " (skipped)"})
			continue
		}
		r.eval = ev
		if old := d.slos[spec.ID]; old != nil && old.fp == r.fp {
			// Same counts: carry the ring buffers over to the new evaluator.
			r.diagnosed, r.hint = old.diagnosed, old.hint
			if data, err := old.eval.MarshalBinary(); err == nil {
				if err := ev.UnmarshalBinary(data); err != nil {
					d.log.Warn("slo state not carried over reload", "slo", spec.ID, "err", err)
				}
			}
		}
		next[spec.ID] = r
	}
	fresh := len(next)
	// A typo must not resolve a live page: an SLO that did not load this
	// time keeps its previous spec, evaluator and incidents while its file
	// fails (or while the policy it names is missing or broken). Only SLOs
	// whose file was deleted, or whose file now loads cleanly without them,
	// are forgotten below.
	listed := map[string]bool{}
	for _, spec := range good.SLOs {
		listed[spec.ID] = true
	}
	for _, id := range sortedIDs(d.slos) {
		old := d.slos[id]
		if next[id] != nil || !(badFiles[old.spec.Pos.File] || listed[id]) {
			continue
		}
		next[id] = old
		problems = append(problems, server.Problem{Where: old.spec.Pos.File,
			Message: fmt.Sprintf("slo %q: still running its previous version until the file loads again", id)})
		d.log.Warn("slo kept on its previous version", "slo", id, "file", old.spec.Pos.File)
	}
	d.problems = problems
	if fresh == 0 {
		if len(d.slos) == 0 {
			return fmt.Errorf("no valid SLO in %s", dir)
		}
		d.m.reloads.WithLabelValues("failed").Inc()
		d.problems = append(d.problems, server.Problem{Where: dir, Message: "no valid SLO left: still running the previous set"})
		d.log.Error("reload found no valid slo, keeping the previous set", "dir", dir)
		return nil
	}
	// Incidents of removed SLOs (file deleted, or the SLO gone from a file
	// that loads) resolve.
	now := d.lastTarget
	if now.IsZero() {
		now = d.now()
	}
	for id := range d.slos {
		if next[id] == nil {
			d.forgetSLO(id, now)
		}
	}
	d.slos = next
	d.resolveOrphans(now)
	d.m.slos.Set(float64(len(next)))
	if len(badFiles) > 0 {
		d.m.reloads.WithLabelValues("partial").Inc()
	} else {
		d.m.reloads.WithLabelValues("ok").Inc()
	}
	d.log.Info("slos loaded", "dir", dir, "slos", len(next), "files_skipped", len(badFiles))
	d.dirSig = dirSignature(dir)
	return nil
}

func (d *Daemon) forgetSLO(id string, at time.Time) {
	prefix := id + "{"
	for _, key := range d.tracker.Keys() {
		if strings.HasPrefix(key, prefix) {
			d.handle(context.Background(), d.tracker.Forget(key, at), nil)
		}
	}
	for key := range d.lastEval {
		if strings.HasPrefix(key, prefix) {
			delete(d.lastEval, key)
		}
	}
	d.m.instances.DeleteLabelValues(id)
	d.m.budgetRemained.DeleteLabelValues(id)
}

// restore reads the state snapshot: ring buffers of SLOs whose counts mean
// the same, every incident, and the pages not yet committed to the outbox.
// Open incidents that this daemon will never evaluate again (their SLO is
// gone, or another shard owns their instance) resolve, with a resolve page.
func (d *Daemon) restore() {
	st, err := readState(d.cfg.StateDir)
	if err != nil {
		d.log.Error("state snapshot unreadable, starting empty", "err", err)
		return
	}
	if st == nil {
		d.log.Info("no state snapshot, backfilling the whole window")
		return
	}
	restored := 0
	for id, s := range st.SLOs {
		d.sloFiles[id] = s.File
		r := d.slos[id]
		if r == nil || r.fp != s.Fingerprint {
			continue
		}
		if err := r.eval.UnmarshalBinary(s.Evaluator); err != nil {
			d.log.Warn("slo state not restored", "slo", id, "err", err)
			continue
		}
		restored++
	}
	d.tracker.Restore(st.Incidents)
	// Pages the previous run had not committed to the outbox go first,
	// before anything this run queues.
	d.pending = append(slices.Clone(st.Pending), d.pending...)
	if st.Shard != d.cfg.Shard.String() {
		d.log.Warn("state snapshot written for another shard: incidents of instances this shard does not own resolve",
			"snapshot_shard", shardName(st.Shard), "shard", shardName(d.cfg.Shard.String()))
	}
	d.resolveOrphans(d.now())
	d.log.Info("state restored", "written_at", st.WrittenAt, "slos", restored, "open_incidents", len(d.tracker.Open()),
		"pages_pending", len(d.pending))
}

func shardName(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// resolveOrphans resolves the open incidents that nothing evaluates: their
// SLO no longer exists, or their instance belongs to another shard. Their
// resolve pages go to the outbox (a resolve follows the receivers of its
// trigger, so it needs no routing labels). An SLO missing because its file
// fails to load (or, when the snapshot does not say which file held it,
// while any file fails) keeps its incidents open until a later load.
func (d *Daemon) resolveOrphans(at time.Time) {
	seen := map[string]bool{}
	for _, inc := range d.tracker.Open() {
		if seen[inc.Key] {
			continue
		}
		seen[inc.Key] = true
		why := ""
		switch {
		case d.slos[inc.SLO] == nil:
			if file, ok := d.sloFiles[inc.SLO]; (ok && file != "" && d.badFiles[file]) || ((!ok || file == "") && len(d.badFiles) > 0) {
				d.log.Warn("incident kept open: its slo's file fails to load", "slo", inc.SLO, "key", inc.Key)
				continue // the file may come back with the SLO
			}
			why = "slo no longer exists"
		case !d.inShard(inc.SLO, strings.TrimPrefix(inc.Key, inc.SLO)):
			why = "instance belongs to another shard"
		default:
			continue
		}
		d.log.Warn("incident resolved: nothing evaluates it", "slo", inc.SLO, "key", inc.Key, "why", why)
		d.handle(context.Background(), d.tracker.Forget(inc.Key, at), nil)
	}
}

func (d *Daemon) saveState(now time.Time) {
	st := &state{Format: stateFormat, WrittenAt: now.UTC(), Shard: d.cfg.Shard.String(), SLOs: map[string]sloState{}}
	for id, r := range d.slos {
		data, err := r.eval.MarshalBinary()
		if err != nil {
			d.log.Error("encode slo state", "slo", id, "err", err)
			continue
		}
		st.SLOs[id] = sloState{Fingerprint: r.fp, Evaluator: data, File: r.spec.Pos.File}
	}
	st.Incidents = append(d.tracker.Open(), d.tracker.Recent()...)
	for _, inc := range d.tracker.Open() {
		// An SLO not running because its file fails to load: keep naming
		// its file, so the next run keeps its incidents open too.
		if _, ok := st.SLOs[inc.SLO]; !ok && d.sloFiles[inc.SLO] != "" {
			st.SLOs[inc.SLO] = sloState{File: d.sloFiles[inc.SLO]}
		}
	}
	for _, p := range d.pending {
		// A page JSON cannot carry must not cost the whole snapshot.
		if _, err := json.Marshal(p); err != nil {
			d.log.Error("pending page left out of the state snapshot", "dedup_key", p.DedupKey, "err", err)
			continue
		}
		st.Pending = append(st.Pending, p)
	}
	n, err := writeState(d.cfg.StateDir, st)
	if err != nil {
		d.m.snapshots.WithLabelValues("error").Inc()
		d.log.Error("state snapshot failed", "err", err)
		return
	}
	d.m.snapshots.WithLabelValues("ok").Inc()
	d.m.snapshotBytes.Set(float64(n))
	d.lastSave, d.dirty = now, false
}

// Run runs the daemon until ctx ends or SIGINT/SIGTERM arrives: the signal
// handler, the SLO file watcher, the evaluation loop, the notify workers and
// the HTTP server in one run group. On the way out the evaluation loop writes
// a final state snapshot.
func (d *Daemon) Run(ctx context.Context) error {
	ln := d.opts.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", d.cfg.Listen)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	d.log.Info("serving", "url", "http://"+ln.Addr().String()+"/")
	var g run.Group
	{
		ctx, cancel := context.WithCancel(ctx)
		sig := make(chan os.Signal, 4)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		g.Add(func() error {
			defer signal.Stop(sig)
			for {
				select {
				case <-ctx.Done():
					return nil
				case s := <-sig:
					if s == syscall.SIGHUP {
						d.requestReload("SIGHUP")
						continue
					}
					d.log.Info("shutting down", "signal", s.String())
					return nil
				}
			}
		}, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { d.watch(ctx); return nil }, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return d.loop(ctx) }, func(error) { cancel() })
	}
	{
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			err := d.dispatcher.Run(ctx)
			if errors.Is(err, notify.ErrClosed) || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}, func(error) { cancel() })
	}
	{
		hs := &http.Server{Handler: d.http, ReadHeaderTimeout: 10 * time.Second}
		g.Add(func() error {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		}, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
		})
	}
	err := g.Run()
	if cerr := d.dispatcher.Close(); cerr != nil && err == nil && !errors.Is(cerr, notify.ErrClosed) {
		err = cerr
	}
	return err
}

func (d *Daemon) requestReload(why string) {
	select {
	case d.reloadC <- why:
	default:
	}
}

// watch polls the SLO directory and asks for a reload when a file changes.
func (d *Daemon) watch(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	sig := dirSignature(d.cfg.SLODir)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s := dirSignature(d.cfg.SLODir); s != sig {
				sig = s
				d.requestReload("file change")
			}
		}
	}
}

// dirSignature summarises the names, sizes and modification times of the
// SLO files under dir.
func dirSignature(dir string) string {
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s %d %d\n", p, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}

// loop runs a tick at once (restore and backfill), then on every wall-clock
// multiple of the interval, and handles reloads between ticks.
func (d *Daemon) loop(ctx context.Context) error {
	d.tick(ctx, d.now())
	for {
		now := d.now()
		next := alignUp(now, d.cfg.Interval)
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			d.saveState(d.now())
			return nil
		case why := <-d.reloadC:
			timer.Stop()
			d.log.Info("reloading slos", "why", why)
			if err := d.load(); err != nil {
				d.log.Error("reload failed", "err", err)
			}
			d.publish(d.now())
		case <-timer.C:
			at := d.now()
			if missed := int64(at.Sub(next) / d.cfg.Interval); missed > 0 {
				d.m.ticksMissed.Add(float64(missed))
				d.log.Warn("ticks missed", "count", missed)
			}
			d.tick(ctx, next)
		}
	}
}

// alignUp returns the first multiple of d (in Unix time) after t.
func alignUp(t time.Time, d time.Duration) time.Time {
	return alignDown(t, d).Add(d)
}

// alignDown returns the last multiple of d (in Unix time) at or before t.
func alignDown(t time.Time, d time.Duration) time.Time {
	ns := t.UnixNano()
	r := ns % int64(d)
	if r < 0 {
		r += int64(d)
	}
	return time.Unix(0, ns-r).UTC()
}

// inShard reports whether this daemon evaluates an instance.
func (d *Daemon) inShard(sloID, labelsKey string) bool {
	return InShard(d.cfg.Shard, sloID, labelsKey)
}

// InShard reports whether shard s owns the SLO instance: FNV-1a of the SLO
// id and the canonical label set, modulo the shard count.
func InShard(s Shard, sloID, labelsKey string) bool {
	if s.Count <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(sloID))
	h.Write([]byte{0})
	h.Write([]byte(labelsKey))
	return h.Sum64()%uint64(s.Count) == uint64(s.Index)
}

// tick reads the steps that completed since the last tick (all of W on a
// cold start, the gap after a restart or an outage), evaluates every
// instance — at every missed tick when a gap was filled, so a burn that
// happened while the source was down still opens (and resolves) its
// incident — and turns incident changes into pages.
func (d *Daemon) tick(ctx context.Context, now time.Time) {
	began := time.Now()
	if d.opts.BeforeTick != nil {
		d.opts.BeforeTick(now)
	}
	step := d.cfg.Step
	target := alignDown(now.Add(-d.cfg.QueryDelay), step)
	d.lastTarget = target
	allOK := true
	for _, id := range sortedIDs(d.slos) {
		r := d.slos[id]
		if len(r.spec.GroupBy) == 0 && !d.inShard(id, burnrate.LabelsKey(nil)) {
			continue // the SLO's only instance belongs to another shard
		}
		last := r.eval.LastStep()
		cold := last.IsZero()
		from := last
		if cold {
			from = alignDown(target.Add(-r.spec.Window), step)
		}
		if !target.After(from) {
			continue
		}
		gap := target.Sub(from)
		var batches []burnrate.Batch
		var err error
		// The gap (all of W on a cold start, coarse tiers at their own
		// resolution) plus the newest steps again for late samples.
		for _, seg := range source.Plan(r.eval, target, rereadSteps) {
			var b burnrate.Batch
			b, err = d.opts.Reader.Read(ctx, r.spec, seg.From, seg.To, seg.Resolution, step)
			if err != nil {
				break
			}
			d.m.stepsRead.Add(float64(seg.To.Sub(seg.From) / step))
			batches = append(batches, b)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			allOK = false
			d.m.queryErrors.Inc()
			if d.source.Up {
				d.log.Error("source failed, evaluation waits for it", "slo", id, "err", err)
			}
			d.source.Up, d.source.LastError = false, err.Error()
			continue
		}
		for _, batch := range batches {
			batch.Series = slices.DeleteFunc(batch.Series, func(s burnrate.Series) bool {
				return !d.inShard(id, burnrate.LabelsKey(s.Labels))
			})
			if err := r.eval.Ingest(batch); err != nil {
				d.log.Warn("ingest", "slo", id, "err", err)
			}
		}
		if !r.diagnosed {
			r.hint, r.diagnosed = d.diagnose(ctx, id, r, target), true
		}
		if gap > d.cfg.Interval {
			d.m.backfillSteps.Add(float64(gap / step))
			d.log.Info("backfilled", "slo", id, "from", from, "to", target, "steps", int64(gap/step), "cold", cold)
		}
		times := []time.Time{target}
		if !cold && gap > d.cfg.Interval {
			times = replayTimes(from, target, d.cfg.Interval, d.cfg.MaxReplay)
		}
		for _, at := range times {
			for _, ie := range r.eval.Evaluate(at) {
				if !d.inShard(id, ie.Key) {
					continue
				}
				subj := burnrate.Subject{Key: id + ie.Key, SLO: id, Labels: ie.Labels, Window: r.spec.Window,
					NoDataAfter: r.spec.Alerting.NoData}
				d.handle(ctx, d.tracker.Observe(subj, ie.Evaluation), r)
				if at.Equal(target) {
					d.lastEval[subj.Key] = evalRecord{slo: id, labels: ie.Labels, ev: ie.Evaluation}
				}
			}
		}
		for _, key := range r.eval.Prune(target, 0) {
			d.handle(ctx, d.tracker.Forget(id+key, target), r)
			delete(d.lastEval, id+key)
		}
	}
	if allOK {
		if !d.source.Up {
			d.log.Info("source recovered, gap backfilled")
		}
		d.source.Up, d.source.LastError, d.source.LastSuccess = true, "", d.now()
		if !d.ready {
			d.ready = true
			d.m.ready.Set(1)
			d.log.Info("ready", "evaluating_slos", len(d.slos), "step", target)
		}
	}
	d.source.Lag = now.Add(-d.cfg.QueryDelay).Sub(d.oldestLastStep())
	d.m.sourceUp.Set(b2f(d.source.Up))
	d.flushPending(ctx)
	if d.dirty || now.Sub(d.lastSave) >= d.cfg.SnapshotInterval {
		d.saveState(now)
	}
	d.publish(now)
	d.m.tickDuration.Observe(time.Since(began).Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (d *Daemon) oldestLastStep() time.Time {
	var oldest time.Time
	for _, r := range d.slos {
		if l := r.eval.LastStep(); !l.IsZero() && (oldest.IsZero() || l.Before(oldest)) {
			oldest = l
		}
	}
	if !oldest.IsZero() {
		d.m.lastStepTime.Set(float64(oldest.Unix()))
	}
	return oldest
}

// rereadSteps newest steps are read again on every tick: their samples may
// have arrived late. Ingest sets slots, so this is idempotent.
const rereadSteps = 2

// replayTimes are the tick times in (from, to], at most maxReplay back, and to.
func replayTimes(from, to time.Time, interval, maxReplay time.Duration) []time.Time {
	if maxReplay > 0 && to.Sub(from) > maxReplay {
		from = to.Add(-maxReplay)
	}
	var out []time.Time
	for t := alignUp(from, interval); t.Before(to); t = t.Add(interval) {
		out = append(out, t)
	}
	return append(out, to)
}

// handle counts incident changes, turns them into pages and queues them.
func (d *Daemon) handle(ctx context.Context, changes []burnrate.Change, r *sloRun) {
	for _, c := range changes {
		d.dirty = true
		d.m.changes.WithLabelValues(string(c.Kind)).Inc()
		inc := c.Incident
		d.log.Info("incident "+string(c.Kind), "slo", inc.SLO, "labels", burnrate.LabelsKey(inc.Labels),
			"class", inc.Class, "severity", inc.Severity, "burn", figure(inc.Burn, inc.Unknown.Burn),
			"budget_remaining", figure(inc.BudgetRemaining, inc.Unknown.BudgetRemaining),
			"time_to_exhaustion", server.FormatTimeToExhaustion(inc))
		spec := (*slo.Spec)(nil)
		if r != nil {
			spec = r.spec
		} else if run := d.slos[inc.SLO]; run != nil {
			spec = run.spec
		}
		if p, ok := PageFor(c, spec); ok {
			d.pending = append(d.pending, p)
		}
	}
	if len(changes) > 0 {
		d.flushPending(ctx)
	}
}

// flushPending commits queued pages to the outbox, in order; a page that
// fails stays queued (with those after it) for the next tick, and the state
// snapshot carries it so a crash does not lose it. A committed page marks
// the state dirty, so the next snapshot stops carrying it.
func (d *Daemon) flushPending(ctx context.Context) {
	for len(d.pending) > 0 && d.dispatcher != nil {
		p := d.pending[0]
		if err := d.dispatcher.Enqueue(ctx, p); err != nil {
			d.m.pageErrors.Inc()
			d.log.Error("page not queued, retrying next tick", "dedup_key", p.DedupKey, "err", err)
			return
		}
		d.m.pages.WithLabelValues(string(p.Action)).Inc()
		d.pending = d.pending[1:]
		d.dirty = true
	}
}

// DedupKey is the stable key of an incident's pages: the same SLO
// instance and class give the same key on every replica and after every
// restart, so receivers merge repeats into one incident.
func DedupKey(sloID string, labels map[string]string, class burnrate.IncidentClass) string {
	return notify.DedupKey(sloID, burnrate.LabelsKey(labels), string(class))
}

// PageFor turns an incident change into a page; false when the SLO disables
// alerting for the incident's severity.
func PageFor(c burnrate.Change, spec *slo.Spec) (notify.Page, bool) {
	inc := c.Incident
	sev := notify.Severity(inc.Severity)
	labels := map[string]string{}
	ann := map[string]string{}
	var objective float64
	if spec != nil {
		objective = spec.Objective
		class := spec.Alerting.Ticket
		if inc.Severity == burnrate.SeverityPage {
			class = spec.Alerting.Page
		}
		if class.Disabled && c.Kind != burnrate.ChangeResolved {
			if inc.Severity == burnrate.SeverityPage && !spec.Alerting.Ticket.Disabled {
				sev, class = notify.SeverityTicket, spec.Alerting.Ticket
			} else {
				return notify.Page{}, false
			}
		}
		maps.Copy(labels, spec.Labels)
		maps.Copy(labels, spec.Alerting.Labels)
		maps.Copy(labels, class.Labels)
		maps.Copy(ann, spec.Annotations)
		maps.Copy(ann, spec.Alerting.Annotations)
		maps.Copy(ann, class.Annotations)
		labels["service"] = spec.Service
		if spec.Description != "" {
			ann["description"] = spec.Description
		}
	}
	maps.Copy(labels, inc.Labels)
	labels["slo"] = inc.SLO
	labels["class"] = string(inc.Class)
	p := notify.Page{
		DedupKey: DedupKey(inc.SLO, inc.Labels, inc.Class),
		Action:   notify.Trigger,
		Severity: sev,
		Summary:  summary(inc, spec),
		Labels:   labels, Annotations: ann,
		StartsAt: inc.Start,
		Details: notify.Details{
			Burn:      map[string]float64{},
			Objective: objective,
			Extra: map[string]string{
				"budget_spent_since_start": "unknown",
				"time_to_exhaustion":       server.FormatTimeToExhaustion(inc),
				"current_burn":             "unknown",
			},
		},
	}
	// Figures without data stay unknown: a no-data page must not read
	// "budget 0%, exhausted".
	if !inc.Unknown.BudgetRemaining {
		p.Details.BudgetRemaining = new(server.Round(inc.BudgetRemaining))
	}
	if !inc.Unknown.BudgetSpent {
		p.Details.Extra["budget_spent_since_start"] = fmt.Sprintf("%.2f%%", 100*inc.BudgetSpent)
	}
	if !inc.Unknown.Burn {
		p.Details.Extra["current_burn"] = fmt.Sprintf("%.3g", inc.Burn)
	}
	if !inc.Unknown.TimeToExhaustion && inc.TimeToExhaustion != burnrate.Never {
		p.Details.TimeToExhaustion = new(inc.TimeToExhaustion)
	}
	for _, pb := range inc.PeakBurn {
		p.Details.Burn[server.FormatDuration(pb.Window)] = server.Round(pb.Burn)
	}
	for _, k := range []string{"runbook", "runbook_url", "dashboard", "dashboard_url"} {
		if v := ann[k]; v != "" {
			p.Links = append(p.Links, notify.Link{Href: v, Text: strings.TrimSuffix(k, "_url")})
		}
	}
	if c.Kind == burnrate.ChangeResolved {
		p.Action = notify.Resolve
		p.EndsAt = inc.Resolved
	}
	if host, err := os.Hostname(); err == nil {
		p.Source = "slod@" + host
	}
	return p, true
}

func summary(inc burnrate.Incident, spec *slo.Spec) string {
	inst := ""
	if len(inc.Labels) > 0 {
		inst = " " + burnrate.LabelsKey(inc.Labels)
	}
	obj := ""
	if spec != nil {
		obj = fmt.Sprintf(" (%s%% over %s)", trimZeros(spec.Objective), server.FormatDuration(spec.Window))
	}
	if inc.Class == burnrate.ClassNoData {
		return fmt.Sprintf("%s%s%s: SLI has had no data for %s", inc.SLO, inst, obj, server.FormatDuration(inc.NoDataFor))
	}
	return fmt.Sprintf("%s%s%s: error budget burning %.3g× — %.1f%% left, gone in %s",
		inc.SLO, inst, obj, inc.Burn, 100*inc.BudgetRemaining, server.FormatDuration(inc.TimeToExhaustion))
}

func trimZeros(f float64) string {
	s := fmt.Sprintf("%.4f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// publish builds a new snapshot for the HTTP interface.
func (d *Daemon) publish(now time.Time) {
	snap := &server.Snapshot{
		At: now, Ready: d.ready, Shard: d.cfg.Shard.String(),
		Incidents: d.tracker.Open(), Recent: d.tracker.Recent(),
		Source: d.source, Problems: slices.Clone(d.problems),
	}
	for _, id := range sortedIDs(d.slos) {
		if h := d.slos[id].hint; h != "" {
			snap.Problems = append(snap.Problems, server.Problem{Where: "source", Message: "slo " + id + ": " + h})
		}
	}
	if !d.ready {
		snap.Reason = "backfilling from " + d.source.Name
		if !d.source.Up {
			snap.Reason = d.source.Name + " failing: " + d.source.LastError
		}
	}
	total := 0
	for _, r := range d.slos {
		total += r.eval.Len()
	}
	charts := total <= 500
	bySLO := map[string][]string{}
	for key, rec := range d.lastEval {
		bySLO[rec.slo] = append(bySLO[rec.slo], key)
	}
	sevs := map[[2]string]int{}
	for _, inc := range snap.Incidents {
		sevs[[2]string{string(inc.Severity), string(inc.Class)}]++
	}
	for _, s := range []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket} {
		for _, c := range []burnrate.IncidentClass{burnrate.ClassBurn, burnrate.ClassNoData} {
			d.m.incidents.WithLabelValues(string(s), string(c)).Set(float64(sevs[[2]string{string(s), string(c)}]))
		}
	}
	for _, id := range sortedIDs(d.slos) {
		r := d.slos[id]
		s := server.SLO{ID: id, Name: r.spec.Name, Service: r.spec.Service, Description: r.spec.Description,
			Objective: r.spec.Objective, Window: r.spec.Window, Policy: r.policy.Name, Labels: r.spec.Labels}
		keys := bySLO[id]
		sort.Strings(keys)
		worst := 1.0
		for _, key := range keys {
			rec := d.lastEval[key]
			in := server.Instance{Key: key, Labels: rec.labels, Evaluated: true, Evaluation: rec.ev}
			if charts {
				in.Budget = burndown(r, rec.labels, rec.ev.At)
			}
			if b := rec.ev.BudgetRemaining; b == b { // not NaN
				worst = min(worst, b)
			}
			s.Instances = append(s.Instances, in)
		}
		if len(keys) == 0 {
			s.Instances = append(s.Instances, server.Instance{Key: id + "{}"})
		}
		d.m.instances.WithLabelValues(id).Set(float64(len(keys)))
		d.m.budgetRemained.WithLabelValues(id).Set(worst)
		snap.SLOs = append(snap.SLOs, s)
	}
	d.snap.Store(snap)
}

// burndown is the budget remaining over the current window: at each of 61
// points from the window's start to now, 1 − errors since the start ÷ the
// budget of the whole window (objective's error ratio × events in W).
func burndown(r *sloRun, labels map[string]string, now time.Time) []server.BudgetPoint {
	in := r.eval.Instance(labels)
	if in == nil || now.IsZero() {
		return nil
	}
	w := r.spec.Window
	start := now.Add(-w)
	all := in.Window(now, w)
	budget := r.spec.ErrorBudget() * all.Total
	if budget <= 0 {
		return nil
	}
	const n = 60
	out := make([]server.BudgetPoint, 0, n+1)
	for i := 0; i <= n; i++ {
		t := start.Add(time.Duration(int64(w) / n * int64(i)))
		spent := 0.0
		if i > 0 {
			spent = in.Window(t, t.Sub(start)).Errors
		}
		out = append(out, server.BudgetPoint{At: t, Remaining: 1 - spent/budget})
	}
	return out
}

// diagnose checks, once per loaded SLO, whether its first read left the
// newest steps without data and, if so, says why in the log: most often a
// scrape interval too long for the step (rate needs two samples per step),
// which would otherwise only surface as a no-data incident 15 minutes later.
func (d *Daemon) diagnose(ctx context.Context, id string, r *sloRun, at time.Time) string {
	qr, ok := d.opts.Reader.(*QueryReader)
	if !ok {
		return ""
	}
	hint, err := source.Diagnose(ctx, qr.Querier, r.eval, at)
	if err != nil {
		d.log.Warn("no-data diagnosis failed", "slo", id, "err", err)
		return ""
	}
	if hint != "" {
		d.log.Warn("no recent step has data", "slo", id, "hint", hint)
	}
	return hint
}

// figure is a log value: the rounded number, or "unknown" when the incident
// has no data for it.
func figure(x float64, unknown bool) any {
	if unknown {
		return "unknown"
	}
	return server.Round(x)
}
