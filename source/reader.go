package source

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/common/model"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// MaxPoints is Prometheus's limit on points per series in one range query.
const MaxPoints = 11000

// DefaultSampleBudget bounds the points (series × steps) one range query
// returns. Prometheus refuses a query that would load more than
// --query.max-samples (default 50M) samples, and the samples a query loads
// run several times its output (every raw series of a rate window, for
// both codes of a counter); 2M output points keep a wide margin and an
// answer of tens of MB.
const DefaultSampleBudget = 2_000_000

// Reader reads one SLO's step counts from a Querier.
type Reader struct {
	Querier Querier
	Spec    *slo.Spec
	// Step is the evaluator's step.
	Step time.Duration
	// Points caps the points per series of one range query (default
	// 10,000, under Prometheus's 11,000).
	Points int
	// Series is how many series (instances) the SLI's queries return, when
	// known (the evaluator's instance count); 0 lets a long read ask the
	// source first, with one cheap query.
	Series int
	// SampleBudget caps series × points of one query (default
	// DefaultSampleBudget).
	SampleBudget int
	// Partition, when set, narrows every query to one shard's part of the
	// series (a group_by SLO split among shards by query).
	Partition *Partition
	// SplitSeries, when > 0, replaces the package's SplitSeries for this
	// reader (tests split small reads with it).
	SplitSeries int
	// Cache, when set, keeps the series seen and the batch buffers from
	// one read to the next (see SeriesCache), and the batches ReadChunks
	// hands over are valid only during the call; without it each read
	// starts afresh.
	Cache *SeriesCache
}

// Read returns the counts of the steps that end in (from, to] at resolution
// res (a multiple of Step; from and to multiples of res), reading in
// chunks. It returns the number of range queries sent alongside the batch.
func (r *Reader) Read(ctx context.Context, from, to time.Time, res time.Duration) (burnrate.Batch, int, error) {
	all := burnrate.Batch{From: from, To: to, Resolution: res}
	if res == r.Step {
		all.Resolution = 0
	}
	bySeries := map[string]int{}
	n, err := r.ReadChunks(ctx, from, to, res, func(b burnrate.Batch) error {
		for _, s := range b.Series {
			i, ok := bySeries[s.Key]
			if !ok {
				i = len(all.Series)
				bySeries[s.Key] = i
				all.Series = append(all.Series, burnrate.Series{Labels: s.Labels, Key: s.Key})
			}
			all.Series[i].Steps = append(all.Series[i].Steps, s.Steps...)
		}
		return nil
	})
	slices.SortFunc(all.Series, func(a, b burnrate.Series) int { return strings.Compare(a.Key, b.Key) })
	return all, n, err
}

// ReadChunks reads the steps that end in (from, to] at resolution res in
// chunks, oldest first, and hands each chunk to fn as a batch covering its
// own range (with a Cache, valid only during the call: its memory is
// reused), so a caller can ingest a long backfill piece by piece and
// keep what it read when a later chunk fails. A chunk holds at most
// Points points per series and SampleBudget points in all (series ×
// points); a chunk the server refuses as too large (too many samples, a
// timeout) is split in two and read again, down to one step. It returns
// the number of range queries sent.
func (r *Reader) ReadChunks(ctx context.Context, from, to time.Time, res time.Duration, fn func(burnrate.Batch) error) (int, error) {
	if !to.After(from) {
		return 0, nil
	}
	if res%r.Step != 0 || res < r.Step {
		return 0, fmt.Errorf("slo %q: resolution %s is not a multiple of step %s", r.Spec.ID, res, r.Step)
	}
	if from.UnixNano()%int64(res) != 0 || to.UnixNano()%int64(res) != 0 {
		return 0, fmt.Errorf("slo %q: range %s..%s is not aligned to %s", r.Spec.ID, from, to, res)
	}
	qs, err := BuildQueries(r.Spec, res)
	if err != nil {
		return 0, err
	}
	points := r.Points
	if points <= 0 || points > MaxPoints {
		points = 10000
	}
	queries := 0
	series := r.Series
	if want := int(to.Sub(from) / res); want > 16 {
		// A long read: size chunks by the series the SLI returns.
		if series <= 0 {
			probe := qs.Total
			if qs.Raw() {
				probe = qs.Errors
			}
			if r.Partition != nil {
				if probe, err = r.Partition.Select(probe); err != nil {
					return 0, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
				}
			}
			mat, err := r.Querier.QueryRange(ctx, probe, to, to, res)
			queries++
			if err != nil {
				return queries, fmt.Errorf("slo %q: counting series: %w", r.Spec.ID, err)
			}
			series = len(mat)
		}
		budget := r.SampleBudget
		if budget <= 0 {
			budget = DefaultSampleBudget
		}
		points = max(1, min(points, budget/max(series, 1)))
	}
	parts, err := r.split(qs, series, int(to.Sub(from)/res))
	if err != nil {
		return queries, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
	}
	cache := r.Cache
	if cache == nil || !cache.busy.CompareAndSwap(false, true) {
		// No cache, or another read of the SLO holds it: start afresh.
		cache, r = new(SeriesCache), r.withoutCache()
	} else {
		defer cache.busy.Store(false)
	}
	cache.reset(r.Spec.GroupBy)
	for start := from; start.Before(to); {
		end := start.Add(time.Duration(points) * res)
		if end.After(to) {
			end = to
		}
		b, n, err := r.chunk(ctx, parts, start, end, res, cache)
		queries += n
		if err != nil && tooLarge(err) && end.Sub(start) > res {
			// Split: the next chunks are half as long.
			points = max(1, int(end.Sub(start)/res)/2)
			continue
		}
		if err != nil {
			return queries, err
		}
		if err := fn(b); err != nil {
			return queries, err
		}
		start = end
	}
	cache.prune()
	return queries, nil
}

