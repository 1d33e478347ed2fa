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
	hook.SetFault(func(_ *http.Request, n int) notifytest.Fault {
		if n == 1 {
			return notifytest.Fault{Status: 422, Body: "bad signature, expected secret " + hmacKey}
		}
		return notifytest.Fault{}
	})

	dir := t.TempDir()
	for name, v := range map[string]string{"pd.key": pdKey, "hook.secret": hmacKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgText := fmt.Sprintf(`
receivers:
  - {name: pd, pagerduty: {url: %s, routing_key_file: pd.key}}
  - {name: og, opsgenie: {url: %s, api_key_env: OG_KEY}}
  - {name: hook, webhook: {url: %s, hmac_secret_file: hook.secret}}
  - {name: stdout, log: {}}
route:
  receiver: stdout
  routes:
    - {receiver: pd, continue: true}
    - {receiver: og, continue: true}
    - {receiver: hook, continue: true}
    - {receiver: stdout}
delivery: {timeout: 2s, backoff_initial: 1s, backoff_max: 4s}
`, pd.URL(), og.URL(), hook.URL())
	envs := map[string]string{"OG_KEY": ogKey}
	cfg, err := notify.ParseConfig([]byte(cfgText), filepath.Join(dir, "notify.yaml"), env(envs))
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
	// Config errors that involve the secret fields.
	for _, bad := range []string{
		strings.Replace(cfgText, "routing_key_file: pd.key", "routing_key_file: pd.key, routing_key_env: OG_KEY", 1),
		strings.Replace(cfgText, "api_key_env: OG_KEY", "api_key_env: MISSING", 1),
		strings.Replace(cfgText, "hmac_secret_file: hook.secret", "hmac_secret_file: hook.secret, hmac_secret_env: OG_KEY", 1),
		strings.Replace(cfgText, "routing_key_file: pd.key", "routing_key: "+pdKey, 1),
	} {
		_, err := notify.ParseConfig([]byte(bad), filepath.Join(dir, "notify.yaml"), env(envs))
		if err == nil {
			t.Errorf("bad config accepted")
			continue
		}
		fmt.Fprintln(&all, err)
	}

	text := all.String()
	// The grep is not vacuous: the failures were logged with their bodies.
	for _, want := range []string{"upstream failed for key <secret>", "may not create alerts", "rate_limited", "client_error", "bad signature, expected secret <secret>", "routing_key_file and routing_key_env", "MISSING", `unknown field "routing_key"`} {
		if !strings.Contains(text, want) {
			t.Errorf("captured output lacks %q", want)
		}
	}
	for name, s := range map[string]string{"pagerduty routing key": pdKey, "opsgenie api key": ogKey, "webhook hmac secret": hmacKey} {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(0, i-200), min(len(text), i+len(s)+50)
			t.Errorf("%s found in output: ...%s...", name, text[lo:hi])
		}
	}
}
