// Package receiver builds the notify.Sender of every receiver in a config.
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

// Build returns one Sender per receiver of cfg, by name.
func Build(cfg *notify.Config, opts Options) (map[string]notify.Sender, error) {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	out := make(map[string]notify.Sender, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		var s notify.Sender
		var err error
		switch {
		case r.PagerDuty != nil:
			s, err = pagerduty.New(*r.PagerDuty, opts.HTTPClient, opts.Now)
		case r.Opsgenie != nil:
			s, err = opsgenie.New(*r.Opsgenie, opts.HTTPClient, opts.Now)
		case r.Alertmanager != nil:
			s = alertmanager.New(*r.Alertmanager, opts.HTTPClient, opts.Now)
		case r.Webhook != nil:
			s = webhook.New(*r.Webhook, opts.HTTPClient, opts.Now)
		case r.Log != nil:
			s = logrecv.New(r.Name, opts.Stdout, opts.Now)
		default:
			err = fmt.Errorf("no kind set")
		}
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", r.Name, err)
		}
		out[r.Name] = s
	}
	return out, nil
}
