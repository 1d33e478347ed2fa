package slo

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The alerting kinds of openslo/v1 — AlertPolicy, AlertCondition and
// AlertNotificationTarget — as objects or inline in an SLO or policy.
// openslo_refs.go turns them into policy rows and alert labels.

// osRefItem reads a list item that is a reference ({key: name}) and
// returns it, or nil when the item is an inline object instead.
func (d *decoder) osRefItem(n *yaml.Node, what, key string) *osRef {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			fs, _ := d.fields(n, what, key)
			f, ok := fs[key]
			if !ok {
				return &osRef{}
			}
			name, _ := d.str(f, what+": "+key)
			return &osRef{name: name, pos: d.pos(f.val)}
		}
	}
	return nil
}

// osAlertPolicy reads an AlertPolicy object or an inline one; its inline
// notification targets are reported when an SLO uses the policy.
func (d *decoder) osAlertPolicy(n *yaml.Node, what string) *osPolicy {
	if !d.isMapping(n, what) {
		return nil
	}
	start := len(d.diags)
	fs, meta := d.osAlertObject(n, what, "AlertPolicy", "metadata", "spec")
	p := &osPolicy{name: meta.name, pos: meta.pos, breaching: true}
	if meta.name != "" {
		what += fmt.Sprintf(" %q", meta.name)
	}
	if f, ok := fs["spec"]; ok {
		what += ": spec"
		sfs, _ := d.fields(f.val, what, "description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions", "notificationTargets")
		d.required(f.key, sfs, what, "conditions")
		for _, name := range []string{"alertWhenNoData", "alertWhenResolved"} {
			if ff, ok := sfs[name]; ok {
				d.boolean(ff, what+": "+name)
			}
		}
		if ff, ok := sfs["description"]; ok {
			d.str(ff, what+": description")
		}
		if ff, ok := sfs["alertWhenBreaching"]; ok {
			if b, bok := d.boolean(ff, what+": alertWhenBreaching"); bok && !b {
				p.breaching = false
				d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: alertWhenBreaching: false: its conditions add no burn-rate alerts", what)
			}
		}
		if ff, ok := sfs["conditions"]; ok {
			items := d.list(ff, what+": conditions")
			if len(items) > 1 {
				d.errorf(ff.val, RuleInvalidField, "%s: conditions holds at most one condition (OpenSLO v1), got %d: write one AlertPolicy per condition", what, len(items))
			}
			for i, item := range items {
				iwhat := fmt.Sprintf("%s: conditions[%d]", what, i)
				if ref := d.osRefItem(item, iwhat, "conditionRef"); ref != nil {
					p.conditions = append(p.conditions, &osConditionRef{ref: *ref})
				} else if c := d.osAlertCondition(item, iwhat); c != nil {
					p.conditions = append(p.conditions, &osConditionRef{inline: c})
				}
			}
		}
		if ff, ok := sfs["notificationTargets"]; ok && !isNull(ff.val) {
			for i, item := range d.list(ff, what+": notificationTargets") {
				iwhat := fmt.Sprintf("%s: notificationTargets[%d]", what, i)
				if ref := d.osRefItem(item, iwhat, "targetRef"); ref != nil {
					p.targets = append(p.targets, &osTargetRef{ref: *ref})
				} else if t := d.osTarget(item, iwhat); t != nil {
					p.targets = append(p.targets, &osTargetRef{inline: t})
				}
			}
		}
	}
	p.ok = !d.errorsSince(start) && meta.ok
	return p
}

