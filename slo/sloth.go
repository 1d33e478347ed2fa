package slo

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// sloth reads a Sloth version: "prometheus/v1" file unchanged: service,
// labels, and slos with name, objective, description, labels, sli (events or
// raw; plugin is reported as unsupported) and alerting (name, labels,
// annotations, page_alert and ticket_alert with disable, labels,
// annotations). Sloth has no window field: its SLOs use the 30d default,
// and the id is service-name, as Sloth's own sloth_id.
func (d *decoder) sloth(set *Set, n *yaml.Node) {
	const what = "prometheus/v1"
	fs, ok := d.fields(n, what, "version", "service", "labels", "slos")
	ok = d.required(n, fs, what, "service", "slos") && ok
	var service string
	docPos := map[string]Position{}
	if f, found := fs["service"]; found && !isNull(f.val) {
		var sok bool
		service, sok = d.str(f, "service")
		docPos["service"] = d.pos(f.val)
		ok = ok && sok
	}
	var labels map[string]string
	if f, found := fs["labels"]; found {
		var lok bool
		labels, lok = d.stringMap(f, "labels", "labels.", docPos)
		ok = ok && lok
	}
	f, found := fs["slos"]
	if !found || isNull(f.val) {
		return
	}
	for _, item := range d.list(f, "slos") {
		spec, sok := d.slothSLO(item, service, labels, docPos)
		if ok && sok {
			set.SLOs = append(set.SLOs, spec)
		}
	}
}

func (d *decoder) slothSLO(n *yaml.Node, service string, docLabels map[string]string, docPos map[string]Position) (*Spec, bool) {
	s := d.newSpec(n, FormatSloth, service, docLabels, docPos)
	what := "slo"
	fs, ok := d.fields(n, what, "name", "objective", "description", "labels", "sli", "alerting")
	if f, found := fs["name"]; found {
		var nok bool
		s.Name, nok = d.str(f, "name")
		ok = ok && nok
		what = fmt.Sprintf("slo %q", s.Name)
	}
	ok = d.required(n, fs, what, "name", "objective", "sli") && ok
	s.ID = service + "-" + s.Name
	for name, f := range fs {
		var fok = true
		s.FieldPos[name] = d.pos(f.val)
		switch name {
		case "description":
			s.Description, fok = d.str(f, what+": description")
		case "objective":
			s.Objective, fok = d.num(f, what+": objective")
		case "labels":
			var labels map[string]string
			labels, fok = d.stringMap(f, what+": labels", "labels.", s.FieldPos)
			mergeLabels(s, labels)
		case "sli":
			s.SLI, fok = d.slothSLI(f, what, s.FieldPos)
		case "alerting":
			s.Alerting, fok = d.alerting(f, what, s.FieldPos, true)
		}
		ok = ok && fok
	}
	return s, ok
}

func (d *decoder) slothSLI(f field, what string, pos map[string]Position) (SLI, bool) {
	what += ": sli"
	fs, ok := d.fields(f.val, what, "events", "raw", "plugin")
	if p, found := fs["plugin"]; found {
		d.errorf(p.key, RuleUnsupported, "%s: Sloth SLI plugins are not supported: slod needs the queries themselves; write the plugin's SLI as events or raw", what)
		return SLI{}, false
	}
	if !ok && len(fs) == 0 {
		return SLI{}, false
	}
	if len(fs) != 1 {
		d.errorf(f.val, RuleInvalidField, "%s: set exactly one of events or raw", what)
		return SLI{}, false
	}
	var sli SLI
	var sok bool
	if e, found := fs["events"]; found {
		sli.Events, sok = d.eventsSLI(e, what+": events", pos)
	} else {
		sli.Raw, sok = d.rawSLI(fs["raw"], what+": raw", pos)
	}
	return sli, ok && sok
}
