package slo

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Sloth writes the same SLOs in two forms: a version: prometheus/v1 file
// with snake_case keys, and a Kubernetes PrometheusServiceLevel manifest
// (apiVersion: sloth.slok.dev/v1) whose spec holds the same fields in
// camelCase. Both are read here into the same model, with the same
// strictness; docs/spec.md maps every field.

// SlothPolicyAnnotation, set in a Sloth SLO's alerting.annotations, names
// the slod policy of that SLO. Sloth copies it onto its own alerts as a
// harmless annotation, so the file stays valid for Sloth; slod takes it out
// of the annotations its alerts carry.
const SlothPolicyAnnotation = "slod_policy"

// SlothK8sPolicyAnnotation, set in a PrometheusServiceLevel's
// metadata.annotations, names the slod policy of every SLO of the manifest
// that does not name its own with SlothPolicyAnnotation. Sloth ignores
// metadata annotations.
const SlothK8sPolicyAnnotation = "slod.dev/policy"

// Sloth SLO plugin ids slod knows (Sloth v0.16's catalogue).
const (
	slothPluginSLIRules   = "sloth.dev/core/sli_rules/v1"
	slothPluginMetadata   = "sloth.dev/core/metadata_rules/v1"
	slothPluginAlertRules = "sloth.dev/core/alert_rules/v1"
	slothPluginValidate   = "sloth.dev/core/validate/v1"
	slothPluginDebug      = "sloth.dev/core/debug/v1"
	slothPluginNoop       = "sloth.dev/core/noop/v1"

	slothPluginInfoLabels      = "sloth.dev/contrib/info_labels/v1"
	slothPluginRuleIntervals   = "sloth.dev/contrib/rule_intervals/v1"
	slothPluginRemoveLabels    = "sloth.dev/contrib/remove_labels/v1"
	slothPluginBudgetExhausted = "sloth.dev/contrib/error_budget_exhausted_alert/v1"
	slothPluginDenominator     = "sloth.dev/contrib/denominator_corrected_rules/v1"
	slothPluginVictoriaMetrics = "sloth.dev/contrib/validate_victoria_metrics/v1"
)

// slothIgnoredPlugins are the contrib plugins slod has no counterpart for,
// with what ignoring them changes.
var slothIgnoredPlugins = map[string]string{
	slothPluginRemoveLabels:    "slod keeps the SLO's labels on every series it records",
	slothPluginBudgetExhausted: "slod raises no alert when the error budget is exhausted; its burn-rate alerts page and ticket as the policy says",
	slothPluginDenominator:     "slod's burn rates are not corrected for seasonal traffic; min_events (native files) guards low-traffic SLOs instead",
	slothPluginVictoriaMetrics: "slod checks the queries as PromQL, so MetricsQL-only syntax is reported as SLO010",
}

// slothDialect names the keys that differ between Sloth's two forms.
type slothDialect struct {
	what                                    string
	plugins                                 string
	errorQuery, totalQuery, errorRatioQuery string
	pageAlert, ticketAlert                  string
}

var (
	slothFile = slothDialect{what: "prometheus/v1", plugins: "slo_plugins",
		errorQuery: "error_query", totalQuery: "total_query", errorRatioQuery: "error_ratio_query",
		pageAlert: "page_alert", ticketAlert: "ticket_alert"}
	slothK8s = slothDialect{what: "PrometheusServiceLevel spec", plugins: "sloPlugins",
		errorQuery: "errorQuery", totalQuery: "totalQuery", errorRatioQuery: "errorRatioQuery",
		pageAlert: "pageAlert", ticketAlert: "ticketAlert"}
)

// other is the dialect with the other spelling of the keys.
func (dia slothDialect) other() slothDialect {
	if dia.plugins == slothFile.plugins {
		return slothK8s
	}
	return slothFile
}

// spellings maps each key of the other dialect to this dialect's spelling.
func (dia slothDialect) spellings() map[string]string {
	o := dia.other()
	return map[string]string{o.plugins: dia.plugins, o.errorQuery: dia.errorQuery, o.totalQuery: dia.totalQuery,
		o.errorRatioQuery: dia.errorRatioQuery, o.pageAlert: dia.pageAlert, o.ticketAlert: dia.ticketAlert}
}

