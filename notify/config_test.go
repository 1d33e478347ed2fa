package notify_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/opsgenie"
	"github.com/slodhq/slod/notify/pagerduty"
	"github.com/slodhq/slod/notify/receiver"
	"github.com/slodhq/slod/notify/webhook"
)

const (
	pdKey   = "0123456789abcdef0123456789abcdef"
	ogKey   = "og-secret-4f1c9a2e-7d3b-4e11-9a55"
	hmacKey = "hmac-secret-b7e2d4"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// writeConfig writes cfg and a routing-key file into a temp dir.
func writeConfig(t *testing.T, cfg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pd.key"), []byte(pdKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `
receivers:
  - name: pd
    pagerduty:
      url: http://127.0.0.1:1
      routing_key_file: pd.key
  - name: og
    opsgenie:
      region: eu
      api_key_env: OG_KEY
      priorities: {ticket: P4}
  - name: hook
    webhook:
      url: http://127.0.0.1:2/hook
      hmac_secret_env: HOOK_SECRET
  - name: am
    alertmanager:
      url: http://127.0.0.1:9093
  - name: stdout
    log: {}
route:
  receiver: stdout
  routes:
    - match: {severity: page}
      match_re: {team: "pay.*"}
      receiver: pd
      continue: true
    - match: {team: payments}
      receiver: og
delivery:
  max_age: 2h
`

func TestLoadConfigResolvesEveryReceiverAndFillsDeliveryDefaults(t *testing.T) {
	p := writeConfig(t, goodConfig)
	cfg, err := receiver.LoadConfig(p)
	if err == nil || !strings.Contains(err.Error(), "OG_KEY is not set") {
		t.Fatalf("LoadConfig reads the environment: want OG_KEY missing, got %v", err)
	}
	t.Setenv("OG_KEY", ogKey)
	t.Setenv("HOOK_SECRET", hmacKey)
	if cfg, err = receiver.LoadConfig(p); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, r := range cfg.Receivers {
		kinds = append(kinds, r.Name+"="+r.Kind)
	}
	if got := strings.Join(kinds, " "); got != "pd=pagerduty og=opsgenie hook=webhook am=alertmanager stdout=log" {
		t.Errorf("receivers = %s", got)
	}
	if got := cfg.Receivers[0].Config.(*pagerduty.Config).RoutingKey.Reveal(); got != pdKey {
		t.Errorf("routing key from the file next to the config = %q", got)
	}
	if cfg.Delivery.MaxAge != 2*time.Hour || cfg.Delivery.Timeout != notify.DefaultDelivery.Timeout || cfg.Delivery.BreakerFailures != notify.DefaultDelivery.BreakerFailures {
		t.Errorf("delivery = %+v", cfg.Delivery)
	}
}

func TestConfigErrorsCarryLineAndColumn(t *testing.T) {
	cases := []struct {
		name, cfg, want string
	}{
		{"a route to an undefined receiver", `
receivers:
  - name: pd
    pagerduty: {routing_key_file: pd.key}
route:
  receiver: pd
  routes:
    - receiver: nobody
`, `notify.yaml:8:17: route: receiver "nobody" is not defined`},
		{"a bad regex", `
receivers:
  - name: l
    log: {}
route:
  receiver: l
  routes:
    - match_re: {service: "("}
`, `notify.yaml:8:27: route: match_re service: error parsing regexp`},
		{"two kinds on one receiver", `
receivers:
  - name: x
    log: {}
    webhook: {url: "http://127.0.0.1:1"}
route:
  receiver: x
`, `notify.yaml:3:5: receiver "x": set exactly one of`},
		{"a duration that does not parse", `
receivers:
  - name: l
    log: {}
route:
  receiver: l
delivery:
  timeout: soon
`, `notify.yaml:8:12: cannot unmarshal !!str`},
		{"a duplicate receiver name", `
receivers:
  - name: l
    log: {}
  - name: l
    log: {}
route:
  receiver: l
`, `notify.yaml:5:11: receiver "l" defined twice`},
		{"the root route without receiver", `
receivers:
  - name: l
    log: {}
route:
  routes: [{receiver: l}]
`, `root route needs a receiver`},
		{"a second YAML document", "receivers: []\n---\nroute: {}\n", `only one YAML document`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.cfg)
			data, _ := os.ReadFile(p)
			_, err := receiver.ParseConfig(data, "notify.yaml", env(map[string]string{"OG_KEY": ogKey}))
			if err == nil {
				t.Fatal("no error")
			}
			// ParseConfig resolves relative secret files from the dir of
			// the name; use the real path for those cases.
			if strings.Contains(err.Error(), "pd.key") {
				_, err = receiver.ParseConfig(data, p, env(nil))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pdKey) || strings.Contains(err.Error(), ogKey) {
				t.Errorf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	p := writeConfig(t, goodConfig)
	data, _ := os.ReadFile(p)
	cfg, err := receiver.ParseConfig(data, p, env(map[string]string{"OG_KEY": ogKey, "HOOK_SECRET": hmacKey}))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	y, _ := yaml.Marshal(cfg)
	out := fmt.Sprintf("%v %+v %#v %#v %s %s %v %s", cfg, *cfg, cfg.Receivers, *cfg.Receivers[0].Config.(*pagerduty.Config), j, y,
		cfg.Receivers[1].Config.(*opsgenie.Config).APIKey, cfg.Receivers[2].Config.(*webhook.Config).HMACSecret)
	for _, s := range []string{pdKey, ogKey, hmacKey} {
		if strings.Contains(out, s) {
			t.Fatalf("secret %q printed in %s", s, out)
		}
	}
	if !strings.Contains(out, "<secret>") {
		t.Error("expected masked secrets in output")
	}
}

func TestRouting(t *testing.T) {
	p := writeConfig(t, goodConfig)
	data, _ := os.ReadFile(p)
	cfg, err := receiver.ParseConfig(data, p, env(map[string]string{"OG_KEY": ogKey, "HOOK_SECRET": hmacKey}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"a paging payments alert goes to PagerDuty and, by continue, to Opsgenie", map[string]string{"severity": "page", "team": "payments"}, "pd,og"},
		{"the regex is anchored: a team that only contains pay does not match", map[string]string{"severity": "page", "team": "repay"}, "stdout"},
		{"a payments ticket skips PagerDuty", map[string]string{"severity": "ticket", "team": "payments"}, "og"},
		{"a regex match on another pay team pages but has no Opsgenie route", map[string]string{"severity": "page", "team": "payroll"}, "pd"},
		{"nothing matches: the default receiver", map[string]string{"team": "search"}, "stdout"},
		{"no labels at all: the default receiver", nil, "stdout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(mustRouter(t, cfg).Receivers(tc.labels), ",")
			if got != tc.want {
				t.Errorf("receivers = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNestedRoutesInheritReceiverAndStopAtFirstMatch(t *testing.T) {
	cfg, err := receiver.ParseConfig([]byte(`
receivers:
  - {name: a, log: {}}
  - {name: b, log: {}}
  - {name: c, log: {}}
route:
  receiver: a
  routes:
    - match: {service: api}
      receiver: b
      routes:
        - match: {severity: page}   # inherits b? no: names c
          receiver: c
        - match: {severity: ticket} # inherits b
    - match: {service: api}         # never reached: the first route matched without continue
      receiver: c
`), "x.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for labels, want := range map[string]string{"page": "c", "ticket": "b", "": "b"} {
		got := strings.Join(mustRouter(t, cfg).Receivers(map[string]string{"service": "api", "severity": labels}), ",")
		if got != want {
			t.Errorf("severity %q: receivers %s, want %s", labels, got, want)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	p := filepath.Join("..", "examples", "notify.yaml")
	data, err := os.ReadFile(p) // the example ships with slod: missing is a failure
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The example reads its PagerDuty key from a file next to it; give
	// the test its own copy of both.
	if err := os.WriteFile(filepath.Join(dir, "pagerduty-routing-key"), []byte(pdKey), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := receiver.ParseConfig(data, filepath.Join(dir, "notify.yaml"), env(map[string]string{"OPSGENIE_API_KEY": ogKey, "SLOD_WEBHOOK_SECRET": hmacKey,
		"SLOD_CHATOPS_WEBHOOK_URL": "https://chat.example/hooks/T0/B0/TOKEN", "SLOD_CHATOPS_AUTHORIZATION": "Bearer t0ken"})); err != nil {
		t.Fatal(err)
	}
}
