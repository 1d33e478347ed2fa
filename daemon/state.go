package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/slo"
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
	// Fingerprint identifies what the counts mean (SLI queries, window,
	// step, group_by); a snapshot of a changed SLO is not restored. The
	// objective is left out on purpose: it changes budget figures, not the
	// counts in the rings, so a new objective keeps the history.
	Fingerprint string `json:"fingerprint"`
	Evaluator   []byte `json:"evaluator"`
	// File is the SLO file the SLO came from: while that file fails to
	// load, the SLO's restored incidents stay open.
	File string `json:"file,omitempty"`
}

// fingerprint hashes what makes stored counts valid for an SLO (not its
// objective or policy: those are applied to the counts at evaluation).
func fingerprint(spec *slo.Spec, step time.Duration) string {
	errQ, totQ, _ := spec.SLI.Queries(spec.GroupBy...)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%v\x00%s\x00%s\x00%s", spec.ID, errQ, totQ, spec.Window, step,
		strings.Join(spec.GroupBy, ","), spec.SLI.Kind())
	return hex.EncodeToString(h.Sum(nil))[:16]
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

// readState reads the snapshot; it returns nil and no error when there is none.
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

func sortedIDs[V any](m map[string]V) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