// osAlertCondition reads an AlertCondition object or an inline one.
func (d *decoder) osAlertCondition(n *yaml.Node, what string) *osCondition {
	if !d.isMapping(n, what) {
		return nil
	}
	start := len(d.diags)
	fs, meta := d.osAlertObject(n, what, "AlertCondition", "metadata", "spec")
	c := &osCondition{name: meta.name, pos: meta.pos}
	if meta.name != "" {
		what += fmt.Sprintf(" %q", meta.name)
	}
	if f, ok := fs["spec"]; ok {
		what += ": spec"
		sfs, _ := d.fields(f.val, what, "description", "severity", "condition")
		d.required(f.key, sfs, what, "severity", "condition")
		if ff, ok := sfs["description"]; ok {
			d.str(ff, what+": description")
		}
		if ff, ok := sfs["severity"]; ok {
			c.severity, _ = d.str(ff, what+": severity")
			c.sevPos = d.pos(ff.val)
		}
		if ff, ok := sfs["condition"]; ok {
			what += ": condition"
			cfs, _ := d.fields(ff.val, what, "kind", "op", "threshold", "lookbackWindow", "alertAfter")
			d.required(ff.key, cfs, what, "op", "threshold", "lookbackWindow")
			if k, ok := cfs["kind"]; ok {
				if v, kok := d.str(k, what+": kind"); kok && v != "burnrate" {
					d.errorf(k.val, RuleUnsupported, "%s: condition kind %q is not supported: slod alerts on burn rates (kind: burnrate)", what, v)
				}
			}
			if o, ok := cfs["op"]; ok {
				if c.op, ok = d.str(o, what+": op"); ok {
					c.opPos = d.pos(o.val)
					if _, known := failingOp[c.op]; !known {
						d.errorf(o.val, RuleInvalidField, "%s: op must be one of lt, lte, gt, gte, got %q", what, c.op)
					}
				}
			}
			if t, ok := cfs["threshold"]; ok {
				if c.threshold, ok = d.num(t, what+": threshold"); ok && c.threshold <= 0 {
					d.errorf(t.val, RuleInvalidField, "%s: threshold is a burn rate and must be positive, got %v", what, c.threshold)
				}
			}
			if l, ok := cfs["lookbackWindow"]; ok {
				c.lookback, _ = d.duration(l, what+": lookbackWindow")
			}
			if a, ok := cfs["alertAfter"]; ok {
				c.alertAfter, _ = d.durationOrZero(a, what+": alertAfter")
				c.afterPos = d.pos(a.val)
			}
		}
	}
	c.ok = !d.errorsSince(start) && meta.ok
	return c
}

// durationOrZero is duration that also accepts 0 and 0m.
func (d *decoder) durationOrZero(f field, what string) (time.Duration, bool) {
	if v := resolve(f.val); v != nil && v.Kind == yaml.ScalarNode && strings.TrimRight(v.Value, "0smhdw") == "" {
		return 0, true
	}
	return d.duration(f, what)
}

// osAlertObject reads what every alerting object (or its inline form)
// shares: the top-level fields (required ones as given), a kind that, when
// written, must be kind, and the metadata.
func (d *decoder) osAlertObject(n *yaml.Node, what, kind string, required ...string) (map[string]field, osMeta) {
	fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	d.required(n, fs, what, required...)
	if k, ok := fs["kind"]; ok {
		if v, _ := d.str(k, what+": kind"); v != kind {
			d.errorf(k.val, RuleInvalidField, "%s: kind must be %s, got %q", what, kind, v)
		}
	}
	return fs, d.osMetadata(fs, what, nil)
}

// osTarget reads an AlertNotificationTarget object or an inline one.
func (d *decoder) osTarget(n *yaml.Node, what string) *osTarget {
	if !d.isMapping(n, what) {
		return nil
	}
	start := len(d.diags)
	fs, meta := d.osAlertObject(n, what, "AlertNotificationTarget", "metadata")
	t := &osTarget{name: meta.name, pos: meta.pos}
	if f, ok := fs["spec"]; ok && !isNull(f.val) {
		sfs, _ := d.fields(f.val, what+": spec", "description", "target")
		if ff, ok := sfs["target"]; ok {
			t.target, _ = d.str(ff, what+": spec: target")
		}
		if ff, ok := sfs["description"]; ok {
			d.str(ff, what+": spec: description")
		}
	}
	t.ok = !d.errorsSince(start) && meta.ok
	return t
}

// isMapping reports whether n is a mapping, and reports it when not.
func (d *decoder) isMapping(n *yaml.Node, what string) bool {
	if m := resolve(n); m == nil || m.Kind != yaml.MappingNode {
		d.fields(n, what)
		return false
	}
	return true
}
