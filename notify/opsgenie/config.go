package opsgenie

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/notify"
)

// KindName is the key of an Opsgenie receiver's block in a notify config.
const KindName = "opsgenie"

// Opsgenie API hosts.
const (
	USURL = "https://api.opsgenie.com"
	EUURL = "https://api.eu.opsgenie.com"
)

// Config configures the Opsgenie Alert API v2.
type Config struct {
	// Region picks the API host: "us" (api.opsgenie.com) or "eu"
	// (api.eu.opsgenie.com). URL, when set, overrides it.
	Region     string `yaml:"region"`
	URL        string `yaml:"url"`
	APIKeyFile string `yaml:"api_key_file"`
	APIKeyEnv  string `yaml:"api_key_env"`
	// Priorities maps page and ticket to P1..P5.
	Priorities map[notify.Severity]string `yaml:"priorities"`
	Tags       []string                   `yaml:"tags"`
	// Responders are sent as team responders by name.
	Responders []string `yaml:"responders"`

	// APIKey is read from APIKeyFile or APIKeyEnv by Validate.
	APIKey notify.Secret `yaml:"-"`
}

// DefaultConfig is what a config's block starts from: pages as P1 and
// tickets as P3 (the region, us by default, picks the URL in Validate).
func DefaultConfig() Config {
	return Config{Priorities: map[notify.Severity]string{notify.SeverityPage: "P1", notify.SeverityTicket: "P3"}}
}

// Kind is the Opsgenie receiver kind, decoding a Config.
func Kind() notify.Kind { return notify.NewKind[Config](KindName) }

// UnmarshalYAML fills the defaults, then the block: priorities it names
// replace the default for that severity only.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	*c = DefaultConfig()
	type plain Config
	return n.Decode((*plain)(c))
}

// Validate sets the URL from the region unless one is given, checks the
// priorities, and reads the API key, which must come from exactly one of
// api_key_file and api_key_env.
func (c *Config) Validate(dc notify.DecodeContext) error {
	var errs []error
	switch {
	case c.URL != "":
		if err := notify.CheckURL(c.URL); err != nil {
			errs = append(errs, notify.AtField(err, "url"))
		}
	case c.Region == "" || strings.EqualFold(c.Region, "us"):
		c.URL = USURL
	case strings.EqualFold(c.Region, "eu"):
		c.URL = EUURL
	default:
		errs = append(errs, notify.AtField(fmt.Errorf("region %q is neither us nor eu (set url for a custom host)", c.Region), "region"))
	}
	key, err := dc.ReadSecret(notify.SecretSource{Field: "api_key", File: c.APIKeyFile, Env: c.APIKeyEnv})
	errs = append(errs, err)
	c.APIKey = key
	keys := make([]notify.Severity, 0, len(c.Priorities))
	for k := range c.Priorities {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k != notify.SeverityPage && k != notify.SeverityTicket {
			errs = append(errs, notify.AtField(fmt.Errorf("priorities: key %q is neither page nor ticket", k), "priorities"))
		}
		switch v := c.Priorities[k]; v {
		case "P1", "P2", "P3", "P4", "P5":
		default:
			errs = append(errs, notify.AtField(fmt.Errorf("priorities: %q is not one of P1..P5", v), "priorities", string(k)))
		}
	}
	return errors.Join(errs...)
}

// Target names the API host and where the API key comes from.
func (c *Config) Target() string {
	src := "env " + c.APIKeyEnv
	if c.APIKeyFile != "" {
		src = "file " + c.APIKeyFile
	}
	return fmt.Sprintf("%s (api key from %s)", c.URL, src)
}

// NewSender returns New(*c, ...).
func (c *Config) NewSender(o notify.SenderOptions) (notify.Sender, error) {
	r, err := New(*c, o.HTTPClient, o.Now)
	if err != nil {
		return nil, err
	}
	return r, nil
}
