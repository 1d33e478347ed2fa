// Package daemon wires slod together: it loads SLOs, restores state,
// backfills, runs the evaluation loop on ticks aligned to the wall clock,
// turns incidents into notify pages, snapshots state atomically and serves
// the HTTP interface, all in one oklog/run group.
package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
)

// Config is everything slod is started with: flags, or a YAML file named by
// --config whose keys are the flag names (flags given on the command line
// win over the file).
type Config struct {
	SLODir       string
	NotifyConfig string
	StateDir     string
	Listen       string
	Interval     time.Duration
	Step         time.Duration
	QueryDelay   time.Duration
	// SnapshotInterval is how often the ring checkpoint is written in the
	// background (and at shutdown); incidents and pending pages are written
	// after every change regardless.
	SnapshotInterval time.Duration
	// HoldDown, when set, replaces the default incident hold-down.
	HoldDown time.Duration
	// MaxReplay bounds how far back evaluation is replayed after a gap.
	MaxReplay time.Duration
	// CorrelationGrace and DependencyPolicy configure dependency
	// correlation (engine.Correlation, docs/incidents.md).
	CorrelationGrace time.Duration
	DependencyPolicy string
	// QueryConcurrency bounds the SLOs read from the source at once.
	QueryConcurrency int
	// BackfillWait is how long a tick waits for its reads; a longer read
	// (a cold backfill, a long gap) goes on in the background. 0 waits.
	BackfillWait time.Duration
	// MaxInstancesPerSLO and MaxInstances cap the instances (group_by label
	// sets) of one SLO and of the daemon; hitting one is logged, counted in
	// slod_instances_dropped and shown as a banner.
	MaxInstancesPerSLO int
	MaxInstances       int
	// MetricsPerInstance exports the slod_instance_* gauges (SLI, burn per
	// window, budget, time to exhaustion, state) for every SLO instance;
	// off, /metrics carries per-SLO series only (for very large fleets).
	MetricsPerInstance bool
	// MetricsPerInstanceMax stops the per-instance gauges while the daemon
	// evaluates more instances than this (slod_instance_metrics_suppressed
	// says so): 100,000 instances would be 1.1 million series on /metrics.
	MetricsPerInstanceMax int
	// Shard is this daemon's shard, from --shard i/n, or from --shard i
	// or --pod NAME (a StatefulSet pod's ordinal) with --total-shards n.
	Shard       Shard
	TotalShards int
	Pod         string
	// ShardSplit names the group_by SLOs whose instances are split among
	// the shards in their queries (ID or ID=LABEL; "*" every group_by
	// SLO); every other SLO goes whole to one shard.
	ShardSplit []string
	LogFormat  string
	LogLevel   string
	Demo       bool

	// Prometheus is where event counts come from when not in demo mode;
	// sloctl backtest takes the same flags.
	Prometheus source.PrometheusFlags

	// ClockStart and ClockSpeed, set only by tests of the real process
	// (hidden flags), run slod on a virtual clock that reads ClockStart at
	// start-up and runs ClockSpeed times as fast as the wall clock, so a
	// fixture with a fixed end plays out in seconds.
	ClockStart time.Time
	ClockSpeed float64
}

// DefaultConfig holds every default.
var DefaultConfig = Config{
	StateDir:              "state",
	Listen:                "127.0.0.1:9797",
	Interval:              time.Minute,
	Step:                  time.Minute,
	QueryDelay:            30 * time.Second,
	SnapshotInterval:      5 * time.Minute,
	MaxReplay:             6 * time.Hour,
	QueryConcurrency:      8,
	BackfillWait:          10 * time.Second,
	MaxInstancesPerSLO:    engine.DefaultMaxInstancesPerSLO,
	MaxInstances:          engine.DefaultMaxInstances,
	MetricsPerInstance:    true,
	MetricsPerInstanceMax: 10000,
	TotalShards:           1,
	LogFormat:             "text",
	LogLevel:              "info",
	Prometheus:            source.PrometheusFlags{QueryTimeout: 30 * time.Second},
	ClockSpeed:            1,
}

