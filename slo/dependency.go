package slo

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Dependency is one entry of depends_on: the SLO's users also need an
// upstream service (every SLO of it) or one upstream SLO. When an upstream
// SLO burns first, the SLO's own burn is correlated with it as a symptom
// (docs/incidents.md).
type Dependency struct {
	// Service names an upstream service; SLO one upstream SLO id. Exactly
	// one is set.
	Service string
	SLO     string
	// Policy says what correlation does along this edge; "" takes the
	// global policy (engine option, default suppress).
	Policy DependencyPolicy
	Pos    Position
}

// Target renders the dependency as written: "service payments" or "slo payments-availability".
func (d Dependency) Target() string {
	if d.SLO != "" {
		return "slo " + d.SLO
	}
	return "service " + d.Service
}

// DependencyPolicy says what happens to a symptom's own notifications.
type DependencyPolicy string

// The dependency policies.
const (
	// PolicySuppress: a symptom does not page; the root's page lists it.
	PolicySuppress DependencyPolicy = "suppress"
	// PolicyAnnotate: both page, the symptom's page naming its root.
	PolicyAnnotate DependencyPolicy = "annotate"
	// PolicyOff: the edge is not used for correlation.
	PolicyOff DependencyPolicy = "off"
)

// DefaultDependencyPolicy is the policy of an edge that names none when
// no global policy is configured.
const DefaultDependencyPolicy = PolicySuppress

// ParseDependencyPolicy checks a policy name ("" is allowed: the default).
func ParseDependencyPolicy(s string) (DependencyPolicy, error) {
	switch p := DependencyPolicy(s); p {
	case "", PolicySuppress, PolicyAnnotate, PolicyOff:
		return p, nil
	}
	return "", fmt.Errorf("dependency policy must be %s, %s or %s, got %q", PolicySuppress, PolicyAnnotate, PolicyOff, s)
}

// weaker returns the weaker of two policies (off < annotate < suppress):
// a path of edges correlates as its weakest edge allows.
func weaker(a, b DependencyPolicy) DependencyPolicy {
	rank := func(p DependencyPolicy) int {
		switch p {
		case PolicyOff:
			return 0
		case PolicyAnnotate:
			return 1
		}
		return 2
	}
	if rank(a) <= rank(b) {
		return a
	}
	return b
}

// dependsOn reads a depends_on list. An item is a service name, or a
// mapping with service or slo (exactly one) and an optional policy.
func (d *decoder) dependsOn(f field, what string) ([]Dependency, bool) {
	n := resolve(f.val)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(f.val, RuleInvalidField, "%s: expected a list of services, got %s", what, kindName(n))
		return nil, false
	}
	ok := true
	out := make([]Dependency, 0, len(n.Content))
	for i, c := range n.Content {
		c = resolve(c)
		item := fmt.Sprintf("%s: item %d", what, i+1)
		if c == nil {
			continue
		}
		switch c.Kind {
		case yaml.ScalarNode:
			if c.Tag == "!!null" || strings.TrimSpace(c.Value) == "" {
				d.errorf(n.Content[i], RuleInvalidField, "%s: expected a service name, got %s", item, kindNameOrNil(c))
				ok = false
				continue
			}
			out = append(out, Dependency{Service: strings.TrimSpace(c.Value), Pos: d.pos(c)})
		case yaml.MappingNode:
			fs, fok := d.fields(c, item, "service", "slo", "policy")
			dep := Dependency{Pos: d.pos(c)}
			for name, ff := range fs {
				var v string
				var sok bool
				if v, sok = d.str(ff, item+": "+name); !sok {
					fok = false
					continue
				}
				switch name {
				case "service":
					dep.Service = strings.TrimSpace(v)
				case "slo":
					dep.SLO = strings.TrimSpace(v)
				case "policy":
					p, err := ParseDependencyPolicy(v)
					if err != nil {
						d.errorf(ff.val, RuleInvalidField, "%s: %v", item, err)
						fok = false
					}
					dep.Policy = p
				}
			}
			if (dep.Service == "") == (dep.SLO == "") {
				d.errorf(c, RuleInvalidField, "%s: set exactly one of service or slo", item)
				fok = false
			}
			if !fok {
				ok = false
				continue
			}
			out = append(out, dep)
		default:
			d.errorf(n.Content[i], RuleInvalidField, "%s: expected a service name or a mapping with service or slo, got %s", item, kindName(c))
			ok = false
		}
	}
	return out, ok
}

