package daemon

import (
	"context"
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

// The state files inside the state directory.
const (
	// StateFile holds every SLO's ring buffers: a checkpoint written in the
	// background every SnapshotInterval and in the foreground at shutdown
	// (see state_file.go for its format).
	StateFile = "slod-state.v2"
	// IncidentsFile holds the incidents and the pages not yet committed to
	// the outbox, rewritten (small) after every incident change.
	IncidentsFile = "slod-incidents.json"
	// LegacyStateFile is the single JSON snapshot (format 1) of slod before
	// format 2: read once, written again as the two files above, removed.
	LegacyStateFile = "slod-state.json"
)

// stateFormat is the format of StateFile and IncidentsFile.
const stateFormat = 2

// incidentsState is IncidentsFile: every incident, and the pages of those
// incidents not yet committed to the outbox (the file must not record an
// incident as paged while its page exists only in memory).
type incidentsState struct {
	Format    int                     `json:"format"`
	WrittenAt time.Time               `json:"written_at"`
	Shard     string                  `json:"shard,omitempty"`
	SLOs      map[string]incidentsSLO `json:"slos"`
	Incidents []burnrate.Incident     `json:"incidents"`
	Pending   []notify.Page           `json:"pending,omitempty"`
}

type incidentsSLO struct {
	// File is the SLO file the SLO came from: while that file fails to
	// load, the SLO's restored incidents stay open.
	File string `json:"file,omitempty"`
	// Evaluated is the newest step the SLO was evaluated at: the incidents
	// hold every evaluation up to it (engine.RestoredSLO.Evaluated).
	Evaluated time.Time `json:"evaluated,omitzero"`
}

// checkpointer runs the ring checkpoint in the background, at most one at
// a time; it is used by the evaluation loop only.
type checkpointer struct {
	done   chan checkpointResult // non-nil while a checkpoint runs
	cancel context.CancelFunc
}

type checkpointResult struct {
	at   time.Time // the tick the checkpoint was taken at
	size int64
	took time.Duration
	slos int
	err  error
}

// persist is the tick's part in state: it records a background checkpoint
// that finished, writes IncidentsFile when an incident or a pending page
// changed (and with every checkpoint), and starts the ring checkpoint in
// the background once SnapshotInterval has passed since the last one began.
// Neither the tick nor readiness waits for the rings.
func (d *Daemon) persist(now time.Time) {
	d.collectCheckpoint(false)
	due := d.ckpt.done == nil && now.Sub(d.lastSave) >= d.cfg.SnapshotInterval
	if d.dirty || due {
		_ = d.saveIncidents(now)
	}
	if due {
		c := d.checkpoint(now)
		c.gate = &d.gate // in the background: it waits for ticks
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan checkpointResult, 1)
		d.ckpt = checkpointer{done: done, cancel: cancel}
		dir := d.cfg.StateDir
		go func() {
			began := time.Now()
			n, err := writeCheckpoint(ctx, dir, c)
			res := checkpointResult{at: now, size: n, took: time.Since(began), slos: len(c.slos), err: err}
			d.recordCheckpoint(res) // metrics and log only: safe here
			done <- res
		}()
	}
}

// collectCheckpoint records the result of the background checkpoint if it
// finished (or, with wait, once it finishes).
func (d *Daemon) collectCheckpoint(wait bool) {
	if d.ckpt.done == nil {
		return
	}
	var res checkpointResult
	if wait {
		res = <-d.ckpt.done
	} else {
		select {
		case res = <-d.ckpt.done:
		default:
			return
		}
	}
	d.ckpt.cancel()
	d.ckpt = checkpointer{}
	if res.err == nil {
		d.lastSave = res.at
	}
}

// stopCheckpoint cancels a background checkpoint and waits for it: the old
// file stays.
func (d *Daemon) stopCheckpoint() {
	if d.ckpt.done != nil {
		d.ckpt.cancel()
	}
	d.collectCheckpoint(true)
}

// recordCheckpoint counts and logs a checkpoint; it touches nothing the
// evaluation loop owns, so the background goroutine calls it.
func (d *Daemon) recordCheckpoint(res checkpointResult) {
	if errors.Is(res.err, context.Canceled) {
		return
	}
	if res.err != nil {
		d.m.snapshots.WithLabelValues("error").Inc()
		d.log.Error("state checkpoint failed, retrying next tick", "err", res.err)
		return
	}
	d.m.snapshots.WithLabelValues("ok").Inc()
	d.m.snapshotBytes.Set(float64(res.size))
	d.m.snapshotTook.Set(res.took.Seconds())
	d.log.Debug("state checkpoint written", "slos", res.slos, "bytes", res.size, "took", res.took)
}

