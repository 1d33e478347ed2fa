package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The JSON API's types. They are exported so that clients such as
// `sloctl status` decode exactly what the server encodes. Durations are
// given in seconds and as duration text (slo.FormatDuration); figures are
// burnrate.Figures, so one that is unknown (no data in the window) is null,
// never NaN or a made-up 0, and an infinite one is "+Inf".

// IncidentsResponse is the body of GET /api/v1/incidents.
type IncidentsResponse struct {
	At    time.Time `json:"at"`
	Ready bool      `json:"ready"`
	Shard string    `json:"shard,omitempty"`
	// Incidents are the open incidents, ranked by threat (rank 1 first);
	// a symptom of a root among them is nested under it (Affected).
	Incidents []IncidentJSON `json:"incidents"`
	// Recent are recently resolved incidents, newest first.
	Recent []IncidentJSON `json:"recent"`
}

// IncidentJSON is one incident.
type IncidentJSON struct {
	Rank     int               `json:"rank,omitempty"`
	Key      string            `json:"key"`
	SLO      string            `json:"slo"`
	Labels   map[string]string `json:"labels,omitempty"`
	Class    string            `json:"class"`
	Severity string            `json:"severity"`
	Start    time.Time         `json:"start"`
	Updated  time.Time         `json:"updated"`
	Resolved *time.Time        `json:"resolved,omitempty"`
	// PeakBurn maps a window ("5m", "1h") to the highest burn seen in it.
	PeakBurn map[string]float64 `json:"peak_burn,omitempty"`
	// The budget figures and the burn are null when unknown (an SLI
	// without data), never a made-up 0.
	BudgetAtStart   burnrate.Figure `json:"budget_at_start"`
	BudgetSpent     burnrate.Figure `json:"budget_spent"`
	BudgetRemaining burnrate.Figure `json:"budget_remaining"`
	Burn            burnrate.Figure `json:"burn"`
	// TimeToExhaustionSeconds is "+Inf" when nothing burns
	// (TimeToExhaustion "never") and null when it is unknown
	// (TimeToExhaustion "unknown").
	TimeToExhaustionSeconds burnrate.Figure `json:"time_to_exhaustion_seconds"`
	TimeToExhaustion        string          `json:"time_to_exhaustion"`
	NoDataSeconds           float64         `json:"no_data_seconds,omitempty"`
	// NoDataSince is set while a burn incident's data is missing: the
	// incident stays open and says since when.
	NoDataSince *time.Time `json:"no_data_since,omitempty"`
	IncidentCorrelation
	// Onset is when the burn began (Snapshot.Onsets), and
	// BudgetSpentSinceOnset the budget spent since then; absent when
	// unknown (/api/v1/incidents only).
	Onset                 *time.Time       `json:"onset,omitempty"`
	BudgetSpentSinceOnset *burnrate.Figure `json:"budget_spent_since_onset,omitempty"`
	// Recovering is set while a burn incident is open and no row fires.
	Recovering bool `json:"recovering,omitempty"`
}

// withOnset adds what the snapshot knows of the incident's onset.
func (s *Snapshot) withOnset(j IncidentJSON, inc burnrate.Incident) IncidentJSON {
	j.Recovering = inc.Class == burnrate.ClassBurn && inc.Open() && inc.LastFiring.Before(inc.Updated)
	if o, ok := s.Onsets[OnsetKey(inc)]; ok {
		at := o.At.UTC()
		j.Onset = &at
		if o.BudgetRemaining.Known() && inc.BudgetRemaining.Known() {
			spent := max(0, o.BudgetRemaining-inc.BudgetRemaining)
			j.BudgetSpentSinceOnset = &spent
		}
	}
	return j
}

// SLOsResponse is the body of GET /api/v1/slos: one page of instances,
// grouped by SLO (SLOs by ID, instances by key). An SLO whose instances
// span pages appears on each of them with the instances of that page.
type SLOsResponse struct {
	SLOsHead
	SLOs []SLOJSON `json:"slos"`
}