// DeprecatedFlags maps slod's old flag names (and config keys) to the
// current ones: the Prometheus flags used to carry a prometheus- prefix
// that sloctl backtest's did not. The old names still work, hidden.
var DeprecatedFlags = map[string]string{
	"prometheus-bearer-token-file":        "bearer-token-file",
	"prometheus-basic-auth-user":          "basic-auth-user",
	"prometheus-basic-auth-password-file": "basic-auth-password-file",
	"prometheus-ca-file":                  "ca-file",
	"prometheus-insecure-skip-verify":     "tls-insecure-skip-verify",
	"prometheus-header":                   "header",
	"prometheus-timeout":                  "query-timeout",
}

// AddFlags registers slod's flags on fs, bound to c's fields, with their
// current values as defaults.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.SLODir, "slo-dir", c.SLODir, "directory of SLO files (required unless --demo, which uses ./examples/slos when present, else the copy built into slod)")
	fs.StringVar(&c.NotifyConfig, "notify-config", c.NotifyConfig, "notify config (receivers and routing); empty: pages go to the log receiver on stdout")
	fs.StringVar(&c.StateDir, "state-dir", c.StateDir, "directory for the state snapshot and the notify outbox")
	fs.StringVar(&c.Listen, "listen", c.Listen, "HTTP listen address (status page, API, /metrics)")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "evaluation interval; ticks fall on wall-clock multiples of it")
	fs.DurationVar(&c.Step, "step", c.Step, "resolution of ingested steps (finest ring-buffer slot)")
	fs.DurationVar(&c.QueryDelay, "query-delay", c.QueryDelay, "read only steps older than this, so late samples are in")
	fs.DurationVar(&c.SnapshotInterval, "snapshot-interval", c.SnapshotInterval, "write the state snapshot at least this often")
	fs.DurationVar(&c.HoldDown, "hold-down", c.HoldDown, "resolve incidents after no row fired for this long (0: the short window of the row that last fired)")
	fs.DurationVar(&c.CorrelationGrace, "correlation-grace", c.CorrelationGrace, "how much later than a dependent's burn an upstream burn may begin and still be its cause; a dependent with no burning upstream holds its page this long (0: 2m; negative: no grace)")
	fs.StringVar(&c.DependencyPolicy, "dependency-policy", c.DependencyPolicy, "what correlation does on depends_on edges that name no policy: suppress (symptoms do not page; the default), annotate (both page, linked) or off")
	fs.DurationVar(&c.MaxReplay, "max-replay", c.MaxReplay, "after a gap, evaluate every missed tick up to this far back")
	fs.IntVar(&c.QueryConcurrency, "query-concurrency", c.QueryConcurrency, "SLOs read from the source at once (background backfills included)")
	fs.DurationVar(&c.BackfillWait, "backfill-wait", c.BackfillWait, "how long a tick waits for its reads; a longer one (a cold backfill, a long gap) goes on in the background and its SLO is evaluated once it ends, while the others run (0 waits for every read)")
	fs.IntVar(&c.MaxInstancesPerSLO, "max-instances-per-slo", c.MaxInstancesPerSLO, "cap on the instances (group_by label sets) of one SLO; new ones beyond it are dropped, loudly")
	fs.IntVar(&c.MaxInstances, "max-instances", c.MaxInstances, "cap on the instances of all SLOs together")
	fs.BoolVar(&c.MetricsPerInstance, "metrics-per-instance", c.MetricsPerInstance, "export slod_instance_* gauges for every SLO instance on /metrics (about 12 series each; --metrics-per-instance=false keeps per-SLO series only)")
	fs.IntVar(&c.MetricsPerInstanceMax, "metrics-per-instance-max", c.MetricsPerInstanceMax, "export the slod_instance_* gauges only while the daemon evaluates at most this many instances (about 11 series each); above it slod_instance_metrics_suppressed is 1")
	fs.Var(&c.Shard, "shard", "this daemon's shard: i/n (for example 0/2), or the ordinal i with --total-shards n")
	fs.IntVar(&c.TotalShards, "total-shards", c.TotalShards, "number of shards (kube-state-metrics' convention; 1: no sharding); with --shard ORDINAL or --pod NAME")
	fs.StringVar(&c.Pod, "pod", c.Pod, "StatefulSet pod name whose trailing ordinal (slod-2: 2) is the shard, with --total-shards (pass --pod=$(POD_NAME))")
	fs.StringArrayVar(&c.ShardSplit, "shard-split", c.ShardSplit, "split this group_by SLO's instances among the shards in its queries: SLO_ID, SLO_ID=LABEL (default label: its first group_by label), or * for every group_by SLO; repeatable. Other SLOs go whole to one shard")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "synthetic traffic for examples/slos through the embedded PromQL engine, with a scripted incident a minute in")
	c.Prometheus.AddFlags(fs)
	source.AddDeprecatedAliases(fs, DeprecatedFlags)
	fs.Var((*timeValue)(&c.ClockStart), "test.clock-start", "tests only: start a virtual clock at this RFC 3339 time")
	fs.Float64Var(&c.ClockSpeed, "test.clock-speed", c.ClockSpeed, "tests only: run the virtual clock this many times as fast as the wall clock")
	_ = fs.MarkHidden("test.clock-start")
	_ = fs.MarkHidden("test.clock-speed")
}

