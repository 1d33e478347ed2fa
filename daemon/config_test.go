package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "slod.yaml")
	if err := os.WriteFile(cfgFile, []byte("slo-dir: /etc/slos\nprometheus-url: http://prom:9090\ninterval: 2m\nshard: 1/3\n"+
		"header: [\"X-A=1\", \"X-B: 2\"]\nprometheus-timeout: 7s\ndemo: false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badValue := filepath.Join(t.TempDir(), "badvalue.yaml")
	if err := os.WriteFile(badValue, []byte("slo-dir: x\ninterval: banana\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badKey := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badKey, []byte("slo-dir: x\nno-such-key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	twoDocs := filepath.Join(t.TempDir(), "two.yaml")
	if err := os.WriteFile(twoDocs, []byte("slo-dir: /etc/slos\n---\ninterval: 2m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		wantErr string // substring of a usage error, "" for success
		check   func(t *testing.T, c Config)
	}{
		{name: "demo needs nothing else", args: []string{"--demo"}, check: func(t *testing.T, c Config) {
			if !c.Demo || c.Listen != "127.0.0.1:9797" || c.Interval != time.Minute || !c.MetricsPerInstance {
				t.Errorf("%+v", c)
			}
		}},
		{name: "per-instance metrics can be turned off", args: []string{"--demo", "--metrics-per-instance=false"}, check: func(t *testing.T, c Config) {
			if c.MetricsPerInstance {
				t.Errorf("%+v", c)
			}
		}},
		{name: "production flags", args: []string{"--slo-dir", "slos", "--prometheus-url", "http://p:9090", "--shard", "0/2",
			"--prometheus-header", "X-Scope-OrgID: team-a", "--interval", "30s", "--step", "30s"}, check: func(t *testing.T, c Config) {
			if c.Shard != (Shard{0, 2}) || c.Prometheus.Headers.Map()["X-Scope-OrgID"] != "team-a" || c.Interval != 30*time.Second {
				t.Errorf("%+v", c)
			}
		}},
		{name: "a bearer token and basic auth conflict, under old names too", args: []string{"--demo",
			"--prometheus-bearer-token-file", "/t", "--prometheus-basic-auth-user", "u", "--prometheus-basic-auth-password-file", "/p",
			"--prometheus-ca-file", "/ca", "--prometheus-insecure-skip-verify", "--prometheus-timeout", "9s"}, wantErr: "use one way to authenticate"},
		{name: "old and new names are interchangeable", args: []string{"--demo", "--prometheus-basic-auth-user", "u", "--basic-auth-password-file", "/p",
			"--prometheus-ca-file", "/ca", "--prometheus-insecure-skip-verify", "--prometheus-timeout", "9s"}, check: func(t *testing.T, c Config) {
			p := c.Prometheus
			if p.BasicAuthUser != "u" || p.BasicAuthPasswordFile != "/p" || p.CAFile != "/ca" || !p.InsecureSkipVerify || p.QueryTimeout != 9*time.Second {
				t.Errorf("%+v", p)
			}
		}},
		{name: "--tenant and an X-Scope-OrgID header conflict", args: []string{"--demo", "--tenant", "a", "--header", "x-scope-orgid=b"}, wantErr: "--tenant and --header"},
		{name: "a header without a value separator is refused", args: []string{"--demo", "--header", "X-Scope-OrgID"}, wantErr: "NAME=VALUE"},
		{name: "a Prometheus URL without a scheme is refused", args: []string{"--demo", "--prometheus-url", "prom:9090"}, wantErr: "http:// or https://"},
		{name: "a long flag with one dash is explained", args: []string{"-demo"}, wantErr: "-demo: long flags take two dashes: --demo"},
		{name: "a config file sets defaults and flags override it", args: []string{"--config", cfgFile, "--interval", "5m"}, check: func(t *testing.T, c Config) {
			if c.SLODir != "/etc/slos" || c.Prometheus.URL != "http://prom:9090" || c.Interval != 5*time.Minute || c.Shard != (Shard{1, 3}) {
				t.Errorf("%+v", c)
			}
			if h := c.Prometheus.Headers.Map(); len(h) != 2 || h["X-A"] != "1" || h["X-B"] != "2" || c.Prometheus.QueryTimeout != 7*time.Second {
				t.Errorf("headers %v, query timeout %s: want both list items and the deprecated key's value", h, c.Prometheus.QueryTimeout)
			}
		}},
		{name: "a config file's header list and a header flag add up", args: []string{"--config", cfgFile, "--header", "X-C=3"}, check: func(t *testing.T, c Config) {
			if h := c.Prometheus.Headers.Map(); len(h) != 3 || h["X-C"] != "3" {
				t.Errorf("headers %v", h)
			}
		}},
		{name: "a bad config value names the file, line and column", args: []string{"--config", badValue}, wantErr: "badvalue.yaml:2:11: interval"},
		{name: "an unknown config key is an error", args: []string{"--config", badKey}, wantErr: `bad.yaml:2:1: unknown key "no-such-key"`},
		{name: "a config file with a second YAML document is an error", args: []string{"--config", twoDocs}, wantErr: "two.yaml:2:1: a second YAML document"},
		{name: "an unknown flag is a usage error", args: []string{"--no-such-flag"}, wantErr: "no-such-flag"},
		{name: "without demo the SLO dir and Prometheus are required", args: nil, wantErr: "--slo-dir is required"},
		{name: "a shard outside its count is refused", args: []string{"--demo", "--shard", "2/2"}, wantErr: "0 <= i < n"},
		{name: "an interval that is not a multiple of the step is refused", args: []string{"--demo", "--interval", "90s"}, wantErr: "multiple of --step"},
		{name: "a bad log format is refused", args: []string{"--demo", "--log-format", "xml"}, wantErr: "text or json"},
		{name: "stray arguments are refused", args: []string{"--demo", "slos/"}, wantErr: "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c, err := ParseFlags(tc.args, &out)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want a usage error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"--help"}, &out, &errb); code != ExitOK || !strings.Contains(out.String(), "slod --demo") || errb.Len() > 0 {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := Main(t.Context(), []string{"--version"}, &out, &errb); code != ExitOK || !strings.HasPrefix(out.String(), "slod version ") ||
		!strings.Contains(out.String(), "go1.") || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("--version: exit %d, stdout %q", code, out.String())
	}
	if code := Main(t.Context(), []string{"--interval", "banana"}, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "banana") {
		t.Errorf("bad flag: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	empty := t.TempDir()
	if code := Main(t.Context(), []string{"--slo-dir", empty, "--prometheus-url", "http://127.0.0.1:1", "--state-dir", t.TempDir()}, &out, &errb); code != ExitError || !strings.Contains(errb.String(), "no valid SLO") {
		t.Errorf("empty SLO dir: exit %d, %q", code, errb.String())
	}
}

// An unknown flag is one line naming it and one pointing at --help: no
// usage dump, nothing on stdout, exit 2.
func TestMainUnknownFlagIsTwoLines(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(t.Context(), []string{"--demo", "--bogus"}, &out, &errb); code != ExitUsage {
		t.Fatalf("exit %d, want %d", code, ExitUsage)
	}
	if want := "slod: unknown flag: --bogus (see 'slod --help')\n"; errb.String() != want || out.Len() > 0 {
		t.Errorf("stderr %q, stdout %q; want stderr %q", errb.String(), out.String(), want)
	}
}

// A deprecated flag name works and says so on stderr, never on stdout
// (where the log receiver writes pages).
func TestMainDeprecatedFlagWarnsOnStderr(t *testing.T) {
	var out, errb bytes.Buffer
	// --step 500ms fails validation after the flags parsed, so slod stops
	// before starting.
	if code := Main(t.Context(), []string{"--demo", "--prometheus-timeout", "5s", "--step", "500ms"}, &out, &errb); code != ExitUsage {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(errb.String(), "--prometheus-timeout has been deprecated, use --query-timeout") || out.Len() > 0 {
		t.Errorf("stderr %q, stdout %q", errb.String(), out.String())
	}
}

// TestShardFlags: --shard i/n, kube-state-metrics' --shard ORDINAL with
// --total-shards, a StatefulSet's --pod, --shard-split; every bad
// combination is one line and exit 2.
func TestShardFlags(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "slod.yaml")
	if err := os.WriteFile(cfgFile, []byte("demo: true\ntotal-shards: 4\npod: slod-3\nshard-split: [api-routes, \"checkout=route\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    []string
		want    Shard
		split   map[string]string
		wantErr string
	}{
		{args: nil, want: Shard{}},
		{args: []string{"--shard", "1/3"}, want: Shard{1, 3}},
		{args: []string{"--shard", "1/3", "--total-shards", "3"}, want: Shard{1, 3}},
		{args: []string{"--shard", "1", "--total-shards", "3"}, want: Shard{1, 3}},
		{args: []string{"--total-shards", "3", "--shard", "0"}, want: Shard{0, 3}},
		{args: []string{"--pod", "slod-2", "--total-shards", "3"}, want: Shard{2, 3}},
		{args: []string{"--pod", "slod-shard-0", "--total-shards", "2"}, want: Shard{0, 2}},
		{args: []string{"--pod", "slod-0"}, want: Shard{}},
		{args: []string{"--config", cfgFile}, want: Shard{3, 4}, split: map[string]string{"api-routes": "", "checkout": "route"}},
		{args: []string{"--shard", "0/2", "--shard-split", "*"}, want: Shard{0, 2}, split: map[string]string{"*": ""}},
		{args: []string{"--shard", "1/3", "--total-shards", "4"}, wantErr: "--shard 1/3 and --total-shards 4 disagree"},
		{args: []string{"--shard", "2"}, wantErr: "--shard 2: want an ordinal below --total-shards 1 (or write i/n)"},
		{args: []string{"--shard", "3", "--total-shards", "3"}, wantErr: "--shard 3: want an ordinal below --total-shards 3"},
		{args: []string{"--total-shards", "3"}, wantErr: "--total-shards 3: say which shard this daemon is with --shard ORDINAL or --pod NAME"},
		{args: []string{"--total-shards", "0"}, wantErr: "--total-shards 0: must be at least 1"},
		{args: []string{"--pod", "slod", "--total-shards", "3"}, wantErr: `--pod "slod": want a StatefulSet pod name ending in -ORDINAL, such as slod-2`},
		{args: []string{"--pod", "slod-01", "--total-shards", "3"}, wantErr: "ending in -ORDINAL"},
		{args: []string{"--pod", "slod-3", "--total-shards", "3"}, wantErr: "--shard 3: want an ordinal below --total-shards 3"},
		{args: []string{"--pod", "slod-2"}, wantErr: "--pod slod-2: ordinal 2 needs --total-shards greater than 2"},
		{args: []string{"--pod", "slod-1", "--shard", "1/2"}, wantErr: "--shard 1/2 and --pod slod-1: give one"},
		{args: []string{"--shard", "x"}, wantErr: "want i/n (for example 0/2) or an ordinal i with --total-shards"},
		{args: []string{"--shard", "-1"}, wantErr: "want i/n"},
		{args: []string{"--shard-split", "api=not-a-label"}, wantErr: `--shard-split "api=not-a-label": want SLO_ID, SLO_ID=LABEL or *`},
	} {
		name := strings.Join(tc.args, " ")
		t.Run(name, func(t *testing.T) {
			args := tc.args
			if len(args) == 0 || args[0] != "--config" {
				args = append([]string{"--demo"}, args...)
			}
			c, err := ParseFlags(args, &bytes.Buffer{})
			if tc.wantErr != "" {
				var ue *UsageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q, want one line with %q", err, tc.wantErr)
				}
				var out, errb bytes.Buffer
				if code := Main(t.Context(), args, &out, &errb); code != ExitUsage || strings.Count(errb.String(), "\n") > 2 {
					t.Errorf("exit %d, stderr %q: want exit %d and the error", code, errb.String(), ExitUsage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Shard != tc.want {
				t.Errorf("shard %+v, want %+v", c.Shard, tc.want)
			}
			if got := c.EngineShard().Split; fmt.Sprint(got) != fmt.Sprint(tc.split) {
				t.Errorf("split %v, want %v", got, tc.split)
			}
		})
	}
}