// FormatDependsOn renders a depends_on list on one line, as the
// slod_depends_on annotation of OpenSLO objects holds it: comma-separated
// items, each a service name or slo:ID, with =policy when one is set
// ("payments, slo:postgres-main-availability=annotate").
func FormatDependsOn(deps []Dependency) string {
	items := make([]string, 0, len(deps))
	for _, d := range deps {
		item := d.Service
		if d.SLO != "" {
			item = "slo:" + d.SLO
		}
		if d.Policy != "" {
			item += "=" + string(d.Policy)
		}
		items = append(items, item)
	}
	return strings.Join(items, ", ")
}

// ParseDependsOn reads what FormatDependsOn writes; every dependency is
// at pos. Empty items are skipped.
func ParseDependsOn(v string, pos Position) ([]Dependency, error) {
	var out []Dependency
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		d := Dependency{Pos: pos}
		if name, p, found := strings.Cut(item, "="); found {
			policy, err := ParseDependencyPolicy(strings.TrimSpace(p))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", item, err)
			}
			d.Policy, item = policy, strings.TrimSpace(name)
		}
		if id, found := strings.CutPrefix(item, "slo:"); found {
			d.SLO = strings.TrimSpace(id)
		} else {
			d.Service = item
		}
		if d.SLO == "" && d.Service == "" {
			return nil, fmt.Errorf("%q: expected a service name or slo:ID", item)
		}
		out = append(out, d)
	}
	return out, nil
}

// Edge is one correlation edge between two SLOs: From's users need To.
type Edge struct {
	From, To string
	// Policy is the edge's own policy, or the graph's default.
	Policy DependencyPolicy
	// Dep is the depends_on entry the edge comes from.
	Dep Dependency
}

// Graph is the dependency graph of a set of SLOs: an edge from each SLO to
// every SLO its depends_on names (all SLOs of a named service). It is
// read-only once built.
type Graph struct {
	up    map[string][]Edge
	specs map[string]*Spec
	order []string
}

// NewGraph builds the graph of specs; edges without a policy take def
// ("" is DefaultDependencyPolicy). Names that match no SLO make no edge
// (lint warns: DEP001). An SLO never depends on itself.
func NewGraph(specs []*Spec, def DependencyPolicy) *Graph {
	if def == "" {
		def = DefaultDependencyPolicy
	}
	g := &Graph{up: map[string][]Edge{}, specs: map[string]*Spec{}}
	byService := map[string][]string{}
	for _, s := range specs {
		if _, dup := g.specs[s.ID]; dup {
			continue
		}
		g.specs[s.ID] = s
		byService[s.Service] = append(byService[s.Service], s.ID)
	}
	for _, s := range specs {
		if g.specs[s.ID] != s {
			continue
		}
		seen := map[string]bool{}
		for _, dep := range s.DependsOn {
			targets := byService[dep.Service]
			if dep.SLO != "" {
				targets = nil
				if g.specs[dep.SLO] != nil {
					targets = []string{dep.SLO}
				}
			}
			p := dep.Policy
			if p == "" {
				p = def
			}
			for _, to := range targets {
				if to == s.ID || seen[to] || (dep.Service != "" && dep.Service == s.Service) {
					continue
				}
				seen[to] = true
				g.up[s.ID] = append(g.up[s.ID], Edge{From: s.ID, To: to, Policy: p, Dep: dep})
			}
		}
		sort.Slice(g.up[s.ID], func(i, j int) bool { return g.up[s.ID][i].To < g.up[s.ID][j].To })
	}
	g.order = g.topo()
	return g
}

