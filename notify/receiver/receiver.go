// Package receiver knows every built-in receiver kind: it parses notify
// configs with all of them and builds the notify.Sender of each receiver.
package receiver

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
	"github.com/slodhq/slod/notify/logrecv"
	"github.com/slodhq/slod/notify/opsgenie"
	"github.com/slodhq/slod/notify/pagerduty"
	"github.com/slodhq/slod/notify/webhook"
)

// Kinds returns every built-in receiver kind, in the order messages list
// them.
func Kinds() []notify.Kind {
	return []notify.Kind{pagerduty.Kind(), opsgenie.Kind(), alertmanager.Kind(), webhook.Kind(), logrecv.Kind()}
}

// LoadConfig is notify.LoadConfig with the built-in kinds.
func LoadConfig(path string) (*notify.Config, error) {
	return notify.LoadConfig(path, Kinds())
}

// LoadConfigOffline is notify.LoadConfigOffline with the built-in kinds.
func LoadConfigOffline(path string) (*notify.Config, error) {
	return notify.LoadConfigOffline(path, Kinds())
}

// ParseConfig is notify.ParseConfig with the built-in kinds.
func ParseConfig(data []byte, name string, lookupEnv func(string) (string, bool)) (*notify.Config, error) {
	return notify.ParseConfig(data, name, lookupEnv, Kinds())
}

// LogOnlyConfig returns a config with one receiver, "stdout", of kind log,
// and default delivery: a daemon's default when no notify config is given.
func LogOnlyConfig() *notify.Config {
	cfg, err := ParseConfig([]byte("receivers: [{name: stdout, log: {}}]\nroute: {receiver: stdout}\n"), "builtin", nil)
	if err != nil {
		panic("receiver: builtin log config: " + err.Error())
	}
	return cfg
}

// Options are shared by every receiver.
type Options struct {
	// HTTPClient defaults to a client with no overall timeout: the
	// dispatcher bounds every attempt with delivery.timeout.
	HTTPClient *http.Client
	// Stdout is where the log receiver writes; defaults to os.Stdout.
	Stdout io.Writer
	// Now defaults to time.Now.
	Now func() time.Time
}

// Build returns one Sender per receiver of cfg, by name, each built by its
// kind's config.
func Build(cfg *notify.Config, opts Options) (map[string]notify.Sender, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	out := make(map[string]notify.Sender, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		if r.Config == nil {
			return nil, fmt.Errorf("receiver %q: no config (kind %q)", r.Name, r.Kind)
		}
		s, err := r.Config.NewSender(notify.SenderOptions{Name: r.Name, HTTPClient: opts.HTTPClient, Stdout: opts.Stdout, Now: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", r.Name, err)
		}
		out[r.Name] = s
	}
	return out, nil
}
