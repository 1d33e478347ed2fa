package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/notify"
)

// StateFile is the snapshot's file name inside the state directory.
const StateFile = "slod-state.json"

const stateFormat = 1

// state is what a snapshot holds: per SLO the evaluator's ring buffers
// (which carry the last ingested step), every incident, and the pages of
// those incidents not yet committed to the outbox (a snapshot must not
// record an incident as paged while its page exists only in memory).
type state struct {
	Format    int                 `json:"format"`
	WrittenAt time.Time           `json:"written_at"`
	Shard     string              `json:"shard,omitempty"`
	SLOs      map[string]sloState `json:"slos"`
	Incidents []burnrate.Incident `json:"incidents"`
	Pending   []notify.Page       `json:"pending,omitempty"`
}

type sloState struct {
	// Fingerprint identifies what the counts mean (engine.Fingerprint).
	Fingerprint string `json:"fingerprint"`
	Evaluator   []byte `json:"evaluator"`
	// File is the SLO file the SLO came from: while that file fails to
	// load, the SLO's restored incidents stay open.
	File string `json:"file,omitempty"`
}

// restore reads the state snapshot into the engine (rings of SLOs whose
// counts mean the same, every incident) and queues the pages the previous
// run had not committed to the outbox. Open incidents nothing evaluates
// any more resolve. A snapshot that cannot be read is moved aside, never
// overwritten, and reported loudly; slod starts without it, and the
// reconciliation after the first tick settles what receivers hold open.
func (d *Daemon) restore() {
	st, err := readState(d.cfg.StateDir)
	if err != nil {
		moved, merr := moveAside(filepath.Join(d.cfg.StateDir, StateFile), d.now())
		d.stateDamage = fmt.Sprintf("state snapshot unreadable (%v): moved aside to %s; started without it", err, filepath.Base(moved))
		if merr != nil {
			d.stateDamage = fmt.Sprintf("state snapshot unreadable (%v) and could not be moved aside: %v", err, merr)
		}
		d.m.stateDamaged.Inc()
		d.log.Error("state snapshot unreadable, moved aside; starting without it", "err", err, "moved_to", moved)
		return
	}
	if st == nil {
		d.log.Info("no state snapshot, backfilling the whole window")
		return
	}
	r := engine.Restored{SLOs: map[string]engine.RestoredSLO{}, Incidents: st.Incidents}
	for id, s := range st.SLOs {
		r.SLOs[id] = engine.RestoredSLO{Fingerprint: s.Fingerprint, Evaluator: s.Evaluator, File: s.File}
	}
	if st.Shard != d.cfg.Shard.String() {
		d.log.Warn("state snapshot written for another shard: incidents of instances this shard does not own resolve",
			"snapshot_shard", shardName(st.Shard), "shard", shardName(d.cfg.Shard.String()))
	}
	// Pages the previous run had not committed to the outbox go first,
	// before anything this run queues.
	d.pending = append(slices.Clone(st.Pending), d.pending...)
	changes, restored := d.eng.Restore(r, d.now())
	d.handle(changes)
	d.log.Info("state restored", "written_at", st.WrittenAt, "slos", restored, "open_incidents", len(d.eng.Open()),
		"pages_pending", len(d.pending))
}

func shardName(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// moveAside renames a damaged file to NAME.damaged-<UTC time>, so nothing
// overwrites it and an operator can look at it.
func moveAside(path string, now time.Time) (string, error) {
	to := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	return to, nil
}

func (d *Daemon) saveState(now time.Time) {
	st := &state{Format: stateFormat, WrittenAt: now.UTC(), Shard: d.cfg.Shard.String(), SLOs: map[string]sloState{}}
	for _, r := range d.eng.SLOs() {
		id := r.Spec().ID
		data, err := r.Evaluator().MarshalBinary()
		if err != nil {
			d.log.Error("encode slo state", "slo", id, "err", err)
			continue
		}
		st.SLOs[id] = sloState{Fingerprint: r.Fingerprint(), Evaluator: data, File: r.Spec().Pos.File}
	}
	open := d.eng.Open()
	st.Incidents = append(open, d.eng.Recent()...)
	for _, inc := range open {
		// An SLO not running because its file fails to load: keep naming
		// its file, so the next run keeps its incidents open too.
		if _, ok := st.SLOs[inc.SLO]; !ok {
			if f := d.eng.File(inc.SLO); f != "" {
				st.SLOs[inc.SLO] = sloState{File: f}
			}
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

// writeState writes the snapshot atomically: a temporary file in the same
// directory, fsync, rename over the old one, fsync of the directory. A
// crash at any point leaves either the old or the new snapshot.
func writeState(dir string, st *state) (int, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.CreateTemp(dir, StateFile+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return 0, fmt.Errorf("state: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, fmt.Errorf("state: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("state: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return len(data), nil
}

// readState reads the snapshot; it returns nil and no error when there is
// none. Any content that is not a snapshot of this format is an error.
func readState(dir string) (*state, error) {
	data, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state %s: %w", filepath.Join(dir, StateFile), err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("state %s: format %d, want %d", filepath.Join(dir, StateFile), st.Format, stateFormat)
	}
	return &st, nil
}
