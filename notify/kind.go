package notify

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// Kind is one kind of receiver a config may use: its key in a receiver's
// entry ("pagerduty", "log") and how the block under that key is decoded.
// notify knows no kind itself, so it imports none of its receivers; callers
// pass the kinds they support to ParseConfig (notify/receiver.Kinds lists
// the built-in ones).
type Kind struct {
	// Name is the kind's key in a receiver's entry.
	Name string
	// Decode decodes, defaults and validates the block under the key.
	// ParseConfig reports a *FieldError at its path inside the block, a
	// *PosError as it is, and any other error at the kind's key; each
	// error may be one of several joined with errors.Join.
	Decode func(n *yaml.Node, dc DecodeContext) (ReceiverConfig, error)
}

// ReceiverConfig is one receiver's decoded and validated config, as its
// kind's Decode returns it.
type ReceiverConfig interface {
	// NewSender builds the receiver's Sender.
	NewSender(o SenderOptions) (Sender, error)
	// Target says where the receiver sends, for people (sloctl
	// check-config): secrets are named by their source, never shown.
	Target() string
}

// SenderOptions are what building a receiver's Sender may use.
type SenderOptions struct {
	// Name is the receiver's name in the config.
	Name string
	// HTTPClient carries every HTTP request; the dispatcher bounds each
	// attempt, so it needs no overall timeout.
	HTTPClient *http.Client
	// Stdout is where a receiver that writes pages locally writes them.
	Stdout io.Writer
	// Now reads the clock.
	Now func() time.Time
}

// NewKind returns the Kind name whose block decodes into a C, through C's
// UnmarshalYAML where it has one (the place for defaults), strictly
// (DecodeContext.Decode), and is then checked, its secrets read, by
// (*C).Validate. A block left empty ("log:") decodes as "{}".
func NewKind[C any, P interface {
	*C
	ReceiverConfig
	Validate(dc DecodeContext) error
}](name string) Kind {
	return Kind{Name: name, Decode: func(n *yaml.Node, dc DecodeContext) (ReceiverConfig, error) {
		if n.ShortTag() == "!!null" {
			// yaml.v3 skips UnmarshalYAML for null: decode "{}" so the
			// defaults are set.
			n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
		}
		c := P(new(C))
		if err := dc.Decode(n, c); err != nil {
			return nil, err
		}
		if err := c.Validate(dc); err != nil {
			return nil, err
		}
		return c, nil
	}}
}

// DecodeContext is what a Kind's Decode gets from the config being parsed.
// Its zero value decodes without file positions and does not read secrets.
type DecodeContext struct {
	file      string
	root      *yaml.Node
	kind      string
	dir       string
	lookupEnv func(string) (string, bool)
}

// Decode decodes n into v strictly: every mapping key v's type does not
// declare is an error at its line:column ("unknown field "x" in
// pagerduty"), and so is every value of the wrong type.
func (dc DecodeContext) Decode(n *yaml.Node, v any) error {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := knownFields{file: dc.file, names: map[reflect.Type]string{}, seen: map[seenKey]bool{}}
	if dc.kind != "" {
		k.names[t] = dc.kind
	}
	if errs := k.check(n, t, 0); len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := n.Decode(v); err != nil {
		return positionTypeError(dc.file, dc.root, err)
	}
	return nil
}

// Offline reports whether secrets are only checked to name exactly one
// source, not read (sloctl check-config --offline).
func (dc DecodeContext) Offline() bool { return dc.lookupEnv == nil }

// ReadSecret reads a secret from its source; offline it only checks that
// the source is well formed. Errors name the file or variable, never the
// value.
func (dc DecodeContext) ReadSecret(s SecretSource) (Secret, error) {
	return s.resolve(dc.dir, dc.lookupEnv)
}

// FieldError is an error inside a receiver's block at Path: mapping keys
// (string) and sequence indices (int) from the block's top, so that
// ParseConfig can report its line:column. An empty Path is the block.
type FieldError struct {
	Path []any
	Err  error
}

func (e *FieldError) Error() string { return e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// AtField returns err as a *FieldError at path; nil stays nil.
func AtField(err error, path ...any) error {
	if err == nil {
		return nil
	}
	return &FieldError{Path: path, Err: err}
}

// CheckURL checks a receiver's http(s) URL; its errors show the URL only as
// MaskURL gives it.
func CheckURL(s string) error {
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
