package notify

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

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
