package pagerduty

import (
	"errors"
	"fmt"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/notify"
)

// KindName is the key of a PagerDuty receiver's block in a notify config.
const KindName = "pagerduty"

// DefaultURL is the Events API v2 base URL.
const DefaultURL = "https://events.pagerduty.com"

// Config configures the PagerDuty Events API v2.
type Config struct {
	// URL is the Events API base; "/v2/enqueue" is appended.
	URL            string `yaml:"url"`
	RoutingKeyFile string `yaml:"routing_key_file"`
	RoutingKeyEnv  string `yaml:"routing_key_env"`
	// Severities maps page and ticket to PagerDuty severities
	// (critical, error, warning, info).
	Severities map[notify.Severity]string `yaml:"severities"`
	// Client and ClientURL name the sender in the PagerDuty UI.
	Client    string `yaml:"client"`
	ClientURL string `yaml:"client_url"`

	// RoutingKey is read from RoutingKeyFile or RoutingKeyEnv by Validate.
	RoutingKey notify.Secret `yaml:"-"`
}

// DefaultConfig is what a config's block starts from: the public Events
// API, pages as critical and tickets as warning.
func DefaultConfig() Config {
	return Config{
		URL:        DefaultURL,
		Severities: map[notify.Severity]string{notify.SeverityPage: "critical", notify.SeverityTicket: "warning"},
	}
}

// Kind is the PagerDuty receiver kind, decoding a Config.
func Kind() notify.Kind { return notify.NewKind[Config](KindName) }

// UnmarshalYAML fills the defaults, then the block: severities it names
// replace the default for that severity only.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = DefaultConfig()
	type plain Config
	return n.Decode((*plain)(c))
}

// Validate checks the URL and severities and reads the routing key, which
// must come from exactly one of routing_key_file and routing_key_env.
func (c *Config) Validate(dc notify.DecodeContext) error {
	var errs []error
	if c.URL == "" {
		c.URL = DefaultURL // "url:" left empty
	} else if err := notify.CheckURL(c.URL); err != nil {
		errs = append(errs, notify.AtField(err, "url"))
	}
	key, err := dc.ReadSecret(notify.SecretSource{Field: "routing_key", File: c.RoutingKeyFile, Env: c.RoutingKeyEnv})
	errs = append(errs, err)
	c.RoutingKey = key
	keys := make([]notify.Severity, 0, len(c.Severities))
	for k := range c.Severities {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != notify.SeverityPage && k != notify.SeverityTicket {
			errs = append(errs, notify.AtField(fmt.Errorf("severities: key %q is neither page nor ticket", k), "severities"))
		}
		switch v := c.Severities[k]; v {
		case "critical", "error", "warning", "info":
		default:
			errs = append(errs, notify.AtField(fmt.Errorf("severities: %q is not a PagerDuty severity (critical, error, warning, info)", v), "severities", string(k)))
		}
	}
	return errors.Join(errs...)
}

// Target names the API and where the routing key comes from.
func (c *Config) Target() string {
	src := "env " + c.RoutingKeyEnv
	if c.RoutingKeyFile != "" {
		src = "file " + c.RoutingKeyFile
	}
	return fmt.Sprintf("%s (routing key from %s)", c.URL, src)
}

// NewSender returns New(*c, ...).
func (c *Config) NewSender(o notify.SenderOptions) (notify.Sender, error) {
	r, err := New(*c, o.HTTPClient, o.Now)
	if err != nil {
		return nil, err
	}
	return r, nil
}
