// Package daemon wires slod together: it drives the evaluation engine on
// the wall clock, persists its state, turns incident changes into pages for
// the notify outbox, and serves the HTTP interface. What it evaluates and
// how is the engine's; the daemon owns only the lifecycle around it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// Options are what a Daemon is built from besides its Config.
type Options struct {
	Config Config
	// Querier reads SLI counts (the Prometheus HTTP API or the embedded
	// engine); required.
	Querier source.Querier
	// SourceName is shown on the status page ("prometheus", "embedded").
	SourceName string
	Logger     *slog.Logger
	// Registry receives every metric; a new one when nil.
	Registry *prometheus.Registry
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Speed is how many times faster than the wall clock Now runs (default
	// 1): the evaluation loop waits 1/Speed of each interval. Tests of the
	// real process run it on a VirtualClock.
	Speed float64
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
	// gate holds the background checkpoint back while a tick runs.
	gate tickGate
	// retired is the snapshot the last publish replaced: the next publish
	// reuses its memory if no one holds it (server.Acquire) by then.
	retired *server.Snapshot
	reloadC chan string
	// readDone is signalled when one of the engine's reads ends: a
	// background backfill that ends between ticks is evaluated (and the
	// daemon ready) at once, not at the next scheduled tick.
	readDone chan struct{}
	// reportC carries /api/v1/reports requests to the evaluation loop.
	reportC chan reportRequest

	// Owned by the evaluation loop (and New before it starts).
	eng      *engine.Engine
	problems []server.Problem
	source   server.SourceStatus
	ready    bool
	// backfilling are the SLOs whose backfill went on in the background
	// at the last tick: slod is ready once none is.
	backfilling map[string]bool
	pending     []notify.Page
	// pendingSince is when the outbox first refused the oldest pending page.
	pendingSince time.Time
	// reconciled is set once the receivers' open keys were reconciled with
	// the live incidents, after the first complete tick.
	reconciled bool
	lastSave   time.Time
	dirty      bool
	ckpt       checkpointer // the background ring checkpoint (state.go)
	lastTarget time.Time
	// capped are the SLOs whose instance cap dropped label sets.
	capped []engine.Capped
	// onsets caches the burn onsets of listed incidents by
	// server.OnsetKey (nil: none found).
	onsets map[string]*burnrate.Onset
	// metricSLOs are the SLOs whose per-SLO series were last published.
	metricSLOs map[string]bool
	// stateDamage says what happened to a state snapshot that could not be
	// read (moved aside), for the status page and /readyz; "" when none.
	stateDamage string
}

// New loads the SLOs, opens the notify outbox and restores the state
// snapshot. It fails when no SLO loads or the notify config is invalid.
func New(opts Options) (*Daemon, error) {
	if opts.Querier == nil {
		return nil, errors.New("daemon: no querier")
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
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.SourceName == "" {
		opts.SourceName = "prometheus"
	}
	cfg := opts.Config
	d := &Daemon{
		opts: opts, cfg: cfg, log: opts.Logger, reg: opts.Registry, now: opts.Now,
		m:        NewMetrics(opts.Registry),
		reloadC:  make(chan string, 1),
		readDone: make(chan struct{}, 1),
		reportC:  make(chan reportRequest),
		source:   server.SourceStatus{Name: opts.SourceName, Up: true},
	}
	eng, err := engine.New(engine.Options{
		Querier: opts.Querier, Step: cfg.Step, Interval: cfg.Interval, QueryDelay: cfg.QueryDelay,
		MaxReplay: cfg.MaxReplay, HoldDown: cfg.HoldDown, Concurrency: cfg.QueryConcurrency, ReadWait: cfg.BackfillWait,
		MaxInstancesPerSLO: cfg.MaxInstancesPerSLO, MaxInstances: cfg.MaxInstances,
		Shard: cfg.EngineShard(), Diagnose: true, Check: true,
		ReadDone: func() {
			select {
			case d.readDone <- struct{}{}:
			default:
			}
		},
		Correlation: engine.Correlation{Policy: slo.DependencyPolicy(cfg.DependencyPolicy), Grace: cfg.CorrelationGrace},
		Logger:      opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	d.eng = eng
	d.m.sourceUp.Set(1)
	if err := d.load(); err != nil {
		return nil, err
	}
	if err := d.openNotify(); err != nil {
		return nil, err
	}
	d.restore()
	inst := &instanceCollector{snapshot: d.snap.Load, perInstance: cfg.MetricsPerInstance, max: cfg.MetricsPerInstanceMax}
	d.reg.MustRegister(inst)
	srv, err := server.New(server.Options{Snapshot: d.snap.Load, Gatherer: d.reg, Exposition: inst.expose, Logger: d.log, Report: d.requestReport})
	if err != nil {
		return nil, err
	}
	d.http = srv
	d.publish(d.now())
	return d, nil
}

// Handler is the daemon's HTTP interface.
func (d *Daemon) Handler() http.Handler { return d.http }

// Snapshot is the newest snapshot the HTTP interface shows, pinned: its
// memory is never recycled for a later one (publish), however long the
// caller keeps it.
func (d *Daemon) Snapshot() *server.Snapshot { return server.Pin(d.snap.Load) }

func (d *Daemon) openNotify() error {
	var cfg *notify.Config
	if d.cfg.NotifyConfig != "" {
		c, err := receiver.LoadConfig(d.cfg.NotifyConfig)
		if err != nil {
			return fmt.Errorf("notify config: %w", err)
		}
		cfg = c
	} else {
		c, err := receiver.ParseConfig([]byte("receivers:\n  - name: log\n    log: {}\nroute:\n  receiver: log\n"), "built-in", os.LookupEnv)
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
		timer := time.NewTimer(time.Duration(float64(next.Sub(now)) / d.opts.Speed))
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
		case <-d.readDone:
			timer.Stop()
			if d.eng.BackfillDone() {
				// At the last scheduled tick's time: the SLO whose backfill
				// ended is evaluated on the interval's grid, and the others
				// have no new step to read.
				d.tick(ctx, alignDown(d.now(), d.cfg.Interval))
			}
		case req := <-d.reportC:
			timer.Stop()
			rep, err := d.buildReport(req.period, req.timezone, d.now())
			req.reply <- reportReply{rep: rep, err: err}
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

// VirtualClock returns a clock that reads start now and runs speed times
// as fast as the wall clock: the crash and fault tests run the real slod
// process on fixtures with a fixed end, minutes of evaluation in seconds.
func VirtualClock(start time.Time, speed float64) func() time.Time {
	origin := time.Now()
	return func() time.Time {
		return start.Add(time.Duration(float64(time.Since(origin)) * speed))
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
