package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a notify configuration file: receivers, the routing tree that
// picks them, and delivery settings.
type Config struct {
	Receivers []Receiver `yaml:"receivers"`
	Route     *Route     `yaml:"route"`
	Delivery  Delivery   `yaml:"delivery"`
}

// Delivery tunes retries, timeouts and the circuit breaker of every receiver.
type Delivery struct {
	// Timeout bounds one delivery attempt.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAge is how long a page may wait in the outbox before it is moved to
	// the dead-letter bucket.
	MaxAge time.Duration `yaml:"max_age"`
	// BackoffInitial and BackoffMax bound the exponential backoff; each wait
	// is drawn uniformly from [0, current interval] (full jitter).
	BackoffInitial time.Duration `yaml:"backoff_initial"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
	// BreakerFailures consecutive failures open a receiver's breaker for
	// BreakerOpen; while open, pages wait in the outbox.
	BreakerFailures uint32        `yaml:"breaker_failures"`
	BreakerOpen     time.Duration `yaml:"breaker_open"`
}

// DefaultDelivery is used for every field a config leaves out.
var DefaultDelivery = Delivery{
	Timeout:         10 * time.Second,
	MaxAge:          24 * time.Hour,
	BackoffInitial:  time.Second,
	BackoffMax:      5 * time.Minute,
	BreakerFailures: 5,
	BreakerOpen:     time.Minute,
}

// Receiver is a named destination; exactly one kind is set.
type Receiver struct {
	Name         string              `yaml:"name"`
	PagerDuty    *PagerDutyConfig    `yaml:"pagerduty"`
	Opsgenie     *OpsgenieConfig     `yaml:"opsgenie"`
	Alertmanager *AlertmanagerConfig `yaml:"alertmanager"`
	Webhook      *WebhookConfig      `yaml:"webhook"`
	Log          *LogConfig          `yaml:"log"`
}

// Kind names the receiver's kind ("pagerduty", "opsgenie", ...).
func (r Receiver) Kind() string {
	switch {
	case r.PagerDuty != nil:
		return "pagerduty"
	case r.Opsgenie != nil:
		return "opsgenie"
	case r.Alertmanager != nil:
		return "alertmanager"
	case r.Webhook != nil:
		return "webhook"
	case r.Log != nil:
		return "log"
	}
	return ""
}

// PagerDutyConfig configures the PagerDuty Events API v2.
type PagerDutyConfig struct {
	// URL is the Events API base; "/v2/enqueue" is appended.
	URL            string `yaml:"url"`
	RoutingKeyFile string `yaml:"routing_key_file"`
	RoutingKeyEnv  string `yaml:"routing_key_env"`
	// Severities maps page and ticket to PagerDuty severities
	// (critical, error, warning, info).
	Severities map[Severity]string `yaml:"severities"`
	// Client and ClientURL name the sender in the PagerDuty UI.
	Client    string `yaml:"client"`
	ClientURL string `yaml:"client_url"`

	RoutingKey Secret `yaml:"-"`
}

// DefaultPagerDutyURL is the Events API v2 base URL.
const DefaultPagerDutyURL = "https://events.pagerduty.com"

// OpsgenieConfig configures the Opsgenie Alert API v2.
type OpsgenieConfig struct {
	// Region picks the API host: "us" (api.opsgenie.com) or "eu"
	// (api.eu.opsgenie.com). URL, when set, overrides it.
	Region     string `yaml:"region"`
	URL        string `yaml:"url"`
	APIKeyFile string `yaml:"api_key_file"`
	APIKeyEnv  string `yaml:"api_key_env"`
	// Priorities maps page and ticket to P1..P5.
	Priorities map[Severity]string `yaml:"priorities"`
	Tags       []string            `yaml:"tags"`
	// Responders are sent as team responders by name.
	Responders []string `yaml:"responders"`

	APIKey Secret `yaml:"-"`
}

// Opsgenie API hosts.
const (
	OpsgenieUSURL = "https://api.opsgenie.com"
	OpsgenieEUURL = "https://api.eu.opsgenie.com"
)

// AlertmanagerConfig configures delivery to an Alertmanager (API v2).
type AlertmanagerConfig struct {
	// URL is the Alertmanager base URL; "/api/v2/alerts" is appended.
	URL string `yaml:"url"`
	// GeneratorURL is sent as each alert's generatorURL (for example the
	// slod status page).
	GeneratorURL string `yaml:"generator_url"`
}

// WebhookConfig configures a generic JSON webhook.
type WebhookConfig struct {
	// URL is where pages are posted, from exactly one of url (inline),
	// url_file and url_env. The path of a Slack- or Teams-style hook URL is
	// its credential, so the URL is held as a Secret and shown only as
	// MaskURL gives it (scheme://host/…).
	URL     Secret `yaml:"url"`
	URLFile string `yaml:"url_file"`
	URLEnv  string `yaml:"url_env"`
	// HMACSecretFile or HMACSecretEnv, when set, sign each body with
	// HMAC-SHA256; the hex digest is sent as "sha256=<hex>" in
	// SignatureHeader (default X-Slod-Signature-256).
	HMACSecretFile  string `yaml:"hmac_secret_file"`
	HMACSecretEnv   string `yaml:"hmac_secret_env"`
	SignatureHeader string `yaml:"signature_header"`
	// Headers are sent with every request. Their values are inline, so a
	// header whose name says it carries a credential (Authorization,
	// Cookie, or a name with auth, token, secret, passw or api-key) is
	// rejected here: put it in SecretHeaders.
	Headers map[string]string `yaml:"headers"`
	// SecretHeaders are headers whose whole value (for example
	// "Bearer abc…") is read from value_file or value_env.
	SecretHeaders map[string]HeaderSecret `yaml:"secret_headers"`

	HMACSecret Secret `yaml:"-"`
}

// HeaderSecret is the source of a secret header value: exactly one of a
// file (relative to the config file) or an environment variable.
type HeaderSecret struct {
	ValueFile string `yaml:"value_file"`
	ValueEnv  string `yaml:"value_env"`

	Value Secret `yaml:"-"`
}

// credentialHeader matches header names whose value is a credential.
var credentialHeader = regexp.MustCompile(`(?i)auth|cookie|token|secret|passw|api[-_]?key`)

// DefaultSignatureHeader carries the webhook body's HMAC-SHA256 signature.
const DefaultSignatureHeader = "X-Slod-Signature-256"

// LogConfig configures the log receiver, which writes one JSON line per page
// to standard output.
type LogConfig struct{}

// Route is a node of the routing tree. A page descends into the first child
// whose matchers all match (and on into further children whose parent
// matched with continue: true); it goes to the receivers of the deepest
// matching routes, or to this route's receiver when no child matches.
type Route struct {
	// Receiver names the receiver; a child without one inherits its parent's.
	Receiver string `yaml:"receiver"`
	// Match holds equality matchers, MatchRE fully anchored regular
	// expressions, on page labels.
	Match   map[string]string `yaml:"match"`
	MatchRE map[string]string `yaml:"match_re"`
	// Continue lets the search go on to the next sibling after this route
	// matched.
	Continue bool     `yaml:"continue"`
	Routes   []*Route `yaml:"routes"`
}

// LoadConfig reads and validates a config file. Secrets are read from their
// files (relative paths are relative to the config file) and environment.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path, os.LookupEnv)
}

// LoadConfigOffline reads and validates a config without reading its
// secrets (see ParseConfig), for checks where the secrets are not present.
func LoadConfigOffline(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path, nil)
}

// ParseConfig parses and validates a config; name prefixes error positions
// and its directory anchors relative secret files. lookupEnv reads
// environment variables (os.LookupEnv in production); with a nil lookupEnv
// secrets are not read, only checked to name exactly one source (for CI
// checks of a config whose secrets live elsewhere). Such a config cannot
// build PagerDuty or Opsgenie receivers.
func ParseConfig(data []byte, name string, lookupEnv func(string) (string, bool)) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty config", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s:%d:%d: only one YAML document is allowed", name, extra.Line, extra.Column)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	// Unknown fields, reported at their line:column before decoding.
	if errs := checkKnownFields(name, doc, reflect.TypeOf(Config{}), 0); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var cfg Config
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&cfg); err != nil {
		return nil, positionTypeError(name, doc, err)
	}
	p := positions{name: name, root: doc}
	if err := cfg.validate(p, filepath.Dir(name), lookupEnv); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Router compiles the config's routing tree (see NewRouter).
func (c *Config) Router() (*Router, error) {
	return NewRouter(c.Route)
}

// ReceiverNames lists the receivers in file order.
func (c *Config) ReceiverNames() []string {
	out := make([]string, len(c.Receivers))
	for i, r := range c.Receivers {
		out[i] = r.Name
	}
	return out
}

var (
	labelName    = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	receiverName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)
)

func (c *Config) validate(p positions, baseDir string, lookupEnv func(string) (string, bool)) error {
	var errs []error
	d := DefaultDelivery
	if c.Delivery.Timeout > 0 {
		d.Timeout = c.Delivery.Timeout
	}
	if c.Delivery.MaxAge > 0 {
		d.MaxAge = c.Delivery.MaxAge
	}
	if c.Delivery.BackoffInitial > 0 {
		d.BackoffInitial = c.Delivery.BackoffInitial
	}
	if c.Delivery.BackoffMax > 0 {
		d.BackoffMax = c.Delivery.BackoffMax
	}
	if c.Delivery.BreakerFailures > 0 {
		d.BreakerFailures = c.Delivery.BreakerFailures
	}
	if c.Delivery.BreakerOpen > 0 {
		d.BreakerOpen = c.Delivery.BreakerOpen
	}
	for _, f := range []struct {
		key string
		v   time.Duration
	}{{"timeout", c.Delivery.Timeout}, {"max_age", c.Delivery.MaxAge}, {"backoff_initial", c.Delivery.BackoffInitial}, {"backoff_max", c.Delivery.BackoffMax}, {"breaker_open", c.Delivery.BreakerOpen}} {
		if f.v < 0 {
			errs = append(errs, p.errorf("delivery: %s must not be negative", f.key)("delivery", f.key))
		}
	}
	if d.BackoffMax < d.BackoffInitial {
		errs = append(errs, p.errorf("delivery: backoff_max %s is below backoff_initial %s", d.BackoffMax, d.BackoffInitial)("delivery"))
	}
	c.Delivery = d

	if len(c.Receivers) == 0 {
		errs = append(errs, p.errorf("no receivers")())
	}
	names := map[string]bool{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		at := func(path ...any) []any { return append([]any{"receivers", i}, path...) }
		if !receiverName.MatchString(r.Name) {
			errs = append(errs, p.errorf("receiver %q: name must match %s", r.Name, receiverName)(at("name")...))
		} else if names[r.Name] {
			errs = append(errs, p.errorf("receiver %q defined twice", r.Name)(at("name")...))
		}
		names[r.Name] = true
		kinds := 0
		for _, set := range []bool{r.PagerDuty != nil, r.Opsgenie != nil, r.Alertmanager != nil, r.Webhook != nil, r.Log != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			errs = append(errs, p.errorf("receiver %q: set exactly one of pagerduty, opsgenie, alertmanager, webhook, log (found %d)", r.Name, kinds)(at()...))
			continue
		}
		rerr := func(err error, path ...any) {
			errs = append(errs, p.errorf("receiver %q: %w", r.Name, err)(at(path...)...))
		}
		switch {
		case r.PagerDuty != nil:
			c := r.PagerDuty
			if c.URL == "" {
				c.URL = DefaultPagerDutyURL
			} else if err := checkURL(c.URL); err != nil {
				rerr(err, "pagerduty", "url")
			}
			s, err := secretRef{field: "routing_key", file: c.RoutingKeyFile, env: c.RoutingKeyEnv}.resolve(baseDir, lookupEnv)
			if err != nil {
				rerr(err, "pagerduty")
			}
			c.RoutingKey = s
			sev := map[Severity]string{SeverityPage: "critical", SeverityTicket: "warning"}
			for k, v := range c.Severities {
				if k != SeverityPage && k != SeverityTicket {
					rerr(fmt.Errorf("severities: key %q is neither page nor ticket", k), "pagerduty", "severities")
				}
				switch v {
				case "critical", "error", "warning", "info":
				default:
					rerr(fmt.Errorf("severities: %q is not a PagerDuty severity (critical, error, warning, info)", v), "pagerduty", "severities", string(k))
				}
				sev[k] = v
			}
			c.Severities = sev
		case r.Opsgenie != nil:
			c := r.Opsgenie
			switch {
			case c.URL != "":
				if err := checkURL(c.URL); err != nil {
					rerr(err, "opsgenie", "url")
				}
			case c.Region == "" || strings.EqualFold(c.Region, "us"):
				c.URL = OpsgenieUSURL
			case strings.EqualFold(c.Region, "eu"):
				c.URL = OpsgenieEUURL
			default:
				rerr(fmt.Errorf("region %q is neither us nor eu (set url for a custom host)", c.Region), "opsgenie", "region")
			}
			s, err := secretRef{field: "api_key", file: c.APIKeyFile, env: c.APIKeyEnv}.resolve(baseDir, lookupEnv)
			if err != nil {
				rerr(err, "opsgenie")
			}
			c.APIKey = s
			pr := map[Severity]string{SeverityPage: "P1", SeverityTicket: "P3"}
			for k, v := range c.Priorities {
				if k != SeverityPage && k != SeverityTicket {
					rerr(fmt.Errorf("priorities: key %q is neither page nor ticket", k), "opsgenie", "priorities")
				}
				switch v {
				case "P1", "P2", "P3", "P4", "P5":
				default:
					rerr(fmt.Errorf("priorities: %q is not one of P1..P5", v), "opsgenie", "priorities", string(k))
				}
				pr[k] = v
			}
			c.Priorities = pr
		case r.Alertmanager != nil:
			if err := checkURL(r.Alertmanager.URL); err != nil {
				rerr(err, "alertmanager", "url")
			}
		case r.Webhook != nil:
			c := r.Webhook
			switch n := countSet(c.URL.IsSet(), c.URLFile != "", c.URLEnv != ""); {
			case n == 0:
				rerr(errors.New("url: missing (set url, url_file or url_env)"), "webhook")
			case n > 1:
				rerr(errors.New("set only one of url, url_file and url_env"), "webhook")
			case c.URL.IsSet():
				if err := checkURL(c.URL.Reveal()); err != nil {
					rerr(err, "webhook", "url")
				}
			default:
				u, err := secretRef{field: "url", file: c.URLFile, env: c.URLEnv}.resolve(baseDir, lookupEnv)
				if err == nil && u.IsSet() {
					if err = checkURL(u.Reveal()); err != nil {
						err = fmt.Errorf("%s: %w", urlSource(c), err)
					}
				}
				if err != nil {
					rerr(err, "webhook")
				}
				c.URL = u
			}
			for _, k := range sortedKeys(c.Headers) {
				if credentialHeader.MatchString(k) {
					rerr(fmt.Errorf("headers: %q carries a credential: move it to secret_headers with value_file or value_env (inline secrets are not accepted)", k), "webhook", "headers", k)
				}
			}
			for _, k := range sortedKeys(c.SecretHeaders) {
				for h := range c.Headers {
					if strings.EqualFold(h, k) {
						rerr(fmt.Errorf("secret_headers: %q is also set in headers", k), "webhook", "secret_headers", k)
					}
				}
				h := c.SecretHeaders[k]
				v, err := secretRef{field: "value", file: h.ValueFile, env: h.ValueEnv}.resolve(baseDir, lookupEnv)
				if err != nil {
					rerr(fmt.Errorf("secret_headers %q: %w", k, err), "webhook", "secret_headers", k)
				}
				h.Value = v
				c.SecretHeaders[k] = h
			}
			s, err := secretRef{field: "hmac_secret", file: c.HMACSecretFile, env: c.HMACSecretEnv, optional: true}.resolve(baseDir, lookupEnv)
			if err != nil {
				rerr(err, "webhook")
			}
			c.HMACSecret = s
			if c.SignatureHeader == "" {
				c.SignatureHeader = DefaultSignatureHeader
			}
		}
	}

	if c.Route == nil {
		errs = append(errs, p.errorf("route: missing (the root route names the default receiver)")())
	} else {
		if c.Route.Receiver == "" {
			errs = append(errs, p.errorf("route: the root route needs a receiver (the default)")("route"))
		}
		if len(c.Route.Match)+len(c.Route.MatchRE) > 0 {
			errs = append(errs, p.errorf("route: the root route matches every page; put matchers on child routes")("route"))
		}
		errs = append(errs, c.Route.check(p, names, []any{"route"})...)
	}
	return errors.Join(errs...)
}

// check reports, at their file positions, what NewRouter would reject and
// what it cannot know (receivers that are not defined, label names).
func (r *Route) check(p positions, receivers map[string]bool, path []any) []error {
	var errs []error
	at := func(more ...any) []any { return append(append([]any{}, path...), more...) }
	if r.Receiver != "" && !receivers[r.Receiver] {
		errs = append(errs, p.errorf("route: receiver %q is not defined", r.Receiver)(at("receiver")...))
	}
	for k := range r.Match {
		if !labelName.MatchString(k) {
			errs = append(errs, p.errorf("route: match: %q is not a label name", k)(at("match", k)...))
		}
	}
	for _, k := range sortedKeys(r.MatchRE) {
		if !labelName.MatchString(k) {
			errs = append(errs, p.errorf("route: match_re: %q is not a label name", k)(at("match_re", k)...))
		}
		if _, err := compileMatchRE(r.MatchRE[k]); err != nil {
			errs = append(errs, p.errorf("route: match_re %s: %w", k, err)(at("match_re", k)...))
		}
	}
	for i, child := range r.Routes {
		if child == nil {
			errs = append(errs, p.errorf("route: empty child route")(at("routes", i)...))
			continue
		}
		if child.Receiver == "" {
			child.Receiver = r.Receiver
		}
		errs = append(errs, child.check(p, receivers, at("routes", i))...)
	}
	return errs
}

func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

func urlSource(c *WebhookConfig) string {
	if c.URLFile != "" {
		return fmt.Sprintf("url_file %q", c.URLFile)
	}
	return "url_env " + c.URLEnv
}

// checkURL checks a receiver URL; its errors show the URL only as MaskURL
// gives it.
func checkURL(s string) error {
	if s == "" {
		return errors.New("url: missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // ue repeats the whole URL
		}
		return fmt.Errorf("url %s: %w", MaskURL(s), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("url %s: need http(s)://host", MaskURL(s))
	}
	if u.User != nil {
		return errors.New("url: credentials in the URL are not accepted (use the secret fields)")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// positions finds the line:column of a path (mapping keys and sequence
// indices) in the parsed document, for error messages.
type positions struct {
	name string
	root *yaml.Node
}

// errorf returns a function that, given the path of the offending node,
// formats "name:line:col: message".
func (p positions) errorf(format string, args ...any) func(path ...any) error {
	return func(path ...any) error {
		line, col := p.find(path)
		return &PosError{File: p.name, Line: line, Column: col, Err: fmt.Errorf(format, args...)}
	}
}

func (p positions) find(path []any) (int, int) {
	n := p.root
	if n == nil {
		return 1, 1
	}
	for i, step := range path {
		last := i == len(path)-1
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for j := 0; j+1 < len(n.Content); j += 2 {
					if n.Content[j].Value != s {
						continue
					}
					next = n.Content[j+1]
					if last && next.Kind != yaml.ScalarNode {
						next = n.Content[j] // a block: point at its key
					}
					break
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return n.Line, n.Column
}

// PosError is a config error at a position in a file.
type PosError struct {
	File         string
	Line, Column int
	Err          error
}

func (e *PosError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %v", e.File, e.Line, e.Column, e.Err)
}

func (e *PosError) Unwrap() error { return e.Err }

// checkKnownFields walks the document next to the Go type and reports every
// mapping key that the type does not declare, at its line:column.
func checkKnownFields(name string, n *yaml.Node, t reflect.Type, depth int) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A routing tree is rarely more than a few levels deep; this also
	// stops an alias that contains itself.
	const maxDepth = 64
	if depth > maxDepth {
		return []error{&PosError{File: name, Line: n.Line, Column: n.Column, Err: fmt.Errorf("nested more than %d levels deep", maxDepth)}}
	}
	if n.Kind == yaml.AliasNode {
		// Not followed (an alias may contain itself, or expand
		// exponentially); the strict decode still checks its fields.
		return nil
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode || t == reflect.TypeOf(time.Time{}) {
			return nil
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			fields[tag] = f.Type
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &PosError{File: name, Line: k.Line, Column: k.Column, Err: fmt.Errorf("unknown field %q in %s", k.Value, yamlTypeName(t))})
				continue
			}
			errs = append(errs, checkKnownFields(name, n.Content[i+1], ft, depth+1)...)
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				errs = append(errs, checkKnownFields(name, c, t.Elem(), depth+1)...)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				errs = append(errs, checkKnownFields(name, n.Content[i+1], t.Elem(), depth+1)...)
			}
		}
	}
	return errs
}

func yamlTypeName(t reflect.Type) string {
	switch t {
	case reflect.TypeOf(Config{}):
		return "config"
	case reflect.TypeOf(Delivery{}):
		return "delivery"
	case reflect.TypeOf(Receiver{}):
		return "receiver"
	case reflect.TypeOf(Route{}):
		return "route"
	case reflect.TypeOf(PagerDutyConfig{}):
		return "pagerduty"
	case reflect.TypeOf(OpsgenieConfig{}):
		return "opsgenie"
	case reflect.TypeOf(AlertmanagerConfig{}):
		return "alertmanager"
	case reflect.TypeOf(WebhookConfig{}):
		return "webhook"
	case reflect.TypeOf(LogConfig{}):
		return "log"
	case reflect.TypeOf(HeaderSecret{}):
		return "secret header"
	}
	return t.Name()
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// positionTypeError turns yaml.v3's "line N: ..." messages into
// "name:N:col: ..." lines, taking the column of the first node on that line.
func positionTypeError(name string, doc *yaml.Node, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, msg := range te.Errors {
		m := yamlLine.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		errs = append(errs, &PosError{File: name, Line: line, Column: firstColumn(doc, line), Err: errors.New(m[2])})
	}
	return errors.Join(errs...)
}

func firstColumn(n *yaml.Node, line int) int {
	best := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Line == line && n.Kind == yaml.ScalarNode && (best == 0 || n.Column > best) {
			best = n.Column // the value sits right of its key: take the last scalar
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	if best == 0 {
		return 1
	}
	return best
}

// LogOnlyConfig returns a config with one receiver, "stdout", of kind log,
// and default delivery: the daemon's default when no notify config is
// given (slod --demo).
func LogOnlyConfig() *Config {
	cfg, err := ParseConfig([]byte("receivers: [{name: stdout, log: {}}]\nroute: {receiver: stdout}\n"), "builtin", nil)
	if err != nil {
		panic("notify: builtin log config: " + err.Error())
	}
	return cfg
}
