package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
)

type worker struct {
	name    string
	sender  Sender
	wake    chan struct{}
	breaker *gobreaker.CircuitBreaker[struct{}]
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
		key, raw, err := d.head(w.name)
		if err != nil {
			log.Error("notify outbox read failed", "err", err)
			if !d.wait(ctx, del.BackoffInitial) {
				return
			}
			continue
		}
		if key == nil {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
			}
			continue
		}
		e, err := decodeEntry(raw)
		if err != nil {
			// Retrying cannot make it readable; the queue behind it
			// must move on.
			d.m.undecodable.WithLabelValues("outbox").Inc()
			d.deadLetter(log.With("key", fmt.Sprintf("%x", key)), w.name, key, DeadLetter{
				Page: e.Page, EnqueuedAt: e.EnqueuedAt, Reason: ReasonUndecodable, Error: err.Error(), Raw: raw,
			})
			attempts, lastErr = 0, nil
			bo.Reset()
			continue
		}
		plog := log.With("dedup_key", e.Page.DedupKey, "action", string(e.Page.Action))
		if age := d.clock.Now().Sub(e.EnqueuedAt); age > del.MaxAge {
			reason := fmt.Sprintf("waited %s, over max_age %s", age.Round(time.Second), del.MaxAge)
			if lastErr != nil {
				reason += "; last error: " + lastErr.Error()
			}
			d.deadLetter(plog, w.name, key, DeadLetter{Page: e.Page, EnqueuedAt: e.EnqueuedAt, Reason: ReasonMaxAge, Error: reason, Attempts: attempts})
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
			d.deadLetter(plog, w.name, key, DeadLetter{Page: e.Page, EnqueuedAt: e.EnqueuedAt, Reason: se.Reason, Error: err.Error(), Attempts: attempts})
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