// timeValue is an RFC 3339 time flag.
type timeValue time.Time

func (t *timeValue) String() string {
	if time.Time(*t).IsZero() {
		return ""
	}
	return time.Time(*t).Format(time.RFC3339Nano)
}

func (t *timeValue) Set(v string) error {
	x, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time: %w", err)
	}
	*t = timeValue(x)
	return nil
}

func (t *timeValue) Type() string { return "time" }

// Shard is "i/n": this daemon is shard i of n. Set also takes a bare
// ordinal "i" (Count 0), which --total-shards completes.
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

// Set parses i/n, or a bare ordinal i (a pflag.Value).
func (s *Shard) Set(v string) error {
	i, n, ok := strings.Cut(v, "/")
	if !ok {
		idx, err := strconv.Atoi(v)
		if err != nil || idx < 0 {
			return fmt.Errorf("shard %q: want i/n (for example 0/2) or an ordinal i with --total-shards", v)
		}
		*s = Shard{Index: idx}
		return nil
	}
	idx, err1 := strconv.Atoi(i)
	cnt, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || cnt < 1 || idx < 0 || idx >= cnt {
		return fmt.Errorf("shard %q: want i/n with 0 <= i < n, for example 0/2", v)
	}
	*s = Shard{Index: idx, Count: cnt}
	return nil
}

// Type names the value in help output.
func (s *Shard) Type() string { return "i/n" }

// resolveShard settles the shard from --shard (i/n or an ordinal),
// --pod and --total-shards; shardSet says whether --shard was given. Its
// errors are one line each.
func (c *Config) resolveShard(shardSet bool) error {
	if c.TotalShards < 1 {
		return fmt.Errorf("--total-shards %d: must be at least 1", c.TotalShards)
	}
	if c.Pod != "" {
		if shardSet {
			return fmt.Errorf("--shard %s and --pod %s: give one (--pod takes the shard from the pod's ordinal)", c.Shard.flagText(), c.Pod)
		}
		i := strings.LastIndexByte(c.Pod, '-')
		ord, err := strconv.Atoi(c.Pod[i+1:])
		if i < 0 || err != nil || ord < 0 || c.Pod[i+1:] != strconv.Itoa(ord) {
			return fmt.Errorf("--pod %q: want a StatefulSet pod name ending in -ORDINAL, such as slod-2", c.Pod)
		}
		if c.TotalShards == 1 && ord > 0 {
			return fmt.Errorf("--pod %s: ordinal %d needs --total-shards greater than %d", c.Pod, ord, ord)
		}
		c.Shard = Shard{Index: ord}
		shardSet = true
	}
	if c.Shard.Count > 0 { // i/n
		if c.TotalShards > 1 && c.TotalShards != c.Shard.Count {
			return fmt.Errorf("--shard %s and --total-shards %d disagree", c.Shard.flagText(), c.TotalShards)
		}
		return nil
	}
	if c.TotalShards > 1 && !shardSet {
		return fmt.Errorf("--total-shards %d: say which shard this daemon is with --shard ORDINAL or --pod NAME", c.TotalShards)
	}
	if c.Shard.Index >= c.TotalShards {
		return fmt.Errorf("--shard %d: want an ordinal below --total-shards %d (or write i/n)", c.Shard.Index, c.TotalShards)
	}
	c.Shard.Count = c.TotalShards
	if c.Shard.Count == 1 {
		c.Shard = Shard{} // one shard: no sharding
	}
	return nil
}

