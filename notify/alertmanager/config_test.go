package alertmanager_test

import (
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
)

func TestConfigNeedsAnHTTPURL(t *testing.T) {
	for _, tc := range []struct{ name, block, want string }{
		{"a plain URL is kept", `{url: "http://127.0.0.1:9093", generator_url: "http://slod.example/"}`, ""},
		{"no url", `{generator_url: "http://slod.example/"}`, `notify.yaml:1:24: receiver "am": url: missing`},
		{"a url with credentials", `{url: "http://u:p@127.0.0.1:9093"}`, `notify.yaml:1:44: receiver "am": url: credentials in the URL are not accepted`},
		{"an unknown key", `{url: "http://127.0.0.1:9093", receiver: team}`, `notify.yaml:1:69: unknown field "receiver" in alertmanager`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := notify.ParseConfig([]byte(`receivers: [{name: am, alertmanager: `+tc.block+"}]\nroute: {receiver: am}\n"), "notify.yaml", nil, []notify.Kind{alertmanager.Kind()})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := cfg.Receivers[0].Config.Target(); got != "http://127.0.0.1:9093" {
					t.Errorf("target = %q", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
