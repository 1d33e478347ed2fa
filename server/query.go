package server

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slodhq/slod/burnrate"
)

// Paging limits of the instance list (page, per_page) and of the API
// (limit). A larger per_page or limit is cut to the maximum.
const (
	DefaultPerPage = 50
	MaxPerPage     = 500
	DefaultLimit   = 1000
	MaxLimit       = 10000
)

// filter selects SLOs and instances: the query parameters slo, service,
// state and labels, shared by the status pages and the API so that a link
// or a request means the same in both.
type filter struct {
	// slos and services are SLO IDs and services; an SLO matches when
	// either list is empty or holds it.
	slos, services []string
	// teams are values of the SLOs' team label; an SLO matches when the
	// list is empty or holds its team.
	teams []string
	// search must occur, case-insensitively, in the SLO's ID, its service,
	// or the instance's labels (k=v, as the pages show them).
	search string
	// states is a bit per State; 0 selects every state.
	states uint8
	// matchers must all match an instance's labels (PromQL semantics: an
	// absent label has the empty value; regexps are anchored).
	matchers []*labels.Matcher
}

// parseFilter reads a filter from query parameters, reporting every bad
// parameter. slo, service and state may repeat (any of them matches);
// state also takes a comma-separated list; labels is a list of PromQL
// label matchers, route=~"/api/.*",method="GET", with or without braces,
// and all matchers of every labels parameter must match.
func parseFilter(v url.Values) (filter, error) {
	f := filter{slos: nonEmpty(v["slo"]), services: nonEmpty(v["service"]), teams: nonEmpty(v["team"]),
		search: strings.ToLower(strings.TrimSpace(v.Get("q")))}
	var errs []error
	for _, list := range v["state"] {
		for name := range strings.SplitSeq(list, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			st, ok := ParseState(name)
			if !ok {
				errs = append(errs, fmt.Errorf("state %q: want one of %s", name, strings.Join(stateNames[:], ", ")))
				continue
			}
			f.states |= 1 << st
		}
	}
	p := parser.NewParser(parser.Options{})
	for _, sel := range v["labels"] {
		sel = strings.TrimSpace(sel)
		if sel == "" {
			continue
		}
		if !strings.HasPrefix(sel, "{") {
			sel = "{" + sel + "}"
		}
		ms, err := p.ParseMetricSelector(sel)
		if err != nil {
			errs = append(errs, fmt.Errorf("labels %s: %w (want label matchers such as route=~\"/api/.*\",method=\"GET\")", sel, err))
			continue
		}
		f.matchers = append(f.matchers, ms...)
	}
	return f, errors.Join(errs...)
}

func nonEmpty(vs []string) []string {
	return slices.DeleteFunc(slices.Clone(vs), func(s string) bool { return s == "" })
}

// instances reports whether the filter selects among an SLO's instances
// (by state or labels), not only among SLOs.
func (f filter) instances() bool { return f.states != 0 || len(f.matchers) > 0 || f.search != "" }

func (f filter) matchSLO(sl *SLO) bool {
	return (len(f.slos) == 0 || slices.Contains(f.slos, sl.ID)) &&
		(len(f.services) == 0 || slices.Contains(f.services, sl.Service)) &&
		(len(f.teams) == 0 || slices.Contains(f.teams, sl.Labels["team"]))
}

// matchSearch reports whether the search text occurs in the SLO's ID or
// service, or in one of the instance's labels.
func (f filter) matchSearch(sl *SLO, in *Instance) bool {
	if f.search == "" || strings.Contains(strings.ToLower(sl.ID), f.search) || strings.Contains(strings.ToLower(sl.Service), f.search) {
		return true
	}
	for k, v := range in.Labels {
		if strings.Contains(strings.ToLower(k+"="+v), f.search) {
			return true
		}
	}
	return false
}

