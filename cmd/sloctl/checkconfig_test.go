package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckConfigExampleOffline(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"check-config", "../../examples/notify.yaml", "--offline", "--route", "team=payments,slod_severity=page"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	for _, want := range []string{"ok", "payments-pagerduty", "pagerduty", "routing key from file pagerduty-routing-key", "route team=payments,slod_severity=page -> payments-pagerduty, chatops"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCheckConfigReadsSecretsButNeverPrintsThem(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pd"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "notify.yaml")
	if err := os.WriteFile(cfg, []byte("receivers: [{name: pd, pagerduty: {routing_key_file: pd}}, {name: og, opsgenie: {api_key_env: SLOCTL_TEST_OG}}]\nroute: {receiver: pd}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	opts := []string{"check-config", cfg}
	if code := Main(opts, &out, &errb); code != exitFail || !strings.Contains(errb.String(), "SLOCTL_TEST_OG is not set") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	t.Setenv("SLOCTL_TEST_OG", "og-value-that-must-not-print")
	out.Reset()
	errb.Reset()
	if code := Main(opts, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	all := out.String() + errb.String()
	if strings.Contains(all, key) || strings.Contains(all, "og-value-that-must-not-print") {
		t.Errorf("a secret was printed:\n%s", all)
	}
}

func TestCheckConfigReportsEveryErrorWithPosition(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfg, []byte(`receivers:
  - name: a
    log: {}
    colour: blue
route:
  receiver: a
  routes:
    - receiver: b
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"check-config", cfg, "--offline"}, &out, &errb); code != exitFail {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "bad.yaml:4:5: unknown field \"colour\" in receiver") {
		t.Errorf("stderr %s", errb.String())
	}
	// Fix the unknown field: the route error is reported next, with its position.
	data, _ := os.ReadFile(cfg)
	_ = os.WriteFile(cfg, []byte(strings.Replace(string(data), "    colour: blue\n", "", 1)), 0o600)
	errb.Reset()
	if code := Main([]string{"check-config", cfg, "--offline"}, &out, &errb); code != exitFail || !strings.Contains(errb.String(), "bad.yaml:7:17: route: receiver \"b\" is not defined") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
}

func TestCheckConfigUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"check-config"},
		{"check-config", "/no/such/file.yaml"},
		{"check-config", "../../examples/notify.yaml", "--route", "novalue"},
	} {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

func TestCheckConfigFlags(t *testing.T) {
	var got *CheckConfigOptions
	cmd := NewCmdCheckConfig(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(o *CheckConfigOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"../../examples/notify.yaml", "--offline", "--route", "team=a", "--route", "severity=page,slo=x"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Path != "../../examples/notify.yaml" || !got.Offline || len(got.Routes) != 2 || got.Routes[1] != "severity=page,slo=x" {
		t.Errorf("options = %+v", got)
	}
}

// The path of a Slack- or Teams-style hook URL is its credential:
// check-config shows webhook URLs as scheme://host/… and names where the
// URL and secret headers come from, never their values, on success and on
// error.
func TestCheckConfigMasksWebhookURLs(t *testing.T) {
	const token = "XXSECRETTOKENXX"
	const bearer = "hdr-token-5e1a9c"
	hookURL := "https://hooks.slack.com/services/T000/B000/" + token
	t.Setenv("SLOCTL_TEST_HOOK_URL", hookURL)
	t.Setenv("SLOCTL_TEST_HOOK_AUTH", "Bearer "+bearer)
	t.Setenv("SLOCTL_TEST_BAD_URL", "ftp://hooks.slack.com/services/T000/B000/"+token)
	for _, tc := range []struct {
		name    string
		webhook string
		args    []string
		code    int
		want    string
	}{
		{"an inline url shows its scheme and host only", "{url: " + hookURL + "}", nil, exitOK,
			"inline  webhook  https://hooks.slack.com/…"},
		{"a url from the environment is read and masked", "{url_env: SLOCTL_TEST_HOOK_URL, secret_headers: {Authorization: {value_env: SLOCTL_TEST_HOOK_AUTH}}}", nil, exitOK,
			"inline  webhook  https://hooks.slack.com/… (url from env SLOCTL_TEST_HOOK_URL; header Authorization from env SLOCTL_TEST_HOOK_AUTH)"},
		{"offline, the url source is named", "{url_env: SLOCTL_TEST_HOOK_URL}", []string{"--offline"}, exitOK,
			"inline  webhook  url not read (--offline) (url from env SLOCTL_TEST_HOOK_URL)"},
		{"a bad url is reported masked", "{url: ftp://hooks.slack.com/services/T000/B000/" + token + "}", nil, exitFail,
			"url ftp://hooks.slack.com/…: need http(s)://host"},
		{"a bad url from the environment is reported masked", "{url_env: SLOCTL_TEST_BAD_URL}", nil, exitFail,
			"url_env SLOCTL_TEST_BAD_URL: url ftp://hooks.slack.com/…: need http(s)://host"},
		{"an inline credential header is rejected without its value", "{url: " + hookURL + ", headers: {Authorization: Bearer " + bearer + "}}", nil, exitFail,
			`headers: "Authorization" carries a credential`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "notify.yaml")
			if err := os.WriteFile(cfg, []byte("receivers:\n  - name: inline\n    webhook: "+tc.webhook+"\nroute: {receiver: inline}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(append([]string{"check-config", cfg}, tc.args...), &out, &errb)
			all := out.String() + errb.String()
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.want, all)
			}
			if strings.Contains(all, token) || strings.Contains(all, bearer) || strings.Contains(all, "/services/") {
				t.Errorf("a secret was printed:\n%s", all)
			}
		})
	}
}
