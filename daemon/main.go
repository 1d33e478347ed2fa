package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slodhq/slod/examples"
	"github.com/slodhq/slod/internal/version"
	"github.com/slodhq/slod/source"
)

// Exit codes of slod.
const (
	ExitOK    = 0
	ExitError = 1 // the daemon could not start or failed
	ExitUsage = 2 // bad flags or config values
)

// Main runs slod with args until ctx ends or a signal stops it, and returns
// the process exit code. Help and the version go to stdout.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout, stderr)
	if errors.Is(err, ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "slod: %v (see 'slod --help')\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return ExitUsage
	}
	log := cfg.Logger(stderr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := Options{Config: cfg, Logger: log, Registry: reg, Stdout: stdout}
	if !cfg.ClockStart.IsZero() {
		opts.Now, opts.Speed = VirtualClock(cfg.ClockStart, cfg.ClockSpeed), cfg.ClockSpeed
		log.Warn("running on a virtual clock (a test flag)", "start", cfg.ClockStart, "speed", cfg.ClockSpeed)
	}
	if cfg.Demo {
		if cfg.SLODir == "" {
			cfg.SLODir = "examples/slos"
			if _, err := os.Stat(cfg.SLODir); err != nil {
				// Not in a checkout: run on the copy built into the binary.
				tmp, dir, err := extractExamples()
				if err != nil {
					fmt.Fprintf(stderr, "slod: demo SLOs: %v\n", err)
					return ExitError
				}
				defer os.RemoveAll(tmp)
				cfg.SLODir = dir
			}
		}
		cfg.Step, cfg.Interval, cfg.QueryDelay = DemoStep, DemoStep, 0
		if cfg.StateDir == DefaultConfig.StateDir {
			dir, err := os.MkdirTemp("", "slod-demo-")
			if err != nil {
				fmt.Fprintf(stderr, "slod: %v\n", err)
				return ExitError
			}
			defer os.RemoveAll(dir)
			cfg.StateDir = dir
		}
		start := time.Now()
		demo, err := NewDemo(start)
		if err != nil {
			fmt.Fprintf(stderr, "slod: %v\n", err)
			return ExitError
		}
		log.Info("demo: synthetic traffic for examples/slos", "script", DemoScript, "status_page", "http://"+cfg.Listen+"/")
		opts.Querier = demo.Engine
		opts.SourceName = "embedded (demo)"
		opts.BeforeTick = func(now time.Time) {
			if err := demo.Advance(now); err != nil {
				log.Error("demo traffic", "err", err)
			}
		}
	} else {
		po, err := cfg.Prometheus.Options()
		if err != nil {
			fmt.Fprintf(stderr, "slod: %v\n", err)
			return ExitUsage
		}
		po.Metrics, po.Logger = source.NewMetrics(reg), log.With("component", "source")
		prom, err := source.NewPrometheus(po)
		if err != nil {
			fmt.Fprintf(stderr, "slod: %v\n", err)
			return ExitUsage
		}
		opts.Querier = prom
		opts.SourceName = "prometheus"
	}
	opts.Config = cfg
	d, err := New(opts)
	if err != nil {
		log.Error("cannot start", "err", err)
		return ExitError
	}
	if err := d.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		return ExitError
	}
	return ExitOK
}

// extractExamples writes the SLO files built into the binary to a new
// temporary directory tmp (the daemon reads and watches a directory) and
// returns it, for the caller to remove, and the SLO directory inside it.
func extractExamples() (tmp, slos string, err error) {
	tmp, err = os.MkdirTemp("", "slod-demo-slos-")
	if err != nil {
		return "", "", err
	}
	if err := os.CopyFS(tmp, examples.SLOs); err != nil {
		os.RemoveAll(tmp)
		return "", "", err
	}
	return tmp, filepath.Join(tmp, "slos"), nil
}

const longHelp = `slod evaluates SLOs with multi-window multi-burn-rate policies, ranks
incidents by the threat to their error budget and pages through notify receivers.

Every flag can also be a key of a YAML file given with --config (keys are the
flag names; flags on the command line win over the file).

Exit codes: 0 success, 1 could not start or failed, 2 bad flags or config.`

// ParseFlags parses slod's command line into a Config; help and the
// version go to out (and ErrHelp is returned), deprecation notices are
// dropped (Main prints them on stderr). A --config file is read first;
// flags on the command line override it.
func ParseFlags(args []string, out io.Writer) (Config, error) {
	return parseFlags(args, out, io.Discard)
}

func parseFlags(args []string, stdout, stderr io.Writer) (Config, error) {
	cfg := DefaultConfig
	ran := false
	cmd := &cobra.Command{
		Use:   "slod [flags]",
		Short: "Evaluate SLO burn rates, rank incidents and page on-call",
		Long:  longHelp,
		Example: `  slod --demo                        synthetic traffic, no Prometheus needed
  slod --slo-dir /etc/slod/slos --prometheus-url http://prometheus:9090 \
       --notify-config /etc/slod/notify.yaml --state-dir /var/lib/slod`,
		Version:       version.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unexpected arguments %q (SLO files go in --slo-dir)", args)
			}
			return nil
		},
		RunE: func(*cobra.Command, []string) error {
			ran = true
			return nil
		},
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.SetVersionTemplate("{{.Name}} version {{.Version}}\n")
	fs := cmd.Flags()
	fs.SetOutput(stderr) // deprecation notices; cobra would print them to stdout
	fs.SortFlags = false
	fs.String("config", "", "YAML file with any of these flags as keys")
	cfg.AddFlags(fs)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return singleDashError(fs, args, err)
	})
	if path := configFlag(args); path != "" {
		if err := applyConfigFile(fs, path); err != nil {
			return cfg, &UsageError{err}
		}
	}
	if err := cmd.Execute(); err != nil {
		var ue *UsageError
		if errors.As(err, &ue) {
			return cfg, err
		}
		return cfg, &UsageError{err}
	}
	if !ran {
		return cfg, ErrHelp
	}
	if err := cfg.resolveShard(fs.Changed("shard")); err != nil {
		return cfg, &UsageError{err}
	}
	return cfg, cfg.validate()
}

// singleDashError explains a long flag given with one dash (-demo), which
// slod's old flag parser accepted; any other flag error is returned as is.
func singleDashError(fs *pflag.FlagSet, args []string, err error) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || strings.HasPrefix(a, "--") {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && fs.Lookup(name) != nil {
			return &UsageError{fmt.Errorf("%s: long flags take two dashes: --%s", a, a[1:])}
		}
	}
	return &UsageError{err}
}
