package webhook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/webhook"
)

// The path of a Slack-style hook URL is its credential, like the header
// token and the HMAC secret.
const (
	hookToken  = "XXSECRETTOKENXX4d2a"
	hookBearer = "Bearer hdr-secret-81c3f0"
	hmacSecret = "hmac-secret-b7e2d4"
)

var hookEnv = map[string]string{
	"HOOK_URL":    "https://hooks.example/services/T000/B000/" + hookToken,
	"HOOK_AUTH":   hookBearer,
	"HOOK_SECRET": hmacSecret,
	"BAD_URL":     "ftp://hooks.example/services/T000/B000/" + hookToken,
}

// parse parses a config of webhook receivers written next to a file
// hook.url holding the HOOK_URL.
func parse(t *testing.T, cfg string, lookup func(string) (string, bool)) (*notify.Config, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.url"), []byte(hookEnv["HOOK_URL"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return notify.ParseConfig([]byte(cfg), filepath.Join(dir, "notify.yaml"), lookup, []notify.Kind{webhook.Kind()})
}

func lookupHookEnv(k string) (string, bool) { v, ok := hookEnv[k]; return v, ok }

func TestConfigReadsItsSecretsAndFillsDefaults(t *testing.T) {
	cfg, err := parse(t, `
receivers:
  - name: inline
    webhook: {url: "http://127.0.0.1:2/hook", hmac_secret_env: HOOK_SECRET}
  - name: file
    webhook:
      url_file: hook.url
      signature_header: X-Sig
      headers: {X-Team: payments}
      secret_headers: {Authorization: {value_env: HOOK_AUTH}}
route: {receiver: inline}
`, lookupHookEnv)
	if err != nil {
		t.Fatal(err)
	}
	inline := cfg.Receivers[0].Config.(*webhook.Config)
	if inline.SignatureHeader != webhook.DefaultSignatureHeader || inline.HMACSecret.Reveal() != hmacSecret || inline.URL.Reveal() != "http://127.0.0.1:2/hook" {
		t.Errorf("inline: header %q", inline.SignatureHeader)
	}
	file := cfg.Receivers[1].Config.(*webhook.Config)
	if file.URL.Reveal() != hookEnv["HOOK_URL"] || file.SignatureHeader != "X-Sig" || file.SecretHeaders["Authorization"].Value.Reveal() != hookBearer {
		t.Errorf("from a file and the environment: %q", file.SignatureHeader)
	}
	for _, c := range []struct{ got, want string }{
		{inline.Target(), "http://127.0.0.1:2/… (signed, secret from env HOOK_SECRET)"},
		{file.Target(), "https://hooks.example/… (url from file hook.url; header Authorization from env HOOK_AUTH)"},
	} {
		if c.got != c.want {
			t.Errorf("target = %q, want %q", c.got, c.want)
		}
	}
}

func TestOfflineConfigNamesTheURLSource(t *testing.T) {
	cfg, err := parse(t, "receivers: [{name: w, webhook: {url_env: HOOK_URL}}]\nroute: {receiver: w}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Receivers[0].Config.Target(); got != "url not read (--offline) (url from env HOOK_URL)" {
		t.Errorf("target = %q", got)
	}
}

func TestConfigErrorsCarryLineAndColumn(t *testing.T) {
	cases := []struct {
		name, cfg, want string
	}{
		{"an unknown key in a secret header is rejected at its position", `
receivers:
  - name: w
    webhook:
      url: http://127.0.0.1:1/hook
      secret_headers: {Authorization: {value_env: HOOK_AUTH, value: x}}
route:
  receiver: w
`, `notify.yaml:6:62: unknown field "value" in secret header`},
		{"a webhook without url", `
receivers:
  - name: w
    webhook: {hmac_secret_env: HOOK_SECRET}
route:
  receiver: w
`, `notify.yaml:4:5: receiver "w": url: missing (set url, url_file or url_env)`},
		{"two url sources", `
receivers:
  - name: w
    webhook: {url: "http://127.0.0.1:1/hook", url_env: HOOK_URL}
route:
  receiver: w
`, `notify.yaml:4:5: receiver "w": set only one of url, url_file and url_env`},
		{"a bad inline url is reported masked at its position", `
receivers:
  - name: w
    webhook: {url: "ftp://hooks.example/services/T000/B000/XXSECRETTOKENXX4d2a"}
route:
  receiver: w
`, `notify.yaml:4:20: receiver "w": url ftp://hooks.example/…: need http(s)://host`},
		{"a bad url from the environment is reported masked, naming its source", `
receivers:
  - name: w
    webhook: {url_env: BAD_URL}
route:
  receiver: w
`, `notify.yaml:4:5: receiver "w": url_env BAD_URL: url ftp://hooks.example/…: need http(s)://host`},
		{"a secret header without a source", `
receivers:
  - name: w
    webhook: {url: "http://127.0.0.1:1/hook", secret_headers: {X-Api-Key: {}}}
route:
  receiver: w
`, `notify.yaml:4:64: receiver "w": secret_headers "X-Api-Key": value: set value_file or value_env`},
		{"a header both plain and secret", `
receivers:
  - name: w
    webhook: {url: "http://127.0.0.1:1/hook", headers: {x-team: a}, secret_headers: {X-Team: {value_env: HOOK_AUTH}}}
route:
  receiver: w
`, `receiver "w": secret_headers: "X-Team" is also set in headers`},
		{"an inline credential header is rejected without its value", `
receivers:
  - name: w
    webhook:
      url: http://127.0.0.1:1/hook
      headers: {Authorization: Bearer hdr-secret-81c3f0}
route:
  receiver: w
`, `notify.yaml:6:32: receiver "w": headers: "Authorization" carries a credential`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.cfg, lookupHookEnv)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			for _, s := range []string{hookToken, strings.TrimPrefix(hookBearer, "Bearer "), hmacSecret} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error leaks a secret: %q", err)
				}
			}
		})
	}
}
