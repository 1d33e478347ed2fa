// Package daemon wires slod together: it loads SLOs, restores state,
// backfills, runs the evaluation loop on ticks aligned to the wall clock,
// turns incidents into notify pages, snapshots state atomically and serves
// the HTTP interface, all in one oklog/run group.
package daemon

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything slod is started with: flags, or a YAML file named by
// --config whose keys are the flag names (flags given on the command line
// win over the file).
type Config struct {
	SLODir       string        `yaml:"slo-dir"`
	NotifyConfig string        `yaml:"notify-config"`
	StateDir     string        `yaml:"state-dir"`
	Listen       string        `yaml:"listen"`
	Interval     time.Duration `yaml:"interval"`
	Step         time.Duration `yaml:"step"`
	QueryDelay   time.Duration `yaml:"query-delay"`
	// SnapshotInterval is how often state is written besides after every
	// incident change and at shutdown.
	SnapshotInterval time.Duration `yaml:"snapshot-interval"`
	// HoldDown, when set, replaces the default incident hold-down.
	HoldDown time.Duration `yaml:"hold-down"`
	// MaxReplay bounds how far back evaluation is replayed after a gap.
	MaxReplay time.Duration `yaml:"max-replay"`
	Shard     Shard         `yaml:"shard"`
	LogFormat string        `yaml:"log-format"`
	LogLevel  string        `yaml:"log-level"`
	Demo      bool          `yaml:"demo"`

	Prometheus PrometheusConfig `yaml:",inline"`
}

// PrometheusConfig is where event counts come from when not in demo mode.
type PrometheusConfig struct {
	URL               string        `yaml:"prometheus-url"`
	BearerTokenFile   string        `yaml:"prometheus-bearer-token-file"`
	BasicAuthUser     string        `yaml:"prometheus-basic-auth-user"`
	BasicAuthPassFile string        `yaml:"prometheus-basic-auth-password-file"`
	CAFile            string        `yaml:"prometheus-ca-file"`
	InsecureTLS       bool          `yaml:"prometheus-insecure-skip-verify"`
	Headers           HeaderList    `yaml:"prometheus-header"`
	Timeout           time.Duration `yaml:"prometheus-timeout"`
}

// DefaultConfig holds every default.
var DefaultConfig = Config{
	StateDir:         "state",
	Listen:           "127.0.0.1:9797",
	Interval:         time.Minute,
	Step:             time.Minute,
	QueryDelay:       30 * time.Second,
	SnapshotInterval: 5 * time.Minute,
	MaxReplay:        6 * time.Hour,
	LogFormat:        "text",
	LogLevel:         "info",
	Prometheus:       PrometheusConfig{Timeout: 30 * time.Second},
}

// Shard is "i/n": evaluate only the SLO instances whose hash modulo n is i.
type Shard struct {
	Index, Count int
}

// String renders the shard as i/n, or "" when sharding is off.
func (s Shard) String() string {
	if s.Count <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// Set parses i/n (a flag.Value).
func (s *Shard) Set(v string) error {
	i, n, ok := strings.Cut(v, "/")
	if !ok {
		return fmt.Errorf("shard %q: want i/n, for example 0/2", v)
	}
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return fmt.Errorf("shard %q: want i/n with 0 <= i < n, for example 0/2", v)
	}
	*s = Shard{Index: idx, Count: cnt}
	return nil
}

// UnmarshalYAML reads i/n from a config file.
func (s *Shard) UnmarshalYAML(n *yaml.Node) error {
	return s.Set(n.Value)
}

// HeaderList is repeated "Name: value" headers (a flag.Value).
type HeaderList []string

// String joins the headers.
func (h *HeaderList) String() string { return strings.Join(*h, ", ") }

// Set adds one "Name: value" header.
func (h *HeaderList) Set(v string) error {
	name, _, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("header %q: want \"Name: value\"", v)
	}
	*h = append(*h, v)
	return nil
}

// Map returns the headers by name.
func (h HeaderList) Map() map[string]string {
	out := map[string]string{}
	for _, v := range h {
		name, val, _ := strings.Cut(v, ":")
		out[strings.TrimSpace(name)] = strings.TrimSpace(val)
	}
	return out
}

// ErrHelp is returned by ParseFlags for -h/--help, after printing the help.
var ErrHelp = flag.ErrHelp

// UsageError is a bad flag, argument or config value (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

const usageHead = `slod evaluates SLOs with multi-window multi-burn-rate policies, ranks
incidents by the threat to their error budget and pages through notify receivers.

Usage:
  slod --demo                                   run with synthetic traffic, no Prometheus needed
  slod --slo-dir DIR --prometheus-url URL [flags]

Flags (also settable as keys of a YAML file given with --config):
`

