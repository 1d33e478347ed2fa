// Package pagerduty sends pages to the PagerDuty Events API v2 through
// github.com/PagerDuty/go-pagerduty: trigger and resolve by dedup_key.
package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/slodhq/slod/notify"
)

// Limits of the Events API v2.
const (
	MaxSummaryRunes = 1024
	MaxEventBytes   = 512 * 1024
)

// Receiver sends pages to one PagerDuty service (one routing key).
type Receiver struct {
	cfg    Config
	client *pagerduty.Client
	now    func() time.Time
}

// New returns a receiver for cfg. httpClient defaults to a client without
// timeout (the dispatcher bounds each attempt); now to time.Now.
func New(cfg Config, httpClient *http.Client, now func() time.Time) (*Receiver, error) {
	if !cfg.RoutingKey.IsSet() {
		return nil, errors.New("pagerduty: routing key not set")
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	if cfg.Severities == nil {
		cfg.Severities = map[notify.Severity]string{notify.SeverityPage: "critical", notify.SeverityTicket: "warning"}
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(cfg.URL))
	c.HTTPClient = notify.CapturingDoer{Client: httpClient}
	return &Receiver{cfg: cfg, client: c, now: now}, nil
}

// Send triggers or resolves the alert p.DedupKey.
func (r *Receiver) Send(ctx context.Context, p notify.Page) error {
	return notify.Redact(r.send(ctx, p), r.cfg.RoutingKey)
}

func (r *Receiver) send(ctx context.Context, p notify.Page) error {
	ev, err := r.Event(p)
	if err != nil {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: err}
	}
	var c notify.Capture
	_, err = r.client.ManageEventWithContext(notify.WithCapture(ctx, &c), ev)
	switch {
	case c.StatusCode != 0:
		// The server answered: classify by status (a 2xx whose body
		// did not decode is still accepted).
		return notify.HTTPError(c.StatusCode, c.Header, c.Body, r.now())
	case c.Err != nil:
		return notify.TransportError(c.Err)
	case err != nil:
		return &notify.SendError{Reason: notify.ReasonOther, Err: err}
	}
	return nil
}

// Event builds the Events API v2 event for p, trimmed to the API's limits:
// the summary to 1024 runes, and custom_details until the event fits 512 KB.
func (r *Receiver) Event(p notify.Page) (*pagerduty.V2Event, error) {
	ev := &pagerduty.V2Event{
		RoutingKey: r.cfg.RoutingKey.Reveal(),
		DedupKey:   p.DedupKey,
		Client:     r.cfg.Client,
		ClientURL:  r.cfg.ClientURL,
	}
	if p.Action == notify.Resolve {
		ev.Action = "resolve"
		return ev, nil
	}
	ev.Action = "trigger"
	sev, ok := r.cfg.Severities[p.Severity]
	if !ok {
		sev = "critical"
	}
	source := p.Source
	if source == "" {
		source = "slod"
	}
	ev.Payload = &pagerduty.V2Payload{
		Summary:   notify.TrimRunes(p.Summary, MaxSummaryRunes),
		Source:    source,
		Severity:  sev,
		Timestamp: p.StartsAt.UTC().Format(time.RFC3339),
		Component: p.Labels["service"],
		Group:     p.Labels["team"],
		Class:     p.Labels["slo"],
	}
	for _, l := range p.Links {
		ev.Links = append(ev.Links, map[string]string{"href": l.Href, "text": l.Text})
	}
	details := customDetails(p)
	ev.Payload.Details = details
	// Trim, never reject: drop the bulkiest optional parts first.
	for _, drop := range []string{"annotations", "extra", "labels", "links", "burn"} {
		n, err := eventSize(ev)
		if err != nil {
			return nil, err
		}
		if n <= MaxEventBytes {
			return ev, nil
		}
		if _, ok := details[drop]; ok {
			delete(details, drop)
			details["trimmed"] = "custom_details shortened to fit PagerDuty's 512 KB event limit"
		}
	}
	if n, _ := eventSize(ev); n > MaxEventBytes {
		ev.Links = nil
		ev.Payload.Details = map[string]any{"trimmed": "custom_details removed to fit PagerDuty's 512 KB event limit"}
	}
	return ev, nil
}

func eventSize(ev *pagerduty.V2Event) (int, error) {
	b, err := json.Marshal(ev)
	return len(b), err
}

func customDetails(p notify.Page) map[string]any {
	d := map[string]any{
		"budget_remaining":   p.Details.BudgetText(),
		"time_to_exhaustion": p.Details.ExhaustionText(),
	}
	if p.Details.Objective > 0 {
		d["objective"] = fmt.Sprintf("%g%%", p.Details.Objective)
	}
	if len(p.Details.Burn) > 0 {
		d["burn"] = p.Details.Burn
	}
	if len(p.Labels) > 0 {
		d["labels"] = p.Labels
	}
	if len(p.Annotations) > 0 {
		d["annotations"] = p.Annotations
	}
	if len(p.Details.Extra) > 0 {
		d["extra"] = p.Details.Extra
	}
	if len(p.Details.Affected) > 0 {
		d["affected"] = p.Details.Affected
	}
	if p.Details.CausedBy != "" {
		d["caused_by"] = p.Details.CausedBy
	}
	if len(p.Links) > 0 {
		links := map[string]string{}
		for _, l := range p.Links {
			name := l.Text
			if name == "" {
				name = l.Href
			}
			links[name] = l.Href
		}
		d["links"] = links
	}
	for _, k := range []string{"slo", "service", "team"} {
		if v := p.Labels[k]; v != "" {
			d[k] = v
		}
	}
	return d
}