// Empty reports whether the graph has no edge.
func (g *Graph) Empty() bool { return g == nil || len(g.up) == 0 }

// Upstream returns the direct upstream edges of an SLO, by target id.
func (g *Graph) Upstream(id string) []Edge {
	if g == nil {
		return nil
	}
	return g.up[id]
}

// Order returns the SLO ids with every SLO after the SLOs it depends on
// (roots first), ties in id order; SLOs on a cycle follow in id order.
func (g *Graph) Order() []string {
	if g == nil {
		return nil
	}
	return g.order
}

// Transitive walks the SLOs id depends on, nearest first, and calls fn
// with each upstream SLO and the weakest policy on the path to it; an
// "off" edge is not followed. fn returning false stops the walk.
func (g *Graph) Transitive(id string, fn func(up string, p DependencyPolicy) bool) {
	if g == nil {
		return
	}
	type hop struct {
		id string
		p  DependencyPolicy
	}
	seen := map[string]bool{id: true}
	queue := []hop{{id, PolicySuppress}}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		for _, e := range g.up[h.id] {
			p := weaker(h.p, e.Policy)
			if p == PolicyOff || seen[e.To] {
				continue
			}
			seen[e.To] = true
			if !fn(e.To, p) {
				return
			}
			queue = append(queue, hop{e.To, p})
		}
	}
}

