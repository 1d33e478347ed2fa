package alertmanager

import (
	"github.com/slodhq/slod/notify"
)

// KindName is the key of an Alertmanager receiver's block in a notify
// config.
const KindName = "alertmanager"

// Config configures delivery to an Alertmanager (API v2).
type Config struct {
	// URL is the Alertmanager base URL; "/api/v2/alerts" is appended.
	URL string `yaml:"url"`
	// GeneratorURL is sent as each alert's generatorURL (for example the
	// slod status page).
	GeneratorURL string `yaml:"generator_url"`
}

// Kind is the Alertmanager receiver kind, decoding a Config.
func Kind() notify.Kind { return notify.NewKind[Config](KindName) }

// Validate checks the URL, which has no default.
func (c *Config) Validate(notify.DecodeContext) error {
	return notify.AtField(notify.CheckURL(c.URL), "url")
}

// Target is the Alertmanager's URL.
func (c *Config) Target() string { return c.URL }

// NewSender returns New(*c, ...).
func (c *Config) NewSender(o notify.SenderOptions) (notify.Sender, error) {
	return New(*c, o.HTTPClient, o.Now), nil
}
