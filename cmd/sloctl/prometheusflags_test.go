package main

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/slodhq/slod/daemon"
	"github.com/slodhq/slod/source"
)

// slod and `sloctl backtest` take the same Prometheus flags, with the same
// help, and the same command line fills the same source options.
func TestSlodAndBacktestShareThePrometheusFlags(t *testing.T) {
	args := []string{"--prometheus-url", "https://mimir.example/prometheus", "--header", "X-Team=checkout", "--header", "Accept-Encoding: gzip",
		"--basic-auth-user", "slod", "--basic-auth-password-file", "/run/secrets/pw", "--ca-file", "/etc/ca.pem",
		"--tls-insecure-skip-verify", "--tenant", "team-a", "--query-timeout", "45s"}

	cfg, err := daemon.ParseFlags(append([]string{"--slo-dir", "slos"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	slod, err := cfg.Prometheus.Options()
	if err != nil {
		t.Fatal(err)
	}
	var bt *BacktestOptions
	cmd := NewCmdBacktest(IO{Out: io.Discard, Err: io.Discard}, func(o *BacktestOptions) error { bt = o; return nil })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	backtest, err := bt.Prometheus.Options()
	if err != nil {
		t.Fatal(err)
	}
	want := source.PrometheusOptions{
		URL:      "https://mimir.example/prometheus",
		Headers:  map[string]string{"X-Team": "checkout", "Accept-Encoding": "gzip", source.TenantHeader: "team-a"},
		Username: "slod", PasswordFile: "/run/secrets/pw", CAFile: "/etc/ca.pem", InsecureSkipVerify: true,
		Timeout: 45 * time.Second,
	}
	if !reflect.DeepEqual(slod, want) {
		t.Errorf("slod options\n%+v\nwant\n%+v", slod, want)
	}
	if !reflect.DeepEqual(backtest, want) {
		t.Errorf("backtest options\n%+v\nwant\n%+v", backtest, want)
	}

	// Every flag of PrometheusFlags is on both commands, with the same help.
	var ref pflag.FlagSet
	new(source.PrometheusFlags).AddFlags(&ref)
	slodFlags := pflag.NewFlagSet("slod", pflag.ContinueOnError)
	c := daemon.DefaultConfig
	c.AddFlags(slodFlags)
	ref.VisitAll(func(f *pflag.Flag) {
		for name, fs := range map[string]*pflag.FlagSet{"slod": slodFlags, "sloctl backtest": cmd.Flags()} {
			got := fs.Lookup(f.Name)
			if got == nil || got.Usage != f.Usage || got.Hidden {
				t.Errorf("%s: flag --%s missing, hidden or with other help", name, f.Name)
			}
		}
	})
}

// Old flag names are hidden aliases: they set the same value, and using
// one prints a notice on stderr, never on stdout (where JSON goes).
func TestBacktestDeprecatedFlagWarnsOnStderr(t *testing.T) {
	var out, errb bytes.Buffer
	// An unknown format fails after the flags parsed, before any query.
	code := Main([]string{"backtest", "--prometheus", "http://127.0.0.1:1", "--format", "xml", "x.yaml"}, &out, &errb)
	if code != exitUsage {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(errb.String(), "--prometheus has been deprecated, use --prometheus-url instead") || out.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
	var help bytes.Buffer
	Main([]string{"backtest", "--help"}, &help, io.Discard)
	for old := range BacktestDeprecatedFlags {
		if strings.Contains(help.String(), "--"+old+" ") {
			t.Errorf("help shows the deprecated --%s:\n%s", old, help.String())
		}
	}
}
