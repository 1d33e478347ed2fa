package notify

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Damage records an outbox file that could not be used and was moved aside:
// the pages it held were not delivered by this run. The daemon shows it
// (banner, /readyz detail) until an operator has looked at the file.
type Damage struct {
	// File is the outbox path; MovedTo where the damaged file now is.
	File, MovedTo string
	// Reason says what was wrong, for example "truncated: ..." or
	// "consistency check: ...".
	Reason string
	At     time.Time
}

// Damage returns the outbox files this dispatcher found damaged and moved
// aside when it opened, oldest first (empty when the outbox was sound).
func (d *Dispatcher) Damage() []Damage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.damage)
}

// errLocked says another process (or dispatcher) holds the outbox.
var errLocked = fmt.Errorf("outbox is locked by another process: %w", berrors.ErrTimeout)

// damagedSuffix starts the name a damaged outbox is moved to; a UTC
// timestamp follows.
const damagedSuffix = ".damaged-"

// openOutbox opens the bbolt file at path with its buckets. A file whose
// content cannot be used (0 bytes, truncated, garbled pages, failing bbolt's
// open or its consistency check) is moved aside, never deleted, recorded
// in Damage and counted, and a new outbox is started. Errors are for what
// says nothing about the content: the file is locked by another process,
// cannot be read, or cannot be moved.
func (d *Dispatcher) openOutbox(path string) (*bolt.DB, error) {
	db, reason, err := openChecked(path, d.names)
	if err != nil || reason == "" {
		return db, err
	}
	now := d.clock.Now()
	moved, err := moveAside(path, now)
	if err != nil {
		return nil, fmt.Errorf("outbox %s is damaged (%s) and could not be moved aside: %w", path, reason, err)
	}
	d.damage = append(d.damage, Damage{File: path, MovedTo: moved, Reason: reason, At: now})
	d.m.damaged.Inc()
	d.log.Error("notify outbox damaged: moved aside, starting with an empty outbox; its undelivered pages are lost unless recovered by hand",
		"file", path, "moved_to", moved, "reason", reason)
	db, reason, err = openChecked(path, d.names)
	if err == nil && reason != "" {
		err = fmt.Errorf("new outbox %s: %s", path, reason)
	}
	return db, err
}