// checkpoint takes what a ring checkpoint at now writes: the header and
// each running SLO's record and evaluator (read later, group by group).
func (d *Daemon) checkpoint(now time.Time) *checkpoint {
	c := &checkpoint{header: checkpointHeader{Format: stateFormat, WrittenAt: now.UTC(), Shard: d.cfg.Shard.String()}}
	for _, r := range d.eng.SLOs() {
		c.slos = append(c.slos, checkpointEntry{
			checkpointSLO: checkpointSLO{ID: r.Spec().ID, Fingerprint: r.Fingerprint(), File: r.Spec().Pos.File},
			ev:            r.Evaluator(),
		})
	}
	return c
}

// saveState writes both state files in the foreground, after stopping a
// background checkpoint: at shutdown, and once after converting a legacy
// snapshot.
func (d *Daemon) saveState(now time.Time) error {
	d.stopCheckpoint()
	errInc := d.saveIncidents(now)
	c := d.checkpoint(now)
	began := time.Now()
	n, err := writeCheckpoint(context.Background(), d.cfg.StateDir, c)
	d.recordCheckpoint(checkpointResult{at: now, size: n, took: time.Since(began), slos: len(c.slos), err: err})
	if err == nil {
		d.lastSave = now
	}
	return errors.Join(errInc, err)
}

// saveIncidents writes IncidentsFile: every open and recently resolved
// incident, the pages not yet in the outbox, and per SLO its file and the
// step it was last evaluated at.
func (d *Daemon) saveIncidents(now time.Time) error {
	st := &incidentsState{Format: stateFormat, WrittenAt: now.UTC(), Shard: d.cfg.Shard.String(), SLOs: map[string]incidentsSLO{}}
	for _, r := range d.eng.SLOs() {
		st.SLOs[r.Spec().ID] = incidentsSLO{File: r.Spec().Pos.File, Evaluated: r.Evaluator().LastStep()}
	}
	open := d.eng.Open()
	st.Incidents = append(open, d.eng.Recent()...)
	for _, inc := range open {
		// An SLO not running because its file fails to load: keep naming
		// its file, so the next run keeps its incidents open too.
		if _, ok := st.SLOs[inc.SLO]; !ok {
			if f := d.eng.File(inc.SLO); f != "" {
				st.SLOs[inc.SLO] = incidentsSLO{File: f}
			}
		}
	}
	for _, p := range d.pending {
		// A page JSON cannot carry must not cost the whole file.
		if _, err := json.Marshal(p); err != nil {
			d.log.Error("pending page left out of the state", "dedup_key", p.DedupKey, "err", err)
			continue
		}
		st.Pending = append(st.Pending, p)
	}
	err := writeIncidents(d.cfg.StateDir, st)
	if err != nil {
		d.m.incidentWrites.WithLabelValues("error").Inc()
		d.log.Error("writing the incidents state failed", "err", err)
		return err
	}
	d.m.incidentWrites.WithLabelValues("ok").Inc()
	d.dirty = false
	return nil
}

