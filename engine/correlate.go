package engine

import (
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Correlation configures dependency correlation (docs/incidents.md).
type Correlation struct {
	// Policy applies to the depends_on edges that name none (default
	// slo.DefaultDependencyPolicy, suppress); off turns such edges off.
	Policy slo.DependencyPolicy
	// Grace is how much later than a dependent's burn an upstream burn may
	// begin and still be its cause; a dependent with no burning upstream
	// holds its page this long. Zero is burnrate.DefaultGrace; negative
	// is no grace (nothing is held; an upstream must already burn).
	Grace time.Duration
}

func (c Correlation) grace() time.Duration {
	switch {
	case c.Grace < 0:
		return 0
	case c.Grace == 0:
		return burnrate.DefaultGrace
	}
	return c.Grace
}

// buildGraph builds the dependency graph of the running SLOs and the order
// a tick evaluates them in: every SLO after the SLOs it depends on, so a
// root's incident opened in a tick is seen by its dependents in that tick.
func (e *Engine) buildGraph() {
	specs := make([]*slo.Spec, 0, len(e.ids))
	pos := make(map[string]int, len(e.ids))
	for i, id := range e.ids {
		specs = append(specs, e.slos[id].spec)
		pos[id] = i
	}
	e.graph = slo.NewGraph(specs, e.o.Correlation.Policy)
	e.order = e.order[:0]
	for _, id := range e.graph.Order() {
		e.order = append(e.order, pos[id])
	}
}

// correlate passes the incident changes of an evaluation of SLO id (""
// for resolves of no evaluation) through the tracker's correlation.
func (e *Engine) correlate(id string, changes []burnrate.Change, at time.Time) []burnrate.Change {
	return e.tracker.Correlate(burnrate.CorrelationOptions{Graph: e.graph, Grace: e.o.Correlation.grace()}, id, changes, at)
}

// Graph is the dependency graph of the running SLOs.
func (e *Engine) Graph() *slo.Graph { return e.graph }
