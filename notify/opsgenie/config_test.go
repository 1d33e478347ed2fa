package opsgenie_test

import (
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/opsgenie"
)

func parse(cfg string) (*notify.Config, error) {
	lookup := func(k string) (string, bool) {
		if k == "OG_KEY" {
			return apiKey, true
		}
		return "", false
	}
	return notify.ParseConfig([]byte(cfg), "notify.yaml", lookup, []notify.Kind{opsgenie.Kind()})
}

func TestRegionsPickTheDocumentedHosts(t *testing.T) {
	for region, want := range map[string]string{"": opsgenie.USURL, "us": opsgenie.USURL, "EU": opsgenie.EUURL} {
		cfg, err := parse(`
receivers: [{name: og, opsgenie: {region: "` + region + `", api_key_env: OG_KEY}}]
route: {receiver: og}
`)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Receivers[0].Config.(*opsgenie.Config).URL; got != want {
			t.Errorf("region %q: %s, want %s", region, got, want)
		}
	}
}

func TestConfigReadsTheKeyAndFillsPriorities(t *testing.T) {
	cfg, err := parse(`
receivers:
  - name: og
    opsgenie:
      region: eu
      api_key_env: OG_KEY
      priorities: {ticket: P4}
route: {receiver: og}
`)
	if err != nil {
		t.Fatal(err)
	}
	og := cfg.Receivers[0].Config.(*opsgenie.Config)
	if og.APIKey.Reveal() != apiKey || og.URL != opsgenie.EUURL {
		t.Errorf("opsgenie key/url: %q", og.URL)
	}
	if og.Priorities[notify.SeverityPage] != "P1" || og.Priorities[notify.SeverityTicket] != "P4" {
		t.Errorf("priorities = %v", og.Priorities)
	}
	if got := og.Target(); got != opsgenie.EUURL+" (api key from env OG_KEY)" {
		t.Errorf("target = %q", got)
	}
}

func TestConfigErrorsCarryLineAndColumn(t *testing.T) {
	cases := []struct {
		name, cfg, want string
	}{
		{"a missing environment variable", `
receivers:
  - name: og
    opsgenie: {api_key_env: NOT_SET_ANYWHERE}
route:
  receiver: og
`, `notify.yaml:4:5: receiver "og": api_key_env: environment variable NOT_SET_ANYWHERE is not set`},
		{"an unknown opsgenie region", `
receivers:
  - name: og
    opsgenie: {region: mars, api_key_env: OG_KEY}
route:
  receiver: og
`, `notify.yaml:4:24: receiver "og": region "mars" is neither us nor eu`},
		{"a priority that is not P1..P5", `
receivers:
  - name: og
    opsgenie: {api_key_env: OG_KEY, priorities: {page: urgent}}
route:
  receiver: og
`, `notify.yaml:4:56: receiver "og": priorities: "urgent" is not one of P1..P5`},
		{"an unknown nested key", `
receivers:
  - name: og
    opsgenie:
      api_key_env: OG_KEY
      team: payments
route:
  receiver: og
`, `notify.yaml:6:7: unknown field "team" in opsgenie`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), apiKey) {
				t.Errorf("error leaks the key: %q", err)
			}
		})
	}
}
