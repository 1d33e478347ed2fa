package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/slodhq/slod/examples"
	"github.com/slodhq/slod/source"
)

// Exit codes of slod.
const (
	ExitOK    = 0
	ExitError = 1 // the daemon could not start or failed
	ExitUsage = 2 // bad flags or config values
)

// Main runs slod with args until ctx ends or a signal stops it, and returns
// the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags(args, stderr)
	if errors.Is(err, ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "slod: %v\nRun 'slod --help' for usage.\n", err)
		return ExitUsage
	}
	log := cfg.Logger(stderr)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts := Options{Config: cfg, Logger: log, Registry: reg, Stdout: stdout}
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
		p := cfg.Prometheus
		prom, err := source.NewPrometheus(source.PrometheusOptions{
			URL: p.URL, BearerTokenFile: p.BearerTokenFile, Username: p.BasicAuthUser, PasswordFile: p.BasicAuthPassFile,
			Headers: p.Headers.Map(), CAFile: p.CAFile, InsecureSkipVerify: p.InsecureTLS, Timeout: p.Timeout,
			Metrics: source.NewMetrics(reg), Logger: log.With("component", "source"),
		})
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