// SplitSeries and MaxSplit: a read of a group_by SLO whose queries
// return at least twice SplitSeries series sends each of them as up to
// MaxSplit queries of about SplitSeries series each, all at once
// (Partition), when the query allows it (Splittable). Prometheus
// evaluates one query on one core: at 100,000 series the total query of
// a steady tick takes twice the errors query's time, and split, the two
// keep both of the server's cores busy to the end. A read of one step (a
// steady tick's) is sent whole: its cost is the server selecting the
// series, which every part repeats, so split it takes longer (at 100,000
// routes on 2 cores, the errors and total queries of one point: 1.05–1.42 s
// whole, 1.35–1.60 s as four parts at once).
const (
	SplitSeries = 50_000
	MaxSplit    = 4
)

// split returns the queries of each part of the read: the SLI's queries
// narrowed to the reader's partition, or to each part of it when the read
// is split.
func (r *Reader) split(qs StepQueries, series, steps int) ([]StepQueries, error) {
	n := 1
	label := ""
	per := SplitSeries
	if r.SplitSeries > 0 {
		per = r.SplitSeries
	}
	if len(r.Spec.GroupBy) > 0 && series >= 2*per && steps > 1 {
		n = min(MaxSplit, series/per)
		label = r.Spec.GroupBy[0]
		if r.Partition != nil {
			label = r.Partition.Label
		}
		if !Splittable(qs.Total, label) || (qs.Errors != "" && !Splittable(qs.Errors, label)) {
			n = 1
		}
	}
	if n == 1 {
		if r.Partition != nil {
			p, err := r.Partition.Apply(qs)
			return []StepQueries{p}, err
		}
		return []StepQueries{qs}, nil
	}
	out := make([]StepQueries, n)
	for j := range n {
		p, err := Split(r.Partition, label, j, n).Apply(qs)
		if err != nil {
			return nil, err
		}
		out[j] = p
	}
	return out, nil
}

// tooLarge reports a query the server refused for its size: too many
// samples, or a timeout; a smaller one may pass.
func tooLarge(err error) bool {
	s := err.Error()
	return strings.Contains(s, "too many samples") || strings.Contains(s, "timed out") || strings.Contains(s, "timeout")
}

// seriesAcc collects one series' values of a chunk, by step index; it is
// kept across the chunks of a read (and across reads, in a SeriesCache),
// so labels and keys are built once.
type seriesAcc struct {
	labels map[string]string
	key    string
	hash   uint64
	vals   []float64 // errors at 2i, total at 2i+1
	has    []uint8   // bit 1: errors, bit 2: total
	seen   bool      // in this chunk
	read   bool      // in this read
}

