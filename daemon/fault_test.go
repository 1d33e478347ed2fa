package daemon

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
)

// TestDamagedFilesNeverLoseOrOrphanAPage runs the real slod process with an
// open incident against a PagerDuty wire-format server, kills it, damages
// one of its files, and starts it again. Every time slod must start, move
// the damaged file aside (never overwrite it), say so in /readyz, and the
// receiver must end with the incident opened once and resolved once when
// the burn ends.
func TestDamagedFilesNeverLoseOrOrphanAPage(t *testing.T) {
	const burn = 2 * time.Minute
	cases := []struct {
		name string
		// file is the damaged file, moved aside as file.damaged-*; empty
		// when the damage is an entry, not the file.
		file   string
		damage func(t *testing.T, path string)
	}{
		{"an outbox truncated to 0 bytes", notify.OutboxFile, func(t *testing.T, path string) { truncate(t, path, 0) }},
		{"an outbox truncated to half", notify.OutboxFile, func(t *testing.T, path string) { truncate(t, path, size(t, path)/2) }},
		{"random bytes over the outbox's pages 2 and 3", notify.OutboxFile, func(t *testing.T, path string) {
			ps := int64(os.Getpagesize())
			overwrite(t, path, 2*ps, 2*ps)
		}},
		{"a corrupt ring checkpoint", StateFile, func(t *testing.T, path string) { overwrite(t, path, size(t, path)/3, 64) }},
		{"a corrupt incidents state", IncidentsFile, func(t *testing.T, path string) { overwrite(t, path, size(t, path)/3, 64) }},
		{"an outbox entry of an unknown shape", "", func(t *testing.T, path string) { queueUnknownShape(t, path) }},
	}
	var scenarios = map[string]time.Duration{}
	for i := range cases {
		scenarios[fmt.Sprintf("fault%d", i)] = burn
	}
	prom := processFixture(t, scenarios)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pd := notifytest.NewPagerDuty()
			defer pd.Close()
			r := newProcessRun(t, prom, pd, fmt.Sprintf("fault%d", i))
			a := r.start(t)
			waitFor(t, "the page at PagerDuty", 30*time.Second, func() bool { return len(incidentsFor(pd, r.key)) == 1 },
				func() string { return a.stderr.String() })
			if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = a.cmd.Wait()

			target := filepath.Join(r.state, tc.file)
			if tc.file == "" {
				target = filepath.Join(r.state, notify.OutboxFile)
			}
			tc.damage(t, target)
			b := r.start(t)
			readyz := httpBody(t, b.url+"/readyz")
			if tc.file != "" {
				moved, _ := filepath.Glob(target + ".damaged-*")
				if len(moved) != 1 {
					t.Fatalf("%s was not moved aside: %v (log:\n%s)", tc.file, moved, b.stderr.String())
				}
				if !strings.Contains(readyz, "warning:") || !strings.Contains(readyz, filepath.Base(moved[0])) {
					t.Errorf("/readyz does not report the damage:\n%s", readyz)
				}
				if !strings.Contains(b.stderr.String(), "level=ERROR") {
					t.Errorf("no ERROR log line for the damage:\n%s", b.stderr.String())
				}
			} else {
				waitFor(t, "the unknown entry dead-lettered", 10*time.Second, func() bool {
					return labelledMetric(t, b.url, "slod_notify_dead_letter_total", `reason="undecodable"`) == 1
				})
			}
			waitFor(t, "the resolve at PagerDuty", time.Minute, func() bool {
				incs := incidentsFor(pd, r.key)
				return len(incs) == 1 && incs[0].Resolved
			}, func() string {
				return fmt.Sprintf("at %s: PagerDuty incidents %+v, slod log:\n%s", r.clock.now(), pd.Incidents(), b.stderr.String())
			})
			if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := b.cmd.Wait(); err != nil {
				t.Errorf("graceful shutdown: %v\n%s", err, b.stderr.String())
			}
			if incs := pd.Incidents(); len(incs) != 1 {
				t.Errorf("PagerDuty has %d incidents, want 1: %+v", len(incs), incs)
			}
			triggers, resolves := pageCounts(pd, r.key)
			if triggers == 0 || resolves != 1 {
				t.Errorf("PagerDuty got %d triggers and %d resolves, want the incident opened and resolved once", triggers, resolves)
			}
			if rej := pd.Rejected(); len(rej) > 0 {
				t.Errorf("PagerDuty rejected events: %v", rej)
			}
		})
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func truncate(t *testing.T, path string, n int64) {
	t.Helper()
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
}

// overwrite writes n random bytes at off.
func overwrite(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(uint64(off), uint64(n)))
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		t.Fatal(err)
	}
}

// queueUnknownShape queues, for the pagerduty receiver, an entry that a
// future version might write: JSON of a shape this one does not know.
func queueUnknownShape(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket([]byte("outbox")).Bucket([]byte("pagerduty"))
		seq, err := q.NextSequence()
		if err != nil {
			return err
		}
		return q.Put(binary.BigEndian.AppendUint64(nil, seq), []byte(`{"kind":"page/v9","body":{"key":"x"}}`))
	})
	if err != nil {
		t.Fatal(err)
	}
}