func (f filter) matchInstance(sl *SLO, in *Instance, st State) bool {
	if f.states != 0 && f.states&(1<<st) == 0 || !f.matchSearch(sl, in) {
		return false
	}
	for _, m := range f.matchers {
		if !m.Matches(in.Labels[m.Name]) {
			return false
		}
	}
	return true
}

// sortColumn is a column the instance list sorts by.
type sortColumn uint8

const (
	sortState     sortColumn = iota // threat order, then budget remaining
	sortBudget                      // budget remaining, lowest first
	sortBurn                        // burn now (burnrate.CurrentBurn), lowest first
	sortName                        // instance key: SLO ID, then labels
	sortSLO                         // SLO ID, then threat
	sortService                     // the SLO's service, then threat
	sortObjective                   // the SLO's objective, then threat
	sortWindow                      // the SLO's window, then threat
	numSortColumns
)

var sortNames = [numSortColumns]string{"state", "budget", "burn", "name", "slo", "service", "objective", "window"}

// order is a sort column and direction, the query parameter sort:
// "budget" ascending, "-budget" descending. Unknown figures sort last
// either way.
type order struct {
	col  sortColumn
	desc bool
}

func (o order) String() string {
	if o.desc {
		return "-" + sortNames[o.col]
	}
	return sortNames[o.col]
}

func parseOrder(s string) (order, error) {
	if s == "" {
		return order{}, nil
	}
	name, desc := strings.CutPrefix(s, "-")
	i := slices.Index(sortNames[:], name)
	if i < 0 {
		return order{}, fmt.Errorf("sort %q: want one of %s, with - before it for descending", s, strings.Join(sortNames[:], ", "))
	}
	return order{col: sortColumn(i), desc: desc}, nil
}

// figureOf is the figure sorted by column col (budget or burn) of an
// instance, unknown until it is evaluated.
func figureOf(in *Instance, col sortColumn) burnrate.Figure {
	switch {
	case !in.Evaluated:
		return burnrate.Unknown()
	case col == sortBurn:
		return burnrate.CurrentBurn(in.Evaluation)
	}
	return in.Evaluation.BudgetRemaining
}

// sortKey is what the orders compare of one instance, worked out once
// per instance rather than once per comparison.
type sortKey struct {
	ref
	state        State
	budget, burn burnrate.Figure
	slo, key     string
	sl           *SLO
}

// compareKeys orders a and b by column o.col, in o's direction, breaking
// ties by threat (state, then budget remaining), then by key. Unknown
// figures sort last in either direction.
func compareKeys(a, b *sortKey, o order) int {
	var c int
	switch o.col {
	case sortBudget, sortBurn:
		fa, fb := a.budget, b.budget
		if o.col == sortBurn {
			fa, fb = a.burn, b.burn
		}
		c = compareFigures(fa, fb)
		if o.desc && fa.Known() && fb.Known() {
			c = -c
		}
	case sortName:
		c = strings.Compare(a.key, b.key)
	case sortSLO:
		c = strings.Compare(a.slo, b.slo)
	case sortService:
		c = strings.Compare(a.sl.Service, b.sl.Service)
	case sortObjective:
		c = cmp.Compare(a.sl.Objective, b.sl.Objective)
	case sortWindow:
		c = cmp.Compare(a.sl.Window, b.sl.Window)
	case sortState:
		c = cmp.Compare(a.state, b.state)
	}
	if o.desc && o.col != sortBudget && o.col != sortBurn {
		c = -c
	}
	if c != 0 {
		return c
	}
	if c = cmp.Compare(a.state, b.state); c != 0 {
		return c
	}
	if c = compareFigures(a.budget, b.budget); c != 0 {
		return c
	}
	return strings.Compare(a.key, b.key)
}

