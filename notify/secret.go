package notify

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Secret holds a credential read from a file or an environment variable.
// Every way of printing it (String, GoString, Format, JSON, YAML) shows
// "<secret>"; only Reveal returns the value, for the request that needs it.
type Secret struct {
	value string
}

const secretMask = "<secret>"

// NewSecret wraps a value, for receivers built in code (tests, embedding).
func NewSecret(v string) Secret { return Secret{value: v} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret holds a value.
func (s Secret) IsSet() bool { return s.value != "" }

// String masks the value.
func (s Secret) String() string { return secretMask }

// GoString masks the value (%#v).
func (s Secret) GoString() string { return secretMask }

// Format masks the value for every fmt verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(secretMask)) }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + secretMask + `"`), nil }

// MarshalYAML masks the value.
func (s Secret) MarshalYAML() (any, error) { return secretMask, nil }

// MarshalText masks the value (slog, encoding/xml and friends).
func (s Secret) MarshalText() ([]byte, error) { return []byte(secretMask), nil }

// UnmarshalYAML reads an inline value. Only fields whose inline form is
// allowed are Secrets in the YAML (a webhook url); the others are filled
// from their _file or _env source.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	s.value = strings.TrimSpace(v)
	return nil
}

// MaskURL returns a URL as scheme://host, with "/…" when it has a path,
// query or fragment: the path of a webhook URL is often its credential
// (Slack, Teams), so only the host is ever shown. A URL without a scheme
// and host shows as "<url without scheme://host>".
func MaskURL(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "<url without scheme://host>"
	}
	out := u.Scheme + "://" + u.Host
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		out += "/…"
	}
	return out
}

// SecretSource names where a secret comes from: exactly one of File (a
// path relative to the config file's directory) or Env (an environment
// variable). Receiver kinds read it with DecodeContext.ReadSecret.
type SecretSource struct {
	// Field is the YAML field's stem ("routing_key" for routing_key_file
	// and routing_key_env), for messages.
	Field string
	File  string
	Env   string
	// Optional allows neither source to be set (an empty Secret).
	Optional bool
}

// resolve reads the secret. Errors name the file or variable, never the value.
func (r SecretSource) resolve(baseDir string, lookupEnv func(string) (string, bool)) (Secret, error) {
	switch {
	case r.File != "" && r.Env != "":
		return Secret{}, fmt.Errorf("set only one of %s_file and %s_env", r.Field, r.Field)
	case lookupEnv == nil && (r.File != "" || r.Env != ""):
		return Secret{}, nil // structure check only: sources are not read
	case r.File != "":
		p := r.File
		if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is already in the message
			}
			return Secret{}, fmt.Errorf("%s_file %q: %w", r.Field, p, err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return Secret{}, fmt.Errorf("%s_file %q is empty", r.Field, p)
		}
		return Secret{value: v}, nil
	case r.Env != "":
		v, ok := lookupEnv(r.Env)
		if !ok || strings.TrimSpace(v) == "" {
			return Secret{}, fmt.Errorf("%s_env: environment variable %s is not set or empty", r.Field, r.Env)
		}
		return Secret{value: strings.TrimSpace(v)}, nil
	case r.Optional:
		return Secret{}, nil
	default:
		return Secret{}, fmt.Errorf("%s: set %s_file or %s_env (inline secrets are not accepted)", r.Field, r.Field, r.Field)
	}
}

// Redact returns err with every occurrence of the secrets' values replaced
// by "<secret>" (a receiver may echo a key back in an error body). The
// classification of a *SendError is kept.
func Redact(err error, secrets ...Secret) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s.IsSet() {
			clean = strings.ReplaceAll(clean, s.value, secretMask)
		}
	}
	if clean == msg {
		return err
	}
	var se *SendError
	if errors.As(err, &se) {
		c := *se
		c.Err = errors.New(clean)
		c.StatusCode = 0 // the status is already in the cleaned message
		return &redacted{SendError: &c}
	}
	return errors.New(clean)
}

// redacted is a SendError whose message was scrubbed of secrets.
type redacted struct{ *SendError }

func (r *redacted) Error() string { return r.SendError.Err.Error() }
func (r *redacted) Unwrap() error { return r.SendError }
