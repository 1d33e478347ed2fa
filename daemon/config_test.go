package daemon

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "slod.yaml")
	if err := os.WriteFile(cfgFile, []byte("slo-dir: /etc/slos\nprometheus-url: http://prom:9090\ninterval: 2m\nshard: 1/3\n"), 0o644); err != nil {
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
			if !c.Demo || c.Listen != "127.0.0.1:9797" || c.Interval != time.Minute {
				t.Errorf("%+v", c)
			}
		}},
		{name: "production flags", args: []string{"--slo-dir", "slos", "--prometheus-url", "http://p:9090", "--shard", "0/2",
			"--prometheus-header", "X-Scope-OrgID: team-a", "--interval", "30s", "--step", "30s"}, check: func(t *testing.T, c Config) {
			if c.Shard != (Shard{0, 2}) || c.Prometheus.Headers.Map()["X-Scope-OrgID"] != "team-a" || c.Interval != 30*time.Second {
				t.Errorf("%+v", c)
			}
		}},
		{name: "a config file sets defaults and flags override it", args: []string{"--config", cfgFile, "--interval", "5m"}, check: func(t *testing.T, c Config) {
			if c.SLODir != "/etc/slos" || c.Prometheus.URL != "http://prom:9090" || c.Interval != 5*time.Minute || c.Shard != (Shard{1, 3}) {
				t.Errorf("%+v", c)
			}
		}},
		{name: "an unknown config key is an error", args: []string{"--config", badKey}, wantErr: "no-such-key"},
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
	if code := Main(t.Context(), []string{"--help"}, &out, &errb); code != ExitOK || !strings.Contains(errb.String(), "slod --demo") {
		t.Errorf("--help: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	if code := Main(t.Context(), []string{"--interval", "banana"}, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "banana") {
		t.Errorf("bad flag: exit %d, %q", code, errb.String())
	}
	errb.Reset()
	empty := t.TempDir()
	if code := Main(t.Context(), []string{"--slo-dir", empty, "--prometheus-url", "http://127.0.0.1:1", "--state-dir", t.TempDir()}, &out, &errb); code != ExitError || !strings.Contains(errb.String(), "no valid SLO") {
		t.Errorf("empty SLO dir: exit %d, %q", code, errb.String())
	}
}
