package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ReconcileResult counts the outbox entries Reconcile queued, one per page
// and receiver.
type ReconcileResult struct {
	// Resolves ends alerts receivers believe open that no live incident
	// owns.
	Resolves int
	// Triggers tells receivers of live incidents they were not told of.
	Triggers int
}

// Reconcile brings what each receiver was told in line with the live
// incidents, after a restart (with or without the daemon's own state) and a
// first evaluation. live holds the current trigger page of every open
// incident.
//
// A receiver has been told of a key when the outbox holds an active record
// for the key naming that receiver. The record is written in the same
// transaction that queues the trigger for the receiver, so "told" means
// committed to its outbox: delivered, still queued (it will be delivered),
// or dead-lettered (rejected or older than max_age; visible in DeadLetters
// and slod_notify_dead_letter_total, and not re-sent here).
//
// For every active key that no live page carries, Reconcile queues a resolve
// to the receivers that were told, built from the stored trigger. For every
// live page it queues the trigger to each receiver the routing tree picks
// that was not told of its key, or to all of them when the stored trigger
// has another severity (an escalation that was never sent). Everything is
// committed in one transaction; a second call with the same pages queues
// nothing.
func (d *Dispatcher) Reconcile(ctx context.Context, live []Page) (ReconcileResult, error) {
	var res ReconcileResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	now := d.clock.Now()
	live = slices.Clone(live)
	keys := make(map[string]bool, len(live))
	var errs []error
	for i := range live {
		p := &live[i]
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("page %s: %w", p.DedupKey, err))
		} else if p.Action != Trigger {
			errs = append(errs, fmt.Errorf("page %s: live pages are triggers, not %s", p.DedupKey, p.Action))
		}
		if p.StartsAt.IsZero() {
			p.StartsAt = now
		}
		keys[p.DedupKey] = true
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("notify: reconcile: %w", errors.Join(errs...))
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return res, ErrClosed
	}
	added := map[string]int{}
	err := d.db.Update(func(tx *bolt.Tx) error {
		res, added = ReconcileResult{}, map[string]int{}
		act := tx.Bucket(bucketActive)
		var stale [][]byte
		told := map[string]active{}
		err := act.ForEach(func(k, v []byte) error {
			a, err := decodeActive(v)
			switch {
			case err != nil:
				// Its receivers are unknown, so no resolve can be
				// built; New drops such records.
			case keys[string(k)]:
				told[string(k)] = a
			default:
				stale = append(stale, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			rs, err := d.put(tx, Page{DedupKey: string(k), Action: Resolve, EndsAt: now}, now, nil)
			if err != nil {
				return fmt.Errorf("resolve %s: %w", k, err)
			}
			res.Resolves += len(rs)
			for _, r := range rs {
				added[r]++
			}
		}
		for _, p := range live {
			var only []string
			if prev, ok := told[p.DedupKey]; ok && prev.Page.Severity == p.Severity {
				for _, r := range d.router.Receivers(p.RouteLabels()) {
					if !slices.Contains(prev.Receivers, r) {
						only = append(only, r)
					}
				}
				if len(only) == 0 {
					continue
				}
			}
			rs, err := d.put(tx, p, now, only)
			if err != nil {
				return fmt.Errorf("trigger %s: %w", p.DedupKey, err)
			}
			res.Triggers += len(rs)
			for _, r := range rs {
				added[r]++
			}
			// A later live page with the same key sees this one.
			if a, err := decodeActive(act.Get([]byte(p.DedupKey))); err == nil {
				told[p.DedupKey] = a
			}
		}
		return nil
	})
	if err != nil {
		return ReconcileResult{}, fmt.Errorf("notify: reconcile: %w", err)
	}
	d.wake(added)
	if res.Resolves+res.Triggers > 0 {
		d.log.Info("notify reconciled receivers with live incidents", "resolves", res.Resolves, "triggers", res.Triggers)
	}
	return res, nil
}
