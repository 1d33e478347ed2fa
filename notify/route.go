package notify

// Receivers returns the receivers the routing tree picks for a page's labels,
// each once, in the order the tree reaches them. The root route always
// matches, so the result is never empty for a validated config.
func (r *Route) Receivers(labels map[string]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range r.match(labels) {
		if !seen[m.Receiver] {
			seen[m.Receiver] = true
			out = append(out, m.Receiver)
		}
	}
	return out
}

func (r *Route) match(labels map[string]string) []*Route {
	if !r.matches(labels) {
		return nil
	}
	var all []*Route
	for _, child := range r.Routes {
		m := child.match(labels)
		all = append(all, m...)
		if len(m) > 0 && !child.Continue {
			break
		}
	}
	if len(all) == 0 {
		return []*Route{r}
	}
	return all
}

// matches reports whether every matcher of r holds; a missing label matches
// only the empty string, as in Alertmanager.
func (r *Route) matches(labels map[string]string) bool {
	for k, v := range r.Match {
		if labels[k] != v {
			return false
		}
	}
	for k, re := range r.re {
		if !re.MatchString(labels[k]) {
			return false
		}
	}
	return true
}
