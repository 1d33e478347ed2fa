package source

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestHeadersTakeBothForms(t *testing.T) {
	var h Headers
	for _, v := range []string{"X-Scope-OrgID=a=b", "Authorization: Basic eDp5", " X-Empty = "} {
		if err := h.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	want := map[string]string{"X-Scope-OrgID": "a=b", "Authorization": "Basic eDp5", "X-Empty": ""}
	if got := h.Map(); !reflect.DeepEqual(got, want) {
		t.Errorf("Map() = %v, want %v", got, want)
	}
	for _, bad := range []string{"X-Scope-OrgID", "=v", "X Scope=v", "X(1)=v"} {
		if err := h.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

func TestPrometheusFlagsValidate(t *testing.T) {
	cases := []struct {
		name    string
		f       PrometheusFlags
		wantErr string
	}{
		{name: "no URL is left to the caller", f: PrometheusFlags{}},
		{name: "a host without a scheme", f: PrometheusFlags{URL: "prom:9090"}, wantErr: "--prometheus-url"},
		{name: "tenant twice", f: PrometheusFlags{URL: "http://p", Tenant: "a", Headers: Headers{"X-Scope-OrgId=b"}}, wantErr: "--tenant and --header"},
		{name: "a password without a user", f: PrometheusFlags{URL: "http://p", BasicAuthPasswordFile: "/pw"}, wantErr: "needs --basic-auth-user"},
		{name: "two ways to authenticate", f: PrometheusFlags{URL: "http://p", BasicAuthUser: "u", BearerTokenFile: "/t"}, wantErr: "one way"},
		{name: "a negative timeout", f: PrometheusFlags{URL: "http://p", QueryTimeout: -time.Second}, wantErr: "--query-timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Options()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestDeprecatedAliasSetsTheSameValue(t *testing.T) {
	var f PrometheusFlags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	var notices bytes.Buffer
	fs.SetOutput(&notices)
	f.AddFlags(fs)
	AddDeprecatedAliases(fs, map[string]string{"prometheus": "prometheus-url", "insecure": "tls-insecure-skip-verify", "prometheus-header": "header"})
	if err := fs.Parse([]string{"--prometheus", "http://p", "--insecure", "--prometheus-header", "A: 1", "--header", "B=2"}); err != nil {
		t.Fatal(err)
	}
	if f.URL != "http://p" || !f.InsecureSkipVerify || len(f.Headers) != 2 {
		t.Errorf("%+v", f)
	}
	if !strings.Contains(notices.String(), "--prometheus has been deprecated, use --prometheus-url instead") {
		t.Errorf("notices %q", notices.String())
	}
	if a := fs.Lookup("prometheus"); !a.Hidden {
		t.Error("the alias shows in help")
	}
}
