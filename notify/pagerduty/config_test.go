package pagerduty_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/pagerduty"
)

const routingKey = "0123456789abcdef0123456789abcdef"

// parse parses a config of PagerDuty receivers written next to a file
// pd.key holding routingKey; env is the whole environment.
func parse(t *testing.T, cfg string, env map[string]string) (*notify.Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pd.key"), []byte(routingKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return notify.ParseConfig([]byte(cfg), filepath.Join(dir, "notify.yaml"), lookup, []notify.Kind{pagerduty.Kind()})
}

func TestConfigReadsTheRoutingKeyAndFillsDefaults(t *testing.T) {
	cfg, err := parse(t, `
receivers:
  - {name: file, pagerduty: {routing_key_file: pd.key, severities: {ticket: info}}}
  - {name: env, pagerduty: {url: "http://127.0.0.1:1", routing_key_env: PD_KEY, client: slod}}
route: {receiver: file}
`, map[string]string{"PD_KEY": " from-env \n"})
	if err != nil {
		t.Fatal(err)
	}
	file := cfg.Receivers[0].Config.(*pagerduty.Config)
	if file.RoutingKey.Reveal() != routingKey || file.URL != pagerduty.DefaultURL {
		t.Errorf("from a file next to the config: url %s", file.URL)
	}
	if file.Severities[notify.SeverityPage] != "critical" || file.Severities[notify.SeverityTicket] != "info" {
		t.Errorf("severities = %v, want the page default kept and ticket overridden", file.Severities)
	}
	env := cfg.Receivers[1].Config.(*pagerduty.Config)
	if env.RoutingKey.Reveal() != "from-env" || env.URL != "http://127.0.0.1:1" || env.Client != "slod" {
		t.Errorf("from the environment: %+v", env)
	}
	if got := env.Target(); got != "http://127.0.0.1:1 (routing key from env PD_KEY)" {
		t.Errorf("target = %q", got)
	}
	if got := file.Target(); got != pagerduty.DefaultURL+" (routing key from file pd.key)" {
		t.Errorf("target = %q", got)
	}
}

func TestConfigErrorsCarryLineAndColumn(t *testing.T) {
	cases := []struct {
		name, cfg, want string
	}{
		{"an unknown nested key is rejected at its position", `
receivers:
  - name: pd
    pagerduty:
      routing_key_file: pd.key
      colour: red
route:
  receiver: pd
`, `notify.yaml:6:7: unknown field "colour" in pagerduty`},
		{"an inline secret is an unknown field, and its value is not echoed", `
receivers:
  - name: pd
    pagerduty:
      routing_key: 0123456789abcdef0123456789abcdef
route:
  receiver: pd
`, `notify.yaml:5:7: unknown field "routing_key" in pagerduty`},
		{"both secret sources", `
receivers:
  - name: pd
    pagerduty: {routing_key_file: pd.key, routing_key_env: PD}
route:
  receiver: pd
`, `notify.yaml:4:5: receiver "pd": set only one of routing_key_file and routing_key_env`},
		{"no secret source", `
receivers:
  - name: pd
    pagerduty: {}
route:
  receiver: pd
`, `notify.yaml:4:5: receiver "pd": routing_key: set routing_key_file or routing_key_env (inline secrets are not accepted)`},
		{"a missing key file", `
receivers:
  - name: pd
    pagerduty: {routing_key_file: nowhere.key}
route:
  receiver: pd
`, `nowhere.key": no such file or directory`},
		{"a severity PagerDuty does not know, at its position", `
receivers:
  - name: pd
    pagerduty:
      routing_key_file: pd.key
      severities: {page: sev1}
route:
  receiver: pd
`, `notify.yaml:6:26: receiver "pd": severities: "sev1" is not a PagerDuty severity`},
		{"a url without scheme", `
receivers:
  - name: pd
    pagerduty: {url: "events.example/x", routing_key_file: pd.key}
route:
  receiver: pd
`, `notify.yaml:4:22: receiver "pd": url <url without scheme://host>: need http(s)://host`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.cfg, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), routingKey) {
				t.Errorf("error leaks the key: %q", err)
			}
		})
	}
}

func TestOfflineConfigNamesTheKeyButCannotSend(t *testing.T) {
	cfg, err := notify.ParseConfig([]byte("receivers: [{name: pd, pagerduty: {routing_key_env: PD_KEY}}]\nroute: {receiver: pd}\n"), "notify.yaml", nil, []notify.Kind{pagerduty.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Receivers[0].Config
	if c.(*pagerduty.Config).RoutingKey.IsSet() {
		t.Error("offline, the key was read")
	}
	if _, err := c.NewSender(notify.SenderOptions{Name: "pd"}); err == nil || !strings.Contains(err.Error(), "routing key not set") {
		t.Errorf("NewSender without a key: %v", err)
	}
}