// fields is decoder.fields for a Sloth mapping: a key spelled as in Sloth's
// other form (page_alert in a PrometheusServiceLevel, pageAlert in a
// prometheus/v1 file) is an unknown field too, with a message naming the
// right spelling, since Sloth itself silently ignores it.
func (dia slothDialect) fields(d *decoder, n *yaml.Node, what string, known ...string) (map[string]field, bool) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return d.fields(n, what, known...)
	}
	ok := true
	kept := *n
	kept.Content = nil
	spell := dia.spellings()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if right, wrong := spell[k.Value]; wrong && k.Kind == yaml.ScalarNode && slices.Contains(known, right) {
			d.errorf(k, RuleUnknownField, "%s: unknown field %q: %s spells it %q (Sloth silently ignores %q here)", what, k.Value, dia.what, right, k.Value)
			ok = false
			continue
		}
		kept.Content = append(kept.Content, k, n.Content[i+1])
	}
	fs, fok := d.fields(&kept, what, known...)
	return fs, ok && fok
}

// sloth reads a Sloth version: "prometheus/v1" file unchanged. Sloth has no
// window field: its SLOs use the 30d default, and the id is service-name,
// as Sloth's own sloth_id.
func (d *decoder) sloth(set *Set, n *yaml.Node) {
	fs, ok := slothFile.fields(d, n, slothFile.what, "version", "service", "labels", slothFile.plugins, "slos")
	d.slothGroup(set, n, fs, ok, slothFile, "", Position{})
}

// k8sObjectMeta are the fields of a Kubernetes object's metadata. slod reads
// annotations (SlothK8sPolicyAnnotation) and accepts the rest unread, so a
// manifest exported from a cluster loads as it is.
var k8sObjectMeta = []string{"name", "generateName", "namespace", "labels", "annotations", "uid",
	"resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink"}

// slothK8s reads a Sloth Kubernetes manifest (apiVersion: sloth.slok.dev/v1).
// Only kind: PrometheusServiceLevel holds SLOs; its status, written by the
// Sloth operator, is accepted and not read.
func (d *decoder) slothK8s(set *Set, n, kind *yaml.Node) {
	switch {
	case kind == nil:
		d.errorf(n, RuleInvalidField, "sloth.slok.dev/v1 document without kind: only kind: PrometheusServiceLevel is read")
		return
	case kind.Kind != yaml.ScalarNode || kind.Value != "PrometheusServiceLevel":
		if kind.Value == "AlertWindows" {
			d.slothWindows(set, n)
			return
		}
		d.errorf(kind, RuleUnsupported, "sloth.slok.dev/v1 kind %s is not supported: only kind: PrometheusServiceLevel is read", kindName(kind))
		return
	}
	const what = "PrometheusServiceLevel"
	fs, ok := d.fields(n, what, "apiVersion", "kind", "metadata", "spec", "status")
	ok = d.required(n, fs, what, "spec") && ok
	var policy string
	var policyPos Position
	if f, found := fs["metadata"]; found && !isNull(f.val) {
		mfs, mok := d.fields(f.val, what+": metadata", k8sObjectMeta...)
		ok = ok && mok
		if af, found := mfs["annotations"]; found {
			pos := map[string]Position{}
			annotations, aok := d.stringMap(af, what+": metadata: annotations", "", pos)
			ok = ok && aok
			if v, set := annotations[SlothK8sPolicyAnnotation]; set {
				policy, policyPos = v, pos[SlothK8sPolicyAnnotation+"="]
			}
		}
		if lf, found := mfs["labels"]; found {
			_, lok := d.stringMap(lf, what+": metadata: labels", "", nil)
			ok = ok && lok
		}
	}
	f, found := fs["spec"]
	if !found || isNull(f.val) {
		return
	}
	sfs, sok := slothK8s.fields(d, f.val, slothK8s.what, "service", "labels", slothK8s.plugins, "slos")
	d.slothGroup(set, resolve(f.val), sfs, ok && sok, slothK8s, policy, policyPos)
}

