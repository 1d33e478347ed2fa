package logrecv

import (
	"errors"
	"os"

	"github.com/slodhq/slod/notify"
)

// KindName is the key of a log receiver's block in a notify config.
const KindName = "log"

// Config configures the log receiver, which writes one JSON line per page
// to standard output. It has no settings: its block is "{}".
type Config struct{}

// Kind is the log receiver kind, decoding a Config.
func Kind() notify.Kind { return notify.NewKind[Config](KindName) }

// Validate has nothing to check.
func (c *Config) Validate(notify.DecodeContext) error { return nil }

// Target is where the receiver writes.
func (c *Config) Target() string { return "stdout" }

// NewSender returns a receiver named o.Name writing to o.Stdout
// (os.Stdout when nil).
func (c *Config) NewSender(o notify.SenderOptions) (notify.Sender, error) {
	if o.Name == "" {
		return nil, errors.New("log: receiver name not set")
	}
	w := o.Stdout
	if w == nil {
		w = os.Stdout
	}
	return New(o.Name, w, o.Now), nil
}
