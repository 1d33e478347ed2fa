package slo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// decoder walks yaml.v3 nodes by hand instead of decoding into structs, so
// that every field, known or not, keeps its line:column for diagnostics, and
// so that one pass reports every problem of a document instead of the first.
type decoder struct {
	file  string
	diags []Diagnostic
}

func (d *decoder) pos(n *yaml.Node) Position {
	if n == nil {
		return Position{File: d.file, Line: 1, Column: 1}
	}
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) report(n *yaml.Node, sev Severity, rule, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{Pos: d.pos(n), Severity: sev, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorf(n *yaml.Node, rule, format string, args ...any) {
	d.report(n, SeverityError, rule, format, args...)
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		}
		return n.Value
	}
	return "an unexpected node"
}

// field is one key of a mapping with its key and value nodes.
type field struct {
	key, val *yaml.Node
}

// fields checks that n is a mapping whose keys are all in known, reports
// unknown and duplicate keys (rule SLO002) and returns the known fields by
// name. ok is false when n is not a mapping or a key was rejected; the
// fields found are returned even then so that callers can report more.
func (d *decoder) fields(n *yaml.Node, what string, known ...string) (map[string]field, bool) {
	n = resolve(n)
	out := make(map[string]field, len(known))
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil {
			d.errorf(n, RuleInvalidField, "%s: expected a mapping", what)
		} else {
			d.errorf(n, RuleInvalidField, "%s: expected a mapping, got %s", what, kindName(n))
		}
		return out, false
	}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, RuleUnknownField, "%s: field names must be plain strings", what)
			ok = false
			continue
		}
		if k.Value == "<<" && k.Tag == "!!merge" {
			d.errorf(k, RuleUnsupported, "%s: YAML merge keys (<<) are not supported; write the fields out", what)
			ok = false
			continue
		}
		if prev, dup := out[k.Value]; dup {
			d.errorf(k, RuleUnknownField, "%s: field %q is defined twice (first at line %d)", what, k.Value, prev.key.Line)
			ok = false
			continue
		}
		if !contains(known, k.Value) {
			d.errorf(k, RuleUnknownField, "%s: unknown field %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			ok = false
			continue
		}
		out[k.Value] = field{key: k, val: v}
	}
	return out, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// str reads a scalar as a string. Numbers and booleans are accepted as
// written (a service called 2024 is fine); null, lists and mappings are not.
func (d *decoder) str(f field, what string) (string, bool) {
	v := resolve(f.val)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errorf(f.val, RuleInvalidField, "%s: expected a string, got %s", what, kindNameOrNil(v))
		return "", false
	}
	return v.Value, true
}

func kindNameOrNil(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	return kindName(n)
}

// num reads a finite number. Quoted strings are rejected: "99.9" is a string.
func (d *decoder) num(f field, what string) (float64, bool) {
	v := resolve(f.val)
	if v == nil || v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
		d.errorf(f.val, RuleInvalidField, "%s: expected a number, got %s", what, kindNameOrNil(v))
		return 0, false
	}
	var x float64
	if err := v.Decode(&x); err != nil {
		d.errorf(f.val, RuleInvalidField, "%s: %q is not a number", what, v.Value)
		return 0, false
	}
	if math.IsNaN(x) || math.IsInf(x, 0) {
		d.errorf(f.val, RuleInvalidField, "%s: must be a finite number, got %s", what, v.Value)
		return 0, false
	}
	return x, true
}

func (d *decoder) boolean(f field, what string) (bool, bool) {
	v := resolve(f.val)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		d.errorf(f.val, RuleInvalidField, "%s: expected true or false, got %s", what, kindNameOrNil(v))
		return false, false
	}
	b, err := strconv.ParseBool(v.Value)
	if err != nil {
		// YAML 1.1 spellings (yes/no/on/off) that yaml.v3 tags as bool.
		var x bool
		if err := v.Decode(&x); err != nil {
			d.errorf(f.val, RuleInvalidField, "%s: expected true or false, got %q", what, v.Value)
			return false, false
		}
		return x, true
	}
	return b, true
}

// duration reads a positive Prometheus-style duration: 30d, 1h30m, 4w.
func (d *decoder) duration(f field, what string) (time.Duration, bool) {
	s, ok := d.str(f, what)
	if !ok {
		return 0, false
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errorf(f.val, RuleInvalidField, "%s: %v", what, err)
		return 0, false
	}
	return dur, true
}

// ParseDuration parses a positive Prometheus-style duration such as 30d,
// 1h30m or 5m (units ms, s, m, h, d, w, y; no fractions, no spaces).
func ParseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use Prometheus units such as 5m, 1h30m, 30d", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	return time.Duration(d), nil
}

// FormatDuration is the one way slod writes a duration, in files, rules,
// logs, pages, the API and the status page: whole units from days down to
// seconds, largest first ("30d", "1d12h", "5m30s"), milliseconds for a
// part-second under a minute ("1500ms"), "0s" for zero or less, and "never" for the largest Duration,
// which stands for a budget that never runs out. Weeks are not used, so 14
// days read "14d". Prometheus parses every form it writes.
func FormatDuration(d time.Duration) string {
	switch {
	case d == math.MaxInt64:
		return "never"
	case d <= 0:
		return "0s"
	case d < time.Minute && d%time.Second != 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	var b strings.Builder
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.suffix)
			d -= n * u.d
		}
	}
	return b.String()
}

// stringMap reads a mapping of strings to strings (labels, annotations).
// It records the position of every key under prefix+key and of every value
// under prefix+key+"=" in pos.
func (d *decoder) stringMap(f field, what, prefix string, pos map[string]Position) (map[string]string, bool) {
	n := resolve(f.val)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(f.val, RuleInvalidField, "%s: expected a mapping of strings, got %s", what, kindName(n))
		return nil, false
	}
	out := make(map[string]string, len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, RuleInvalidField, "%s: keys must be plain strings", what)
			ok = false
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, RuleUnknownField, "%s: key %q is defined twice", what, k.Value)
			ok = false
			continue
		}
		if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			d.errorf(n.Content[i+1], RuleInvalidField, "%s: %s: expected a string, got %s", what, k.Value, kindNameOrNil(v))
			ok = false
			continue
		}
		out[k.Value] = v.Value
		if pos != nil {
			pos[prefix+k.Value] = d.pos(k)
			pos[prefix+k.Value+"="] = d.pos(v)
		}
	}
	return out, ok
}

// stringList reads a list of strings, recording each item's position under
// prefix[i] in pos.
func (d *decoder) stringList(f field, what, prefix string, pos map[string]Position) ([]string, bool) {
	n := resolve(f.val)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(f.val, RuleInvalidField, "%s: expected a list of strings, got %s", what, kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		c = resolve(c)
		if c == nil || c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
			d.errorf(n.Content[i], RuleInvalidField, "%s: item %d: expected a string, got %s", what, i+1, kindNameOrNil(c))
			ok = false
			continue
		}
		out = append(out, c.Value)
		if pos != nil {
			pos[fmt.Sprintf("%s[%d]", prefix, len(out)-1)] = d.pos(c)
		}
	}
	return out, ok
}

// required reports the fields of names that are missing from fs.
func (d *decoder) required(n *yaml.Node, fs map[string]field, what string, names ...string) bool {
	ok := true
	for _, name := range names {
		if f, found := fs[name]; !found || isNull(f.val) {
			at := n
			if found {
				at = f.key
			}
			d.errorf(at, RuleInvalidField, "%s: missing required field %q", what, name)
			ok = false
		}
	}
	return ok
}
