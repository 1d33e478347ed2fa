package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	bolt "go.etcd.io/bbolt"
)

// Refresher is implemented by senders whose receiver forgets a firing alert
// unless it is sent again (Alertmanager's resolve_timeout): Run re-sends
// every unresolved trigger to it at this interval, when its outbox is empty.
type Refresher interface {
	Refresh() time.Duration
}

// AlertIdentifier is implemented by senders whose receiver identifies an
// alert by more than its DedupKey: Alertmanager by its label set, which
// includes severity. When a trigger changes that identity under a DedupKey
// already firing (an escalation from ticket to page), the dispatcher first
// sends the receiver a resolve of the previous alert, so it ends there at
// once instead of lingering, unrefreshed, until the receiver times it out.
type AlertIdentifier interface {
	AlertID(p Page) string
}

// Options configure a Dispatcher. Config, Senders and one of StateDir or
// Path are required.
type Options struct {
	Config *Config
	// Senders holds one Sender per receiver name of Config
	// (notify/receiver.Build makes them from the config).
	Senders map[string]Sender
	// StateDir holds the outbox file (OutboxFile); Path, when set, names the
	// bbolt file directly.
	StateDir string
	Path     string
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Registerer receives the slod_notify_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Clock defaults to the wall clock.
	Clock Clock
	// Jitter returns a number in [0, 1) for full-jitter backoff; defaults to
	// math/rand/v2.
	Jitter func() float64
}

// Dispatcher routes pages into a durable outbox and delivers them, one
// worker per receiver. Pages of one receiver are delivered in the order they
// were enqueued, so a resolve never overtakes its trigger; receivers do not
// wait on each other.
type Dispatcher struct {
	cfg     *Config
	router  *Router
	db      *bolt.DB
	log     *slog.Logger
	clock   Clock
	jitter  func() float64
	m       *metrics
	workers map[string]*worker
	names   []string

	mu      sync.Mutex
	closed  bool
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
	damage  []Damage
	// refused and refusedOldest are set by SetRefused.
	refused       int
	refusedOldest time.Time
}

// New opens (or creates) the outbox and prepares one worker per receiver.
// Pages left in the outbox by an earlier run are delivered by Run.
func New(opts Options) (*Dispatcher, error) {
	if opts.Config == nil || opts.Config.Route == nil {
		return nil, errors.New("notify: Options.Config is required")
	}
	router, err := NewRouter(opts.Config.Route)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	path := opts.Path
	if path == "" {
		if opts.StateDir == "" {
			return nil, errors.New("notify: Options.StateDir or Options.Path is required")
		}
		if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("notify: state dir: %w", err)
		}
		path = filepath.Join(opts.StateDir, OutboxFile)
	}
	d := &Dispatcher{
		cfg:     opts.Config,
		router:  router,
		log:     opts.Logger,
		clock:   opts.Clock,
		jitter:  opts.Jitter,
		workers: map[string]*worker{},
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.clock == nil {
		d.clock = wallClock{}
	}
	if d.jitter == nil {
		d.jitter = rand.Float64
	}
	for _, name := range opts.Config.ReceiverNames() {
		s, ok := opts.Senders[name]
		if !ok || s == nil {
			return nil, fmt.Errorf("notify: no sender for receiver %q", name)
		}
		d.names = append(d.names, name)
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg, d.names)
	if err != nil {
		return nil, fmt.Errorf("notify: metrics: %w", err)
	}
	d.m = m
	del := opts.Config.Delivery
	for _, name := range d.names {
		w := &worker{name: name, sender: opts.Senders[name], wake: make(chan struct{}, 1)}
		w.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
			Name:    name,
			Timeout: del.BreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool {
				return c.ConsecutiveFailures >= del.BreakerFailures
			},
			// The receiver answered: a rejected page is not an outage.
			IsSuccessful: func(err error) bool {
				var se *SendError
				return err == nil || errors.As(err, &se) && se.Permanent
			},
			// Being told to slow down, or shutting down, says nothing
			// about the receiver's health.
			IsExcluded: func(err error) bool {
				var se *SendError
				return errors.Is(err, context.Canceled) || errors.As(err, &se) && se.Reason == ReasonRateLimited
			},
			OnStateChange: func(name string, from, to gobreaker.State) {
				m.breaker.WithLabelValues(name).Set(breakerValue(to))
				d.log.Warn("notify breaker state changed", "receiver", name, "from", from.String(), "to", to.String())
			},
		})
		d.workers[name] = w
	}

	db, err := d.openOutbox(path)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	d.db = db
	if opts.Registerer != nil {
		// Replace the collector of an earlier dispatcher on this registry.
		opts.Registerer.Unregister(newOutboxCollector(d))
		if err := opts.Registerer.Register(newOutboxCollector(d)); err != nil {
			db.Close()
			return nil, fmt.Errorf("notify: metrics: %w", err)
		}
	}
	if err := d.dropUndecodableActive(); err != nil {
		d.log.Error("notify outbox: dropping undecodable active records failed", "err", err)
	}
	// Pages for receivers no longer in the config stay; say so.
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEachBucket(func(k []byte) error {
			if _, ok := d.workers[string(k)]; !ok {
				if n := tx.Bucket(bucketOutbox).Bucket(k).Stats().KeyN; n > 0 {
					d.log.Warn("notify outbox holds pages for a receiver that is not configured", "receiver", string(k), "pages", n)
				}
			}
			return nil
		})
	})
	return d, nil
}

