package notify_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/receiver"
)

const logOnly = "receivers: [{name: a, log: {}}]\nroute: {receiver: a}\n"

// recorder is a sender that keeps what it was sent.
type recorder struct {
	mu  sync.Mutex
	got []notify.Page
}

func (r *recorder) Send(_ context.Context, p notify.Page) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
	return nil
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.got {
		out = append(out, p.DedupKey+"/"+string(p.Action))
	}
	return out
}

// soundOutbox writes an outbox through the dispatcher holding n queued
// triggers and returns its bytes.
func soundOutbox(t testing.TB, path string, n int) []byte {
	t.Helper()
	cfg, err := receiver.ParseConfig([]byte(logOnly), "test.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.New(notify.Options{Config: cfg, Senders: map[string]notify.Sender{"a": &recorder{}}, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := testPage(fmt.Sprintf("queued-%d", i), notify.Trigger, notify.SeverityPage)
		p.Summary = strings.Repeat("a long summary that fills pages ", 20)
		if err := d.Enqueue(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openDamaged opens the outbox at path with New, which must succeed, and
// checks that a file with data was either moved aside with its bytes intact
// (returning the Damage) or left in place; then that the outbox in use
// takes a page and delivers it.
func openDamaged(t testing.TB, path string, data []byte, deliver bool) (*notify.Dispatcher, []notify.Damage, *recorder, *prometheus.Registry) {
	t.Helper()
	cfg, err := receiver.ParseConfig([]byte(logOnly), "test.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	reg := prometheus.NewRegistry()
	d, err := notify.New(notify.Options{Config: cfg, Senders: map[string]notify.Sender{"a": rec}, Path: path, Registerer: reg})
	if err != nil {
		t.Fatalf("New on a damaged outbox: %v", err)
	}
	dmg := d.Damage()
	for _, x := range dmg {
		moved, err := os.ReadFile(x.MovedTo)
		if err != nil {
			t.Fatalf("damaged outbox not kept: %v", err)
		}
		if !bytes.Equal(moved, data) {
			t.Fatalf("%s holds %d bytes, not the original %d", x.MovedTo, len(moved), len(data))
		}
		if x.File != path || x.Reason == "" || x.At.IsZero() {
			t.Errorf("damage = %+v", x)
		}
	}
	if err := d.Enqueue(context.Background(), testPage("after", notify.Trigger, notify.SeverityPage)); err != nil {
		t.Fatalf("enqueue on the new outbox: %v", err)
	}
	if deliver {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for !drained(d) {
			if time.Now().After(deadline) {
				t.Fatal("the page enqueued after the damage was not delivered")
			}
			time.Sleep(2 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	return d, dmg, rec, reg
}

// A damaged outbox is moved aside, with its bytes, and slod starts on a
// new one; a sound one is used as it is.
func TestADamagedOutboxIsMovedAsideAndANewOneWorks(t *testing.T) {
	ps := os.Getpagesize()
	randomOver := func(from, to int) func([]byte) []byte {
		return func(b []byte) []byte {
			r := rand.New(rand.NewPCG(1, uint64(from)))
			out := bytes.Clone(b)
			for i := from; i < to && i < len(out); i++ {
				out[i] = byte(r.Uint32())
			}
			return out
		}
	}
	for _, tc := range []struct {
		name    string
		damage  func([]byte) []byte
		damaged bool
		reason  string
	}{
		{"a sound outbox is kept and its pages delivered", func(b []byte) []byte { return b }, false, ""},
		{"a 0-byte file", func([]byte) []byte { return nil }, true, "empty file"},
		{"a file cut to half of what it uses", func(b []byte) []byte {
			used := len(bytes.TrimRight(b, "\x00"))
			return b[:used/2]
		}, true, "truncated"},
		{"random bytes over pages 2 and 3", randomOver(2*ps, 4*ps), true, ""},
		{"random bytes over both meta pages", randomOver(0, 2*ps), true, "no valid meta page"},
		{"zeros over every page but the metas", func(b []byte) []byte {
			out := bytes.Clone(b)
			clear(out[2*ps:])
			return out
		}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), notify.OutboxFile)
			data := tc.damage(soundOutbox(t, path, 30))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			d, dmg, rec, reg := openDamaged(t, path, data, true)
			defer d.Close()
			if !tc.damaged {
				if len(dmg) != 0 {
					t.Fatalf("a sound outbox was moved aside: %+v", dmg)
				}
				if got := len(rec.keys()); got != 31 {
					t.Errorf("delivered %d pages, want the 30 queued and 1 new", got)
				}
				return
			}
			if len(dmg) != 1 {
				t.Fatalf("damage = %+v, want one", dmg)
			}
			if !strings.HasPrefix(filepath.Base(dmg[0].MovedTo), notify.OutboxFile+".damaged-20") {
				t.Errorf("moved to %s", dmg[0].MovedTo)
			}
			t.Logf("moved aside: %s", dmg[0].Reason)
			if !strings.Contains(dmg[0].Reason, tc.reason) {
				t.Errorf("reason %q does not say %q", dmg[0].Reason, tc.reason)
			}
			if got := rec.keys(); len(got) != 1 || got[0] != "after/trigger" {
				t.Errorf("delivered %v, want only the page enqueued after the damage", got)
			}
			if v := metric(t, reg, "slod_notify_outbox_damaged_total", nil); v != 1 {
				t.Errorf("slod_notify_outbox_damaged_total = %v", v)
			}
		})
	}
}

// Two damaged outboxes in the same second keep both files.
func TestDamageInTheSameSecondKeepsBothFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), notify.OutboxFile)
	var moved []string
	for i := range 2 {
		data := []byte(fmt.Sprintf("not a bbolt file %d", i))
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, dmg, _, _ := openDamaged(t, path, data, false)
		d.Close()
		if len(dmg) != 1 {
			t.Fatalf("damage = %+v", dmg)
		}
		moved = append(moved, dmg[0].MovedTo)
	}
	if moved[0] == moved[1] {
		t.Fatalf("both moved to %s", moved[0])
	}
}

// FuzzOpenOutbox: whatever the outbox file holds, New succeeds and never
// panics, a file it rejects is kept byte for byte, and the outbox in use
// takes pages.
func FuzzOpenOutbox(f *testing.F) {
	ps := os.Getpagesize()
	sound := soundOutbox(f, filepath.Join(f.TempDir(), notify.OutboxFile), 5)
	f.Add(sound)
	f.Add([]byte{})
	f.Add(sound[:len(sound)/3])
	f.Add(sound[:2*ps])
	garbled := bytes.Clone(sound)
	for i := 2 * ps; i < 4*ps && i < len(garbled); i++ {
		garbled[i] ^= byte(i * 7)
	}
	f.Add(garbled)
	zeroedRoot := bytes.Clone(sound)
	clear(zeroedRoot[3*ps : 4*ps])
	f.Add(zeroedRoot)
	f.Add([]byte("bbolt? no"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), notify.OutboxFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		d, dmg, _, _ := openDamaged(t, path, data, false)
		defer d.Close()
		if len(data) == 0 && len(dmg) != 1 {
			t.Fatal("a 0-byte outbox was used as an empty database")
		}
		if _, err := d.Stats(); err != nil {
			t.Fatal(err)
		}
	})
}

