package daemon

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// The ring checkpoint (StateFile) is a magic line and a chain of frames:
//
//	frame = kind (1 byte) | payload length (uvarint) | payload | crc (4 bytes, little endian)
//
// where crc is the CRC-32C of kind, length and payload, seeded with the
// previous frame's crc (0 for the first): a flipped bit, a lost, repeated
// or swapped frame, or a file cut anywhere all break the chain. Kinds:
//
//	'H'  header, JSON checkpointHeader; first
//	'S'  one SLO, JSON checkpointSLO; followed by
//	'D'  data: the next bytes of that SLO's burnrate.Evaluator.WriteTo, at most frameData each
//	'E'  the end of that SLO's data; payload: the data byte count (uvarint)
//	'Z'  the end of the file; payload: the SLO count (uvarint); last
const stateMagic = "slod state v2\n"

const (
	frameHeader = 'H'
	frameSLO    = 'S'
	frameData   = 'D'
	frameEnd    = 'E'
	frameLast   = 'Z'
)

// frameDataLen is the most data one frame carries; maxFrame the most any
// frame may claim (anything longer is damage, not data).
const (
	frameDataLen = 64 << 10
	maxFrame     = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errDamaged marks a ring checkpoint that is not what slod writes: cut
// short, a checksum that does not match, frames out of place.
var errDamaged = errors.New("state file damaged")

// checkpointHeader opens the ring checkpoint.
type checkpointHeader struct {
	Format    int       `json:"format"`
	WrittenAt time.Time `json:"written_at"`
	Shard     string    `json:"shard,omitempty"`
}

// checkpointSLO names the rings that follow it.
type checkpointSLO struct {
	ID string `json:"id"`
	// Fingerprint identifies what the counts mean (engine.Fingerprint).
	Fingerprint string `json:"fingerprint"`
	File        string `json:"file,omitempty"`
}

// checkpoint is what a ring checkpoint writes, taken on the evaluation
// loop; the evaluators are read under their own lock, group by group.
type checkpoint struct {
	header checkpointHeader
	slos   []checkpointEntry
	// gate, when set, holds the rings' writes back while a tick runs.
	gate *tickGate
}

type checkpointEntry struct {
	checkpointSLO
	ev *burnrate.Evaluator
}

// frameWriter writes frames through a bufio.Writer; as an io.Writer it
// cuts what it is given into data frames. It stops at the first error,
// and at ctx's end.
type frameWriter struct {
	ctx  context.Context
	gate *tickGate
	w    *bufio.Writer
	crc  uint32
	data []byte // data not yet framed, at most frameDataLen
	n    int64  // data bytes of the current SLO
	hdr  [1 + binary.MaxVarintLen64]byte
	err  error
}

func (f *frameWriter) frame(kind byte, payload []byte) error {
	if f.err != nil {
		return f.err
	}
	if err := f.ctx.Err(); err != nil {
		f.err = err
		return err
	}
	f.hdr[0] = kind
	h := f.hdr[:1+binary.PutUvarint(f.hdr[1:], uint64(len(payload)))]
	f.crc = crc32.Update(crc32.Update(f.crc, castagnoli, h), castagnoli, payload)
	_, _ = f.w.Write(h)
	_, _ = f.w.Write(payload)
	_, err := f.w.Write(binary.LittleEndian.AppendUint32(f.hdr[:0], f.crc))
	f.err = err
	return err
}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.gate.wait(f.ctx)
	n := len(p)
	for len(p) > 0 && f.err == nil {
		if len(f.data) == 0 && len(p) >= frameDataLen {
			f.frame(frameData, p[:frameDataLen])
			p = p[frameDataLen:]
			continue
		}
		k := copy(f.data[len(f.data):frameDataLen], p)
		f.data, p = f.data[:len(f.data)+k], p[k:]
		if len(f.data) == frameDataLen {
			f.flushData()
		}
	}
	if f.err != nil {
		return 0, f.err
	}
	f.n += int64(n)
	return n, nil
}

