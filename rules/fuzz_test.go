package rules

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// FuzzEncodeRoundTrip: whatever text users put in labels, annotations or
// queries, the rule file reads back (with yaml.v3, as Prometheus does) as
// exactly what was generated.
func FuzzEncodeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "true", "1", "1h", "a: b", "x #y", "- z", "two\nlines", "tail ", "\t", "naïve", "{{ $value }}", `"q"`, "'s'", "\n", "a\n", " \n", "|-", "1 - x", "@"} {
		f.Add(s, "summary")
	}
	f.Fuzz(func(t *testing.T, value, key string) {
		if !utf8.ValidString(value) || !utf8.ValidString(key) {
			t.Skip("YAML text is UTF-8")
		}
		in := File{Groups: []Group{{Name: value, Rules: []Rule{{
			Alert: "A", Expr: value, For: value,
			Labels:      map[string]string{"k": value},
			Annotations: map[string]string{key: value, "summary": key},
		}}}}}
		var buf bytes.Buffer
		if err := in.Encode(&buf, FormatPrometheus); err != nil {
			t.Fatal(err)
		}
		var out File
		if err := yaml.Unmarshal(buf.Bytes(), &out); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, buf.String())
		}
		if len(out.Groups) != 1 || len(out.Groups[0].Rules) != 1 {
			t.Fatalf("structure lost:\n%s", buf.String())
		}
		g, r := out.Groups[0], out.Groups[0].Rules[0]
		if g.Name != value || r.Expr != value || r.For != value || r.Labels["k"] != value ||
			r.Annotations[key] != in.Groups[0].Rules[0].Annotations[key] || r.Annotations["summary"] != in.Groups[0].Rules[0].Annotations["summary"] {
			t.Fatalf("value %q key %q did not round-trip:\n%s\n%+v", value, key, buf.String(), r)
		}
	})
}