// slothGroup reads the fields both forms share: service, labels, the
// group's plugins and the SLOs. policy is the manifest's default policy.
func (d *decoder) slothGroup(set *Set, n *yaml.Node, fs map[string]field, ok bool, dia slothDialect, policy string, policyPos Position) {
	ok = d.required(n, fs, dia.what, "service", "slos") && ok
	var service string
	docPos := map[string]Position{}
	if f, found := fs["service"]; found && !isNull(f.val) {
		var sok bool
		service, sok = d.str(f, "service")
		docPos["service"] = d.pos(f.val)
		ok = ok && sok
	}
	if policy != "" {
		docPos["policy"] = policyPos
	}
	var labels map[string]string
	if f, found := fs["labels"]; found {
		var lok bool
		labels, lok = d.stringMap(f, "labels", "labels.", docPos)
		ok = ok && lok
	}
	var group slothPlugins
	if f, found := fs[dia.plugins]; found {
		var pok bool
		group, pok = d.slothPlugins(f, dia.plugins)
		ok = ok && pok
	}
	f, found := fs["slos"]
	if !found || isNull(f.val) {
		return
	}
	for _, item := range d.list(f, "slos") {
		spec, sok := d.slothSLO(item, dia, service, labels, docPos, group)
		if spec != nil && spec.Policy == "" && policy != "" {
			spec.Policy = policy
		}
		if ok && sok {
			set.SLOs = append(set.SLOs, spec)
		}
	}
}

func (d *decoder) slothSLO(n *yaml.Node, dia slothDialect, service string, docLabels map[string]string, docPos map[string]Position, group slothPlugins) (*Spec, bool) {
	s := d.newSpec(n, FormatSloth, service, docLabels, docPos)
	what := "slo"
	fs, ok := d.fields(n, what, "name", "objective", "description", "labels", "sli", "alerting", "plugins")
	if f, found := fs["name"]; found {
		var nok bool
		s.Name, nok = d.str(f, "name")
		ok = ok && nok
		what = fmt.Sprintf("slo %q", s.Name)
	}
	ok = d.required(n, fs, what, "name", "objective", "sli") && ok
	s.ID = service + "-" + s.Name
	var own slothPlugins
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
			s.SLI, fok = d.slothSLI(f, what, dia, s.FieldPos)
		case "alerting":
			s.Alerting, fok = d.slothAlerting(f, what, dia, s.FieldPos)
		case "plugins":
			own, fok = d.slothPlugins(f, what+": plugins")
		}
		ok = ok && fok
	}
	if p, set := s.Alerting.Annotations[SlothPolicyAnnotation]; set {
		s.Policy = p
		s.FieldPos["policy"] = s.PosOf("alerting.annotations." + SlothPolicyAnnotation + "=")
		delete(s.Alerting.Annotations, SlothPolicyAnnotation)
	}
	d.applySlothPlugins(s, what, group, own)
	return s, ok
}

func (d *decoder) slothSLI(f field, what string, dia slothDialect, pos map[string]Position) (SLI, bool) {
	what += ": sli"
	fs, ok := dia.fields(d, f.val, what, "events", "raw", "plugin")
	if p, found := fs["plugin"]; found {
		d.errorf(p.key, RuleUnsupported, "%s: Sloth SLI plugins are not supported: they are Go code run by Sloth, and slod needs the queries themselves; write the plugin's SLI as events or raw", what)
		return SLI{}, false
	}
	if !ok && len(fs) == 0 {
		return SLI{}, false
	}
	if len(fs) != 1 {
		d.errorf(f.val, RuleInvalidField, "%s: set exactly one of events or raw", what)
		return SLI{}, false
	}
	if e, found := fs["events"]; found {
		ev, eok := d.slothQueries(e, what+": events", dia, pos, map[string]string{
			dia.errorQuery: "sli.events.error_query", dia.totalQuery: "sli.events.total_query"})
		return SLI{Events: &EventsSLI{ErrorQuery: ev[dia.errorQuery], TotalQuery: ev[dia.totalQuery]}}, ok && eok
	}
	raw, rok := d.slothQueries(fs["raw"], what+": raw", dia, pos, map[string]string{dia.errorRatioQuery: "sli.raw.error_ratio_query"})
	return SLI{Raw: &RawSLI{ErrorRatioQuery: raw[dia.errorRatioQuery]}}, ok && rok
}

