package notifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"unicode/utf8"
)

// OGCreate is a create-alert request as received.
type OGCreate struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Description string            `json:"description,omitempty"`
	Responders  []map[string]any  `json:"responders,omitempty"`
	VisibleTo   []map[string]any  `json:"visibleTo,omitempty"`
	Actions     []string          `json:"actions,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source,omitempty"`
	Priority    string            `json:"priority,omitempty"`
	User        string            `json:"user,omitempty"`
	Note        string            `json:"note,omitempty"`
}

// OGAlert is an alert held by the server.
type OGAlert struct {
	ID     string
	Alias  string
	Open   bool
	Count  int
	Create OGCreate
}

// OGRequest records one accepted API call.
type OGRequest struct {
	Op     string // "create" or "close"
	Alias  string
	Create *OGCreate
}

// Opsgenie is a local Alert API v2 server: POST /v2/alerts creates an alert
// (message required, at most 130 characters; alias at most 512; priority
// P1..P5; description at most 15000), POST /v2/alerts/{id}/close closes one
// (identifierType=alias or id). Requests need "Authorization: GenieKey
// <key>" with a key in APIKeys. Accepted requests get 202 with result, took
// and requestId, as Opsgenie's asynchronous API does. A create whose alias
// matches an open alert only increments its count; after a close, the same
// alias opens a new alert.
type Opsgenie struct {
	faults
	srv     *httptest.Server
	APIKeys map[string]bool

	mu       sync.Mutex
	alerts   []*OGAlert
	open     map[string]*OGAlert
	requests []OGRequest
	rejected []string
	authFail int
}

// NewOpsgenie starts a server on 127.0.0.1 accepting the given API keys.
func NewOpsgenie(apiKeys ...string) *Opsgenie {
	o := &Opsgenie{open: map[string]*OGAlert{}, APIKeys: map[string]bool{}}
	for _, k := range apiKeys {
		o.APIKeys[k] = true
	}
	o.srv = newLocalServer(http.HandlerFunc(o.serve))
	return o
}

// URL is the base URL to configure.
func (o *Opsgenie) URL() string { return o.srv.URL }

// Close stops the server.
func (o *Opsgenie) Close() {
	o.Release()
	o.srv.CloseClientConnections()
	o.srv.Close()
}

func (o *Opsgenie) answer(w http.ResponseWriter, status int, msg string) {
	body := map[string]any{"took": 0.01, "requestId": randomID()}
	if status == http.StatusAccepted {
		body["result"] = msg
	} else {
		body["message"] = msg
	}
	writeJSON(w, status, body)
}

func (o *Opsgenie) serve(w http.ResponseWriter, r *http.Request) {
	o.faults.serve(w, r, o.handle)
}

func (o *Opsgenie) handle(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "GenieKey ")
	if !ok || !o.APIKeys[key] {
		o.mu.Lock()
		o.authFail++
		o.mu.Unlock()
		o.answer(w, http.StatusUnauthorized, "Could not authenticate")
		return
	}
	if r.Method != http.MethodPost {
		o.answer(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if ct := r.Header.Get("Content-Type"); len(body) > 0 && !strings.HasPrefix(ct, "application/json") {
		o.answer(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	reject := func(msg string) {
		o.mu.Lock()
		o.rejected = append(o.rejected, msg)
		o.mu.Unlock()
		o.answer(w, http.StatusUnprocessableEntity, msg)
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/alerts")
	switch {
	case path == "" || path == "/":
		var c OGCreate
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			reject("Request body is not processable: " + err.Error())
			return
		}
		switch {
		case c.Message == "":
			reject("Message can not be empty.")
			return
		case utf8.RuneCountInString(c.Message) > 130:
			reject("Message can not be longer than 130 characters.")
			return
		case utf8.RuneCountInString(c.Alias) > 512:
			reject("Alias can not be longer than 512 characters.")
			return
		case utf8.RuneCountInString(c.Description) > 15000:
			reject("Description can not be longer than 15000 characters.")
			return
		}
		switch c.Priority {
		case "", "P1", "P2", "P3", "P4", "P5":
		default:
			reject(fmt.Sprintf("Priority should be one of [P1, P2, P3, P4, P5] but was %q", c.Priority))
			return
		}
		o.mu.Lock()
		o.requests = append(o.requests, OGRequest{Op: "create", Alias: c.Alias, Create: &c})
		if a := o.open[c.Alias]; a != nil && c.Alias != "" {
			a.Count++
		} else {
			a := &OGAlert{ID: randomID(), Alias: c.Alias, Open: true, Count: 1, Create: c}
			o.alerts = append(o.alerts, a)
			if c.Alias != "" {
				o.open[c.Alias] = a
			}
		}
		o.mu.Unlock()
		o.answer(w, http.StatusAccepted, "Request will be processed")
	case strings.HasSuffix(path, "/close"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/close")
		idType := r.URL.Query().Get("identifierType")
		if idType == "" {
			idType = "id"
		}
		if idType != "alias" && idType != "id" && idType != "tiny" {
			reject("identifierType should be one of [id, alias, tiny]")
			return
		}
		var cl struct {
			User   string `json:"user,omitempty"`
			Source string `json:"source,omitempty"`
			Note   string `json:"note,omitempty"`
		}
		if len(body) > 0 {
			dec := json.NewDecoder(strings.NewReader(string(body)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cl); err != nil {
				reject("Request body is not processable: " + err.Error())
				return
			}
		}
		o.mu.Lock()
		o.requests = append(o.requests, OGRequest{Op: "close", Alias: id})
		var target *OGAlert
		if idType == "alias" {
			target = o.open[id]
		} else {
			for _, a := range o.alerts {
				if a.ID == id && a.Open {
					target = a
				}
			}
		}
		if target != nil {
			target.Open = false
			delete(o.open, target.Alias)
		}
		o.mu.Unlock()
		// Opsgenie accepts the request and processes it later, also
		// when there is nothing to close.
		o.answer(w, http.StatusAccepted, "Request will be processed")
	default:
		o.answer(w, http.StatusNotFound, "Not found")
	}
}

// Alerts returns every alert ever created, in order.
func (o *Opsgenie) Alerts() []OGAlert {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]OGAlert, len(o.alerts))
	for i, a := range o.alerts {
		out[i] = *a
	}
	return out
}

// Accepted returns every accepted request in order.
func (o *Opsgenie) Accepted() []OGRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]OGRequest(nil), o.requests...)
}

// Rejected returns the messages of rejected requests.
func (o *Opsgenie) Rejected() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.rejected...)
}

// AuthFailures counts requests rejected for a missing or wrong key.
func (o *Opsgenie) AuthFailures() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.authFail
}