// SeriesCache keeps the series an SLO's reads have seen, their labels and
// instance keys, so that a steady tick allocates nothing for a series it
// already knows; it also keeps the buffers of the batches it builds. A
// series that a whole read did not return is dropped. Its zero value is
// ready; it serves one SLO, one read at a time.
type SeriesCache struct {
	seed    maphash.Seed
	groupBy []string
	// byHash holds the series by a hash of their group_by values; the
	// rare second series of a hash waits in collided.
	byHash   map[uint64]*seriesAcc
	collided []*seriesAcc
	// sorted is every series by key while unsorted is false.
	sorted   []*seriesAcc
	unsorted bool
	steps    []burnrate.StepCount
	series   []burnrate.Series
	mu       sync.Mutex
	busy     atomic.Bool // a read holds the cache
}

// withoutCache returns a copy of r that keeps no cache.
func (r *Reader) withoutCache() *Reader {
	c := *r
	c.Cache = nil
	return &c
}

// reset prepares the cache for a read of an SLO grouped by groupBy.
func (c *SeriesCache) reset(groupBy []string) {
	if c.byHash == nil || !slices.Equal(c.groupBy, groupBy) {
		*c = SeriesCache{seed: maphash.MakeSeed(), groupBy: slices.Clone(groupBy), byHash: map[uint64]*seriesAcc{}}
	}
	for _, a := range c.sorted {
		a.read = false
	}
}

// keptSteps bounds the steps per series whose buffers a cache keeps
// after a read: a steady tick's few are kept, a backfill's long chunks
// are left to the garbage collector.
const keptSteps = 64

// prune drops the series the read did not return, and the buffers a
// long read grew.
func (c *SeriesCache) prune() {
	for _, a := range c.sorted {
		if cap(a.has) > keptSteps {
			a.vals, a.has = nil, nil
		}
	}
	if cap(c.steps) > keptSteps*len(c.sorted) {
		c.steps = nil
	}
	for h, a := range c.byHash {
		if !a.read {
			delete(c.byHash, h)
		}
	}
	c.collided = slices.DeleteFunc(c.collided, func(a *seriesAcc) bool { return !a.read })
	c.sorted = slices.DeleteFunc(c.sorted, func(a *seriesAcc) bool { return !a.read })
}

// hashValues hashes the group_by label values that value returns (an
// absent label reads as empty, as LabelsKey has it).
func (c *SeriesCache) hashValues(value func(name string) string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	var n [4]byte
	for _, g := range c.groupBy {
		v := value(g)
		binary.LittleEndian.PutUint32(n[:], uint32(len(v)))
		h.Write(n[:])
		h.WriteString(v)
	}
	return h.Sum64()
}

// lookup returns the series with the group_by values that value returns,
// creating it when it is new.
func (c *SeriesCache) lookup(value func(name string) string) *seriesAcc {
	h := c.hashValues(value)
	same := func(a *seriesAcc) bool {
		for _, g := range c.groupBy {
			if a.labels[g] != value(g) {
				return false
			}
		}
		return true
	}
	a, ok := c.byHash[h]
	if ok && same(a) {
		return a
	}
	for _, o := range c.collided {
		if o.hash == h && same(o) {
			return o
		}
	}
	ls := make(map[string]string, len(c.groupBy))
	for _, g := range c.groupBy {
		if v := value(g); v != "" {
			ls[g] = strings.Clone(v) // value's string may live in a reused buffer
		}
	}
	n := &seriesAcc{labels: ls, key: burnrate.LabelsKey(ls), hash: h}
	if ok {
		c.collided = append(c.collided, n)
	} else {
		c.byHash[h] = n
	}
	c.sorted = append(c.sorted, n)
	c.unsorted = true
	return n
}

