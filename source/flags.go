package source

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// TenantHeader is the header Mimir, Cortex and Loki read the tenant from.
const TenantHeader = "X-Scope-OrgID"

// PrometheusFlags are the command-line flags that point a Prometheus source
// at its API. slod and `sloctl backtest` register the same ones, so a
// Prometheus is addressed the same way everywhere. The yaml keys are the
// flag names (slod's --config file).
type PrometheusFlags struct {
	URL                   string        `yaml:"prometheus-url"`
	Headers               Headers       `yaml:"header"`
	BearerTokenFile       string        `yaml:"bearer-token-file"`
	BasicAuthUser         string        `yaml:"basic-auth-user"`
	BasicAuthPasswordFile string        `yaml:"basic-auth-password-file"`
	CAFile                string        `yaml:"ca-file"`
	InsecureSkipVerify    bool          `yaml:"tls-insecure-skip-verify"`
	Tenant                string        `yaml:"tenant"`
	QueryTimeout          time.Duration `yaml:"query-timeout"`
}

// AddFlags registers the flags on fs. Each flag's default is the field's
// current value, so callers set their defaults (or a config file's values)
// before.
func (f *PrometheusFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.URL, "prometheus-url", f.URL, "base URL of a Prometheus-compatible query API (Prometheus, Thanos Query, Mimir, VictoriaMetrics)")
	fs.Var(&f.Headers, "header", "extra request header NAME=VALUE (repeatable)")
	fs.StringVar(&f.BearerTokenFile, "bearer-token-file", f.BearerTokenFile, "file holding a bearer token for the API (read on each request)")
	fs.StringVar(&f.BasicAuthUser, "basic-auth-user", f.BasicAuthUser, "basic auth user for the API")
	fs.StringVar(&f.BasicAuthPasswordFile, "basic-auth-password-file", f.BasicAuthPasswordFile, "file holding the basic auth password (read on each request)")
	fs.StringVar(&f.CAFile, "ca-file", f.CAFile, "CA bundle to verify the API's TLS certificate")
	fs.BoolVar(&f.InsecureSkipVerify, "tls-insecure-skip-verify", f.InsecureSkipVerify, "do not verify the API's TLS certificate")
	fs.StringVar(&f.Tenant, "tenant", f.Tenant, "tenant ID sent as the "+TenantHeader+" header (Mimir, Cortex)")
	fs.DurationVar(&f.QueryTimeout, "query-timeout", f.QueryTimeout, "timeout of one try of a query")
}

// AddDeprecatedAliases registers each old flag name of aliases (old name ->
// current name) as a hidden alias of the current flag already on fs: both
// set the same value, and using the old name prints a deprecation notice.
func AddDeprecatedAliases(fs *pflag.FlagSet, aliases map[string]string) {
	for old, name := range aliases {
		f := fs.Lookup(name)
		if f == nil {
			panic(fmt.Sprintf("source: alias --%s of unknown flag --%s", old, name))
		}
		fs.AddFlag(&pflag.Flag{
			Name:        old,
			Usage:       f.Usage,
			Value:       f.Value,
			DefValue:    f.DefValue,
			NoOptDefVal: f.NoOptDefVal,
		})
		if err := fs.MarkDeprecated(old, "use --"+name+" instead"); err != nil {
			panic(err)
		}
	}
}

// Validate checks the flags' values; its errors name the flags. An empty
// URL is valid here: whether it is required is the caller's business.
func (f *PrometheusFlags) Validate() error {
	var errs []error
	if f.URL != "" {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--prometheus-url %q: want an http:// or https:// URL", f.URL))
		}
	}
	if f.Tenant != "" {
		for name := range f.Headers.Map() {
			if strings.EqualFold(name, TenantHeader) {
				errs = append(errs, fmt.Errorf("--tenant and --header %s both set the tenant: keep one", name))
			}
		}
	}
	if f.BasicAuthPasswordFile != "" && f.BasicAuthUser == "" {
		errs = append(errs, errors.New("--basic-auth-password-file needs --basic-auth-user"))
	}
	if f.BearerTokenFile != "" && f.BasicAuthUser != "" {
		errs = append(errs, errors.New("--bearer-token-file and --basic-auth-user: use one way to authenticate"))
	}
	if f.QueryTimeout < 0 {
		errs = append(errs, fmt.Errorf("--query-timeout %s is negative", f.QueryTimeout))
	}
	return errors.Join(errs...)
}

// Options validates the flags and turns them into PrometheusOptions; the
// caller adds Metrics, Logger and retry settings.
func (f *PrometheusFlags) Options() (PrometheusOptions, error) {
	if err := f.Validate(); err != nil {
		return PrometheusOptions{}, err
	}
	o := PrometheusOptions{
		URL:                f.URL,
		BearerTokenFile:    f.BearerTokenFile,
		Username:           f.BasicAuthUser,
		PasswordFile:       f.BasicAuthPasswordFile,
		CAFile:             f.CAFile,
		InsecureSkipVerify: f.InsecureSkipVerify,
		Timeout:            f.QueryTimeout,
	}
	if len(f.Headers) > 0 || f.Tenant != "" {
		o.Headers = f.Headers.Map()
		if f.Tenant != "" {
			o.Headers[TenantHeader] = f.Tenant
		}
	}
	return o, nil
}

// Headers are repeated request headers, each NAME=VALUE (or "NAME: VALUE",
// the form slod's old --prometheus-header took). It is a pflag.Value;
// later values of a name replace earlier ones.
type Headers []string

// String joins the headers as given.
func (h *Headers) String() string { return strings.Join(*h, ", ") }

// Type names the value in help output.
func (h *Headers) Type() string { return "NAME=VALUE" }

// Set adds one header.
func (h *Headers) Set(v string) error {
	if _, _, err := splitHeader(v); err != nil {
		return err
	}
	*h = append(*h, v)
	return nil
}

// UnmarshalYAML reads a list of headers from slod's config file.
func (h *Headers) UnmarshalYAML(unmarshal func(any) error) error {
	var vs []string
	if err := unmarshal(&vs); err != nil {
		return err
	}
	for _, v := range vs {
		if err := h.Set(v); err != nil {
			return err
		}
	}
	return nil
}

// Map returns the headers by name.
func (h Headers) Map() map[string]string {
	out := map[string]string{}
	for _, v := range h {
		name, val, _ := splitHeader(v)
		out[name] = val
	}
	return out
}

// splitHeader cuts NAME=VALUE or "NAME: VALUE" at the first '=' or ':'
// (neither can occur in a header name).
func splitHeader(v string) (name, value string, err error) {
	i := strings.IndexAny(v, "=:")
	if i < 0 {
		return "", "", fmt.Errorf("header %q: want NAME=VALUE", v)
	}
	name = strings.TrimSpace(v[:i])
	if name == "" || !validHeaderName(name) {
		return "", "", fmt.Errorf("header %q: want NAME=VALUE with a valid header name", v)
	}
	return name, strings.TrimSpace(v[i+1:]), nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}