// openChecked opens path with bbolt once it has passed inspectOutbox, runs
// bbolt's consistency check and creates the buckets. A non-empty reason
// says the file is damaged (nothing is left open then).
func openChecked(path string, receivers []string) (*bolt.DB, string, error) {
	const lockTimeout = 2 * time.Second
	if _, err := os.Stat(path); err == nil {
		unlock, err := lockFile(path, lockTimeout)
		if err != nil {
			return nil, "", fmt.Errorf("outbox %s: %w", path, err)
		}
		reason, err := inspectOutbox(path)
		unlock()
		if err != nil || reason != "" {
			return nil, reason, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	var db *bolt.DB
	err := guard(func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
		return err
	})
	var pe panicError
	var perr *fs.PathError
	var errno syscall.Errno
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, "", fmt.Errorf("outbox %s: %w", path, errLocked)
	case errors.As(err, &pe):
		return nil, "bbolt could not open it: " + err.Error(), nil
	case errors.As(err, &perr) || errors.As(err, &errno):
		return nil, "", err
	case err != nil:
		return nil, "bbolt could not open it: " + err.Error(), nil
	}
	err = guard(func() error {
		return db.View(func(tx *bolt.Tx) error {
			var errs []error
			for err := range tx.Check() {
				if len(errs) < 5 {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		})
	})
	if err != nil {
		_ = guard(db.Close)
		return nil, "consistency check: " + strings.ReplaceAll(err.Error(), "\n", "; "), nil
	}
	err = guard(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(bucketActive); err != nil {
				return fmt.Errorf("bucket %s: %w", bucketActive, err)
			}
			for _, top := range [][]byte{bucketOutbox, bucketDead} {
				b, err := tx.CreateBucketIfNotExists(top)
				if err != nil {
					return fmt.Errorf("bucket %s: %w", top, err)
				}
				for _, name := range receivers {
					if _, err := b.CreateBucketIfNotExists([]byte(name)); err != nil {
						return fmt.Errorf("bucket %s/%s: %w", top, name, err)
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		_ = guard(db.Close)
		if errors.As(err, &perr) || errors.As(err, &errno) {
			return nil, "", err // a write failed: the disk, not the content
		}
		return nil, "unexpected layout: " + err.Error(), nil
	}
	return db, "", nil
}

// moveAside renames a damaged outbox to path.damaged-<UTC time>, adding
// -2, -3... when that name is taken, and syncs the directory so the rename
// survives a crash.
func moveAside(path string, now time.Time) (string, error) {
	base := path + damagedSuffix + now.UTC().Format("20060102T150405Z")
	to := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, to); err != nil {
		return "", err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return to, nil
}

// inspectOutbox reads the bbolt file at path as bbolt's on-disk format lays
// it out, without bbolt, and returns what makes it unusable, or "" when bbolt
// may open it. bbolt trusts its file: a page id past the end of the file
// makes it read memory beyond its mapping (a fault Go cannot recover from),
// and a garbled freelist count makes it allocate without bound. This walk
// bounds every page reference by the file, every element by its page, visits
// each page once (so a cycle ends) and reads the file with ReadAt only, so
// any byte content gives a reason, never a crash. bbolt's own Open and
// tx.Check, run afterwards, then only read pages this walk has read.
//
// The error is for I/O failures (the file could not be read), which say
// nothing about its content.
func inspectOutbox(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	r := &pageReader{f: f, size: fi.Size(), seen: map[uint64]bool{0: true, 1: true}}
	if r.size == 0 {
		return "empty file (0 bytes); bbolt always writes at least 4 pages", nil
	}
	m, reason, err := r.meta()
	if err != nil || reason != "" {
		return reason, err
	}
	r.ps, r.hwm = uint64(m.pageSize), m.pgid
	if m.pgid < 4 || m.pgid > uint64(r.size)/r.ps {
		return fmt.Sprintf("truncated: the file is %d bytes, its meta page (txid %d) says %d pages of %d bytes", r.size, m.txid, m.pgid, m.pageSize), nil
	}
	if m.freelist == noFreelist {
		return "no freelist page (slod always syncs it)", nil
	}
	if err := r.freelist(m.freelist); err != nil {
		return splitWalkErr(err)
	}
	if m.root < 2 || m.root >= m.pgid {
		return fmt.Sprintf("root page %d is outside pages 2..%d", m.root, m.pgid-1), nil
	}
	if err := r.tree(m.root, 0); err != nil {
		return splitWalkErr(err)
	}
	return "", nil
}

// splitWalkErr splits what a walk returned into a reason (the content is
// damaged) or an I/O error.
func splitWalkErr(err error) (string, error) {
	var ioe *ioError
	if errors.As(err, &ioe) {
		return "", ioe.err
	}
	return err.Error(), nil
}

type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }

// Layout of bbolt's file format (go.etcd.io/bbolt, format version 2), in the
// machine's byte order: a page starts with a 16-byte header (id uint64,
// flags uint16, count uint16, overflow uint32); branch and leaf elements are
// 16 bytes each and locate their key (and value) relative to themselves.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16 // root pgid, sequence
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	noFreelist       = ^uint64(0)
	maxTreeDepth     = 64
)

var ne = binary.NativeEndian

type boltMeta struct {
	valid                      bool
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// parseMeta reads the meta at the start of page p: magic, version, page
// size, flags, root bucket (root, sequence), freelist, pgid, txid, and the
// FNV-64a checksum of everything before it.
func parseMeta(p []byte) boltMeta {
	if len(p) < pageHeaderSize+64 {
		return boltMeta{}
	}
	m := p[pageHeaderSize:]
	h := fnv.New64a()
	h.Write(m[:56])
	return boltMeta{
		valid:    ne.Uint32(m[0:]) == boltMagic && ne.Uint32(m[4:]) == boltVersion && ne.Uint64(m[56:]) == h.Sum64(),
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
}

type pageReader struct {
	f       *os.File
	size    int64
	ps, hwm uint64
	seen    map[uint64]bool
}

func (r *pageReader) readAt(n, off uint64) ([]byte, error) {
	if off > uint64(r.size) || n > uint64(r.size)-off {
		n = uint64(max(r.size-int64(min(off, uint64(r.size))), 0))
	}
	b := make([]byte, n)
	if _, err := r.f.ReadAt(b, int64(off)); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ioError{err}
	}
	return b, nil
}

// meta picks the meta page bbolt would use: the valid one with the highest
// txid. Page 1 sits one page size in; when meta 0 is invalid its page size
// is found as bbolt finds it, by trying sizes from 1 KiB up.
func (r *pageReader) meta() (boltMeta, string, error) {
	b, err := r.readAt(pageHeaderSize+64, 0)
	if err != nil {
		return boltMeta{}, "", err
	}
	m0 := parseMeta(b)
	var m1 boltMeta
	if m0.valid {
		if b, err = r.readAt(pageHeaderSize+64, uint64(m0.pageSize)); err != nil {
			return boltMeta{}, "", err
		}
		m1 = parseMeta(b)
	} else {
		for i := range 15 {
			if b, err = r.readAt(pageHeaderSize+64, 1024<<i); err != nil {
				return boltMeta{}, "", err
			}
			if m1 = parseMeta(b); m1.valid {
				break
			}
		}
	}
	if m1.valid && m0.valid && m0.pageSize != m1.pageSize {
		m1.valid = false
	}
	m := m0
	if !m.valid || m1.valid && m1.txid > m0.txid {
		m = m1
	}
	switch {
	case !m.valid:
		return m, "no valid meta page (bad magic, version or checksum in both)", nil
	case m.pageSize < 512 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0:
		return m, fmt.Sprintf("implausible page size %d", m.pageSize), nil
	}
	return m, "", nil
}

// page reads page id with its overflow pages, once.
func (r *pageReader) page(id uint64) ([]byte, error) {
	if id < 2 || id >= r.hwm {
		return nil, fmt.Errorf("page %d referenced, outside pages 2..%d", id, r.hwm-1)
	}
	hdr, err := r.readAt(pageHeaderSize, id*r.ps)
	if err != nil {
		return nil, err
	}
	if got := ne.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d: its header says page %d", id, got)
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	if overflow >= r.hwm-id {
		return nil, fmt.Errorf("page %d: %d overflow pages run past page %d", id, overflow, r.hwm-1)
	}
	for i := id; i <= id+overflow; i++ {
		if r.seen[i] {
			return nil, fmt.Errorf("page %d referenced twice", i)
		}
		r.seen[i] = true
	}
	return r.readAt((overflow+1)*r.ps, id*r.ps)
}

func (r *pageReader) freelist(id uint64) error {
	p, err := r.page(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if flags := ne.Uint16(p[8:]); flags != freelistPageFlag {
		return fmt.Errorf("freelist page %d has flags %#x", id, flags)
	}
	count, first := uint64(ne.Uint16(p[10:])), uint64(0)
	if count == 0xFFFF { // the real count is the first element
		count, first = ne.Uint64(p[pageHeaderSize:]), 1
	}
	room := uint64(len(p)-pageHeaderSize) / 8
	if count > room-first {
		return fmt.Errorf("freelist page %d claims %d ids, room for %d", id, count, room-first)
	}
	for i := range count {
		if free := ne.Uint64(p[pageHeaderSize+(first+i)*8:]); free < 2 || free >= r.hwm {
			return fmt.Errorf("freelist holds page %d, outside pages 2..%d", free, r.hwm-1)
		}
	}
	return nil
}

func (r *pageReader) tree(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
	}
	p, err := r.page(id)
	if err != nil {
		return err
	}
	return r.node(p, id, depth)
}

// node checks one branch or leaf page (or an inline bucket's page, with id
// 0) and descends into its children and sub-buckets.
func (r *pageReader) node(p []byte, id uint64, depth int) error {
	if len(p) < pageHeaderSize {
		return fmt.Errorf("page %d: shorter than its header", id)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return fmt.Errorf("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		off := uint64(pageHeaderSize + i*elementSize)
		el := p[off:]
		switch flags {
		case branchPageFlag:
			pos, ksize, child := uint64(ne.Uint32(el)), uint64(ne.Uint32(el[4:])), ne.Uint64(el[8:])
			if off+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("page %d: key %d runs past the page", id, i)
			}
			if err := r.tree(child, depth+1); err != nil {
				return err
			}
		case leafPageFlag:
			eflags, pos, ksize, vsize := ne.Uint32(el), uint64(ne.Uint32(el[4:])), uint64(ne.Uint32(el[8:])), uint64(ne.Uint32(el[12:]))
			end := off + pos + ksize + vsize
			if end > uint64(len(p)) {
				return fmt.Errorf("page %d: element %d runs past the page", id, i)
			}
			if eflags&bucketLeafFlag == 0 {
				continue
			}
			v := p[off+pos+ksize : end]
			if len(v) < bucketHeaderSize {
				return fmt.Errorf("page %d: bucket %d has a short header", id, i)
			}
			if root := ne.Uint64(v); root != 0 {
				err := r.tree(root, depth+1)
				if err != nil {
					return err
				}
			} else if depth+1 > maxTreeDepth {
				return fmt.Errorf("page %d: tree deeper than %d", id, maxTreeDepth)
			} else if err := r.node(v[bucketHeaderSize:], 0, depth+1); err != nil {
				return err
			}
		default:
			return fmt.Errorf("page %d: neither branch nor leaf (flags %#x)", id, flags)
		}
	}
	if flags != branchPageFlag && flags != leafPageFlag {
		return fmt.Errorf("page %d: neither branch nor leaf (flags %#x)", id, flags)
	}
	if flags == branchPageFlag && count == 0 {
		return fmt.Errorf("page %d: empty branch page", id)
	}
	return nil
}

// panicError is a panic (or memory fault) of bbolt turned into an error.
type panicError struct{ v any }

func (e panicError) Error() string { return fmt.Sprintf("bbolt panicked: %v", e.v) }

// guard runs fn with memory faults turned into panics and any panic into a
// panicError: bbolt panics on pages it does not expect.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			err = panicError{v}
		}
	}()
	return fn()
}