// flagText is the shard as it was given.
func (s Shard) flagText() string {
	if s.Count == 0 {
		return strconv.Itoa(s.Index)
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// EngineShard is the engine's placement of SLOs on this daemon's shard.
func (c Config) EngineShard() engine.Shard {
	s := engine.Shard{Index: c.Shard.Index, Count: c.Shard.Count}
	if len(c.ShardSplit) > 0 {
		s.Split = map[string]string{}
		for _, v := range c.ShardSplit {
			id, label, _ := strings.Cut(v, "=")
			s.Split[id] = label
		}
	}
	return s
}

// ErrHelp is returned by ParseFlags for --help and --version, after
// printing the help or the version.
var ErrHelp = pflag.ErrHelp

// UsageError is a bad flag, argument or config value (exit code 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// configFlag finds --config's value in args without parsing the rest.
func configFlag(args []string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		switch {
		case a == "--config" && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "--config="):
			return strings.TrimPrefix(a, "--config=")
		}
	}
	return ""
}

// applyConfigFile sets the flags of fs named by the keys of the YAML file
// at path, through the same parsers as the command line (a list sets a
// repeatable flag once per item). Errors carry file:line:column.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	// One document per file: a second one would otherwise be ignored.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return fmt.Errorf("%s:%d:%d: a second YAML document: a config file holds one document", path, extra.Line, extra.Column)
	}
	m := &doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil
	}
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d:%d: want a mapping of flag names to values", path, m.Line, m.Column)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		at := fmt.Sprintf("%s:%d:%d", path, k.Line, k.Column)
		f := fs.Lookup(k.Value)
		if f == nil || k.Value == "config" || k.Value == "help" || k.Value == "version" {
			return fmt.Errorf("%s: unknown key %q (keys are slod's flag names)", at, k.Value)
		}
		var values []*yaml.Node
		switch v.Kind {
		case yaml.ScalarNode:
			values = []*yaml.Node{v}
		case yaml.SequenceNode:
			if _, repeatable := f.Value.(*source.Headers); !repeatable && f.Value.Type() != "stringArray" {
				return fmt.Errorf("%s: %s takes one value, not a list", at, k.Value)
			}
			values = v.Content
		default:
			return fmt.Errorf("%s: %s: want a value", at, k.Value)
		}
		for _, val := range values {
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("%s:%d:%d: %s: want a value", path, val.Line, val.Column, k.Value)
			}
			if err := fs.Set(k.Value, val.Value); err != nil {
				return fmt.Errorf("%s:%d:%d: %s: %w", path, val.Line, val.Column, k.Value, err)
			}
		}
	}
	return nil
}

func (c Config) validate() error {
	var errs []error
	if !c.Demo && c.SLODir == "" {
		errs = append(errs, errors.New("--slo-dir is required (or try --demo)"))
	}
	if !c.Demo && c.Prometheus.URL == "" {
		errs = append(errs, errors.New("--prometheus-url is required (or try --demo)"))
	}
	if err := c.Prometheus.Validate(); err != nil {
		errs = append(errs, err)
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
	if _, err := slo.ParseDependencyPolicy(c.DependencyPolicy); err != nil {
		errs = append(errs, fmt.Errorf("--dependency-policy: %w", err))
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
	if c.MaxInstancesPerSLO < 1 || c.MaxInstances < 1 {
		errs = append(errs, fmt.Errorf("--max-instances-per-slo %d, --max-instances %d: must be at least 1", c.MaxInstancesPerSLO, c.MaxInstances))
	}
	if c.BackfillWait < 0 {
		errs = append(errs, fmt.Errorf("--backfill-wait %s: must not be negative", c.BackfillWait))
	}
	if c.QueryConcurrency < 1 {
		errs = append(errs, fmt.Errorf("--query-concurrency %d: must be at least 1", c.QueryConcurrency))
	}
	for _, v := range c.ShardSplit {
		id, label, hasLabel := strings.Cut(v, "=")
		if id == "" || (hasLabel && !slo.ValidLabelName(label)) {
			errs = append(errs, fmt.Errorf("--shard-split %q: want SLO_ID, SLO_ID=LABEL or *", v))
		}
	}
	if c.ClockSpeed <= 0 {
		errs = append(errs, fmt.Errorf("--test.clock-speed %g: must be positive", c.ClockSpeed))
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
