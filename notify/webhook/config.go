package webhook

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/notify"
)

// KindName is the key of a webhook receiver's block in a notify config.
const KindName = "webhook"

// DefaultSignatureHeader carries the body's HMAC-SHA256 signature.
const DefaultSignatureHeader = "X-Slod-Signature-256"

// Config configures a generic JSON webhook.
type Config struct {
	// URL is where pages are posted, from exactly one of url (inline),
	// url_file and url_env. The path of a Slack- or Teams-style hook URL is
	// its credential, so the URL is held as a Secret and shown only as
	// notify.MaskURL gives it (scheme://host/…).
	URL     notify.Secret `yaml:"url"`
	URLFile string        `yaml:"url_file"`
	URLEnv  string        `yaml:"url_env"`
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
	SecretHeaders map[string]SecretHeader `yaml:"secret_headers"`

	// HMACSecret is read from HMACSecretFile or HMACSecretEnv by Validate.
	HMACSecret notify.Secret `yaml:"-"`
}

// SecretHeader is the source of a secret header value: exactly one of a
// file (relative to the config file) or an environment variable.
type SecretHeader struct {
	ValueFile string `yaml:"value_file"`
	ValueEnv  string `yaml:"value_env"`

	// Value is read from ValueFile or ValueEnv by Validate.
	Value notify.Secret `yaml:"-"`
}

// credentialHeader matches header names whose value is a credential.
var credentialHeader = regexp.MustCompile(`(?i)auth|cookie|token|secret|passw|api[-_]?key`)

// DefaultConfig is what a config's block starts from.
func DefaultConfig() Config { return Config{SignatureHeader: DefaultSignatureHeader} }

// Kind is the webhook receiver kind, decoding a Config.
func Kind() notify.Kind { return notify.NewKind[Config](KindName) }

// UnmarshalYAML fills the defaults, then the block.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = DefaultConfig()
	type plain Config
	return n.Decode((*plain)(c))
}

// Validate reads and checks the URL (exactly one of url, url_file and
// url_env), rejects credentials among the plain headers, and reads the
// secret header values and the optional HMAC secret.
func (c *Config) Validate(dc notify.DecodeContext) error {
	var errs []error
	switch n := countSet(c.URL.IsSet(), c.URLFile != "", c.URLEnv != ""); {
	case n == 0:
		errs = append(errs, errors.New("url: missing (set url, url_file or url_env)"))
	case n > 1:
		errs = append(errs, errors.New("set only one of url, url_file and url_env"))
	case c.URL.IsSet():
		if err := notify.CheckURL(c.URL.Reveal()); err != nil {
			errs = append(errs, notify.AtField(err, "url"))
		}
	default:
		u, err := dc.ReadSecret(notify.SecretSource{Field: "url", File: c.URLFile, Env: c.URLEnv})
		if err == nil && u.IsSet() {
			if err = notify.CheckURL(u.Reveal()); err != nil {
				err = fmt.Errorf("%s: %w", c.urlSource(), err)
			}
		}
		errs = append(errs, err)
		c.URL = u
	}
	for _, k := range sortedKeys(c.Headers) {
		if credentialHeader.MatchString(k) {
			errs = append(errs, notify.AtField(fmt.Errorf("headers: %q carries a credential: move it to secret_headers with value_file or value_env (inline secrets are not accepted)", k), "headers", k))
		}
	}
	for _, k := range sortedKeys(c.SecretHeaders) {
		for h := range c.Headers {
			if strings.EqualFold(h, k) {
				errs = append(errs, notify.AtField(fmt.Errorf("secret_headers: %q is also set in headers", k), "secret_headers", k))
			}
		}
		h := c.SecretHeaders[k]
		v, err := dc.ReadSecret(notify.SecretSource{Field: "value", File: h.ValueFile, Env: h.ValueEnv})
		if err != nil {
			errs = append(errs, notify.AtField(fmt.Errorf("secret_headers %q: %w", k, err), "secret_headers", k))
		}
		h.Value = v
		c.SecretHeaders[k] = h
	}
	s, err := dc.ReadSecret(notify.SecretSource{Field: "hmac_secret", File: c.HMACSecretFile, Env: c.HMACSecretEnv, Optional: true})
	errs = append(errs, err)
	c.HMACSecret = s
	if c.SignatureHeader == "" {
		c.SignatureHeader = DefaultSignatureHeader // "signature_header:" left empty
	}
	return errors.Join(errs...)
}

// Target shows the URL as scheme://host/… only (its path is often the
// hook's credential) and names where the URL, HMAC secret and secret
// headers come from.
func (c *Config) Target() string {
	src := func(file, env string) string {
		if file != "" {
			return "file " + file
		}
		return "env " + env
	}
	target := "url not read (--offline)"
	if c.URL.IsSet() {
		target = notify.MaskURL(c.URL.Reveal())
	}
	var notes []string
	if c.URLFile != "" || c.URLEnv != "" {
		notes = append(notes, "url from "+src(c.URLFile, c.URLEnv))
	}
	if c.HMACSecretFile != "" || c.HMACSecretEnv != "" {
		notes = append(notes, "signed, secret from "+src(c.HMACSecretFile, c.HMACSecretEnv))
	}
	for _, k := range sortedKeys(c.SecretHeaders) {
		h := c.SecretHeaders[k]
		notes = append(notes, fmt.Sprintf("header %s from %s", k, src(h.ValueFile, h.ValueEnv)))
	}
	if len(notes) > 0 {
		target += " (" + strings.Join(notes, "; ") + ")"
	}
	return target
}

// NewSender returns New(*c, ...).
func (c *Config) NewSender(o notify.SenderOptions) (notify.Sender, error) {
	return New(*c, o.HTTPClient, o.Now), nil
}

func (c *Config) urlSource() string {
	if c.URLFile != "" {
		return fmt.Sprintf("url_file %q", c.URLFile)
	}
	return "url_env " + c.URLEnv
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

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
