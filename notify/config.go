package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a notify configuration file: receivers, the routing tree that
// picks them, and delivery settings.
type Config struct {
	Receivers []Receiver
	Route     *Route
	Delivery  Delivery
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

// Receiver is a named destination of one kind. In the file it is a mapping
// of "name" and one kind's key, whose block the kind decodes.
type Receiver struct {
	Name string
	// Kind is the kind's name ("pagerduty").
	Kind string
	// Config is what the kind decoded from the receiver's block.
	Config ReceiverConfig
}

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

// file is a config file's shape; each receiver is decoded by its kind.
type file struct {
	Receivers []yaml.Node `yaml:"receivers"`
	Route     *Route      `yaml:"route"`
	Delivery  Delivery    `yaml:"delivery"`
}

// LoadConfig reads and validates a config file whose receivers are of the
// given kinds. Secrets are read from their files (relative paths are
// relative to the config file) and environment.
func LoadConfig(path string, kinds []Kind) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path, os.LookupEnv, kinds)
}

// LoadConfigOffline reads and validates a config without reading its
// secrets (see ParseConfig), for checks where the secrets are not present.
func LoadConfigOffline(path string, kinds []Kind) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(data, path, nil, kinds)
}

// ParseConfig parses and validates a config whose receivers are of the
// given kinds; name prefixes error positions and its directory anchors
// relative secret files. lookupEnv reads environment variables
// (os.LookupEnv in production); with a nil lookupEnv secrets are not read,
// only checked to name exactly one source (for CI checks of a config whose
// secrets live elsewhere). Such a config cannot build receivers that need
// their secrets.
func ParseConfig(data []byte, name string, lookupEnv func(string) (string, bool), kinds []Kind) (*Config, error) {
	if err := checkKinds(kinds); err != nil {
		return nil, err
	}
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
	fileType := reflect.TypeOf(file{})
	known := knownFields{file: name, names: map[reflect.Type]string{fileType: "config"}, seen: map[seenKey]bool{}}
	if errs := known.check(doc, fileType, 0); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var f file
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&f); err != nil {
		return nil, positionTypeError(name, doc, err)
	}
	p := positions{name: name, root: doc}
	cfg := &Config{Route: f.Route, Delivery: f.Delivery}
	errs := cfg.Delivery.validate(p)

	if len(f.Receivers) == 0 {
		errs = append(errs, p.errorf("no receivers")())
	}
	dc := DecodeContext{file: name, root: doc, dir: filepath.Dir(name), lookupEnv: lookupEnv}
	names := map[string]bool{}
	for i := range f.Receivers {
		r, rerrs := decodeReceiver(p, dc, &f.Receivers[i], kinds)
		at := func(path ...any) []any { return append([]any{"receivers", i}, path...) }
		if !receiverName.MatchString(r.Name) {
			rerrs = append(rerrs, p.errorf("receiver %q: name must match %s", r.Name, receiverName)(at("name")...))
		} else if names[r.Name] {
			rerrs = append(rerrs, p.errorf("receiver %q defined twice", r.Name)(at("name")...))
		}
		names[r.Name] = true
		errs = append(errs, rerrs...)
		cfg.Receivers = append(cfg.Receivers, r)
	}

	if cfg.Route == nil {
		errs = append(errs, p.errorf("route: missing (the root route names the default receiver)")())
	} else {
		if cfg.Route.Receiver == "" {
			errs = append(errs, p.errorf("route: the root route needs a receiver (the default)")("route"))
		}
		if len(cfg.Route.Match)+len(cfg.Route.MatchRE) > 0 {
			errs = append(errs, p.errorf("route: the root route matches every page; put matchers on child routes")("route"))
		}
		errs = append(errs, cfg.Route.check(p, names, []any{"route"})...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkKinds rejects a set of kinds that cannot decode a receiver
// unambiguously: a programming error, reported before any config error.
func checkKinds(kinds []Kind) error {
	seen := map[string]bool{"name": true}
	for _, k := range kinds {
		switch {
		case k.Name == "" || k.Decode == nil:
			return fmt.Errorf("notify: receiver kind %q has no name or no Decode", k.Name)
		case seen[k.Name]:
			return fmt.Errorf("notify: receiver kind %q given twice (or named like a receiver's field)", k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}

// decodeReceiver reads a receiver's entry: its name and its one kind's
// block, decoded by the kind. Its errors are positioned.
func decodeReceiver(p positions, dc DecodeContext, n *yaml.Node, kinds []Kind) (Receiver, []error) {
	var r Receiver
	entry := unalias(n)
	if entry.Kind != yaml.MappingNode {
		return r, []error{p.at(n, errors.New("receiver: want a mapping of name and one kind"))}
	}
	var errs []error
	type found struct {
		kind       Kind
		key, block *yaml.Node
	}
	var set []found
	keys := map[string]*yaml.Node{}
	for j := 0; j+1 < len(entry.Content); j += 2 {
		key, val := entry.Content[j], entry.Content[j+1]
		if prev, ok := keys[key.Value]; ok {
			errs = append(errs, p.at(key, fmt.Errorf("mapping key %q already defined at line %d", key.Value, prev.Line)))
			continue
		}
		keys[key.Value] = key
		if key.Value == "name" {
			if err := val.Decode(&r.Name); err != nil {
				errs = append(errs, positionTypeError(p.name, p.root, err))
			}
			continue
		}
		i := slices.IndexFunc(kinds, func(k Kind) bool { return k.Name == key.Value })
		if i < 0 {
			errs = append(errs, p.at(key, fmt.Errorf("unknown field %q in receiver (%s)", key.Value, kindList(kinds, "a receiver has name and one of "))))
			continue
		}
		set = append(set, found{kinds[i], key, val})
	}
	if len(set) != 1 {
		if len(errs) == 0 {
			errs = append(errs, p.at(entry, fmt.Errorf("receiver %q: %s (found %d)", r.Name, kindList(kinds, "set exactly one of "), len(set))))
		}
		return r, errs
	}
	k := set[0]
	r.Kind = k.kind.Name
	dc.kind = k.kind.Name
	c, err := k.kind.Decode(k.block, dc)
	if err == nil && c == nil {
		err = fmt.Errorf("kind %s decoded no config", k.kind.Name)
	}
	if err != nil {
		return r, append(errs, receiverErrors(p, r.Name, k.key, k.block, err)...)
	}
	r.Config = c
	return r, errs
}

// receiverErrors positions each error a kind returned: a *PosError is
// kept, a *FieldError goes to its path in the block, anything else to the
// kind's key.
func receiverErrors(p positions, name string, key, block *yaml.Node, err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, receiverErrors(p, name, key, block, e)...)
		}
		return out
	}
	if pe, ok := err.(*PosError); ok {
		return []error{pe}
	}
	at := key
	var fe *FieldError
	if errors.As(err, &fe) && len(fe.Path) > 0 {
		if n := find(block, fe.Path); n != unalias(block) {
			at = n
		}
	}
	return []error{p.at(at, fmt.Errorf("receiver %q: %w", name, err))}
}

func kindList(kinds []Kind, prefix string) string {
	if len(kinds) == 0 {
		return "no receiver kinds are registered"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	return prefix + strings.Join(names, ", ")
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

// validate reports negative durations and an inverted backoff, and fills
// every field left out from DefaultDelivery.
func (d *Delivery) validate(p positions) []error {
	var errs []error
	for _, f := range []struct {
		key string
		v   time.Duration
	}{{"timeout", d.Timeout}, {"max_age", d.MaxAge}, {"backoff_initial", d.BackoffInitial}, {"backoff_max", d.BackoffMax}, {"breaker_open", d.BreakerOpen}} {
		if f.v < 0 {
			errs = append(errs, p.errorf("delivery: %s must not be negative", f.key)("delivery", f.key))
		}
	}
	def := DefaultDelivery
	for _, f := range []struct{ v, def *time.Duration }{{&d.Timeout, &def.Timeout}, {&d.MaxAge, &def.MaxAge}, {&d.BackoffInitial, &def.BackoffInitial}, {&d.BackoffMax, &def.BackoffMax}, {&d.BreakerOpen, &def.BreakerOpen}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if d.BreakerFailures == 0 {
		d.BreakerFailures = def.BreakerFailures
	}
	if d.BackoffMax < d.BackoffInitial {
		errs = append(errs, p.errorf("delivery: backoff_max %s is below backoff_initial %s", d.BackoffMax, d.BackoffInitial)("delivery"))
	}
	return errs
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
