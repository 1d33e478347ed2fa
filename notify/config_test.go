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

func TestLoadConfigResolvesSecretsAndDefaults(t *testing.T) {
	p := writeConfig(t, goodConfig)
	data, _ := os.ReadFile(p)
	cfg, err := notify.ParseConfig(data, p, env(map[string]string{"OG_KEY": ogKey, "HOOK_SECRET": hmacKey}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Receivers[0].PagerDuty.RoutingKey.Reveal(); got != pdKey {
		t.Errorf("routing key from file = %q", got)
	}
	og := cfg.Receivers[1].Opsgenie
	if og.APIKey.Reveal() != ogKey || og.URL != notify.OpsgenieEUURL {
		t.Errorf("opsgenie key/url: %q", og.URL)
	}
	if og.Priorities[notify.SeverityPage] != "P1" || og.Priorities[notify.SeverityTicket] != "P4" {
		t.Errorf("priorities = %v", og.Priorities)
	}
	if cfg.Receivers[2].Webhook.SignatureHeader != notify.DefaultSignatureHeader {
		t.Errorf("signature header default not set")
	}
	if cfg.Delivery.MaxAge != 2*time.Hour || cfg.Delivery.Timeout != notify.DefaultDelivery.Timeout {
		t.Errorf("delivery = %+v", cfg.Delivery)
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
		{"both secret sources", `
receivers:
  - name: pd
    pagerduty: {routing_key_file: pd.key, routing_key_env: PD}
route:
  receiver: pd
`, `set only one of routing_key_file and routing_key_env`},
		{"a missing environment variable", `
receivers:
  - name: og
    opsgenie: {api_key_env: NOT_SET_ANYWHERE}
route:
  receiver: og
`, `environment variable NOT_SET_ANYWHERE is not set`},
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
		{"an unknown opsgenie region", `
receivers:
  - name: og
    opsgenie: {region: mars, api_key_env: OG_KEY}
route:
  receiver: og
`, `region "mars" is neither us nor eu`},
		{"a second YAML document", "receivers: []\n---\nroute: {}\n", `only one YAML document`},
		{"an unknown key in a secret header is rejected at its position", `
receivers:
  - name: w
    webhook:
      url: http://127.0.0.1:1/hook
      secret_headers: {Authorization: {value_env: OG_KEY, value: x}}
route:
  receiver: w
`, `notify.yaml:6:59: unknown field "value" in secret header`},
		{"a webhook without url", `
receivers:
  - name: w
    webhook: {hmac_secret_env: OG_KEY}
route:
  receiver: w
`, `receiver "w": url: missing (set url, url_file or url_env)`},
		{"a secret header without a source", `
receivers:
  - name: w
    webhook: {url: "http://127.0.0.1:1/hook", secret_headers: {X-Api-Key: {}}}
route:
  receiver: w
`, `secret_headers "X-Api-Key": value: set value_file or value_env`},
		{"a header both plain and secret", `
receivers:
  - name: w
    webhook: {url: "http://127.0.0.1:1/hook", headers: {x-team: a}, secret_headers: {X-Team: {value_env: OG_KEY}}}
route:
  receiver: w
`, `secret_headers: "X-Team" is also set in headers`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.cfg)
			data, _ := os.ReadFile(p)
			_, err := notify.ParseConfig(data, "notify.yaml", env(map[string]string{"OG_KEY": ogKey}))
			if err == nil {
				t.Fatal("no error")
			}
			// ParseConfig resolves relative secret files from the dir of
			// the name; use the real path for those cases.
			if strings.Contains(err.Error(), "pd.key") {
				_, err = notify.ParseConfig(data, p, env(nil))
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
	cfg, err := notify.ParseConfig(data, p, env(map[string]string{"OG_KEY": ogKey, "HOOK_SECRET": hmacKey}))
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(cfg)
	y, _ := yaml.Marshal(cfg)
	out := fmt.Sprintf("%v %+v %#v %s %s %v %s", cfg, *cfg, *cfg.Receivers[0].PagerDuty, j, y, cfg.Receivers[1].Opsgenie.APIKey, cfg.Receivers[2].Webhook.HMACSecret)
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
	cfg, err := notify.ParseConfig(data, p, env(map[string]string{"OG_KEY": ogKey, "HOOK_SECRET": hmacKey}))
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
	cfg, err := notify.ParseConfig([]byte(`
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
	if _, err := notify.ParseConfig(data, filepath.Join(dir, "notify.yaml"), env(map[string]string{"OPSGENIE_API_KEY": ogKey, "SLOD_WEBHOOK_SECRET": hmacKey,
		"SLOD_CHATOPS_WEBHOOK_URL": "https://chat.example/hooks/T0/B0/TOKEN", "SLOD_CHATOPS_AUTHORIZATION": "Bearer t0ken"})); err != nil {
		t.Fatal(err)
	}
}