// tickGate holds the background checkpoint back while a tick runs: its
// writer waits at the gate before each group of instances it writes
// (burnrate.Evaluator.WriteTo takes the evaluator's lock per group and
// writes outside it). At 100,000 instances a checkpoint is 2.8 GiB and
// 15 s of CPU; on a small machine, run beside a tick, it took CPU from
// the tick's queries and the server answering them.
type tickGate struct{ ch atomic.Pointer[chan struct{}] }

// shut makes writers wait until open.
func (g *tickGate) shut() {
	c := make(chan struct{})
	g.ch.Store(&c)
}

// open lets the writers waiting at the gate go on.
func (g *tickGate) open() {
	if c := g.ch.Swap(nil); c != nil {
		close(*c)
	}
}

// wait returns once the gate is open or ctx is done; a nil gate is open.
func (g *tickGate) wait(ctx context.Context) {
	if g == nil {
		return
	}
	if c := g.ch.Load(); c != nil {
		select {
		case <-*c:
		case <-ctx.Done():
		}
	}
}

func (f *frameWriter) flushData() {
	if len(f.data) > 0 {
		f.frame(frameData, f.data)
		f.data = f.data[:0]
	}
}

// writeCheckpoint writes the rings of every SLO of c into dir's StateFile,
// atomically: a temporary file in dir written through a buffer, fsynced,
// renamed over the old one, and the directory fsynced. A crash, an error
// or ctx's end at any point leaves the old file. It returns the file's size.
func writeCheckpoint(ctx context.Context, dir string, c *checkpoint) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("state dir: %w", err)
	}
	f, err := os.CreateTemp(dir, StateFile+".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	n, err := writeFrames(ctx, f, c)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("state: write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	syncDir(dir)
	return n, nil
}