// writeIncidents writes IncidentsFile atomically: a temporary file in the
// same directory, fsync, rename over the old one, fsync of the directory.
func writeIncidents(dir string, st *incidentsState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode incidents: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	f, err := os.CreateTemp(dir, IncidentsFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("state: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, IncidentsFile)); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	syncDir(dir)
	return nil
}

// readIncidents reads IncidentsFile; nil and no error when there is none.
func readIncidents(dir string) (*incidentsState, error) {
	path := filepath.Join(dir, IncidentsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var st incidentsState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	if st.Format != stateFormat {
		return nil, fmt.Errorf("state %s: format %d, want %d", path, st.Format, stateFormat)
	}
	return &st, nil
}

// restore reads the state into the engine — the rings of SLOs whose counts
// mean the same, streamed from StateFile; every incident and the pages the
// previous run had not committed to the outbox, from IncidentsFile — or
// converts a legacy snapshot. Open incidents nothing evaluates any more
// resolve. A file that cannot be read is moved aside, never overwritten,
// and reported loudly; slod starts without it (the SLOs whose rings were
// read before the damage keep them), and the reconciliation after the
// first tick settles what receivers hold open.
func (d *Daemon) restore() {
	dir := d.cfg.StateDir
	removeTemporaries(dir)
	current := exists(filepath.Join(dir, StateFile)) || exists(filepath.Join(dir, IncidentsFile))
	st, err := readIncidents(dir)
	if err != nil {
		d.damaged(IncidentsFile, err)
	}
	files := map[string]string{}
	hdr, restored, err := d.restoreRings(files)
	if err != nil {
		d.damaged(StateFile, fmt.Errorf("%w (after restoring the rings of %d slos)", err, restored))
	}
	legacy := filepath.Join(dir, LegacyStateFile)
	if exists(legacy) {
		if current {
			// Converted already (the run that did it stopped before
			// removing it): older than what is there, damaged or not.
			_ = os.Remove(legacy)
		} else {
			l, n, err := d.readLegacy(legacy)
			if err != nil {
				d.damaged(LegacyStateFile, fmt.Errorf("%w (after restoring the rings of %d slos)", err, n))
			}
			if l != nil {
				st, restored = l, n
				defer d.convertLegacy(legacy)
			}
		}
	}
	if st == nil && hdr == nil {
		if restored == 0 {
			d.log.Info("no state, backfilling the whole window")
		}
		return
	}
	r := engine.Restored{SLOs: map[string]engine.RestoredSLO{}}
	for id, f := range files {
		r.SLOs[id] = engine.RestoredSLO{File: f}
	}
	shard := ""
	if hdr != nil {
		shard = hdr.Shard
	}
	if st != nil {
		for id, s := range st.SLOs {
			r.SLOs[id] = engine.RestoredSLO{File: s.File, Evaluated: s.Evaluated}
		}
		r.Incidents = st.Incidents
		shard = st.Shard
		// Pages the previous run had not committed to the outbox go first,
		// before anything this run queues.
		d.pending = append(slices.Clone(st.Pending), d.pending...)
	}
	if shard != d.cfg.Shard.String() {
		d.log.Warn("state written for another shard: incidents of instances this shard does not own resolve",
			"state_shard", shardName(shard), "shard", shardName(d.cfg.Shard.String()))
	}
	changes, _ := d.eng.Restore(r, d.now())
	d.handle(changes)
	var written time.Time
	if hdr != nil {
		written = hdr.WrittenAt
	}
	d.log.Info("state restored", "rings_written_at", written, "slos_with_rings", restored,
		"open_incidents", len(d.eng.Open()), "pages_pending", len(d.pending))
}

// restoreRings streams StateFile's rings into the running SLOs whose
// fingerprint matches, noting every SLO's file in files. It returns the
// file's header (nil when there is none) and how many SLOs got rings; on
// an error, those SLOs keep what they read.
func (d *Daemon) restoreRings(files map[string]string) (*checkpointHeader, int, error) {
	restored := 0
	hdr, err := readCheckpoint(d.cfg.StateDir, func(s checkpointSLO, r *frameReader) error {
		files[s.ID] = s.File
		run := d.eng.SLO(s.ID)
		if run == nil || run.Fingerprint() != s.Fingerprint {
			return nil // its counts mean something else now: backfilled
		}
		_, err := run.Evaluator().ReadFrom(r)
		switch {
		case errors.Is(err, burnrate.ErrStateMismatch):
			d.log.Warn("slo state not restored", "slo", s.ID, "err", err)
			return nil
		case err != nil:
			return fmt.Errorf("slo %q: %w", s.ID, err)
		}
		if err := r.end(); err != nil {
			return fmt.Errorf("slo %q: %w", s.ID, err)
		}
		restored++
		return nil
	})
	return hdr, restored, err
}

// damaged moves an unreadable state file aside and says so: a log line at
// ERROR, slod_state_damaged_total, and a banner on the status page and
// /readyz.
func (d *Daemon) damaged(name string, err error) {
	moved, merr := moveAside(filepath.Join(d.cfg.StateDir, name), d.now())
	msg := fmt.Sprintf("state file %s unreadable (%v): moved aside to %s; started without it", name, err, filepath.Base(moved))
	if merr != nil {
		msg = fmt.Sprintf("state file %s unreadable (%v) and could not be moved aside: %v", name, err, merr)
	}
	if d.stateDamage != "" {
		msg = d.stateDamage + "; " + msg
	}
	d.stateDamage = msg
	d.m.stateDamaged.Inc()
	d.log.Error("state file unreadable, moved aside; starting without it", "file", name, "err", err, "moved_to", moved)
}

// removeTemporaries deletes the temporary files of writes a crash cut
// short (a ring checkpoint's can be gigabytes). Only one slod uses a state
// directory: the outbox, opened before, locks it.
func removeTemporaries(dir string) {
	for _, name := range []string{StateFile, IncidentsFile, LegacyStateFile} {
		tmps, _ := filepath.Glob(filepath.Join(dir, name+".tmp-*"))
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
