package notify_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/receiver"
)

// The path of a Slack-style webhook URL and a bearer token in a webhook
// header: secrets like the keys above.
const (
	hookToken = "XXSECRETTOKENXX4d2a"
	hookAuth  = "Bearer hdr-secret-81c3f0"
)

// Runs every receiver through failures whose answers echo the secrets back,
// then greps everything slod produced — logs at debug level, errors, dead
// letters, metrics, config dumps — for the secret values.
func TestNoSecretInAnyLogOrError(t *testing.T) {
	pd := notifytest.NewPagerDuty(pdKey)
	defer pd.Close()
	og := notifytest.NewOpsgenie(ogKey)
	defer og.Close()
	hook := notifytest.NewWebhook()
	defer hook.Close()
	pd.SetFault(func(_ *http.Request, n int) notifytest.Fault {
		switch n {
		case 1:
			return notifytest.Fault{Status: 500, Body: `{"message":"upstream failed for key ` + pdKey + `"}`}
		case 2:
			return notifytest.Fault{Status: 400, Body: `{"status":"invalid event","message":"routing_key ` + pdKey + ` is disabled"}`}
		}
		return notifytest.Fault{}
	})
	og.SetFault(func(_ *http.Request, n int) notifytest.Fault {
		if n <= 2 {
			return notifytest.Fault{Status: 429, RetryAfter: time.Second, Body: `{"message":"slow down, GenieKey ` + ogKey + `"}`}
		}
		if n == 3 {
			return notifytest.Fault{Status: 403, Body: `{"message":"key ` + ogKey + ` may not create alerts"}`}
		}
		return notifytest.Fault{}
	})
	hookURL := hook.URL() + "/services/T000/B000/" + hookToken
	hook.SetFault(func(r *http.Request, n int) notifytest.Fault {
		switch n {
		case 1:
			return notifytest.Fault{Status: 422, Body: "bad signature, expected secret " + hmacKey + " on " + hookURL + " with " + r.Header.Get("Authorization")}
		case 2:
			return notifytest.Fault{Status: 500, Body: "no such hook " + r.URL.Path + "; token " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
		}
		return notifytest.Fault{}
	})

	dir := t.TempDir()
	for name, v := range map[string]string{"pd.key": pdKey, "hook.secret": hmacKey, "hook.url": hookURL + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgText := fmt.Sprintf(`
receivers:
  - {name: pd, pagerduty: {url: %s, routing_key_file: pd.key}}
  - {name: og, opsgenie: {url: %s, api_key_env: OG_KEY}}
  - {name: hook, webhook: {url_file: hook.url, hmac_secret_file: hook.secret, secret_headers: {Authorization: {value_env: HOOK_AUTH}}}}
  - {name: stdout, log: {}}
route:
  receiver: stdout
  routes:
    - {receiver: pd, continue: true}
    - {receiver: og, continue: true}
    - {receiver: hook, continue: true}
    - {receiver: stdout}
delivery: {timeout: 2s, backoff_initial: 1s, backoff_max: 4s}
`, pd.URL(), og.URL())
	envs := map[string]string{"OG_KEY": ogKey, "HOOK_AUTH": hookAuth, "HOOK_URL": hookURL, "BAD_URL": "ftp://hooks.example/services/T000/B000/" + hookToken,
		"NO_SCHEME_URL": "hooks.example/services/T000/B000/" + hookToken}
	cfg, err := receiver.ParseConfig([]byte(cfgText), filepath.Join(dir, "notify.yaml"), env(envs))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, cfg, newSimClock(), nil)
	h.start()
	for _, k := range []string{"a", "b", "c"} {
		h.enqueue(testPage(k, notify.Trigger, notify.SeverityPage))
	}
	h.enqueue(testPage("a", notify.Resolve, ""))
	h.waitDrained(30 * time.Second)

	var all strings.Builder
	all.WriteString(h.logs.String())
	for _, r := range []string{"pd", "og", "hook"} {
		dl, err := h.d.DeadLetters(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(dl) == 0 {
			t.Errorf("%s: expected a dead letter from the permanent failure", r)
		}
		for _, d := range dl {
			fmt.Fprintf(&all, "%+v\n", d)
		}
	}
	mfs, _ := h.reg.Gather()
	var mbuf bytes.Buffer
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&mbuf, mf)
	}
	all.Write(mbuf.Bytes())
	fmt.Fprintf(&all, "%v %+v %#v\n", cfg, *cfg, cfg.Receivers)
	for _, r := range cfg.Receivers {
		fmt.Fprintf(&all, "%v %+v %#v\n", r.Config, r.Config, r.Config) // the kinds' configs, not their addresses
	}
	// Config errors that involve the secret fields.
	for _, bad := range []string{
		strings.Replace(cfgText, "routing_key_file: pd.key", "routing_key_file: pd.key, routing_key_env: OG_KEY", 1),
		strings.Replace(cfgText, "api_key_env: OG_KEY", "api_key_env: MISSING", 1),
		strings.Replace(cfgText, "hmac_secret_file: hook.secret", "hmac_secret_file: hook.secret, hmac_secret_env: OG_KEY", 1),
		strings.Replace(cfgText, "routing_key_file: pd.key", "routing_key: "+pdKey, 1),
		strings.Replace(cfgText, "url_file: hook.url", "url_file: hook.url, url_env: HOOK_URL", 1),
		strings.Replace(cfgText, "url_file: hook.url", "url: "+hookURL+", url_env: HOOK_URL", 1),
		strings.Replace(cfgText, "url_file: hook.url", "url_env: BAD_URL", 1),
		strings.Replace(cfgText, "url_file: hook.url", "url_env: NO_SCHEME_URL", 1),
		strings.Replace(cfgText, "url_file: hook.url", "url: \"ftp://hooks.example/services/T000/B000/"+hookToken+"\"", 1),
		strings.Replace(cfgText, "url_file: hook.url", "url: \"http://hooks.example/%zz/"+hookToken+"\"", 1),
		strings.Replace(cfgText, "secret_headers: {Authorization: {value_env: HOOK_AUTH}}", "headers: {Authorization: "+hookAuth+"}", 1),
		strings.Replace(cfgText, "value_env: HOOK_AUTH", "value_env: HOOK_AUTH, value_file: hook.url", 1),
	} {
		_, err := receiver.ParseConfig([]byte(bad), filepath.Join(dir, "notify.yaml"), env(envs))
		if err == nil {
			t.Errorf("bad config accepted")
			continue
		}
		fmt.Fprintln(&all, err)
	}

	text := all.String()
	// The grep is not vacuous: the failures were logged with their bodies.
	for _, want := range []string{"upstream failed for key <secret>", "may not create alerts", "rate_limited", "client_error", "bad signature, expected secret <secret> on <secret> with <secret>",
		"no such hook <secret>; token", "routing_key_file and routing_key_env", "MISSING", `unknown field "routing_key"`,
		"set only one of url, url_file and url_env", "url_env BAD_URL: url ftp://hooks.example/…: need http(s)://host",
		"url <url without scheme://host>", `"Authorization" carries a credential`, "set only one of value_file and value_env", "url <url without scheme://host>: invalid URL escape"} {
		if !strings.Contains(text, want) {
			t.Errorf("captured output lacks %q", want)
		}
	}
	if got := hook.All(); len(got) == 0 || got[0].Header.Get("Authorization") != hookAuth || !strings.HasSuffix(got[0].Path, hookToken) {
		t.Errorf("the webhook was not called on its secret URL with its secret header")
	}
	for name, s := range map[string]string{"pagerduty routing key": pdKey, "opsgenie api key": ogKey, "webhook hmac secret": hmacKey,
		"webhook url token": hookToken, "webhook header secret": strings.TrimPrefix(hookAuth, "Bearer ")} {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(0, i-200), min(len(text), i+len(s)+50)
			t.Errorf("%s found in output: ...%s...", name, text[lo:hi])
		}
	}
}
