// Package notify delivers pages to on-call tools: a routing tree picks the
// receivers for a page, a durable bbolt outbox keeps every page until its
// receiver has accepted it, and per-receiver workers retry with backoff behind
// a circuit breaker. Receivers live in subpackages; notify imports no other
// package of slod and owns its input type, Page.
package notify

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Action says whether a page opens (or refreshes) an alert or closes it.
type Action string

// Actions understood by every receiver.
const (
	Trigger Action = "trigger"
	Resolve Action = "resolve"
)

// Severity is the alert class of a page: a page wakes someone up, a ticket
// can wait for working hours.
type Severity string

// Severities a page can carry.
const (
	SeverityPage   Severity = "page"
	SeverityTicket Severity = "ticket"
)

// Page is one notification: a trigger or a resolve of the alert named by
// DedupKey. Receivers map it to their wire format; the same DedupKey is sent
// as PagerDuty's dedup_key, Opsgenie's alias and Alertmanager's label set, so
// a resend after a crash or from a second replica merges into one incident.
type Page struct {
	DedupKey string   `json:"dedup_key"`
	Action   Action   `json:"action"`
	Severity Severity `json:"severity"`
	// Summary is a one-line description; receivers trim it to their limit.
	Summary string `json:"summary"`
	// Labels identify the alert and drive routing: slo, service, team and any
	// user labels. The routing tree also sees "severity" (from Severity) when
	// Labels has none, and ClassLabel (from Severity) always.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations carry free text such as description; they do not route.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Links are shown by the receiver next to the alert (runbook, dashboard).
	Links   []Link  `json:"links,omitempty"`
	Details Details `json:"details"`
	// StartsAt is when the burn began; EndsAt is set on a resolve.
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Source names the sender (for example the slod host), optional.
	Source string `json:"source,omitempty"`
}

// Link is a URL shown with the alert.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// Details are the figures an on-call engineer needs to judge the threat.
type Details struct {
	// Burn is the burn rate per window, keyed by the window ("1h", "5m").
	Burn map[string]float64 `json:"burn,omitempty"`
	// BudgetRemaining is the fraction of the error budget left over the SLO
	// window (1 = untouched, 0 = spent, negative = overspent); nil when it
	// is unknown (no data), never shown as 0.
	BudgetRemaining *float64 `json:"budget_remaining"`
	// TimeToExhaustion is how long the remaining budget lasts at the current
	// burn; zero when it is already spent; nil when it is unknown or the
	// budget is not burning (Extra["time_to_exhaustion"] may say which).
	// On the wire it is time_to_exhaustion_seconds.
	TimeToExhaustion *time.Duration `json:"-"`
	// Objective is the SLO target in percent, for display.
	Objective float64 `json:"objective,omitempty"`
	// Extra holds any further figures as text.
	Extra map[string]string `json:"extra,omitempty"`
	// Affected and CausedBy carry dependency correlation (affected.go).
	Affected []Affected `json:"affected,omitempty"`
	CausedBy string     `json:"caused_by,omitempty"`
}

// BudgetText renders BudgetRemaining for a human: "42.00%" or "unknown".
func (d Details) BudgetText() string {
	if d.BudgetRemaining == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f%%", *d.BudgetRemaining*100)
}

// ExhaustionText renders TimeToExhaustion for a human: "3h20m0s",
// "budget exhausted", or the sender's own word for a missing figure
// (Extra["time_to_exhaustion"], such as "never"), else "unknown".
func (d Details) ExhaustionText() string {
	switch {
	case d.TimeToExhaustion == nil:
		if t := d.Extra["time_to_exhaustion"]; t != "" {
			return t
		}
		return "unknown"
	case *d.TimeToExhaustion <= 0:
		return "budget exhausted"
	}
	return d.TimeToExhaustion.Round(time.Second).String()
}

// detailsJSON is Details as JSON: durations in seconds, as webhook consumers
// and the outbox read them; unknown figures are null.
type detailsJSON struct {
	Burn                    map[string]float64 `json:"burn,omitempty"`
	BudgetRemaining         *float64           `json:"budget_remaining"`
	TimeToExhaustionSeconds *float64           `json:"time_to_exhaustion_seconds"`
	Objective               float64            `json:"objective,omitempty"`
	Extra                   map[string]string  `json:"extra,omitempty"`
	Affected                []Affected         `json:"affected,omitempty"`
	CausedBy                string             `json:"caused_by,omitempty"`
}

// MarshalJSON writes TimeToExhaustion as time_to_exhaustion_seconds.
func (d Details) MarshalJSON() ([]byte, error) {
	j := detailsJSON{Burn: d.Burn, BudgetRemaining: d.BudgetRemaining, Objective: d.Objective, Extra: d.Extra,
		Affected: d.Affected, CausedBy: d.CausedBy}
	if d.TimeToExhaustion != nil {
		secs := d.TimeToExhaustion.Seconds()
		j.TimeToExhaustionSeconds = &secs
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Details) UnmarshalJSON(b []byte) error {
	var j detailsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Details{Burn: j.Burn, BudgetRemaining: j.BudgetRemaining, Objective: j.Objective, Extra: j.Extra,
		Affected: j.Affected, CausedBy: j.CausedBy}
	if j.TimeToExhaustionSeconds != nil {
		tte := time.Duration(*j.TimeToExhaustionSeconds * float64(time.Second))
		d.TimeToExhaustion = &tte
	}
	return nil
}

// DedupKey returns a stable key for the given parts (for example SLO id,
// instance labels in sorted order and alert class): the hex SHA-256 of the
// length-prefixed parts, cut to 32 characters. The same parts always give the
// same key, on any replica and after any restart.
func DedupKey(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Validate reports what makes p unsendable.
func (p Page) Validate() error {
	var errs []error
	if p.DedupKey == "" {
		errs = append(errs, errors.New("empty dedup key"))
	} else if len(p.DedupKey) > 255 {
		errs = append(errs, fmt.Errorf("dedup key longer than 255 bytes (%d)", len(p.DedupKey)))
	}
	switch p.Action {
	case Trigger:
		if p.Summary == "" {
			errs = append(errs, errors.New("trigger without summary"))
		}
		if p.Severity != SeverityPage && p.Severity != SeverityTicket {
			errs = append(errs, fmt.Errorf("severity %q is neither %q nor %q", p.Severity, SeverityPage, SeverityTicket))
		}
	case Resolve:
	default:
		errs = append(errs, fmt.Errorf("action %q is neither %q nor %q", p.Action, Trigger, Resolve))
	}
	return errors.Join(errs...)
}

// ClassLabel is the label that carries a page's Severity (page or ticket)
// for routing: always the page's own class, whatever its labels say, so a
// route on slod_severity: page matches every page even when the SLO sets
// its own severity label (severity: critical) for other tools.
const ClassLabel = "slod_severity"

// RouteLabels returns the labels the routing tree matches: Labels, plus
// "severity" from Severity when Labels does not set it, plus ClassLabel
// from Severity, always.
func (p Page) RouteLabels() map[string]string {
	out := make(map[string]string, len(p.Labels)+2)
	for k, v := range p.Labels {
		out[k] = v
	}
	if p.Severity != "" {
		if _, ok := out["severity"]; !ok {
			out["severity"] = string(p.Severity)
		}
		out[ClassLabel] = string(p.Severity)
	}
	return out
}

// TrimRunes cuts s to at most n runes, ending with "…" when cut.
func TrimRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
