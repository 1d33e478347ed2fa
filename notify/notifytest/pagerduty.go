package notifytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// PDEvent is an Events API v2 event as the server received it.
type PDEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []PDLink   `json:"links,omitempty"`
	Images      []any      `json:"images,omitempty"`
	Payload     *PDPayload `json:"payload,omitempty"`
	// Size is the body length in bytes.
	Size int `json:"-"`
}

// PDLink is a link of an event.
type PDLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// PDPayload is an event's payload.
type PDPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Incident is an alert opened by a trigger and closed by a resolve of the
// same dedup key (PagerDuty groups both under one dedup key while it is open).
type Incident struct {
	ID       string
	DedupKey string
	Opened   time.Time
	Resolved bool
	// Triggers counts the triggers merged into it (the first included).
	Triggers int
	// Last is the latest trigger merged into it.
	Last PDEvent
}

// PagerDuty is a local Events API v2 server (POST /v2/enqueue). It validates
// events as the API documents: routing_key (a 32-character key in
// RoutingKeys when that is set), event_action trigger|acknowledge|resolve,
// dedup_key up to 255 characters (required for acknowledge and resolve), a
// trigger's payload with summary (1..1024 characters), source and severity
// (critical, error, warning, info), a body up to 512 KB. Valid events get
// 202 {"status":"success","message":"Event processed","dedup_key":...};
// invalid ones 400 {"status":"invalid event",...}. A trigger whose dedup key
// has an open incident merges into it; after a resolve the next trigger
// opens a new incident.
type PagerDuty struct {
	faults
	srv *httptest.Server
	// RoutingKeys, when non-empty, are the only keys accepted.
	RoutingKeys map[string]bool

	mu        sync.Mutex
	events    []PDEvent
	incidents []*Incident
	open      map[string]*Incident
	rejected  []string
}

// NewPagerDuty starts a server on 127.0.0.1 accepting the given routing keys
// (any key when none are given). Close it when done.
func NewPagerDuty(routingKeys ...string) *PagerDuty {
	p := &PagerDuty{open: map[string]*Incident{}, RoutingKeys: map[string]bool{}}
	for _, k := range routingKeys {
		p.RoutingKeys[k] = true
	}
	p.srv = newLocalServer(http.HandlerFunc(p.serve))
	return p
}

// URL is the base URL to configure (the events endpoint is URL+"/v2/enqueue").
func (p *PagerDuty) URL() string { return p.srv.URL }

// Close stops the server, releasing hanging requests first.
func (p *PagerDuty) Close() {
	p.Release()
	p.srv.CloseClientConnections()
	p.srv.Close()
}

func (p *PagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	p.faults.serve(w, r, p.handle)
}

func (p *PagerDuty) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	invalid := func(msg string) {
		p.mu.Lock()
		p.rejected = append(p.rejected, msg)
		p.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}})
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		invalid(fmt.Sprintf("Content-Type %q is not application/json", ct))
		return
	}
	if len(body) > 512*1024 {
		invalid(fmt.Sprintf("event of %d bytes exceeds 512 KB", len(body)))
		return
	}
	var ev PDEvent
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		invalid("malformed JSON: " + err.Error())
		return
	}
	ev.Size = len(body)
	if msg := p.validate(&ev); msg != "" {
		invalid(msg)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.DedupKey == "" {
		ev.DedupKey = randomID()
	}
	p.events = append(p.events, ev)
	inc := p.open[ev.DedupKey]
	switch ev.EventAction {
	case "trigger":
		if inc == nil {
			inc = &Incident{ID: randomID(), DedupKey: ev.DedupKey, Opened: time.Now()}
			p.incidents = append(p.incidents, inc)
			p.open[ev.DedupKey] = inc
		}
		inc.Triggers++
		inc.Last = ev
	case "resolve":
		if inc != nil {
			inc.Resolved = true
			delete(p.open, ev.DedupKey)
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func (p *PagerDuty) validate(ev *PDEvent) string {
	switch {
	case len(ev.RoutingKey) != 32:
		return "routing_key must be 32 characters"
	case len(p.RoutingKeys) > 0 && !p.RoutingKeys[ev.RoutingKey]:
		return "routing_key is not a known integration key"
	case utf8.RuneCountInString(ev.DedupKey) > 255:
		return "dedup_key longer than 255 characters"
	}
	switch ev.EventAction {
	case "trigger":
		pl := ev.Payload
		if pl == nil {
			return "payload is required for trigger"
		}
		switch {
		case pl.Summary == "":
			return "payload.summary is required"
		case utf8.RuneCountInString(pl.Summary) > 1024:
			return "payload.summary longer than 1024 characters"
		case pl.Source == "":
			return "payload.source is required"
		}
		switch pl.Severity {
		case "critical", "error", "warning", "info":
		default:
			return "payload.severity must be critical, error, warning or info"
		}
		if pl.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, pl.Timestamp); err != nil {
				return "payload.timestamp is not ISO 8601"
			}
		}
	case "acknowledge", "resolve":
		if ev.DedupKey == "" {
			return "dedup_key is required for " + ev.EventAction
		}
	default:
		return "event_action must be trigger, acknowledge or resolve"
	}
	return ""
}

// Events returns every accepted event in arrival order.
func (p *PagerDuty) Events() []PDEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PDEvent(nil), p.events...)
}

// Incidents returns every incident ever opened, in order.
func (p *PagerDuty) Incidents() []Incident {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Incident, len(p.incidents))
	for i, inc := range p.incidents {
		out[i] = *inc
	}
	return out
}

// Rejected returns the validation messages of rejected events.
func (p *PagerDuty) Rejected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.rejected...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newLocalServer(h http.Handler) *httptest.Server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("notifytest: listen on 127.0.0.1: %v", err))
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener.Close()
	s.Listener = l
	s.Start()
	return s
}