// ErrClosed is returned by Enqueue and Run after Close.
var ErrClosed = errors.New("notify: dispatcher closed")

// Enqueue routes p and commits one outbox entry per matched receiver in one
// bbolt transaction. It returns nil only after that transaction is durable
// on disk; the page is then delivered even if the process dies.
func (d *Dispatcher) Enqueue(ctx context.Context, p Page) error {
	return d.EnqueueAll(ctx, []Page{p})
}

// EnqueueAll is Enqueue for several pages in one transaction (one fsync):
// all are accepted or none. Pages keep their order per receiver.
func (d *Dispatcher) EnqueueAll(ctx context.Context, pages []Page) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := d.clock.Now()
	pages = slices.Clone(pages)
	for i := range pages {
		p := &pages[i]
		if err := p.Validate(); err != nil {
			return fmt.Errorf("notify: page %s: %w", p.DedupKey, err)
		}
		if p.StartsAt.IsZero() {
			p.StartsAt = now
		}
		if p.Action == Resolve && p.EndsAt.IsZero() {
			p.EndsAt = now
		}
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return ErrClosed
	}
	woken := map[string]int{}
	err := d.db.Update(func(tx *bolt.Tx) error {
		clear(woken)
		for _, p := range pages {
			receivers, err := d.put(tx, p, now, nil)
			if err != nil {
				return fmt.Errorf("page %s: %w", p.DedupKey, err)
			}
			for _, r := range receivers {
				woken[r]++
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notify: enqueue: %w", err)
	}
	d.wake(woken)
	return nil
}

// wake counts pages newly committed per receiver and wakes their workers.
func (d *Dispatcher) wake(added map[string]int) {
	for r, n := range added {
		w, ok := d.workers[r]
		if !ok || n == 0 {
			continue
		}
		d.m.enqueued.WithLabelValues(r).Add(float64(n))
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers pages until ctx is done or Close is called, one goroutine per
// receiver. It returns nil on a clean stop, so it fits a run group.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	if d.running {
		d.mu.Unlock()
		return errors.New("notify: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	d.running, d.cancel, d.done = true, cancel, make(chan struct{})
	d.mu.Unlock()
	defer func() {
		cancel()
		close(d.done)
	}()
	var wg sync.WaitGroup
	for _, name := range d.names {
		w := d.workers[name]
		wg.Go(func() { d.work(ctx, w) })
		if r, ok := w.sender.(Refresher); ok && r.Refresh() > 0 {
			wg.Go(func() { d.refreshLoop(ctx, w, r.Refresh()) })
		}
	}
	wg.Wait()
	return nil
}

// Close stops Run (waiting for in-flight attempts to end) and closes the
// outbox. Pages not yet delivered stay in the outbox for the next start.
// Close is idempotent.
func (d *Dispatcher) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return d.db.Close()
}
