package server

import (
	"time"

	"github.com/slodhq/slod/burnrate"
)

// IncidentCorrelation is what dependency correlation adds to an incident
// in the API (docs/incidents.md): a symptom names its root (caused_by)
// and whether it paged; a root lists its symptoms, and in
// /api/v1/incidents carries its open symptom incidents nested (affected).
type IncidentCorrelation struct {
	CausedBy *CauseJSON `json:"caused_by,omitempty"`
	// Paged says whether a page-severity notification of the incident
	// reached the receivers (a suppressed symptom's did not).
	Paged bool `json:"paged"`
	// Suppressed is set while the incident is a symptom whose root's page
	// speaks for it.
	Suppressed bool `json:"suppressed,omitempty"`
	// HeldUntil is set while the incident's page waits for an upstream
	// cause (the correlation grace).
	HeldUntil *time.Time `json:"held_until,omitempty"`
	// Symptoms are the incidents correlated with this root, as its page
	// lists them; SymptomCount counts all of them.
	Symptoms     []burnrate.Symptom `json:"symptoms,omitempty"`
	SymptomCount int                `json:"symptom_count,omitempty"`
	// Affected are, in /api/v1/incidents, the open symptom incidents of
	// this root, ranked; they are not listed again at the top level.
	Affected []IncidentJSON `json:"affected,omitempty"`
}

// CauseJSON names a symptom's root incident.
type CauseJSON struct {
	SLO    string            `json:"slo"`
	Key    string            `json:"key"`
	Labels map[string]string `json:"labels,omitempty"`
	Start  time.Time         `json:"start"`
	Policy string            `json:"policy"`
	// RootResolved is set when the root resolved while this incident was
	// still open: it then pages on its own if it still burns.
	RootResolved *time.Time `json:"root_resolved,omitempty"`
}

func newIncidentCorrelation(inc burnrate.Incident) IncidentCorrelation {
	out := IncidentCorrelation{Paged: inc.Paged, Suppressed: inc.Suppressed, SymptomCount: inc.SymptomCount}
	if len(inc.Symptoms) > 0 {
		out.Symptoms = inc.Symptoms
	}
	if !inc.HeldUntil.IsZero() {
		t := inc.HeldUntil
		out.HeldUntil = &t
	}
	if c := inc.CausedBy; c != nil {
		out.CausedBy = &CauseJSON{SLO: c.SLO, Key: c.Key, Labels: c.Labels, Start: c.Start, Policy: string(c.Policy)}
		if !c.RootResolved.IsZero() {
			t := c.RootResolved
			out.CausedBy.RootResolved = &t
		}
	}
	return out
}

// rankedIncidents renders open incidents nested (burnrate.Nest): roots
// ranked by threat, each with its open symptoms under Affected.
func (s *Snapshot) rankedIncidents(incs []burnrate.Incident) []IncidentJSON {
	out := make([]IncidentJSON, 0, len(incs))
	if !correlated(incs) {
		for i, inc := range incs {
			out = append(out, s.withOnset(NewIncidentJSON(inc, i+1), inc))
		}
		return out
	}
	for i, g := range burnrate.Nest(incs) {
		js := s.withOnset(NewIncidentJSON(g.Root, i+1), g.Root)
		for _, sym := range g.Symptoms {
			js.Affected = append(js.Affected, s.withOnset(NewIncidentJSON(sym, 0), sym))
		}
		out = append(out, js)
	}
	return out
}

// nested is one row of the status page's incident table: a root with its
// rank, or a symptom under it (rank 0).
type nested struct {
	inc  burnrate.Incident
	rank int
}

// nestedIncidents orders open incidents as burnrate.Nest groups them:
// each root, ranked, followed by its open symptoms.
func nestedIncidents(incs []burnrate.Incident) []nested {
	out := make([]nested, 0, len(incs))
	if !correlated(incs) {
		for i, inc := range incs {
			out = append(out, nested{inc, i + 1})
		}
		return out
	}
	for i, g := range burnrate.Nest(incs) {
		out = append(out, nested{g.Root, i + 1})
		for _, s := range g.Symptoms {
			out = append(out, nested{s, 0})
		}
	}
	return out
}

// causeView gives the status page an incident's root ("" for none),
// whether it paged, and how many dependent instances burn with it.
func causeView(inc burnrate.Incident) (string, bool, int) {
	cause := ""
	if c := inc.CausedBy; c != nil {
		cause = c.SLO
		if len(c.Labels) > 0 {
			cause += " " + FormatLabels(c.Labels)
		}
	}
	return cause, inc.Paged, inc.SymptomCount
}

// correlated reports whether any open incident is a symptom: without one,
// the snapshot's ranked order is the nested order, and a large fleet's
// page skips re-ranking.
func correlated(incs []burnrate.Incident) bool {
	for i := range incs {
		if incs[i].CausedBy != nil {
			return true
		}
	}
	return false
}
