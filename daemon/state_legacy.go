package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// legacyFormat is LegacyStateFile's format: one JSON document holding, per
// SLO, its rings (base64 of burnrate's version 1 encoding), fingerprint and
// file, and the incidents and pending pages.
const legacyFormat = 1

type legacySLO struct {
	Fingerprint string `json:"fingerprint"`
	Evaluator   []byte `json:"evaluator"`
	File        string `json:"file,omitempty"`
}

// readLegacy reads a format 1 snapshot as a stream, one SLO at a time: the
// rings of the running SLOs whose fingerprint matches go straight into
// their evaluators, and only that SLO's encoding is held meanwhile (the
// whole document never is). It returns the rest as an incidents state and
// how many SLOs got rings; nil and no error when there is no file.
func (d *Daemon) readLegacy(path string) (*incidentsState, int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	st := &incidentsState{SLOs: map[string]incidentsSLO{}}
	restored := 0
	err = readLegacyJSON(json.NewDecoder(bufio.NewReaderSize(f, 1<<20)), st, func(id string, s *legacySLO) {
		st.SLOs[id] = incidentsSLO{File: s.File}
		run := d.eng.SLO(id)
		if run == nil || run.Fingerprint() != s.Fingerprint || len(s.Evaluator) == 0 {
			return
		}
		if err := run.Evaluator().UnmarshalBinary(s.Evaluator); err != nil {
			d.log.Warn("slo state not restored", "slo", id, "err", err)
			return
		}
		restored++
	})
	if err != nil {
		return nil, restored, fmt.Errorf("state %s: %w", path, err)
	}
	return st, restored, nil
}

// readLegacyJSON walks the document's tokens; "format" must come first, as
// slod wrote it.
func readLegacyJSON(dec *json.Decoder, st *incidentsState, slo func(id string, s *legacySLO)) error {
	if err := delim(dec, '{'); err != nil {
		return err
	}
	for first := true; dec.More(); first = false {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if first != (key == "format") {
			return fmt.Errorf("not a slod state snapshot: %q where the format belongs", key)
		}
		switch key {
		case "format":
			var format int
			if err := dec.Decode(&format); err != nil {
				return err
			}
			if format != legacyFormat {
				return fmt.Errorf("format %d, want %d", format, legacyFormat)
			}
		case "written_at":
			var t time.Time
			err = dec.Decode(&t)
			st.WrittenAt = t
		case "shard":
			err = dec.Decode(&st.Shard)
		case "incidents":
			err = dec.Decode(&st.Incidents)
		case "pending":
			err = dec.Decode(&st.Pending)
		case "slos":
			err = readLegacySLOs(dec, slo)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if err := delim(dec, '}'); err != nil {
		return err
	}
	if st.SLOs == nil {
		return errors.New("not a slod state snapshot: no format")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the snapshot")
	}
	return nil
}

func readLegacySLOs(dec *json.Decoder, slo func(id string, s *legacySLO)) error {
	if err := delim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		var s legacySLO
		if err := dec.Decode(&s); err != nil {
			return fmt.Errorf("slo %q: %w", id, err)
		}
		slo(id, &s)
	}
	return delim(dec, '}')
}

func delim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("%v where %v belongs", tok, want)
	}
	return nil
}

// convertLegacy writes the restored legacy snapshot in format 2 and then
// removes it; when the write fails it stays, and the next start converts
// it again.
func (d *Daemon) convertLegacy(path string) {
	if err := d.saveState(d.now()); err != nil {
		d.log.Error("converting the legacy state snapshot failed; it is kept and read again at the next start", "err", err)
		return
	}
	if err := os.Remove(path); err != nil {
		d.log.Warn("legacy state snapshot converted but not removed", "file", path, "err", err)
		return
	}
	d.log.Info("legacy state snapshot converted", "from", LegacyStateFile, "to", []string{StateFile, IncidentsFile})
}