// slothQueries reads a mapping of required query fields, recording each
// value's position under its native name (keys maps Sloth key to it).
func (d *decoder) slothQueries(f field, what string, dia slothDialect, pos map[string]Position, keys map[string]string) (map[string]string, bool) {
	names := slices.Sorted(maps.Keys(keys))
	fs, ok := dia.fields(d, f.val, what, names...)
	ok = d.required(f.key, fs, what, names...) && ok
	out := map[string]string{}
	for _, name := range names {
		q, found := fs[name]
		if !found {
			continue
		}
		v, qok := d.str(q, what+": "+name)
		out[name] = strings.TrimSpace(v)
		pos[keys[name]] = d.pos(q.val)
		ok = ok && qok
	}
	return out, ok
}

// slothAlerting reads the alerting block: name, labels, annotations and the
// page and ticket classes.
func (d *decoder) slothAlerting(f field, what string, dia slothDialect, pos map[string]Position) (Alerting, bool) {
	what += ": alerting"
	var a Alerting
	if isNull(f.val) {
		return a, true
	}
	fs, ok := dia.fields(d, f.val, what, "name", "labels", "annotations", dia.pageAlert, dia.ticketAlert)
	for name, ff := range fs {
		var fok bool
		pos["alerting."+name] = d.pos(ff.val)
		switch name {
		case "name":
			a.Name, fok = d.str(ff, what+": name")
		case "labels":
			a.Labels, fok = d.stringMap(ff, what+": labels", "alerting.labels.", pos)
		case "annotations":
			a.Annotations, fok = d.stringMap(ff, what+": annotations", "alerting.annotations.", pos)
		case dia.pageAlert:
			a.Page, fok = d.slothAlert(ff, what+": "+name, "alerting.page.", pos)
		case dia.ticketAlert:
			a.Ticket, fok = d.slothAlert(ff, what+": "+name, "alerting.ticket.", pos)
		}
		ok = ok && fok
	}
	return a, ok
}

// slothAlert reads page_alert or ticket_alert: disable, labels, annotations
// and for. Sloth v0.16 decodes files leniently and ignores for; a later
// Sloth may set it on its alerts (slok/sloth#787), which is what slod's
// generated rules do. The daemon does not wait: it says so in a warning.
func (d *decoder) slothAlert(f field, what, prefix string, pos map[string]Position) (AlertClass, bool) {
	c, ok := d.alertClass(f, what, prefix, pos)
	if ok && c.For > 0 {
		d.diags = append(d.diags, Diagnostic{Pos: pos[prefix+"for"], Severity: SeverityWarning, Rule: RuleUnsupported,
			Message: fmt.Sprintf("%s: for %s applies to the generated rules only: the slod daemon raises the alert as soon as a row fires (Sloth v0.16 ignores this field)",
				what, FormatDuration(c.For))})
	}
	return c, ok
}

// slothPlugins is a Sloth SLO plugin block (slo_plugins, sloPlugins or an
// SLO's plugins).
type slothPlugins struct {
	// override is overridePrevious: the block replaces the plugins declared
	// before it (Sloth's defaults, then the group's) instead of adding to them.
	override    bool
	overridePos *yaml.Node
	chain       []slothPlugin
}

// slothPlugin is one plugin of a chain, with what it maps to in slod.
type slothPlugin struct {
	id       string
	priority int
	// annotations come from sloth.dev/contrib/info_labels/v1.
	annotations map[string]string
	// interval comes from sloth.dev/contrib/rule_intervals/v1.
	interval time.Duration
}

