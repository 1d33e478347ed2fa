package notify

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	bolt "go.etcd.io/bbolt"
)

// OutboxFile is the outbox's file name inside Options.StateDir.
const OutboxFile = "notify-outbox.db"

var (
	bucketOutbox = []byte("outbox")
	bucketDead   = []byte("dead")
	bucketActive = []byte("active")
)

// active remembers an unresolved trigger and the receivers that got it, so
// its resolve goes to the same receivers even if the resolve carries fewer
// labels, and so receivers that forget alerts (Alertmanager) can be
// refreshed.
type active struct {
	Page      Page     `json:"page"`
	Receivers []string `json:"receivers"`
}

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
}

type worker struct {
	name    string
	sender  Sender
	wake    chan struct{}
	breaker *gobreaker.CircuitBreaker[struct{}]
}

// entry is what the outbox stores per page and receiver.
type entry struct {
	Page       Page      `json:"page"`
	EnqueuedAt time.Time `json:"enqueued_at"`
}

// DeadLetter is a page that will not be delivered, with the reason.
type DeadLetter struct {
	Page       Page      `json:"page"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	DeadAt     time.Time `json:"dead_at"`
	Reason     string    `json:"reason"`
	Error      string    `json:"error"`
	Attempts   int       `json:"attempts"`
}

// New opens (or creates) the outbox and prepares one worker per receiver.
// Pages left in the outbox by an earlier run are delivered by Run.
func New(opts Options) (*Dispatcher, error) {
	if opts.Config == nil || opts.Config.Route == nil {
		return nil, errors.New("notify: Options.Config is required")
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

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("notify: open outbox %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketActive); err != nil {
			return err
		}
		for _, top := range [][]byte{bucketOutbox, bucketDead} {
			b, err := tx.CreateBucketIfNotExists(top)
			if err != nil {
				return err
			}
			for _, name := range d.names {
				if _, err := b.CreateBucketIfNotExists([]byte(name)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("notify: outbox %s: %w", path, err)
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
			receivers, err := d.put(tx, p, now)
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
	for r, n := range woken {
		w, ok := d.workers[r]
		if !ok {
			continue
		}
		d.m.enqueued.WithLabelValues(r).Add(float64(n))
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// put routes one page inside tx and appends it to each receiver's outbox.
// A trigger is remembered as active with its receivers; a resolve goes to
// the receivers of its active trigger and ends it.
func (d *Dispatcher) put(tx *bolt.Tx, p Page, now time.Time) ([]string, error) {
	act := tx.Bucket(bucketActive)
	var prev *active
	if v := act.Get([]byte(p.DedupKey)); v != nil {
		prev = &active{}
		if err := json.Unmarshal(v, prev); err != nil {
			prev = nil
		}
	}
	var receivers []string
	// superseded holds, per receiver, a resolve of the previous alert to
	// send before p (see AlertIdentifier).
	superseded := map[string][]byte{}
	if p.Action == Trigger {
		receivers = d.cfg.Route.Receivers(p.RouteLabels())
		if prev != nil {
			// An escalation (ticket -> page) may add receivers; the
			// resolve must reach all of them.
			receivers = union(prev.Receivers, receivers)
			for _, r := range prev.Receivers {
				w := d.workers[r]
				if w == nil {
					continue
				}
				id, ok := w.sender.(AlertIdentifier)
				if !ok || id.AlertID(prev.Page) == id.AlertID(p) {
					continue
				}
				end := prev.Page
				end.Action, end.EndsAt = Resolve, now
				v, err := json.Marshal(entry{Page: end, EnqueuedAt: now})
				if err != nil {
					return nil, err
				}
				superseded[r] = v
			}
		}
		v, err := json.Marshal(active{Page: p, Receivers: receivers})
		if err != nil {
			return nil, err
		}
		if err := act.Put([]byte(p.DedupKey), v); err != nil {
			return nil, err
		}
	} else if prev != nil {
		receivers = prev.Receivers
		p = fillResolve(p, prev.Page)
		if err := act.Delete([]byte(p.DedupKey)); err != nil {
			return nil, err
		}
	} else {
		receivers = d.cfg.Route.Receivers(p.RouteLabels())
	}
	val, err := json.Marshal(entry{Page: p, EnqueuedAt: now})
	if err != nil {
		return nil, err
	}
	ob := tx.Bucket(bucketOutbox)
	for _, r := range receivers {
		b := ob.Bucket([]byte(r))
		if b == nil { // a receiver removed from the config since the trigger
			if b, err = ob.CreateBucket([]byte(r)); err != nil {
				return nil, err
			}
		}
		for _, v := range [][]byte{superseded[r], val} {
			if v == nil {
				continue
			}
			seq, err := b.NextSequence()
			if err != nil {
				return nil, err
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return nil, err
			}
		}
	}
	return receivers, nil
}

// fillResolve gives a resolve the identity of the trigger it ends, its
// labels and severity, so that receivers that identify alerts by labels
// (Alertmanager) end the alert that is firing, even when the resolve was
// built with other labels or severity (an escalated incident resolves as a
// page; a trigger sent as a ticket because pages are disabled). It also
// copies what the resolve leaves out.
func fillResolve(p, trigger Page) Page {
	if trigger.Labels != nil {
		p.Labels = trigger.Labels
	}
	if trigger.Severity != "" {
		p.Severity = trigger.Severity
	}
	if p.Summary == "" {
		p.Summary = trigger.Summary
	}
	if p.Annotations == nil {
		p.Annotations = trigger.Annotations
	}
	if p.Links == nil {
		p.Links = trigger.Links
	}
	if p.Source == "" {
		p.Source = trigger.Source
	}
	if !trigger.StartsAt.IsZero() {
		p.StartsAt = trigger.StartsAt
	}
	return p
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// refresh re-sends every unresolved trigger routed to receiver, unless its
// outbox still holds pages (they will bring it up to date).
func (d *Dispatcher) refresh(receiver string) (int, error) {
	n := 0
	now := d.clock.Now()
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(receiver))
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		return tx.Bucket(bucketActive).ForEach(func(_, v []byte) error {
			var a active
			if err := json.Unmarshal(v, &a); err != nil || !slices.Contains(a.Receivers, receiver) {
				return nil
			}
			val, err := json.Marshal(entry{Page: a.Page, EnqueuedAt: now})
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			n++
			return b.Put(seqKey(seq), val)
		})
	})
	return n, err
}
func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
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

// work delivers one receiver's pages in outbox order.
func (d *Dispatcher) work(ctx context.Context, w *worker) {
	log := d.log.With("receiver", w.name)
	del := d.cfg.Delivery
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     del.BackoffInitial,
		RandomizationFactor: 0, // full jitter is applied below
		Multiplier:          2,
		MaxInterval:         del.BackoffMax,
	}
	bo.Reset()
	attempts := 0
	var lastErr error
	for ctx.Err() == nil {
		key, e, ok, err := d.head(w.name)
		if err != nil {
			log.Error("notify outbox read failed", "err", err)
			if !d.wait(ctx, del.BackoffInitial) {
				return
			}
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			continue
		}
		plog := log.With("dedup_key", e.Page.DedupKey, "action", string(e.Page.Action))
		if age := d.clock.Now().Sub(e.EnqueuedAt); age > del.MaxAge {
			reason := fmt.Sprintf("waited %s, over max_age %s", age.Round(time.Second), del.MaxAge)
			if lastErr != nil {
				reason += "; last error: " + lastErr.Error()
			}
			d.deadLetter(plog, w.name, key, e, ReasonMaxAge, reason, attempts)
			attempts, lastErr = 0, nil
			bo.Reset()
			continue
		}
		attempts++
		err = d.attempt(ctx, w, e.Page)
		if err == nil {
			d.m.sent.WithLabelValues(w.name).Inc()
			plog.Info("notify page delivered", "attempts", attempts)
			if derr := d.remove(w.name, key); derr != nil {
				// Not removed: it will be sent again, and the receiver
				// merges it by dedup key.
				plog.Error("notify outbox delete failed", "err", derr)
			}
			attempts, lastErr = 0, nil
			bo.Reset()
			continue
		}
		if ctx.Err() != nil {
			return // shutting down mid-attempt: the page stays in the outbox
		}
		var wait time.Duration
		var se *SendError
		switch {
		case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
			// The breaker holds the page back; it waits in the outbox.
			attempts-- // nothing was sent
			wait = time.Duration(d.jitter() * float64(bo.NextBackOff()))
			plog.Debug("notify breaker open, page waits", "retry_in", wait)
		case errors.As(err, &se) && se.Permanent:
			d.m.failed.WithLabelValues(w.name, reasonOf(err)).Inc()
			d.deadLetter(plog, w.name, key, e, se.Reason, err.Error(), attempts)
			attempts, lastErr = 0, nil
			bo.Reset()
			continue
		default:
			lastErr = err
			d.m.failed.WithLabelValues(w.name, reasonOf(err)).Inc()
			// Full jitter: uniform in [0, exponential interval].
			wait = time.Duration(d.jitter() * float64(bo.NextBackOff()))
			if se != nil && se.RetryAfter > 0 {
				wait = se.RetryAfter
			}
			plog.Warn("notify delivery failed, will retry", "attempt", attempts, "retry_in", wait, "err", err)
		}
		// Never sleep past the page's max age: a huge Retry-After must
		// not keep a page out of the dead-letter bucket (and its alert).
		if left := e.EnqueuedAt.Add(del.MaxAge).Sub(d.clock.Now()); wait > left {
			wait = max(left, 0) + time.Millisecond
		}
		if !d.wait(ctx, wait) {
			return
		}
	}
}

func (d *Dispatcher) refreshLoop(ctx context.Context, w *worker, every time.Duration) {
	for d.wait(ctx, every) {
		n, err := d.refresh(w.name)
		if err != nil {
			d.log.Error("notify refresh failed", "receiver", w.name, "err", err)
			continue
		}
		if n > 0 {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

// attempt sends one page through the receiver's breaker with a timeout.
func (d *Dispatcher) attempt(ctx context.Context, w *worker, p Page) error {
	actx, cancel := context.WithTimeoutCause(ctx, d.cfg.Delivery.Timeout,
		&SendError{Reason: ReasonTimeout, Err: fmt.Errorf("no answer within %s", d.cfg.Delivery.Timeout)})
	defer cancel()
	start := time.Now()
	_, err := w.breaker.Execute(func() (_ struct{}, err error) {
		defer func() {
			// A receiver bug must not take the daemon down; the page
			// cannot be sent by this code, so it is dead-lettered.
			if r := recover(); r != nil {
				err = &SendError{Reason: ReasonInvalid, Permanent: true, Err: fmt.Errorf("receiver panicked: %v", r)}
			}
		}()
		err = w.sender.Send(actx, p)
		if err != nil && actx.Err() != nil && ctx.Err() == nil {
			// The attempt timed out: report it as such whatever the
			// transport made of it.
			err = context.Cause(actx)
		}
		return struct{}{}, err
	})
	d.m.latency.WithLabelValues(w.name).Observe(time.Since(start).Seconds())
	return err
}

func (d *Dispatcher) wait(ctx context.Context, dur time.Duration) bool {
	if dur <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-d.clock.After(dur):
		return true
	}
}

func (d *Dispatcher) head(receiver string) ([]byte, entry, bool, error) {
	var key []byte
	var e entry
	err := d.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketOutbox).Bucket([]byte(receiver)).Cursor().First()
		if k == nil {
			return nil
		}
		key = append([]byte(nil), k...)
		return json.Unmarshal(v, &e)
	})
	if err != nil {
		return nil, entry{}, false, err
	}
	return key, e, key != nil, nil
}

func (d *Dispatcher) remove(receiver string, key []byte) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Bucket([]byte(receiver)).Delete(key)
	})
}

func (d *Dispatcher) deadLetter(log *slog.Logger, receiver string, key []byte, e entry, reason, msg string, attempts int) {
	dl := DeadLetter{Page: e.Page, EnqueuedAt: e.EnqueuedAt, DeadAt: d.clock.Now(), Reason: reason, Error: msg, Attempts: attempts}
	val, err := json.Marshal(dl)
	if err == nil {
		// Counted before the commit makes the move visible, so a
		// reader that sees the outbox empty also sees the count.
		d.m.dead.WithLabelValues(receiver, reason).Inc()
		err = d.db.Update(func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketDead).Bucket([]byte(receiver)).Put(key, val); err != nil {
				return err
			}
			return tx.Bucket(bucketOutbox).Bucket([]byte(receiver)).Delete(key)
		})
	}
	if err != nil {
		log.Error("notify dead-letter write failed", "err", err)
		return
	}
	log.Error("notify page dead-lettered", "reason", reason, "err", msg, "attempts", attempts)
}

// DeadLetters returns the dead-lettered pages of a receiver, oldest first.
func (d *Dispatcher) DeadLetters(receiver string) ([]DeadLetter, error) {
	var out []DeadLetter
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDead).Bucket([]byte(receiver))
		if b == nil {
			return fmt.Errorf("notify: no receiver %q", receiver)
		}
		return b.ForEach(func(_, v []byte) error {
			var dl DeadLetter
			if err := json.Unmarshal(v, &dl); err != nil {
				return err
			}
			out = append(out, dl)
			return nil
		})
	})
	return out, err
}

// OutboxStats describes one receiver's queue.
type OutboxStats struct {
	Receiver    string
	Depth       int
	OldestAge   time.Duration
	DeadLetters int
}

// Stats reads every configured receiver's outbox depth, oldest page age and
// dead-letter count.
func (d *Dispatcher) Stats() ([]OutboxStats, error) {
	now := d.clock.Now()
	var out []OutboxStats
	err := d.db.View(func(tx *bolt.Tx) error {
		for _, name := range d.names {
			s := OutboxStats{Receiver: name}
			b := tx.Bucket(bucketOutbox).Bucket([]byte(name))
			if k, v := b.Cursor().First(); k != nil {
				s.Depth = b.Stats().KeyN
				var e entry
				if err := json.Unmarshal(v, &e); err == nil {
					s.OldestAge = max(now.Sub(e.EnqueuedAt), 0)
				}
			}
			s.DeadLetters = tx.Bucket(bucketDead).Bucket([]byte(name)).Stats().KeyN
			out = append(out, s)
		}
		return nil
	})
	return out, err
}