// An outbox entry that cannot be decoded goes to the dead letters with its
// bytes, and the good page queued behind it is delivered; an undecodable
// active record is dropped and counted; an undecodable dead letter is
// shown, not an error.
func TestAnUndecodableEntryIsDeadLetteredAndTheQueueMovesOn(t *testing.T) {
	pd := notifytest.NewPagerDuty(pdKey)
	defer pd.Close()
	cfg := parse(t, fmt.Sprintf("receivers: [{name: pd, pagerduty: {url: %s, routing_key_env: PD_KEY}}]\nroute: {receiver: pd}\n", pd.URL()),
		map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.open()
	h.stop()

	unknown := []byte(`{"shape":"from a future version","n":1}`)
	garbage := []byte{0xff, 0xfe, 'x', 0}
	db, err := bolt.Open(filepath.Join(h.dir, notify.OutboxFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket([]byte("outbox")).Bucket([]byte("pd"))
		for _, v := range [][]byte{unknown, garbage} {
			seq, err := q.NextSequence()
			if err != nil {
				return err
			}
			if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("active")).Put([]byte("broken-active"), garbage); err != nil {
			return err
		}
		return tx.Bucket([]byte("dead")).Bucket([]byte("pd")).Put(make([]byte, 8), garbage)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	h.start()
	h.enqueue(testPage("good", notify.Trigger, notify.SeverityPage))
	h.waitDrained(10 * time.Second)
	evs := pd.Events()
	if len(evs) != 1 || evs[0].DedupKey != "good" {
		t.Fatalf("PagerDuty got %+v, want the good page only", evs)
	}
	dl := deadLetters(t, h.d, "pd")
	if len(dl) != 3 {
		t.Fatalf("dead letters = %+v, want the undecodable dead letter and both entries", dl)
	}
	for i, want := range [][]byte{garbage, unknown, garbage} {
		if dl[i].Reason != notify.ReasonUndecodable || !bytes.Equal(dl[i].Raw, want) || dl[i].Error == "" {
			t.Errorf("dead letter %d = %+v, want reason undecodable with raw %q", i, dl[i], want)
		}
	}
	if v := metric(t, h.reg, "slod_notify_undecodable_total", map[string]string{"bucket": "outbox"}); v != 2 {
		t.Errorf("undecodable outbox entries counted %v, want 2", v)
	}
	if v := metric(t, h.reg, "slod_notify_undecodable_total", map[string]string{"bucket": "active"}); v != 1 {
		t.Errorf("undecodable active records counted %v, want 1", v)
	}
	if v := metric(t, h.reg, "slod_notify_dead_letter_total", map[string]string{"receiver": "pd", "reason": "undecodable"}); v != 2 {
		t.Errorf("dead_letter_total{reason=undecodable} = %v", v)
	}
	if !strings.Contains(h.logs.String(), "broken-active") {
		t.Error("the dropped active record was not logged")
	}
}