// slothPlugins reads a plugin block. The plugins slod has a counterpart for
// are mapped (see applySlothPlugins); every other one gets a warning,
// once, at its id, saying that slod ignores it and what that changes.
func (d *decoder) slothPlugins(f field, what string) (slothPlugins, bool) {
	var ps slothPlugins
	if isNull(f.val) {
		return ps, true
	}
	fs, ok := d.fields(f.val, what, "overridePrevious", "chain")
	if o, found := fs["overridePrevious"]; found {
		var ook bool
		ps.override, ook = d.boolean(o, what+": overridePrevious")
		ps.overridePos = o.key
		ok = ok && ook
	}
	c, found := fs["chain"]
	if !found || isNull(c.val) {
		return ps, ok
	}
	chain := resolve(c.val)
	if chain.Kind != yaml.SequenceNode {
		d.errorf(c.val, RuleInvalidField, "%s: chain: expected a list of plugins, got %s", what, kindName(chain))
		return ps, false
	}
	for i, item := range chain.Content {
		p, pok := d.slothPlugin(resolve(item), fmt.Sprintf("%s: chain: plugin %d", what, i+1))
		ok = ok && pok
		if pok {
			ps.chain = append(ps.chain, p)
		}
	}
	return ps, ok
}

func (d *decoder) slothPlugin(n *yaml.Node, what string) (slothPlugin, bool) {
	var p slothPlugin
	fs, ok := d.fields(n, what, "id", "priority", "config")
	ok = d.required(n, fs, what, "id") && ok
	if f, found := fs["priority"]; found {
		x, pok := d.num(f, what+": priority")
		if pok && (x != float64(int(x)) || x > 1<<31 || x < -(1<<31)) {
			d.errorf(f.val, RuleInvalidField, "%s: priority must be a whole number, got %v", what, x)
			pok = false
		}
		p.priority = int(x)
		ok = ok && pok
	}
	f, found := fs["id"]
	if !found || isNull(f.val) {
		return p, false
	}
	id, iok := d.str(f, what+": id")
	if !iok {
		return p, false
	}
	p.id = id
	what = fmt.Sprintf("%s (%s)", what, id)
	cfg := fs["config"]
	switch id {
	case slothPluginSLIRules, slothPluginMetadata, slothPluginAlertRules, slothPluginValidate, slothPluginDebug, slothPluginNoop:
		// Sloth's defaults and its debugging plugins: slod does their work
		// its own way, and their config tunes only Sloth's output.
	case slothPluginInfoLabels:
		var cok bool
		p.annotations, cok = d.slothInfoLabels(cfg, what)
		ok = ok && cok
	case slothPluginRuleIntervals:
		var cok bool
		p.interval, cok = d.slothRuleIntervals(cfg, what)
		ok = ok && cok
	default:
		if change, known := slothIgnoredPlugins[id]; known {
			d.report(f.val, SeverityWarning, RuleUnsupported, "%s: Sloth plugin %s is ignored: %s", what, id, change)
		} else {
			d.report(f.val, SeverityWarning, RuleUnsupported, "%s: Sloth plugin %s is ignored: slod does not run Sloth plugins (Go code loaded by Sloth), so its rules and alerts for this SLO are what the spec says without the plugin", what, id)
		}
	}
	return p, ok
}

// slothInfoLabels reads the config of sloth.dev/contrib/info_labels/v1:
// labels (required) that Sloth adds to its sloth_slo_info series. slod has
// no info series; the labels become the SLO's annotations, the metadata
// slod shows with the SLO and its alerts and pages. Names that are not
// Prometheus label names would make the rule files invalid: they are
// dropped with a warning.
func (d *decoder) slothInfoLabels(f field, what string) (map[string]string, bool) {
	what += ": config"
	fs, ok := d.fields(f.val, what, "labels", "metricName")
	ok = d.required(f.key, fs, what, "labels") && ok
	if m, found := fs["metricName"]; found {
		d.report(m.key, SeverityWarning, RuleUnsupported, "%s: metricName is ignored: slod records no info series; the labels become the SLO's annotations", what)
	}
	l, found := fs["labels"]
	if !found {
		return nil, ok
	}
	pos := map[string]Position{}
	labels, lok := d.stringMap(l, what+": labels", "", pos)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !ValidLabelName(k) {
			p := pos[k]
			d.diags = append(d.diags, Diagnostic{Pos: p, Severity: SeverityWarning, Rule: RuleName,
				Message: fmt.Sprintf("%s: info label %q is dropped: it is not a Prometheus label name, and as an annotation it would make the generated rule file invalid", what, k)})
			delete(labels, k)
		}
	}
	return labels, ok && lok
}

