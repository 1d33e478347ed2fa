package slo

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// readSlodAnnotations moves the slod_ annotations that WriteOpenSLO
// writes (AnnotationGroupBy, AnnotationMinEvents, AnnotationPolicy,
// AnnotationAlerting) of OpenSLO SLOs back into their fields, so that
// native → OpenSLO → load yields the same model. A bad value is an error
// at the annotation (SLO003), and the SLO is skipped, as any other.
func (set *Set) readSlodAnnotations() []Diagnostic {
	var diags []Diagnostic
	kept := set.SLOs[:0]
	for _, s := range set.SLOs {
		if !strings.HasPrefix(string(s.Format), "openslo/") || len(s.Annotations) == 0 {
			kept = append(kept, s)
			continue
		}
		d := &decoder{file: s.Pos.File}
		if s.FieldPos == nil {
			s.FieldPos = map[string]Position{}
		}
		for _, key := range []string{AnnotationGroupBy, AnnotationMinEvents, AnnotationPolicy, AnnotationRuleInterval, AnnotationAlerting, AnnotationDependsOn} {
			// The OpenSLO reader has already stripped a domain prefix
			// (slod.dev/slod_policy is slod_policy).
			v, found := s.Annotations[key]
			if !found {
				continue
			}
			delete(s.Annotations, key)
			d.slodAnnotation(s, key, v)
		}
		if len(s.Annotations) == 0 {
			s.Annotations = nil
		}
		diags = append(diags, d.diags...)
		if !HasErrors(d.diags) {
			kept = append(kept, s)
		}
	}
	set.SLOs = kept
	return diags
}

func (d *decoder) slodAnnotation(s *Spec, key, v string) {
	name := key
	pos := s.PosOf("annotations." + name)
	if p, ok := s.FieldPos["annotations."+name+"="]; ok {
		pos = p
	}
	at := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: pos.Line, Column: pos.Column}
	what := fmt.Sprintf("OpenSLO SLO %q: annotation %s", s.ID, key)
	switch key {
	case AnnotationGroupBy:
		s.GroupBy = nil
		for i, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				s.GroupBy = append(s.GroupBy, l)
				s.FieldPos[fmt.Sprintf("group_by[%d]", i)] = pos
			}
		}
		s.FieldPos["group_by"] = pos
	case AnnotationMinEvents:
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || x < 0 {
			d.errorf(at, RuleInvalidField, "%s: expected a number ≥ 0, got %q", what, v)
			return
		}
		s.MinEvents = x
		s.FieldPos["min_events"] = pos
	case AnnotationDependsOn:
		// The SLO's own list replaces its Service object's.
		deps, err := ParseDependsOn(v, pos)
		if err != nil {
			d.errorf(at, RuleInvalidField, "%s: %v", what, err)
			return
		}
		s.DependsOn = deps
		s.FieldPos["depends_on"] = pos
	case AnnotationPolicy:
		s.Policy = strings.TrimSpace(v)
		s.FieldPos["policy"] = pos
	case AnnotationRuleInterval:
		dur, err := ParseDuration(strings.TrimSpace(v))
		if err != nil {
			d.errorf(at, RuleInvalidField, "%s: %v", what, err)
			return
		}
		s.RuleInterval = dur
		s.FieldPos["rule_interval"] = pos
	case AnnotationAlerting:
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(v), &n); err != nil || len(n.Content) == 0 {
			d.errorf(at, RuleInvalidField, "%s: expected slod's alerting block as YAML, such as {name: X, page: {disable: true}}", what)
			return
		}
		place(n.Content[0], pos)
		s.FieldPos["alerting"] = pos
		s.Alerting, _ = d.alerting(field{key: at, val: n.Content[0]}, what, s.FieldPos, false)
	}
}

// place puts every node of n at pos, so that diagnostics about an
// annotation's content point at the annotation.
func place(n *yaml.Node, pos Position) {
	n.Line, n.Column = pos.Line, pos.Column
	for _, c := range n.Content {
		place(c, pos)
	}
}