// topo orders the SLOs roots first (Kahn's algorithm on the reversed
// edges, smallest id first among the ready ones).
func (g *Graph) topo() []string {
	ids := make([]string, 0, len(g.specs))
	for id := range g.specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	pending := map[string]int{} // upstream edges not yet placed
	down := map[string][]string{}
	for _, id := range ids {
		pending[id] = len(g.up[id])
		for _, e := range g.up[id] {
			down[e.To] = append(down[e.To], id)
		}
	}
	var ready, out []string
	for _, id := range ids {
		if pending[id] == 0 {
			ready = append(ready, id)
		}
	}
	placed := map[string]bool{}
	for len(ready) > 0 {
		sort.Strings(ready)
		id := ready[0]
		ready = ready[1:]
		out = append(out, id)
		placed[id] = true
		for _, d := range down[id] {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	for _, id := range ids {
		if !placed[id] {
			out = append(out, id) // on (or behind) a cycle
		}
	}
	return out
}

// Cycles returns one cycle per strongly connected component of more than
// one SLO, each as the ids along it with the first repeated at the end
// (a → b → a), starting at the smallest id; in id order.
func (g *Graph) Cycles() [][]string {
	if g == nil {
		return nil
	}
	// Tarjan's algorithm, iterating ids in order so the result is stable.
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	n := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = n, n
		n++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range g.up[v] {
			if _, seen := index[e.To]; !seen {
				visit(e.To)
				low[v] = min(low[v], low[e.To])
			} else if onStack[e.To] {
				low[v] = min(low[v], index[e.To])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				comps = append(comps, comp)
			}
		}
	}
	ids := make([]string, 0, len(g.specs))
	for id := range g.specs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, seen := index[id]; !seen {
			visit(id)
		}
	}
	var out [][]string
	for _, comp := range comps {
		sort.Strings(comp)
		out = append(out, g.cycleIn(comp))
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// cycleIn finds a cycle through the smallest id of a strongly connected
// component: a breadth-first path back to it within the component.
func (g *Graph) cycleIn(comp []string) []string {
	start := comp[0]
	in := map[string]bool{}
	for _, id := range comp {
		in[id] = true
	}
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range g.up[v] {
			if !in[e.To] {
				continue
			}
			if e.To == start {
				path := []string{start}
				for w := v; w != start; w = prev[w] {
					path = append(path, w)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := prev[e.To]; !seen {
				prev[e.To] = v
				queue = append(queue, e.To)
			}
		}
	}
	return append(slices.Clone(comp), start)
}

// dependencies applies the dependency rules across the set: DEP001 (an
// unknown service or SLO), DEP002 (a cycle), DEP003 (a service with no
// paging SLO, which can never be the cause of a page).
func (v *validator) dependencies(set *Set) {
	services := map[string][]*Spec{}
	ids := map[string]*Spec{}
	for _, s := range set.SLOs {
		services[s.Service] = append(services[s.Service], s)
		if ids[s.ID] == nil {
			ids[s.ID] = s
		}
	}
	pages := map[string]bool{} // policy name → has a page row
	for _, p := range set.Policies {
		pages[p.Name] = pages[p.Name] || slices.ContainsFunc(p.Rows, func(r PolicyRowSpec) bool { return r.Severity == "page" })
	}
	paging := func(s *Spec) bool {
		if s.Alerting.Page.Disabled {
			return false
		}
		has, defined := pages[s.Policy]
		// The default policy, a built-in one, or one not defined (SLO016)
		// is given the benefit of the doubt.
		return !defined || has
	}
	declared := false
	for _, s := range set.SLOs {
		for _, dep := range s.DependsOn {
			declared = true
			what := fmt.Sprintf("slo %q: depends_on %s", s.ID, dep.Target())
			var targets []*Spec
			if dep.SLO != "" {
				t := ids[dep.SLO]
				if t == nil {
					v.warnf(dep.Pos, RuleDependencyUnknown, "%s: no loaded SLO has this id, so nothing correlates with it (a typo, or a file not loaded?)", what)
					continue
				}
				targets = []*Spec{t}
			} else {
				targets = services[dep.Service]
				if len(targets) == 0 {
					v.warnf(dep.Pos, RuleDependencyUnknown, "%s: no loaded SLO belongs to this service, so nothing correlates with it (a typo, or a file not loaded?)", what)
					continue
				}
			}
			if dep.Service == s.Service || dep.SLO == s.ID {
				v.errorf(dep.Pos, RuleDependencyCycle, "%s: an SLO cannot depend on itself or its own service", what)
				continue
			}
			if !slices.ContainsFunc(targets, paging) {
				v.warnf(dep.Pos, RuleDependencyNoPage, "%s: no SLO there can page (page alerts disabled or a policy without page rows), so it can never be the cause of a page", what)
			}
		}
	}
	if !declared {
		return
	}
	g := NewGraph(set.SLOs, "")
	for _, cycle := range g.Cycles() {
		s := ids[cycle[0]]
		pos := s.PosOf("depends_on")
		for _, e := range g.Upstream(cycle[0]) {
			if e.To == cycle[1] {
				pos = e.Dep.Pos
			}
		}
		v.errorf(pos, RuleDependencyCycle, "depends_on forms a cycle: %s; no SLO on it could be a root cause", strings.Join(cycle, " → "))
	}
}

// osServiceDeps reads the depends_on of an OpenSLO Service object: its
// annotation slod.dev/depends-on (or slod_depends_on), in
// FormatDependsOn's syntax, which every SLO of the service takes unless
// it has its own (annotation slod_depends_on).
func (d *decoder) osServiceDeps(objs *openSLOObjects, meta osMeta) {
	for _, key := range []string{"depends_on", AnnotationDependsOn} {
		v, found := meta.annotations[key]
		if !found {
			continue
		}
		deps, err := ParseDependsOn(v, meta.pos)
		if err != nil {
			d.diags = append(d.diags, Diagnostic{Pos: meta.pos, Severity: SeverityError, Rule: RuleInvalidField,
				Message: fmt.Sprintf("OpenSLO Service %q: annotation %s: %v", meta.name, key, err)})
			return
		}
		objs.serviceDeps[meta.name] = deps
		return
	}
}