// SLOsHead is what SLOsResponse says besides its SLOs.
type SLOsHead struct {
	At       time.Time     `json:"at"`
	Ready    bool          `json:"ready"`
	Shard    string        `json:"shard,omitempty"`
	Source   SourceJSON    `json:"source"`
	Problems []ProblemJSON `json:"problems"`
	// Banners are damage the daemon recovered from (see Snapshot.Banners).
	Banners []string `json:"banners"`
	// NextCursor, when set, is the cursor parameter that asks for the next
	// page; it is empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// SourceJSON is the source's health.
type SourceJSON struct {
	Name        string     `json:"name"`
	Up          bool       `json:"up"`
	LastError   string     `json:"last_error,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LagSeconds  float64    `json:"lag_seconds"`
}

// ProblemJSON is one thing an operator must fix.
type ProblemJSON struct {
	Where   string `json:"where"`
	Message string `json:"message"`
}

// SLOJSON is one SLO.
type SLOJSON struct {
	ID            string            `json:"id"`
	Name          string            `json:"name"`
	Service       string            `json:"service"`
	Description   string            `json:"description,omitempty"`
	Objective     float64           `json:"objective"`
	Window        string            `json:"window"`
	WindowSeconds float64           `json:"window_seconds"`
	Policy        string            `json:"policy"`
	Labels        map[string]string `json:"labels,omitempty"`
	// Misconfigured lists the live checks' errors (file:line: message);
	// empty when the SLO's data looks as its file says.
	Misconfigured []string `json:"misconfigured"`
	// Backfilling is true while the SLO's backfill goes on in the
	// background: it is not evaluated yet.
	Backfilling bool `json:"backfilling"`
	// Counts are all the SLO's instances by state, whatever the filters.
	Counts Counts `json:"counts"`
	// Matching are the instances the state and labels filters select, by
	// state: set in a summary (summary=1) that has such filters.
	Matching *Counts `json:"matching,omitempty"`
	// WorstBudgetRemaining is the lowest budget remaining of its
	// instances; null when none is known.
	WorstBudgetRemaining burnrate.Figure `json:"worst_budget_remaining"`
	// Instances are the instances of this page; none in a summary.
	Instances []InstanceJSON `json:"instances,omitempty"`
}

// InstanceJSON is one SLO instance and its newest evaluation.
type InstanceJSON struct {
	Key    string            `json:"key"`
	Labels map[string]string `json:"labels,omitempty"`
	// State is "page", "ticket", "misconfigured", "nodata", "ok" or
	// "pending" (not evaluated yet).
	State string    `json:"state"`
	At    time.Time `json:"at,omitzero"`
	// BudgetRemaining and WindowBurn are null until evaluated and when no
	// step of the window is known.
	BudgetRemaining burnrate.Figure `json:"budget_remaining"`
	WindowBurn      burnrate.Figure `json:"window_burn"`
	NoDataSeconds   float64         `json:"no_data_seconds"`
	// Excluded names the budget exclusion the evaluation fell in, if any.
	Excluded string    `json:"excluded,omitempty"`
	Rows     []RowJSON `json:"rows"`
}

// RowJSON is one policy row's evaluation.
type RowJSON struct {
	Severity string  `json:"severity"`
	Long     string  `json:"long"`
	Short    string  `json:"short"`
	Factor   float64 `json:"factor"`
	// LongBurn and ShortBurn are null when their window holds no known step.
	LongBurn  burnrate.Figure `json:"long_burn"`
	ShortBurn burnrate.Figure `json:"short_burn"`
	Fires     bool            `json:"fires"`
}

// round is Round of a figure; an unknown one stays unknown.
func round(f burnrate.Figure) burnrate.Figure { return burnrate.Figure(Round(float64(f))) }

// Round keeps six significant digits: prefix sums leave float noise such as
// 4.000000000000286 that says nothing to a reader.
func Round(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 6, 64), 64)
	if err != nil {
		return x
	}
	return r
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// NewIncidentJSON converts an incident; rank is its 1-based place in the
// ranked list, or 0 for a resolved one.
func NewIncidentJSON(inc burnrate.Incident, rank int) IncidentJSON {
	out := IncidentJSON{
		Rank:            rank,
		Key:             inc.Key,
		SLO:             inc.SLO,
		Labels:          inc.Labels,
		Class:           string(inc.Class),
		Severity:        string(inc.Severity),
		Start:           inc.Start,
		Updated:         inc.Updated,
		BudgetAtStart:   round(inc.BudgetAtStart),
		BudgetSpent:     round(inc.BudgetSpent),
		BudgetRemaining: round(inc.BudgetRemaining),
		Burn:            round(inc.Burn),
		// Whole seconds: the sub-second part of a forecast says nothing.
		TimeToExhaustionSeconds: burnrate.Figure(math.Round(float64(inc.TimeToExhaustion))),
		TimeToExhaustion:        burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion),
		NoDataSeconds:           inc.NoDataFor.Seconds(),
		IncidentCorrelation:     newIncidentCorrelation(inc),
	}
	if !inc.NoDataSince.IsZero() {
		t := inc.NoDataSince
		out.NoDataSince = &t
	}
	if !inc.Open() {
		r := inc.Resolved
		out.Resolved = &r
	}
	if len(inc.PeakBurn) > 0 {
		out.PeakBurn = map[string]float64{}
		for _, p := range inc.PeakBurn {
			out.PeakBurn[slo.FormatDuration(p.Window)] = Round(p.Burn)
		}
	}
	return out
}

// NewIncidentsResponse builds the /api/v1/incidents body from a snapshot.
func NewIncidentsResponse(s *Snapshot) IncidentsResponse {
	out := IncidentsResponse{At: s.At, Ready: s.Ready, Shard: s.Shard,
		Incidents: []IncidentJSON{}, Recent: []IncidentJSON{}}
	out.Incidents = s.rankedIncidents(s.Incidents)
	for _, inc := range s.Recent {
		out.Recent = append(out.Recent, s.withOnset(NewIncidentJSON(inc, 0), inc))
	}
	return out
}

// NewSLOsResponse builds the whole /api/v1/slos body from a snapshot: every
// SLO with every instance, on one page. The server streams pages instead
// (Server.slos); this is for callers that hold a snapshot.
func NewSLOsResponse(s *Snapshot) SLOsResponse {
	out := SLOsResponse{SLOsHead: newSLOsHead(s), SLOs: []SLOJSON{}}
	for i := range s.SLOs {
		js := newSLOJSON(s, i)
		js.Instances = []InstanceJSON{}
		for j := range s.SLOs[i].Instances {
			js.Instances = append(js.Instances, newInstanceJSON(&s.SLOs[i].Instances[j], s.State(i, j)))
		}
		out.SLOs = append(out.SLOs, js)
	}
	return out
}

func newSLOsHead(s *Snapshot) SLOsHead {
	out := SLOsHead{At: s.At, Ready: s.Ready, Shard: s.Shard,
		Problems: []ProblemJSON{}, Banners: append([]string{}, s.Banners...)}
	out.Source = SourceJSON{Name: s.Source.Name, Up: s.Source.Up, LastError: s.Source.LastError,
		LagSeconds: s.Source.Lag.Seconds()}
	if !s.Source.LastSuccess.IsZero() {
		t := s.Source.LastSuccess
		out.Source.LastSuccess = &t
	}
	for _, p := range s.Problems {
		out.Problems = append(out.Problems, ProblemJSON(p))
	}
	return out
}

// newSLOJSON converts SLO i of s without its instances.
func newSLOJSON(s *Snapshot, i int) SLOJSON {
	sl := &s.SLOs[i]
	x := s.index()
	return SLOJSON{ID: sl.ID, Name: sl.Name, Service: sl.Service, Description: sl.Description,
		Objective: sl.Objective, Window: slo.FormatDuration(sl.Window), WindowSeconds: sl.Window.Seconds(),
		Policy: sl.Policy, Labels: sl.Labels, Misconfigured: append([]string{}, sl.Misconfigured...), Backfilling: sl.Backfilling,
		Counts: x.counts[i], WorstBudgetRemaining: round(x.worst[i])}
}

func newInstanceJSON(in *Instance, st State) InstanceJSON {
	ji := InstanceJSON{Key: in.Key, Labels: in.Labels, State: st.String(), Rows: []RowJSON{},
		BudgetRemaining: burnrate.Unknown(), WindowBurn: burnrate.Unknown()}
	if in.Evaluated {
		ev := in.Evaluation
		ji.At = ev.At
		ji.BudgetRemaining = round(ev.BudgetRemaining)
		ji.WindowBurn = round(ev.WindowBurn)
		ji.NoDataSeconds = ev.NoDataFor.Seconds()
		ji.Excluded = ev.Excluded
		for _, r := range ev.Rows {
			ji.Rows = append(ji.Rows, RowJSON{
				Severity: string(r.Row.Severity), Long: slo.FormatDuration(r.Row.Long),
				Short: slo.FormatDuration(r.Row.Short), Factor: Round(r.Factor),
				LongBurn: round(r.LongBurn), ShortBurn: round(r.ShortBurn), Fires: r.Fires,
			})
		}
	}
	return ji
}

// slos serves GET /api/v1/slos: a page of at most limit instances after
// cursor, selected by the filter parameters (parseFilter), streamed one
// instance at a time; or, with summary=1, every selected SLO with its
// counts by state and no instances.
func (s *Server) slos(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot(r)
	q := r.URL.Query()
	f, err := parseFilter(q)
	errs := []error{err}
	limit := DefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("limit %q: want a number of instances from 1 to %d", v, MaxLimit))
		}
		limit = min(max(n, 1), MaxLimit)
	}
	var c cursor
	if v := q.Get("cursor"); v != "" {
		if c, err = parseCursor(v); err != nil {
			errs = append(errs, fmt.Errorf("cursor %q: %w", v, err))
		}
	}
	summary := false
	if v := q.Get("summary"); v != "" {
		if summary, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("summary %q: want 1 or 0", v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	head := newSLOsHead(snap)
	var page []ref
	if !summary {
		snap.walk(f, c, func(r ref) bool {
			if len(page) == limit {
				last := page[len(page)-1]
				next := cursor{slo: snap.SLOs[last.slo].ID}
				if last.inst >= 0 {
					next.key = snap.SLOs[last.slo].Instances[last.inst].Key
				}
				head.NextCursor = next.String()
				return false
			}
			page = append(page, r)
			return true
		})
	}
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	var werr error
	if summary {
		werr = writeSummary(bw, snap, f, head)
	} else {
		werr = writePage(bw, snap, page, head)
	}
	if werr == nil {
		werr = bw.Flush()
	}
	if werr != nil {
		// The status line is gone: all that is left is to stop and say why.
		s.opts.Logger.Warn("write /api/v1/slos", "err", werr)
	}
}

// writePage writes an SLOsResponse holding the instances of page, which
// are grouped by SLO, one instance encoded at a time.
func writePage(w *bufio.Writer, snap *Snapshot, page []ref, head SLOsHead) error {
	enc := json.NewEncoder(w)
	if err := openObject(w, head); err != nil {
		return err
	}
	w.WriteString(`,"slos":[`)
	for i, r := range page {
		first := i == 0 || page[i-1].slo != r.slo
		if first {
			if i > 0 {
				w.WriteString("]},\n")
			}
			if err := openObject(w, newSLOJSON(snap, int(r.slo))); err != nil {
				return err
			}
			w.WriteString(`,"instances":[`)
		}
		if r.inst < 0 {
			continue // an SLO without instances
		}
		if !first {
			w.WriteByte(',')
		}
		if err := enc.Encode(newInstanceJSON(&snap.SLOs[r.slo].Instances[r.inst], snap.State(int(r.slo), int(r.inst)))); err != nil {
			return err
		}
	}
	if len(page) > 0 {
		w.WriteString("]}")
	}
	_, err := w.WriteString("]}\n")
	return err
}

// writeSummary writes an SLOsResponse of the SLOs the filter selects, with
// their counts and without instances.
func writeSummary(w *bufio.Writer, snap *Snapshot, f filter, head SLOsHead) error {
	x := snap.index()
	if err := openObject(w, head); err != nil {
		return err
	}
	w.WriteString(`,"slos":[`)
	enc := json.NewEncoder(w)
	n := 0
	for _, i := range x.sloOrder {
		sl := &snap.SLOs[i]
		if !f.matchSLO(sl) {
			continue
		}
		js := newSLOJSON(snap, int(i))
		if f.instances() {
			js.Matching = &Counts{}
			for j := range sl.Instances {
				if st := x.states[i][j]; f.matchInstance(sl, &sl.Instances[j], st) {
					js.Matching.add(st)
				}
			}
		}
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		if err := enc.Encode(js); err != nil {
			return err
		}
	}
	_, err := w.WriteString("]}\n")
	return err
}

// openObject writes v, a struct encoded as a JSON object with at least one
// field, without its closing brace, so that more fields can follow.
func openObject(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) < 3 || b[0] != '{' || b[len(b)-1] != '}' {
		return fmt.Errorf("open object: %s is no JSON object with fields", b)
	}
	_, err = w.Write(b[:len(b)-1])
	return err
}
