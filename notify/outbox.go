package notify

import (
	"encoding/binary"
	"encoding/json"
	"errors"
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
	// Raw holds the stored bytes of an entry that could not be decoded
	// (Reason "undecodable"); Page is then empty.
	Raw []byte `json:"raw,omitempty"`
}

// decodeEntry reads an outbox entry. An entry that is not JSON of this
// shape, or whose page could never be sent (no dedup key, no action), is
// undecodable: retrying it cannot help.
func decodeEntry(v []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(v, &e); err != nil {
		return e, err
	}
	if err := e.Page.Validate(); err != nil {
		return e, fmt.Errorf("page: %w", err)
	}
	if e.EnqueuedAt.IsZero() {
		return e, errors.New("no enqueued_at")
	}
	return e, nil
}

// decodeActive reads an active record; like decodeEntry, a record that
// does not hold a valid trigger is undecodable.
func decodeActive(v []byte) (active, error) {
	var a active
	if err := json.Unmarshal(v, &a); err != nil {
		return a, err
	}
	if err := a.Page.Validate(); err != nil {
		return a, fmt.Errorf("page: %w", err)
	}
	if a.Page.Action != Trigger {
		return a, fmt.Errorf("action %q, not a trigger", a.Page.Action)
	}
	return a, nil
}

// dropActive deletes an undecodable active record: its receivers are
// unknown, so neither a resolve nor a refresh can be built from it. The
// next trigger of its key writes a new one.
func (d *Dispatcher) dropActive(b *bolt.Bucket, key []byte, err error) error {
	d.m.undecodable.WithLabelValues("active").Inc()
	d.log.Error("notify active record undecodable, dropped", "dedup_key", string(key), "err", err)
	return b.Delete(key)
}

// dropUndecodableActive drops every undecodable active record (see
// dropActive); New calls it so later reads meet only good records.
func (d *Dispatcher) dropUndecodableActive() error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActive)
		type bad struct {
			key []byte
			err error
		}
		var drop []bad
		err := b.ForEach(func(k, v []byte) error {
			if _, err := decodeActive(v); err != nil {
				drop = append(drop, bad{slices.Clone(k), err})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, x := range drop {
			if err := d.dropActive(b, x.key, x.err); err != nil {
				return err
			}
		}
		return nil
	})
}

// put routes one page inside tx and appends it to each receiver's outbox.
// A trigger is remembered as active with its receivers; a resolve goes to
// the receivers of its active trigger and ends it. With a non-nil only, the
// page is appended for those of its receivers only (the active record still
// names them all); put returns the receivers it appended to.
func (d *Dispatcher) put(tx *bolt.Tx, p Page, now time.Time, only []string) ([]string, error) {
	act := tx.Bucket(bucketActive)
	var prev *active
	if v := act.Get([]byte(p.DedupKey)); v != nil {
		a, err := decodeActive(v)
		if err != nil {
			if err := d.dropActive(act, []byte(p.DedupKey), err); err != nil {
				return nil, err
			}
		} else {
			prev = &a
		}
	}
	var receivers []string
	// superseded holds, per receiver, a resolve of the previous alert to
	// send before p (see AlertIdentifier).
	superseded := map[string][]byte{}
	if p.Action == Trigger {
		receivers = d.router.Receivers(p.RouteLabels())
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
		receivers = d.router.Receivers(p.RouteLabels())
	}
	val, err := json.Marshal(entry{Page: p, EnqueuedAt: now})
	if err != nil {
		return nil, err
	}
	if only != nil {
		receivers = slices.DeleteFunc(slices.Clone(receivers), func(r string) bool { return !slices.Contains(only, r) })
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
			a, err := decodeActive(v)
			if err != nil || !slices.Contains(a.Receivers, receiver) {
				return nil // undecodable records are dropped by New
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

// head returns the key and stored bytes of receiver's oldest entry (nil
// when its outbox is empty).
func (d *Dispatcher) head(receiver string) (key, raw []byte, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketOutbox).Bucket([]byte(receiver)).Cursor().First()
		key, raw = slices.Clone(k), slices.Clone(v)
		return nil
	})
	return key, raw, err
}

func (d *Dispatcher) remove(receiver string, key []byte) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).Bucket([]byte(receiver)).Delete(key)
	})
}

// deadLetter moves the entry at key from receiver's outbox to its dead
// letters.
func (d *Dispatcher) deadLetter(log *slog.Logger, receiver string, key []byte, dl DeadLetter) {
	dl.DeadAt = d.clock.Now()
	reason, msg, attempts := dl.Reason, dl.Error, dl.Attempts
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

// DeadLetters returns the dead-lettered pages of a receiver, oldest first. A
// dead letter that cannot be decoded is returned with Reason "undecodable"
// and its bytes in Raw.
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
				// Shown, not hidden: its bytes are all there is.
				dl = DeadLetter{Reason: ReasonUndecodable, Error: "dead letter undecodable: " + err.Error(), Raw: slices.Clone(v)}
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
	// Refused marks the entry (Receiver RefusedReceiver) that counts the
	// pages the caller holds because Enqueue refused them (SetRefused):
	// Depth is their number, OldestAge the age of the oldest.
	Refused bool
}

// RefusedReceiver is the receiver label under which Stats and the
// slod_notify_outbox_depth and _oldest_age_seconds gauges count refused
// pages (see SetRefused). They are not routed yet, so no receiver owns them;
// the parentheses keep the name apart from any configured receiver.
const RefusedReceiver = "(refused)"

// SetRefused tells the dispatcher how many pages the caller holds in memory
// (and in its own state) because Enqueue refused them, for example with the
// disk full, and when the oldest of them was first refused. The daemon calls
// it after every tick (n = 0 once they are all enqueued), so the outbox
// depth and oldest-age gauges, slod_notify_refused_pages and Stats show
// pages that are waiting anywhere, not only on disk.
func (d *Dispatcher) SetRefused(n int, oldest time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n <= 0 {
		n, oldest = 0, time.Time{}
	}
	d.refused, d.refusedOldest = n, oldest
}

// refusedStats is the RefusedReceiver entry of Stats: it needs no read of
// the outbox, so it is reported even when the outbox cannot be read.
func (d *Dispatcher) refusedStats() OutboxStats {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	ref := OutboxStats{Receiver: RefusedReceiver, Depth: d.refused, Refused: true}
	if d.refused > 0 && !d.refusedOldest.IsZero() {
		ref.OldestAge = max(now.Sub(d.refusedOldest), 0)
	}
	return ref
}

// Stats reads every configured receiver's outbox depth, oldest page age and
// dead-letter count, and ends with the RefusedReceiver entry (always
// present, so its series exist from the start).
func (d *Dispatcher) Stats() ([]OutboxStats, error) {
	ref := d.refusedStats()
	now := d.clock.Now()
	var out []OutboxStats
	err := d.db.View(func(tx *bolt.Tx) error {
		for _, name := range d.names {
			s := OutboxStats{Receiver: name}
			b := tx.Bucket(bucketOutbox).Bucket([]byte(name))
			if k, v := b.Cursor().First(); k != nil {
				s.Depth = b.Stats().KeyN
				if e, err := decodeEntry(v); err == nil {
					s.OldestAge = max(now.Sub(e.EnqueuedAt), 0)
				}
			}
			s.DeadLetters = tx.Bucket(bucketDead).Bucket([]byte(name)).Stats().KeyN
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, ref), nil
}
