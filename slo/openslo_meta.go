package slo

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// The metadata of OpenSLO objects: names, labels and annotations.

// peekName returns metadata.name when it is a plain string, so messages
// about the metadata itself can name the object.
func peekName(fs map[string]field) string {
	m := resolve(fs["metadata"].val)
	for i := 0; m != nil && m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
		if v := resolve(m.Content[i+1]); m.Content[i].Value == "name" && v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// osMeta is an object's metadata.
type osMeta struct {
	name        string
	pos         Position
	labels      map[string]string
	annotations map[string]string
	ok          bool
}

// osMetadata reads the metadata field of fs. With pos, label and
// annotation positions are recorded there in the native vocabulary.
func (d *decoder) osMetadata(fs map[string]field, what string, pos map[string]Position) osMeta {
	m := osMeta{ok: true}
	f, found := fs["metadata"]
	if !found || isNull(f.val) {
		m.ok = false
		return m
	}
	m.pos = d.pos(f.val)
	mfs, ok := d.fields(f.val, what+": metadata", "name", "displayName", "labels", "annotations")
	ok = d.required(f.key, mfs, what+": metadata", "name") && ok
	for name, ff := range mfs {
		var fok bool
		switch name {
		case "name":
			m.name, fok = d.str(ff, what+": metadata: name")
			m.pos = d.pos(ff.val)
			if pos != nil {
				pos["name"] = m.pos
			}
		case "displayName":
			_, fok = d.str(ff, what+": metadata: displayName")
		case "labels":
			m.labels, fok = d.osLabels(ff, what+": metadata: labels", pos)
		case "annotations":
			m.annotations, fok = d.osAnnotations(ff, what+": metadata: annotations", pos)
		}
		ok = ok && fok
	}
	m.ok = ok
	return m
}

var notLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// promName turns an OpenSLO label or annotation key ("cost-centre",
// "openslo.com/tier") into a Prometheus label name: every other character
// becomes _, and a leading digit gets a _ before it.
func promName(k string) string {
	k = notLabelChar.ReplaceAllString(k, "_")
	if k != "" && k[0] >= '0' && k[0] <= '9' {
		k = "_" + k
	}
	return k
}

// osLabels reads OpenSLO labels: each value a string or a list of strings,
// a list joined with "," in its order (team: [a, b] is team="a,b"). Keys
// that are not Prometheus label names are rewritten by promName, with a
// warning, since labels go onto every rule, alert and page.
func (d *decoder) osLabels(f field, what string, pos map[string]Position) (map[string]string, bool) {
	n := resolve(f.val)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(f.val, RuleInvalidField, "%s: expected a mapping, got %s", what, kindName(n))
		return nil, false
	}
	out := map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, RuleInvalidField, "%s: keys must be plain strings", what)
			ok = false
			continue
		}
		var val string
		switch {
		case v != nil && v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			val = v.Value
		case v != nil && v.Kind == yaml.SequenceNode:
			vals, vok := d.stringList(field{key: k, val: v}, what+": "+k.Value, "", nil)
			if !vok {
				ok = false
				continue
			}
			val = strings.Join(vals, ",")
		default:
			d.errorf(n.Content[i+1], RuleInvalidField, "%s: %s: expected a string or a list of strings, got %s", what, k.Value, kindNameOrNil(v))
			ok = false
			continue
		}
		name := promName(k.Value)
		if name != k.Value && pos != nil {
			d.report(k, SeverityWarning, RuleName, "%s: label %q is not a Prometheus label name: rules, alerts and pages carry it as %s", what, k.Value, name)
		}
		if _, dup := out[name]; dup {
			d.errorf(k, RuleUnknownField, "%s: label %q is defined twice (as %s)", what, k.Value, name)
			ok = false
			continue
		}
		out[name] = val
		if pos != nil {
			pos["labels."+name] = d.pos(k)
			pos["labels."+name+"="] = d.pos(v)
		}
	}
	return out, ok
}

// osAnnotations reads annotations. An OpenSLO key has an optional domain
// prefix (openslo.com/runbook) that Prometheus refuses in annotation
// names: the name after the last / is kept, made a Prometheus label name
// (promName), so openslo.com/runbook is slod's runbook annotation. When two
// keys end up with the same name, the first in the file wins.
func (d *decoder) osAnnotations(f field, what string, pos map[string]Position) (map[string]string, bool) {
	raw, ok := d.stringMap(f, what, "", nil)
	if len(raw) == 0 {
		return nil, ok
	}
	out := make(map[string]string, len(raw))
	n := resolve(f.val)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		v, read := raw[k]
		if !read {
			continue
		}
		name := promName(k[strings.LastIndex(k, "/")+1:])
		if _, dup := out[name]; dup {
			continue
		}
		out[name] = v
		if pos != nil {
			pos["annotations."+name] = d.pos(n.Content[i])
		}
	}
	return out, ok
}