// slothRuleIntervals reads the config of sloth.dev/contrib/rule_intervals/v1:
// interval.default (required), sliError, metadata and alert. Sloth puts
// each kind of rule in its own group; slod's group holds an SLO's SLI
// rules, its objective and budget records and its alerts together, so its
// interval is the shorter of sliError and alert (each defaulting to
// default), which keeps alerts at least as timely as in Sloth.
func (d *decoder) slothRuleIntervals(f field, what string) (time.Duration, bool) {
	what += ": config"
	fs, ok := d.fields(f.val, what, "interval")
	ok = d.required(f.key, fs, what, "interval") && ok
	i, found := fs["interval"]
	if !found {
		return 0, false
	}
	what += ": interval"
	ifs, iok := d.fields(i.val, what, "default", "sliError", "metadata", "alert")
	iok = d.required(i.key, ifs, what, "default") && iok
	ds := map[string]time.Duration{}
	for name, ff := range ifs {
		v, vok := d.duration(ff, what+": "+name)
		ds[name] = v
		iok = iok && vok
	}
	if !ok || !iok {
		return 0, false
	}
	sli, alert := cmp.Or(ds["sliError"], ds["default"]), cmp.Or(ds["alert"], ds["default"])
	interval := min(sli, alert)
	if sli != alert {
		d.report(i.key, SeverityWarning, RuleUnsupported, "%s: slod evaluates an SLO's SLI rules and alerts in one group: it uses the shorter interval, %s (sliError %s, alert %s)",
			what, FormatDuration(interval), FormatDuration(sli), FormatDuration(alert))
	}
	if m, found := ifs["metadata"]; found && ds["metadata"] != interval {
		d.report(m.key, SeverityWarning, RuleUnsupported, "%s: metadata %s is ignored: slod records the objective and budget in the SLO's one group, every %s",
			what, FormatDuration(ds["metadata"]), FormatDuration(interval))
	}
	return interval, true
}

// applySlothPlugins maps the plugin chain an SLO runs in Sloth onto it.
// Sloth's chain is its default plugins, then the group's, then the SLO's,
// each block replacing those before it when it sets overridePrevious, run
// in priority order (lowest first, stable). Later plugins win.
func (d *decoder) applySlothPlugins(s *Spec, what string, group, own slothPlugins) {
	var chain []slothPlugin
	if !own.override {
		chain = append(chain, group.chain...)
	}
	chain = append(chain, own.chain...)
	slices.SortStableFunc(chain, func(a, b slothPlugin) int { return cmp.Compare(a.priority, b.priority) })
	alerts := !group.override && !own.override
	for _, p := range chain {
		if p.id == slothPluginAlertRules {
			alerts = true
		}
		if len(p.annotations) > 0 {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			maps.Copy(s.Annotations, p.annotations)
		}
		if p.interval > 0 {
			s.RuleInterval = p.interval
		}
	}
	if !alerts && !(s.Alerting.Page.Disabled && s.Alerting.Ticket.Disabled) {
		at := own.overridePos
		if !own.override {
			at = group.overridePos
		}
		d.report(at, SeverityWarning, RuleUnsupported, "%s: overridePrevious replaces Sloth's default plugins without %s, so Sloth generates no alerts for this SLO: slod disables its page and ticket alerts too (add the plugin to the chain to keep them)",
			what, slothPluginAlertRules)
		s.Alerting.Page.Disabled, s.Alerting.Ticket.Disabled = true, true
	}
}