func writeFrames(ctx context.Context, f *os.File, c *checkpoint) (int64, error) {
	bw := bufio.NewWriterSize(f, 256<<10)
	fw := &frameWriter{ctx: ctx, gate: c.gate, w: bw, data: make([]byte, 0, frameDataLen)}
	if _, err := bw.WriteString(stateMagic); err != nil {
		return 0, err
	}
	hdr, err := json.Marshal(c.header)
	if err != nil {
		return 0, err
	}
	fw.frame(frameHeader, hdr)
	for _, s := range c.slos {
		rec, err := json.Marshal(s.checkpointSLO)
		if err != nil {
			return 0, err
		}
		fw.frame(frameSLO, rec)
		fw.n = 0
		if _, err := s.ev.WriteTo(fw); err != nil {
			return 0, fmt.Errorf("slo %q: %w", s.ID, err)
		}
		fw.flushData()
		fw.frame(frameEnd, binary.AppendUvarint(nil, uint64(fw.n)))
	}
	fw.frame(frameLast, binary.AppendUvarint(nil, uint64(len(c.slos))))
	if fw.err != nil {
		return 0, fw.err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// syncDir fsyncs a directory, so that a rename in it is durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// frameReader reads and checks frames; every error it returns wraps
// errDamaged.
type frameReader struct {
	r       *bufio.Reader
	crc     uint32
	buf     []byte
	kind    byte
	payload []byte
	// Within an SLO's data: the bytes of the current data frame not yet
	// read, and the data bytes read so far.
	rest []byte
	n    int64
}

func damaged(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errDamaged, fmt.Sprintf(format, args...))
}

func newFrameReader(r io.Reader) (*frameReader, error) {
	fr := &frameReader{r: bufio.NewReaderSize(r, 256<<10)}
	magic := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(fr.r, magic); err != nil || string(magic) != stateMagic {
		return nil, damaged("not a slod state file of format 2")
	}
	return fr, nil
}

// next reads the next frame into kind and payload (valid until the next call).
func (f *frameReader) next() error {
	kind, err := f.r.ReadByte()
	if err != nil {
		return damaged("cut short")
	}
	n, err := binary.ReadUvarint(f.r)
	if err != nil {
		return damaged("cut short")
	}
	if n > maxFrame {
		return damaged("frame of %d bytes", n)
	}
	if cap(f.buf) < int(n)+4 {
		f.buf = make([]byte, int(n)+4)
	}
	b := f.buf[:int(n)+4]
	if _, err := io.ReadFull(f.r, b); err != nil {
		return damaged("cut short")
	}
	var h [1 + binary.MaxVarintLen64]byte
	h[0] = kind
	hl := 1 + binary.PutUvarint(h[1:], n)
	crc := crc32.Update(crc32.Update(f.crc, castagnoli, h[:hl]), castagnoli, b[:n])
	if crc != binary.LittleEndian.Uint32(b[n:]) {
		return damaged("checksum mismatch")
	}
	f.crc, f.kind, f.payload = crc, kind, b[:n]
	return nil
}

// Read and ReadByte read the current SLO's data frames, returning io.EOF
// at its end frame.
func (f *frameReader) Read(p []byte) (int, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	k := copy(p, f.rest)
	f.rest = f.rest[k:]
	f.n += int64(k)
	return k, nil
}

func (f *frameReader) ReadByte() (byte, error) {
	if err := f.fill(); err != nil {
		return 0, err
	}
	c := f.rest[0]
	f.rest = f.rest[1:]
	f.n++
	return c, nil
}

func (f *frameReader) fill() error {
	for len(f.rest) == 0 {
		if f.kind == frameEnd {
			return io.EOF
		}
		if err := f.next(); err != nil {
			return err
		}
		switch f.kind {
		case frameData:
			f.rest = f.payload
		case frameEnd:
			if n, k := binary.Uvarint(f.payload); k <= 0 || k != len(f.payload) || int64(n) != f.n {
				return damaged("slo data of %d bytes, its end frame says otherwise", f.n)
			}
			return io.EOF
		default:
			return damaged("frame %q inside an slo's data", f.kind)
		}
	}
	return nil
}

// skip reads the rest of the current SLO's data up to its end frame.
func (f *frameReader) skip() error {
	for {
		f.n += int64(len(f.rest))
		f.rest = nil
		switch err := f.fill(); {
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// end checks that the current SLO's data was read to its end frame.
func (f *frameReader) end() error {
	switch err := f.fill(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	return damaged("bytes after an slo's rings")
}

// startSLO begins reading the data of the SLO whose frame was just read.
func (f *frameReader) startSLO() {
	f.kind, f.rest, f.n = frameSLO, nil, 0
}

// readCheckpoint reads dir's StateFile, handing each SLO's rings to slo as
// a reader of exactly that SLO's data; slo may leave data unread. It
// returns a nil header when there is no file. An error wrapping errDamaged
// means the file is not what slod writes; an error slo returns stops the
// read and is returned as it is.
func readCheckpoint(dir string, slo func(s checkpointSLO, r *frameReader) error) (*checkpointHeader, error) {
	f, err := os.Open(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	defer f.Close()
	fr, err := newFrameReader(f)
	if err != nil {
		return nil, err
	}
	if err := fr.next(); err != nil {
		return nil, err
	}
	var hdr checkpointHeader
	if fr.kind != frameHeader || json.Unmarshal(fr.payload, &hdr) != nil {
		return nil, damaged("no header")
	}
	if hdr.Format != stateFormat {
		return nil, damaged("format %d, want %d", hdr.Format, stateFormat)
	}
	for count := 0; ; count++ {
		if err := fr.next(); err != nil {
			return &hdr, err
		}
		switch fr.kind {
		case frameSLO:
			var s checkpointSLO
			if err := json.Unmarshal(fr.payload, &s); err != nil || s.ID == "" {
				return &hdr, damaged("slo record %q", fr.payload)
			}
			fr.startSLO()
			if err := slo(s, fr); err != nil {
				return &hdr, err
			}
			if err := fr.skip(); err != nil {
				return &hdr, err
			}
		case frameLast:
			if n, k := binary.Uvarint(fr.payload); k <= 0 || k != len(fr.payload) || n != uint64(count) {
				return &hdr, damaged("%d slos, its end frame says otherwise", count)
			}
			if _, err := fr.r.ReadByte(); err != io.EOF {
				return &hdr, damaged("bytes after the end")
			}
			return &hdr, nil
		default:
			return &hdr, damaged("frame %q where an slo or the end belongs", fr.kind)
		}
	}
}
