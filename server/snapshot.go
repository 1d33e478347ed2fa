// Package server serves slod's HTTP interface: /metrics, /healthz, /readyz,
// the JSON API (/api/v1/slos, /api/v1/incidents) and the server-rendered
// status page at /. It reads the daemon's state through one function that
// returns an immutable Snapshot, so handlers never lock evaluator state.
package server

import (
	"time"

	"github.com/slodhq/slod/burnrate"
)

// Snapshot is everything the HTTP interface shows, taken at one instant.
// The daemon builds a new one after every tick; handlers only read it.
type Snapshot struct {
	At time.Time
	// Ready is false until state is restored and the gap backfilled.
	Ready bool
	// Reason says why the daemon is not ready (for /readyz), or is empty.
	Reason string
	// Incidents are the open incidents, ranked by threat.
	Incidents []burnrate.Incident
	// Recent are recently resolved incidents, newest first.
	Recent []burnrate.Incident
	SLOs   []SLO
	// Source describes the health of the source of event counts.
	Source SourceStatus
	// Problems are things an operator must fix: SLO files skipped at
	// load or reload, notify configuration errors.
	Problems []Problem
	// Shard is "i/n" when the daemon evaluates only a shard, else empty.
	Shard string
	// Banners are damage the daemon recovered from that an operator must
	// know about (a state or outbox file moved aside): shown at the top of
	// the status page and as warnings in /readyz.
	Banners []string
}

// SourceStatus is the health of the source (Prometheus or the embedded engine).
type SourceStatus struct {
	Name string
	// Up is false after a failed query until the next successful one.
	Up          bool
	LastError   string
	LastSuccess time.Time
	// Lag is how far the newest ingested step trails the newest wanted one.
	Lag time.Duration
}

// Problem is one thing an operator must fix.
type Problem struct {
	Where   string // a file path, "notify" or "source"
	Message string
}

// SLO is one SLO with its instances.
type SLO struct {
	ID          string
	Name        string
	Service     string
	Description string
	Objective   float64
	Window      time.Duration
	Policy      string
	Labels      map[string]string
	Instances   []Instance
	// Misconfigured holds the live checks' error findings (file:line:
	// message): the SLO's data cannot mean what its file says, and its
	// instances read "misconfigured" unless they page or ticket.
	Misconfigured []string
}

// Instance is one SLO instance (one label set of a group_by SLO, or the
// single instance of an ungrouped one) with its newest evaluation.
type Instance struct {
	Key    string
	Labels map[string]string
	// Evaluated is false until the first evaluation.
	Evaluated  bool
	Evaluation burnrate.Evaluation
	// Budget is the burndown of the current window: budget remaining after
	// each point in time from the window's start to now, oldest first.
	Budget []BudgetPoint
	// Misconfigured is set when the SLO's live checks found an error.
	Misconfigured bool
}

// BudgetPoint is the share of the window's error budget remaining at At.
type BudgetPoint struct {
	At        time.Time
	Remaining float64
}

// State summarises an instance for tables: "page", "ticket", "nodata",
// "misconfigured", "ok" or "pending" (not evaluated yet). A misconfigured
// SLO (its data cannot mean what its file says) never reads ok, pending
// or plain no data.
func (in Instance) State(incidents []burnrate.Incident) string {
	state := "pending"
	if in.Evaluated {
		state = "ok"
	}
	for _, inc := range incidents {
		if inc.Key != in.Key {
			continue
		}
		switch {
		case inc.Severity == burnrate.SeverityPage && inc.Class == burnrate.ClassBurn:
			return "page"
		case inc.Class == burnrate.ClassBurn:
			state = "ticket"
		case state == "ok" || state == "pending":
			state = "nodata"
		}
	}
	if in.Misconfigured && state != "ticket" {
		return "misconfigured"
	}
	return state
}
