package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slodhq/slod/notify"
)

// echoConfig is a receiver kind known only to these tests: notify decodes
// it through the same machinery as the built-in kinds.
type echoConfig struct {
	Addr     string       `yaml:"addr"`
	Options  echoOptions  `yaml:"options"`
	Extra    []echoOption `yaml:"extra"`
	TokenEnv string       `yaml:"token_env"`

	Token notify.Secret `yaml:"-"`
}

type echoOptions struct {
	Retries int `yaml:"retries"`
}

type echoOption struct {
	Key string `yaml:"key"`
}

func (c *echoConfig) UnmarshalYAML(n *yaml.Node) error {
	*c = echoConfig{Addr: "echo.default"}
	type plain echoConfig
	return n.Decode((*plain)(c))
}

func (c *echoConfig) Validate(dc notify.DecodeContext) error {
	var errs []error
	if strings.HasPrefix(c.Addr, "bad") {
		errs = append(errs, notify.AtField(errors.New("addr: bad"), "addr"))
	}
	for i, o := range c.Extra {
		if o.Key == "" {
			errs = append(errs, notify.AtField(errors.New("extra: key missing"), "extra", i))
		}
	}
	if c.Options.Retries < 0 {
		errs = append(errs, errors.New("options: retries must not be negative"))
	}
	var err error
	c.Token, err = dc.ReadSecret(notify.SecretSource{Field: "token", Env: c.TokenEnv, Optional: true})
	return errors.Join(append(errs, err)...)
}

func (c *echoConfig) Target() string { return c.Addr }

func (c *echoConfig) NewSender(notify.SenderOptions) (notify.Sender, error) {
	return notify.SenderFunc(func(context.Context, notify.Page) error { return nil }), nil
}

var echoKind = notify.NewKind[echoConfig]("echo")

func TestKindDecodesItsBlockWithDefaultsAndSecrets(t *testing.T) {
	cfg, err := notify.ParseConfig([]byte(`
receivers:
  - {name: a, echo: {options: {retries: 2}, token_env: ECHO_TOKEN}}
  - {name: b, echo: }
route: {receiver: a}
`), "notify.yaml", env(map[string]string{"ECHO_TOKEN": "t0k"}), []notify.Kind{echoKind})
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Receivers[0].Config.(*echoConfig)
	if cfg.Receivers[0].Kind != "echo" || a.Addr != "echo.default" || a.Options.Retries != 2 || a.Token.Reveal() != "t0k" {
		t.Errorf("receiver a = %s %+v", cfg.Receivers[0].Kind, a)
	}
	if b := cfg.Receivers[1].Config.(*echoConfig); b.Addr != "echo.default" {
		t.Errorf("an empty block does not get the defaults: %+v", b)
	}
	offline, err := notify.ParseConfig([]byte("receivers: [{name: a, echo: {token_env: ECHO_TOKEN}}]\nroute: {receiver: a}\n"), "notify.yaml", nil, []notify.Kind{echoKind})
	if err != nil {
		t.Fatal(err)
	}
	if offline.Receivers[0].Config.(*echoConfig).Token.IsSet() {
		t.Error("offline, a secret was read")
	}
}

func TestKindErrorsCarryLineAndColumn(t *testing.T) {
	other := notify.NewKind[echoConfig]("other")
	cases := []struct {
		name  string
		kinds []notify.Kind
		cfg   string
		want  []string
	}{
		{"an unknown nested key inside a receiver's block is rejected at its position", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo:
      options:
        retries: 2
        colour: red
route: {receiver: a}
`, []string{`notify.yaml:7:9: unknown field "colour" in echo options`}},
		{"an unknown key in the block and one in a list item are both reported", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo: {adr: x, extra: [{key: k}, {kye: k}]}
route: {receiver: a}
`, []string{`notify.yaml:4:12: unknown field "adr" in echo`, `notify.yaml:4:39: unknown field "kye" in echo option`}},
		{"an alias to a mapping defined elsewhere is checked against the kind", []notify.Kind{echoKind}, `
route:
  receiver: a
  routes:
    - {receiver: a, match: &m {colour: red}}
receivers:
  - {name: a, echo: *m}
`, []string{`notify.yaml:5:32: unknown field "colour" in echo`}},
		{"a value of the wrong type", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo:
      options: {retries: many}
route: {receiver: a}
`, []string{`notify.yaml:5:26: cannot unmarshal !!str ` + "`many`"}},
		{"a kind nobody registered", []notify.Kind{echoKind, other}, `
receivers:
  - name: a
    carrier_pigeon: {loft: roof}
route: {receiver: a}
`, []string{`notify.yaml:4:5: unknown field "carrier_pigeon" in receiver (a receiver has name and one of echo, other)`}},
		{"no kinds registered at all", nil, `
receivers:
  - {name: a, echo: {}}
route: {receiver: a}
`, []string{`notify.yaml:3:15: unknown field "echo" in receiver (no receiver kinds are registered)`}},
		{"two kinds on one receiver", []notify.Kind{echoKind, other}, `
receivers:
  - {name: a, echo: {}, other: {}}
route: {receiver: a}
`, []string{`notify.yaml:3:5: receiver "a": set exactly one of echo, other (found 2)`}},
		{"no kind on a receiver", []notify.Kind{echoKind, other}, `
receivers:
  - {name: a}
route: {receiver: a}
`, []string{`notify.yaml:3:5: receiver "a": set exactly one of echo, other (found 0)`}},
		{"a key given twice", []notify.Kind{echoKind}, `
receivers:
  - {name: a, echo: {}, name: b}
route: {receiver: a}
`, []string{`notify.yaml:3:25: mapping key "name" already defined at line 3`}},
		{"a validation error is reported at its field, named by its receiver", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo:
      addr: bad.example
      extra:
        - {key: k}
        - {}
route: {receiver: a}
`, []string{`notify.yaml:5:13: receiver "a": addr: bad`, `notify.yaml:8:11: receiver "a": extra: key missing`}},
		{"a validation error without a field is reported at the kind's key", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo: {options: {retries: -1}}
route: {receiver: a}
`, []string{`notify.yaml:4:5: receiver "a": options: retries must not be negative`}},
		{"a secret error is reported with the other errors", []notify.Kind{echoKind}, `
receivers:
  - name: a
    echo: {addr: bad, token_env: NOT_SET_ANYWHERE}
route: {receiver: nobody}
`, []string{`notify.yaml:4:18: receiver "a": addr: bad`, `notify.yaml:4:5: receiver "a": token_env: environment variable NOT_SET_ANYWHERE is not set`,
			`notify.yaml:5:19: route: receiver "nobody" is not defined`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := notify.ParseConfig([]byte(tc.cfg), "notify.yaml", env(nil), tc.kinds)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q\nwant it to contain %q", err, want)
				}
			}
			var pe *notify.PosError
			if !errors.As(err, &pe) || pe.File != "notify.yaml" {
				t.Errorf("not a *PosError: %#v", err)
			}
		})
	}
}

func TestParseConfigRefusesKindsThatClash(t *testing.T) {
	for name, kinds := range map[string][]notify.Kind{
		"the same name twice":       {echoKind, echoKind},
		"a kind named like a field": {notify.NewKind[echoConfig]("name")},
		"a kind without a decoder":  {{Name: "echo"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := notify.ParseConfig([]byte("receivers: [{name: a, echo: {}}]\nroute: {receiver: a}\n"), "notify.yaml", nil, kinds)
			if err == nil || !strings.HasPrefix(err.Error(), "notify: receiver kind") {
				t.Errorf("error = %v", err)
			}
		})
	}
}