// chunk reads the steps that end in (from, to] with one range query per
// SLI query and part of the read (split), into the series of cache. The
// batch it returns, and its series' steps, live in cache's buffers: valid
// until the next chunk.
func (r *Reader) chunk(ctx context.Context, parts []StepQueries, from, to time.Time, res time.Duration, cache *SeriesCache) (burnrate.Batch, int, error) {
	qs := parts[0]
	b := burnrate.Batch{From: from, To: to, Resolution: res}
	if res == r.Step {
		b.Resolution = 0
	}
	n := int(to.Sub(from) / res)
	first := model.TimeFromUnixNano(from.Add(res).UnixNano())
	resMs := int64(res / time.Millisecond)
	for _, a := range cache.sorted {
		a.seen = false
	}
	// fold sets one series' points of query qi (0: errors, 1: total).
	// The two queries' answers arrive at once: fold runs under cache.mu.
	fold := func(qi int, value func(string) string, points []model.SamplePair) {
		a := cache.lookup(value)
		if !a.seen {
			a.seen, a.read = true, true
			if cap(a.has) < n {
				a.vals, a.has = make([]float64, 2*n), make([]uint8, n)
			}
			a.vals, a.has = a.vals[:2*n], a.has[:n]
			clear(a.has)
		}
		for _, p := range points {
			d := int64(p.Timestamp - first)
			if d < 0 || d%resMs != 0 || d/resMs >= int64(n) {
				continue // off the grid: not a step of this chunk
			}
			i := int(d / resMs)
			a.vals[2*i+qi] = float64(p.Value)
			a.has[i] |= 1 << qi
		}
	}
	// The errors and total queries go out together: the server evaluates
	// them on two cores, which halves a large backfill's wall time when
	// the server is what it waits for.
	errs := make([]error, 2*len(parts))
	queries := 0
	var wg sync.WaitGroup
	for pi, part := range parts {
		for qi, text := range [2]string{part.Errors, part.Total} {
			if text == "" {
				continue
			}
			queries++
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[2*pi+qi] = r.query(ctx, text, from.Add(res), to, res, &cache.mu, func(value func(string) string, points []model.SamplePair) {
					fold(qi, value, points)
				})
			}()
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return b, queries, fmt.Errorf("slo %q: %w", r.Spec.ID, err)
		}
	}
	// BuildQueries sums by the group_by labels, so each series has a key
	// of its own.
	if cache.unsorted {
		slices.SortFunc(cache.sorted, func(x, y *seriesAcc) int { return strings.Compare(x.key, y.key) })
		cache.unsorted = false
	}
	seen := 0
	for _, a := range cache.sorted {
		if a.seen {
			seen++
		}
	}
	if cap(cache.steps) < seen*n {
		cache.steps = make([]burnrate.StepCount, seen*n)
	}
	steps := cache.steps[:seen*n]
	b.Series = cache.series[:0]
	for _, a := range cache.sorted {
		if !a.seen {
			continue
		}
		s := burnrate.Series{Labels: a.labels, Key: a.key, Steps: steps[:0:n]}
		steps = steps[n:]
		for i := range n {
			if a.has[i] == 0 {
				continue
			}
			errs, total := qs.Counts(a.vals[2*i], a.vals[2*i+1], a.has[i]&1 != 0, a.has[i]&2 != 0, r.Step)
			if math.IsNaN(total) {
				continue // unknown: the batch marks steps it does not list
			}
			s.Steps = append(s.Steps, burnrate.StepCount{End: from.Add(time.Duration(i+1) * res).UTC(), Errors: errs, Total: total})
		}
		b.Series = append(b.Series, s)
	}
	if r.Cache != nil {
		cache.series = b.Series
	} else {
		// Without a cache of the caller's, a batch is the caller's to keep.
		cache.steps = nil
	}
	return b, queries, nil
}

// query runs one range query and hands each series to fn, under mu, with
// a function that returns a label's value: streamed where the Querier can.
func (r *Reader) query(ctx context.Context, text string, start, end time.Time, res time.Duration, mu *sync.Mutex, fn func(value func(string) string, points []model.SamplePair)) error {
	if sq, ok := r.Querier.(StreamQuerier); ok {
		var labels []Label
		// value's strings point into the decoder's buffer: lookup copies
		// what it keeps.
		value := func(name string) string {
			for _, l := range labels {
				if string(l.Name) == name {
					return unsafe.String(unsafe.SliceData(l.Value), len(l.Value))
				}
			}
			return ""
		}
		return sq.QueryRangeStream(ctx, text, start, end, res, func(ls []Label, points []model.SamplePair) error {
			labels = ls
			mu.Lock()
			defer mu.Unlock()
			fn(value, points)
			return nil
		})
	}
	mat, err := r.Querier.QueryRange(ctx, text, start, end, res)
	if err != nil {
		return err
	}
	var m model.Metric
	value := func(name string) string { return string(m[model.LabelName(name)]) }
	mu.Lock() // once for the whole answer, decoded already
	defer mu.Unlock()
	for _, s := range mat {
		if s == nil {
			continue
		}
		m = s.Metric
		fn(value, s.Values)
	}
	return nil
}