// sortRefs sorts refs in order o.
func (s *Snapshot) sortRefs(x *index, refs []ref, o order) {
	keys := make([]sortKey, len(refs))
	for i, r := range refs {
		in := &s.SLOs[r.slo].Instances[r.inst]
		k := sortKey{ref: r, state: x.states[r.slo][r.inst], budget: figureOf(in, sortBudget),
			slo: s.SLOs[r.slo].ID, key: in.Key, sl: &s.SLOs[r.slo]}
		if o.col == sortBurn {
			k.burn = figureOf(in, sortBurn)
		}
		keys[i] = k
	}
	// Sorting pointers moves 8 bytes, not the key, per swap.
	ptrs := make([]*sortKey, len(keys))
	for i := range keys {
		ptrs[i] = &keys[i]
	}
	slices.SortFunc(ptrs, func(a, b *sortKey) int { return compareKeys(a, b, o) })
	for i, k := range ptrs {
		refs[i] = k.ref
	}
}

// selectSorted is every instance the filter selects, in order o.
func (s *Snapshot) selectSorted(f filter, o order) []ref {
	x := s.index()
	var out []ref
	for i := range s.SLOs {
		sl := &s.SLOs[i]
		if !f.matchSLO(sl) {
			continue
		}
		for j := range sl.Instances {
			if f.matchInstance(sl, &sl.Instances[j], x.states[i][j]) {
				out = append(out, ref{int32(i), int32(j)})
			}
		}
	}
	s.sortRefs(x, out, o)
	return out
}

// paging is the query parameters page (from 1) and per_page.
type paging struct{ page, perPage int }

func parsePaging(v url.Values) (paging, error) {
	p := paging{page: 1, perPage: DefaultPerPage}
	var errs []error
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("page %q: want a page number from 1", s))
		}
		p.page = max(n, 1)
	}
	if s := v.Get("per_page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("per_page %q: want a number of instances from 1 to %d", s, MaxPerPage))
		}
		p.perPage = min(max(n, 1), MaxPerPage)
	}
	return p, errors.Join(errs...)
}

// cursor is a position in the API's walk: SLOs by ID, each SLO's
// instances by key. It names the last instance returned, so a walk that
// spans new snapshots neither repeats nor skips an instance that stays.
type cursor struct{ slo, key string }

// cursorPrefix versions the token, so that a later format can tell.
const cursorPrefix = "c1:"

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + c.slo + "\x00" + c.key))
}

var errCursor = errors.New("not a cursor from this API: pass next_cursor of the previous response unchanged")

func parseCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errCursor
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	sl, key, found := strings.Cut(rest, "\x00")
	if !ok || !found || sl == "" {
		return cursor{}, errCursor
	}
	return cursor{slo: sl, key: key}, nil
}

// walk calls yield for the instances the filter selects after cursor c
// (from the start when c is zero), in cursor order, until yield returns
// false.
func (s *Snapshot) walk(f filter, c cursor, yield func(r ref) bool) {
	x := s.index()
	// The first SLO at or after the cursor's: IDs are unique, so an SLO
	// that went away since is skipped, not an error.
	start, _ := slices.BinarySearchFunc(x.sloOrder, c.slo, func(i int32, id string) int {
		return strings.Compare(s.SLOs[i].ID, id)
	})
	for _, i := range x.sloOrder[start:] {
		sl := &s.SLOs[i]
		if !f.matchSLO(sl) {
			continue
		}
		order := x.byKey[i]
		if len(order) == 0 && !f.instances() && sl.ID != c.slo {
			// An SLO without instances still appears in an unfiltered walk.
			if !yield(ref{i, -1}) {
				return
			}
			continue
		}
		from := 0
		if c.slo != "" && sl.ID == c.slo {
			// The first instance after the cursor's key.
			from, _ = slices.BinarySearchFunc(order, c.key, func(j int32, key string) int {
				if sl.Instances[j].Key <= key {
					return -1
				}
				return 1
			})
		}
		for _, j := range order[from:] {
			if f.matchInstance(sl, &sl.Instances[j], x.states[i][j]) && !yield(ref{i, j}) {
				return
			}
		}
	}
}
