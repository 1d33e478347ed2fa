package notify

import (
	"errors"
	"fmt"
	"regexp"
)

// Router is a routing tree compiled from a Route: regular expressions
// compiled, receivers inherited. It is the only way to route a page, so a
// Route whose match_re was never compiled cannot match by mistake. It is
// immutable and safe for concurrent use.
type Router struct {
	root *routeNode
}

type routeNode struct {
	receiver string
	eq       map[string]string
	re       map[string]*regexp.Regexp
	cont     bool
	children []*routeNode
}

// NewRouter compiles the routing tree r. A child without a receiver inherits
// its parent's; match_re expressions are fully anchored. It reports every
// expression that does not compile (ParseConfig reports them with their
// file positions first).
func NewRouter(r *Route) (*Router, error) {
	if r == nil {
		return nil, errors.New("notify: no route")
	}
	var errs []error
	root := compileRoute(r, "", "route", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Router{root: root}, nil
}

func compileRoute(r *Route, inherited, path string, errs *[]error) *routeNode {
	n := &routeNode{receiver: r.Receiver, eq: r.Match, cont: r.Continue}
	if n.receiver == "" {
		n.receiver = inherited
	}
	for _, k := range sortedKeys(r.MatchRE) {
		re, err := compileMatchRE(r.MatchRE[k])
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: match_re %s: %w", path, k, err))
			continue
		}
		if n.re == nil {
			n.re = map[string]*regexp.Regexp{}
		}
		n.re[k] = re
	}
	for i, c := range r.Routes {
		if c == nil {
			*errs = append(*errs, fmt.Errorf("%s.routes[%d]: empty child route", path, i))
			continue
		}
		n.children = append(n.children, compileRoute(c, n.receiver, fmt.Sprintf("%s.routes[%d]", path, i), errs))
	}
	return n
}

// compileMatchRE anchors a match_re expression at both ends, as
// Alertmanager does.
func compileMatchRE(expr string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + expr + ")$")
}

// Receivers returns the receivers the routing tree picks for a page's labels,
// each once, in the order the tree reaches them. The root route always
// matches, so the result is never empty for a validated config.
func (rt *Router) Receivers(labels map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range rt.root.match(labels) {
		if !seen[m.receiver] {
			seen[m.receiver] = true
			out = append(out, m.receiver)
		}
	}
	return out
}

// Receivers compiles r and routes labels through it; nil when r does not
// compile.
//
// Deprecated: compile once with NewRouter (or Config.Router) and use
// Router.Receivers.
func (r *Route) Receivers(labels map[string]string) []string {
	rt, err := NewRouter(r)
	if err != nil {
		return nil
	}
	return rt.Receivers(labels)
}

func (n *routeNode) match(labels map[string]string) []*routeNode {
	if !n.matches(labels) {
		return nil
	}
	var all []*routeNode
	for _, child := range n.children {
		m := child.match(labels)
		all = append(all, m...)
		if len(m) > 0 && !child.cont {
			break
		}
	}
	if len(all) == 0 {
		return []*routeNode{n}
	}
	return all
}

// matches reports whether every matcher of n holds; a missing label matches
// only the empty string, as in Alertmanager.
func (n *routeNode) matches(labels map[string]string) bool {
	for k, v := range n.eq {
		if labels[k] != v {
			return false
		}
	}
	for k, re := range n.re {
		if !re.MatchString(labels[k]) {
			return false
		}
	}
	return true
}
