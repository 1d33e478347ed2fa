// Package opsgenie sends pages to the Opsgenie Alert API v2 over net/http:
// create an alert with the dedup key as alias, close it by alias.
package opsgenie

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/notify"
)

// Limits of the Alert API v2.
const (
	MaxMessageRunes     = 130
	MaxAliasRunes       = 512
	MaxDescriptionRunes = 15000
)

// Receiver sends pages to one Opsgenie account (one API key).
type Receiver struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
}

// New returns a receiver for cfg; httpClient and now default to a plain
// client and time.Now.
func New(cfg Config, httpClient *http.Client, now func() time.Time) (*Receiver, error) {
	if !cfg.APIKey.IsSet() {
		return nil, errors.New("opsgenie: api key not set")
	}
	if cfg.URL == "" {
		cfg.URL = USURL
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Priorities == nil {
		cfg.Priorities = map[notify.Severity]string{notify.SeverityPage: "P1", notify.SeverityTicket: "P3"}
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	return &Receiver{cfg: cfg, client: httpClient, now: now}, nil
}

// CreateRequest is the body of POST /v2/alerts.
type CreateRequest struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Description string            `json:"description,omitempty"`
	Responders  []Responder       `json:"responders,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority,omitempty"`
}

// Responder names a team (or user, escalation, schedule) to notify.
type Responder struct {
	Name string `json:"name,omitempty"`
	Type string `json:"type"`
}

// CloseRequest is the body of POST /v2/alerts/{alias}/close.
type CloseRequest struct {
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Send creates (trigger) or closes (resolve) the alert whose alias is
// p.DedupKey. Opsgenie answers 202 and processes the request asynchronously;
// a create with the alias of an open alert only bumps its count.
func (r *Receiver) Send(ctx context.Context, p notify.Page) error {
	header := http.Header{"Authorization": {"GenieKey " + r.cfg.APIKey.Reveal()}}
	var u string
	var body any
	if p.Action == notify.Resolve {
		u = r.cfg.URL + "/v2/alerts/" + url.PathEscape(p.DedupKey) + "/close?identifierType=alias"
		body = CloseRequest{Source: source(p), Note: "resolved by slod: burn rate back under every policy row"}
	} else {
		u = r.cfg.URL + "/v2/alerts"
		body = r.Create(p)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: err}
	}
	return notify.Redact(notify.PostJSON(ctx, r.client, u, b, header, r.now()), r.cfg.APIKey)
}

// Create builds the create-alert request for a trigger.
func (r *Receiver) Create(p notify.Page) CreateRequest {
	pr, ok := r.cfg.Priorities[p.Severity]
	if !ok {
		pr = "P3"
	}
	c := CreateRequest{
		Message:  notify.TrimRunes(p.Summary, MaxMessageRunes),
		Alias:    p.DedupKey,
		Entity:   p.Labels["service"],
		Source:   source(p),
		Priority: pr,
		Tags:     append([]string(nil), r.cfg.Tags...),
		Details:  map[string]string{},
	}
	for _, name := range r.cfg.Responders {
		c.Responders = append(c.Responders, Responder{Name: name, Type: "team"})
	}
	for _, k := range []string{"slo", "service", "team", "severity"} {
		if v := p.Labels[k]; v != "" {
			c.Tags = append(c.Tags, k+":"+v)
		}
	}
	for k, v := range p.Labels {
		c.Details[k] = v
	}
	c.Details["budget_remaining"] = p.Details.BudgetText()
	c.Details["time_to_exhaustion"] = p.Details.ExhaustionText()
	if len(p.Details.Affected) > 0 {
		c.Details["affected"] = p.Details.AffectedText()
	}
	if p.Details.CausedBy != "" {
		c.Details["caused_by"] = p.Details.CausedBy
	}
	windows := make([]string, 0, len(p.Details.Burn))
	for w := range p.Details.Burn {
		windows = append(windows, w)
	}
	sort.Strings(windows)
	for _, w := range windows {
		c.Details["burn_"+w] = fmt.Sprintf("%.3g", p.Details.Burn[w])
	}
	for _, l := range p.Links {
		name := l.Text
		if name == "" {
			name = "link"
		}
		c.Details[name] = l.Href
	}
	var desc strings.Builder
	desc.WriteString(p.Summary)
	if d := p.Annotations["description"]; d != "" {
		desc.WriteString("\n\n" + d)
	}
	for _, l := range p.Links {
		fmt.Fprintf(&desc, "\n%s: %s", l.Text, l.Href)
	}
	c.Description = notify.TrimRunes(desc.String(), MaxDescriptionRunes)
	return c
}

func source(p notify.Page) string {
	if p.Source != "" {
		return p.Source
	}
	return "slod"
}
