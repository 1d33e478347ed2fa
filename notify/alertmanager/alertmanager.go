// Package alertmanager posts pages to an Alertmanager (API v2) so teams keep
// their routing, silences and inhibition. A resolve is the same alert with
// endsAt set.
package alertmanager

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/slodhq/slod/notify"
)

// DefaultAlertname names the alert when the page's labels carry none.
const DefaultAlertname = "SLOBurnRate"

// RefreshInterval is how often firing alerts are sent again: Alertmanager
// resolves an alert that is not re-sent within its resolve_timeout (5m by
// default), as Prometheus re-sends every minute.
const RefreshInterval = time.Minute

// Receiver posts to one Alertmanager.
type Receiver struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
}

// New returns a receiver for cfg.
func New(cfg Config, httpClient *http.Client, now func() time.Time) *Receiver {
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if now == nil {
		now = time.Now
	}
	return &Receiver{cfg: cfg, client: httpClient, now: now}
}

// Alert is one element of the POST /api/v2/alerts body.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Refresh reports how often the dispatcher should re-send firing alerts.
func (r *Receiver) Refresh() time.Duration { return RefreshInterval }

// Send posts p as a one-alert array.
func (r *Receiver) Send(ctx context.Context, p notify.Page) error {
	b, err := json.Marshal([]Alert{r.Alert(p)})
	if err != nil {
		return &notify.SendError{Reason: notify.ReasonInvalid, Permanent: true, Err: err}
	}
	return notify.PostJSON(ctx, r.client, r.cfg.URL+"/api/v2/alerts", b, nil, r.now())
}

// AlertID returns the identity Alertmanager gives the page's alert: its
// label set (with alertname and severity), in a canonical form. An
// escalation from ticket to page changes it, so the dispatcher ends the
// ticket alert before firing the page (notify.AlertIdentifier).
func (r *Receiver) AlertID(p notify.Page) string {
	b, _ := json.Marshal(r.Alert(p).Labels) // map keys are sorted
	return string(b)
}

// Alert maps a page to an Alertmanager alert. Its labels (the alert's
// identity in Alertmanager) are the page's labels plus alertname and
// severity, so a resolve carrying the same labels ends the same alert.
func (r *Receiver) Alert(p notify.Page) Alert {
	a := Alert{
		Labels:       p.RouteLabels(),
		Annotations:  map[string]string{},
		StartsAt:     p.StartsAt.UTC(),
		GeneratorURL: r.cfg.GeneratorURL,
	}
	if a.Labels["alertname"] == "" {
		a.Labels["alertname"] = DefaultAlertname
	}
	for k, v := range p.Annotations {
		a.Annotations[k] = v
	}
	if p.Summary != "" {
		a.Annotations["summary"] = p.Summary
	}
	if len(p.Details.Affected) > 0 {
		a.Annotations["affected"] = p.Details.AffectedText()
	}
	if p.Details.CausedBy != "" {
		a.Annotations["caused_by"] = p.Details.CausedBy
	}
	for _, l := range p.Links {
		switch strings.ToLower(l.Text) {
		case "runbook":
			a.Annotations["runbook_url"] = l.Href
		case "dashboard":
			a.Annotations["dashboard_url"] = l.Href
		}
	}
	if p.Action == notify.Resolve {
		a.EndsAt = p.EndsAt.UTC()
		if p.EndsAt.IsZero() {
			a.EndsAt = r.now().UTC()
		}
	}
	return a
}