// ParseFlags parses slod's command line into a Config. Help goes to out.
// A --config file is read first; flags on the command line override it.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	cfg := DefaultConfig
	if path := configFlag(args); path != "" {
		var err error
		if cfg, err = loadConfigFile(path, cfg); err != nil {
			return cfg, &UsageError{err}
		}
	}
	fs := flag.NewFlagSet("slod", flag.ContinueOnError)
	fs.SetOutput(out)
	// Every flag's default is the value so far (built-in or from the file),
	// so a flag that is not given keeps it.
	fs.String("config", "", "YAML file with any of these flags as keys")
	fs.StringVar(&cfg.SLODir, "slo-dir", cfg.SLODir, "directory of SLO files (required unless --demo, which uses ./examples/slos when present, else the copy built into slod)")
	fs.StringVar(&cfg.NotifyConfig, "notify-config", cfg.NotifyConfig, "notify config (receivers and routing); empty: pages go to the log receiver on stdout")
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory for the state snapshot and the notify outbox")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "HTTP listen address (status page, API, /metrics)")
	fs.DurationVar(&cfg.Interval, "interval", cfg.Interval, "evaluation interval; ticks fall on wall-clock multiples of it")
	fs.DurationVar(&cfg.Step, "step", cfg.Step, "resolution of ingested steps (finest ring-buffer slot)")
	fs.DurationVar(&cfg.QueryDelay, "query-delay", cfg.QueryDelay, "read only steps older than this, so late samples are in")
	fs.DurationVar(&cfg.SnapshotInterval, "snapshot-interval", cfg.SnapshotInterval, "write the state snapshot at least this often")
	fs.DurationVar(&cfg.HoldDown, "hold-down", cfg.HoldDown, "resolve incidents after no row fired for this long (0: the short window of the row that last fired)")
	fs.DurationVar(&cfg.MaxReplay, "max-replay", cfg.MaxReplay, "after a gap, evaluate every missed tick up to this far back")
	fs.Var(&cfg.Shard, "shard", "evaluate only SLO instances of shard i of n (i/n, for example 0/2)")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log format: text or json")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level: debug, info, warn or error")
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "synthetic traffic for examples/slos through the embedded PromQL engine, with a scripted incident a minute in")
	p := &cfg.Prometheus
	fs.StringVar(&p.URL, "prometheus-url", p.URL, "Prometheus-compatible HTTP API (Prometheus, Thanos Query, Mimir, VictoriaMetrics)")
	fs.StringVar(&p.BearerTokenFile, "prometheus-bearer-token-file", p.BearerTokenFile, "file holding a bearer token for the Prometheus API")
	fs.StringVar(&p.BasicAuthUser, "prometheus-basic-auth-user", p.BasicAuthUser, "basic auth user for the Prometheus API")
	fs.StringVar(&p.BasicAuthPassFile, "prometheus-basic-auth-password-file", p.BasicAuthPassFile, "file holding the basic auth password")
	fs.StringVar(&p.CAFile, "prometheus-ca-file", p.CAFile, "CA bundle to verify the Prometheus API's TLS certificate")
	fs.BoolVar(&p.InsecureTLS, "prometheus-insecure-skip-verify", p.InsecureTLS, "do not verify the Prometheus API's TLS certificate")
	fs.Var(&p.Headers, "prometheus-header", "extra request header \"Name: value\" (repeatable), for example \"X-Scope-OrgID: tenant1\"")
	fs.DurationVar(&p.Timeout, "prometheus-timeout", p.Timeout, "timeout of one Prometheus query")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, ErrHelp
		}
		return cfg, &UsageError{err}
	}
	if fs.NArg() > 0 {
		return cfg, &UsageError{fmt.Errorf("unexpected arguments %q (SLO files go in --slo-dir)", fs.Args())}
	}
	return cfg, cfg.validate()
}

// configFlag finds --config's value in args without parsing the rest.
func configFlag(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		switch {
		case (a == "--config" || a == "-config") && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--config="):
			return strings.TrimPrefix(a, "--config=")
		case strings.HasPrefix(a, "-config="):
			return strings.TrimPrefix(a, "-config=")
		}
	}
	return ""
}

func loadConfigFile(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := base
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return base, fmt.Errorf("%s: %w", path, err)
	}
	// One document per file: a second one would otherwise be ignored.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return base, fmt.Errorf("%s: %w", path, err)
		}
		return base, fmt.Errorf("%s:%d:%d: a second YAML document: a config file holds one document", path, extra.Line, extra.Column)
	}
	return cfg, nil
}

func (c Config) validate() error {
	var errs []error
	if !c.Demo && c.SLODir == "" {
		errs = append(errs, errors.New("--slo-dir is required (or try --demo)"))
	}
	if !c.Demo && c.Prometheus.URL == "" {
		errs = append(errs, errors.New("--prometheus-url is required (or try --demo)"))
	}
	if c.Step < time.Second || c.Step%time.Second != 0 {
		errs = append(errs, fmt.Errorf("--step %s: want a whole number of seconds", c.Step))
	}
	if c.Interval < c.Step || c.Interval%c.Step != 0 {
		errs = append(errs, fmt.Errorf("--interval %s: want a multiple of --step %s", c.Interval, c.Step))
	}
	if c.QueryDelay < 0 {
		errs = append(errs, fmt.Errorf("--query-delay %s is negative", c.QueryDelay))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen is empty"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("--state-dir is empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return &UsageError{err}
	}
	return nil
}

// Logger builds the slog logger the config asks for.
func (c Config) Logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
