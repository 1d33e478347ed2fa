package slo

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

// Pyrra's defaults and conventions (Pyrra v0.10, pyrra.dev/v1alpha1).
const (
	// pyrraPropagationPrefix marks metadata labels and annotations that
	// Pyrra copies, without the prefix, onto its rules and alerts.
	pyrraPropagationPrefix = "pyrra.dev/"
	// PyrraDefaultAlertName is the name of Pyrra's burn-rate alerts when
	// alerting.name is not set; slod keeps it so that routes still match.
	PyrraDefaultAlertName = "ErrorBudgetBurn"
	// pyrraDefaultAbsentName is the name of Pyrra's absent alerts.
	pyrraDefaultAbsentName = "SLOMetricAbsent"
	// Pyrra's default severity labels: critical for its two fast burn
	// rows (slod's page class), warning for the two slow ones (ticket).
	pyrraCritical = "critical"
	pyrraWarning  = "warning"
	// pyrraDefaultNamespace is where Kubernetes puts an object that names
	// no namespace.
	pyrraDefaultNamespace = "default"
)

// pyrraObjectMeta are the Kubernetes ObjectMeta fields slod accepts and
// ignores: the API server sets them, and `kubectl get -o yaml` prints them.
var pyrraObjectMeta = []string{"generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
	"deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences", "finalizers", "managedFields", "selfLink"}

// pyrra reads an apiVersion: pyrra.dev/v1alpha1 document: kind
// ServiceLevelObjective, or a ServiceLevelObjectiveList of them. See
// docs/spec.md for how each field maps onto the model.
//
// Pyrra SLO names are unique per namespace, so the id is
// "<namespace>-<name>" (namespace "default" when none is written, as
// Kubernetes does). The service is the service label Pyrra's alerts carry
// (an equality matcher on service in the total selector, or a
// pyrra.dev/service label), else the namespace.
func (d *decoder) pyrra(set *Set, n *yaml.Node, kind *yaml.Node) {
	k := ""
	if kind != nil && kind.Kind == yaml.ScalarNode {
		k = kind.Value
	}
	switch {
	case kind == nil:
		d.errorf(n, RuleInvalidField, "pyrra.dev/v1alpha1 document without kind: expected kind: ServiceLevelObjective")
	case k == "ServiceLevelObjective":
		d.pyrraSLO(set, n, true)
	case k == "ServiceLevelObjectiveList":
		fs, ok := d.fields(n, "ServiceLevelObjectiveList", "apiVersion", "kind", "metadata", "items")
		f, found := fs["items"]
		if !ok || !found || isNull(f.val) {
			if ok {
				d.errorf(n, RuleInvalidField, "ServiceLevelObjectiveList: missing required field \"items\"")
			}
			return
		}
		for _, item := range d.list(f, "ServiceLevelObjectiveList: items") {
			d.pyrraSLO(set, item, false)
		}
	default:
		d.errorf(kind, RuleUnsupported, "pyrra.dev/v1alpha1 kind %q is not supported: slod reads kind: ServiceLevelObjective", k)
	}
}

// pyrraSLO reads one ServiceLevelObjective; typed says whether apiVersion
// and kind were already checked (list items may omit them).
func (d *decoder) pyrraSLO(set *Set, n *yaml.Node, typed bool) {
	what := "Pyrra ServiceLevelObjective"
	fs, ok := d.fields(n, what, "apiVersion", "kind", "metadata", "spec", "status")
	ok = d.required(n, fs, what, "metadata", "spec") && ok
	if !typed {
		// List items may omit apiVersion and kind; written, they must match.
		for _, c := range []struct{ name, want string }{{"apiVersion", string(FormatPyrra)}, {"kind", "ServiceLevelObjective"}} {
			if f, found := fs[c.name]; found {
				if v, vok := d.str(f, what+": "+c.name); vok && v != c.want {
					d.errorf(f.val, RuleUnsupported, "%s: %s %q in a ServiceLevelObjectiveList: expected %s", what, c.name, v, c.want)
					ok = false
				}
			}
		}
	}
	s := &Spec{Format: FormatPyrra, Pos: d.pos(n), FieldPos: map[string]Position{}}
	meta := pyrraMeta{namespace: pyrraDefaultNamespace}
	if f, found := fs["metadata"]; found && !isNull(f.val) {
		ok = d.pyrraMetadata(f, s, &meta) && ok
		if s.Name != "" {
			what = fmt.Sprintf("Pyrra SLO %q", s.Name)
		}
	}
	s.ID = meta.namespace + "-" + s.Name
	if f, found := fs["spec"]; found && !isNull(f.val) {
		ok = d.pyrraSpec(f, what+": spec", s, &meta) && ok
	}
	// "status" is written by Pyrra's controller: read-only state, ignored.

	// The labels Pyrra puts on its rules and alerts: pyrra.dev/ labels
	// without the prefix, then the total selector's equality matchers
	// that grouping does not name (Pyrra's own order: matchers win).
	ls := map[string]string{}
	maps.Copy(ls, meta.propagated)
	for _, m := range meta.matchers {
		if m.Type == labels.MatchEqual && m.Name != labels.MetricName && !slices.Contains(s.GroupBy, m.Name) {
			ls[m.Name] = m.Value
			s.FieldPos["labels."+m.Name] = meta.matchersPos
			s.FieldPos["labels."+m.Name+"="] = meta.matchersPos
		}
	}
	s.Service = meta.namespace
	if v := ls[ServiceLabel]; v != "" {
		s.Service = v
		s.FieldPos["service"] = s.PosOf("labels.service=")
	} else if v := pyrraServiceMatcher(meta.matchers); v != "" && s.ServiceFromInstance() {
		// Grouped by service and selecting one: its series all carry it.
		s.Service = v
		s.FieldPos["service"] = meta.matchersPos
	}
	for _, r := range ReservedLabels {
		// slod sets these itself (slo, service, nodata, slod_severity);
		// with grouping by service, each series keeps its own.
		delete(ls, r)
	}
	if len(ls) > 0 {
		s.Labels = ls
	}
	if ok {
		set.SLOs = append(set.SLOs, s)
	}
}

// pyrraServiceMatcher is the value of a service="..." matcher, or "".
func pyrraServiceMatcher(ms []*labels.Matcher) string {
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Name == ServiceLabel {
			return m.Value
		}
	}
	return ""
}

// pyrraMeta carries what metadata and the indicator contribute to labels
// and service, which are settled once the whole document is read.
type pyrraMeta struct {
	namespace string
	// propagated holds the pyrra.dev/ labels without their prefix.
	propagated map[string]string
	// matchers are those of the total (or only) selector, which Pyrra
	// copies onto its alerts, found at matchersPos.
	matchers    []*labels.Matcher
	matchersPos Position
}

func (d *decoder) pyrraMetadata(f field, s *Spec, meta *pyrraMeta) bool {
	const what = "metadata"
	known := append([]string{"name", "namespace", "labels", "annotations"}, pyrraObjectMeta...)
	fs, ok := d.fields(f.val, what, known...)
	ok = d.required(f.key, fs, what, "name") && ok
	for name, ff := range fs {
		fok := true
		switch name {
		case "name":
			s.Name, fok = d.str(ff, what+": name")
			s.FieldPos["name"] = d.pos(ff.val)
		case "namespace":
			var ns string
			if ns, fok = d.str(ff, what+": namespace"); fok && ns != "" {
				meta.namespace = ns
			}
			s.FieldPos["service"] = d.pos(ff.val)
		case "labels":
			// Only pyrra.dev/ labels reach Pyrra's rules; the others
			// label the Kubernetes object (for example the PrometheusRule
			// selector of the Prometheus operator) and are not read.
			pos := map[string]Position{}
			var ls map[string]string
			ls, fok = d.stringMap(ff, what+": labels", "", pos)
			for k, v := range ls {
				if name, found := strings.CutPrefix(k, pyrraPropagationPrefix); found {
					if meta.propagated == nil {
						meta.propagated = map[string]string{}
					}
					meta.propagated[name] = v
					s.FieldPos["labels."+name] = pos[k]
					s.FieldPos["labels."+name+"="] = pos[k+"="]
				}
			}
		case "annotations":
			// Pyrra copies pyrra.dev/ annotations onto its alerts.
			pos := map[string]Position{}
			var as map[string]string
			as, fok = d.stringMap(ff, what+": annotations", "", pos)
			for k, v := range as {
				if name, found := strings.CutPrefix(k, pyrraPropagationPrefix); found {
					if s.Annotations == nil {
						s.Annotations = map[string]string{}
					}
					s.Annotations[name] = v
					s.FieldPos["annotations."+name] = pos[k]
				}
			}
		}
		ok = ok && fok
	}
	return ok
}

func (d *decoder) pyrraSpec(f field, what string, s *Spec, meta *pyrraMeta) bool {
	fs, ok := d.fields(f.val, what, "description", "target", "window", "indicator", "alerting",
		"partial_response_strategy", "performanceOverAccuracy", "ruleOutput")
	ok = d.required(f.key, fs, what, "target", "window", "indicator") && ok
	for name, ff := range fs {
		if isNull(ff.val) {
			continue
		}
		fok := true
		switch name {
		case "description":
			s.Description, fok = d.str(ff, what+": description")
			s.FieldPos["description"] = d.pos(ff.val)
		case "target":
			s.Objective, fok = d.pyrraTarget(ff, what+": target")
			s.FieldPos["objective"] = d.pos(ff.val)
		case "window":
			s.Window, fok = d.duration(ff, what+": window")
			s.FieldPos["window"] = d.pos(ff.val)
		case "indicator":
			fok = d.pyrraIndicator(ff, what+": indicator", s, meta)
			s.FieldPos["sli"] = d.pos(ff.val)
		case "partial_response_strategy":
			var v string
			if v, fok = d.str(ff, what+": partial_response_strategy"); fok && v != "abort" && v != "" {
				d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: partial_response_strategy %q is ignored: slod's rule groups carry none, so Thanos Ruler uses its default, abort (a partial query result fails the evaluation instead of being used)", what, v)
			}
		case "performanceOverAccuracy":
			var v bool
			if v, fok = d.boolean(ff, what+": performanceOverAccuracy"); fok && v {
				d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: performanceOverAccuracy is ignored: slod's rules and daemon read each window from recorded rates, exactly; what fires does not change", what)
			}
		case "ruleOutput":
			fok = d.pyrraRuleOutput(ff, what+": ruleOutput")
		}
		ok = ok && fok
	}
	// Pyrra's alerting defaults apply when the block is absent too.
	var al field
	if a, found := fs["alerting"]; found {
		al = a
	}
	var aok bool
	s.Alerting, aok = d.pyrraAlerting(al, what+": alerting", s)
	return ok && aok
}

// pyrraTarget reads target, a percentage Pyrra writes as a string ("99.9");
// a number is accepted too.
func (d *decoder) pyrraTarget(f field, what string) (float64, bool) {
	v := resolve(f.val)
	if v == nil || v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		d.errorf(f.val, RuleInvalidField, "%s: expected a percentage such as \"99.9\", got %s", what, kindNameOrNil(v))
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		d.errorf(f.val, RuleInvalidField, "%s: %q is not a percentage such as \"99.9\"", what, v.Value)
		return 0, false
	}
	return x, true
}

func (d *decoder) pyrraRuleOutput(f field, what string) bool {
	fs, ok := d.fields(f.val, what, "shortRulesLabels", "longRulesLabels", "enableDescriptionAsLabel")
	for name, ff := range fs {
		var fok bool
		switch name {
		case "shortRulesLabels", "longRulesLabels":
			_, fok = d.stringMap(ff, what+": "+name, "", nil)
		case "enableDescriptionAsLabel":
			_, fok = d.boolean(ff, what+": "+name)
		}
		ok = ok && fok
	}
	if ok {
		d.report(f.key, SeverityWarning, RuleUnsupported, "%s is ignored: it labels the PrometheusRule objects Pyrra's performanceOverAccuracy mode splits its rules into (and can add a description label); slod writes plain rule files, and no alert changes", what)
	}
	return ok
}

// pyrraAlerting reads alerting (f.val is nil when the block is absent, and
// Pyrra's defaults apply): burn-rate alerts on, named ErrorBudgetBurn,
// severity critical on the page class and warning on the ticket class, an
// absent alert after Pyrra's absent duration.
func (d *decoder) pyrraAlerting(f field, what string, s *Spec) (Alerting, bool) {
	a := Alerting{Name: PyrraDefaultAlertName}
	burnrates, absent := true, true
	sev := map[string]string{}
	ok := true
	var fs map[string]field
	if f.val != nil && !isNull(f.val) {
		fs, ok = d.fields(f.val, what, "disabled", "burnrates", "absent", "name", "absentName", "severities")
		s.FieldPos["alerting"] = d.pos(f.val)
	}
	for name, ff := range fs {
		fok := true
		switch name {
		case "disabled":
			var v bool
			if v, fok = d.boolean(ff, what+": disabled"); fok && v {
				burnrates = false
			}
		case "burnrates":
			var v bool
			if v, fok = d.boolean(ff, what+": burnrates"); fok && !v {
				burnrates = false
			}
		case "absent":
			absent, fok = d.boolean(ff, what+": absent")
		case "name":
			var v string
			if v, fok = d.str(ff, what+": name"); fok && v != "" {
				a.Name = v
			}
			s.FieldPos["alerting.name"] = d.pos(ff.val)
		case "absentName", "severities":
			// Read below, once name and burnrates are known.
		}
		ok = ok && fok
	}
	if sf, found := fs["severities"]; found && !isNull(sf.val) {
		sfs, sok := d.fields(sf.val, what+": severities", "absent", "fastBurn", "mediumBurn", "slowBurn", "longTermBurn")
		ok = ok && sok
		for name, ff := range sfs {
			v, vok := d.str(ff, what+": severities: "+name)
			ok = ok && vok
			if vok && v != "" {
				sev[name] = v
			}
		}
		page, ticket := cmp.Or(sev["fastBurn"], pyrraCritical), cmp.Or(sev["slowBurn"], pyrraWarning)
		if v, set := sev["mediumBurn"]; set && v != page {
			d.report(sfs["mediumBurn"].val, SeverityWarning, RuleUnsupported, "%s: severities: mediumBurn %q differs from fastBurn %q: slod's page class has one severity, so its alerts carry %q", what, v, page, page)
		}
		if v, set := sev["longTermBurn"]; set && v != ticket {
			d.report(sfs["longTermBurn"].val, SeverityWarning, RuleUnsupported, "%s: severities: longTermBurn %q differs from slowBurn %q: slod's ticket class has one severity, so its alerts carry %q", what, v, ticket, ticket)
		}
		if v, set := sev["absent"]; set && burnrates && v != ticket {
			d.report(sfs["absent"].val, SeverityWarning, RuleUnsupported, "%s: severities: absent %q is not used: slod's no-data alert is a ticket and carries the ticket severity %q", what, v, ticket)
		}
	}
	a.Page.Labels = map[string]string{"severity": cmp.Or(sev["fastBurn"], pyrraCritical)}
	a.Ticket.Labels = map[string]string{"severity": cmp.Or(sev["slowBurn"], pyrraWarning)}
	if !burnrates {
		a.Page.Disabled, a.Ticket.Disabled = true, true
		if absent {
			at := f.val
			if ff, found := fs["burnrates"]; found {
				at = ff.val
			} else if ff, found := fs["disabled"]; found {
				at = ff.val
			}
			d.report(at, SeverityWarning, RuleUnsupported, "%s: with burn-rate alerts off slod raises no alert at all for this SLO: Pyrra's absent alert (on by default) has no counterpart once both of slod's classes are disabled", what)
		}
	} else if !absent {
		d.report(fs["absent"].val, SeverityWarning, RuleUnsupported, "%s: absent: false is ignored: slod always raises its no-data alert %sNoData when the series the SLI needs are absent (docs/spec.md, no data)", what, a.Name)
	}
	if ff, found := fs["absentName"]; found && !isNull(ff.val) {
		v, vok := d.str(ff, what+": absentName")
		ok = ok && vok
		if vok && v != a.Name+"NoData" && v != "" {
			d.report(ff.val, SeverityWarning, RuleUnsupported, "%s: absentName %q is not used: slod names its no-data alert %sNoData (Pyrra's default is %s); routes matching alertname=%q must match that name", what, v, a.Name, pyrraDefaultAbsentName, v)
		}
	}
	if absent && s.Window > 0 && s.Objective > 0 && s.Objective < 100 {
		a.NoData = pyrraAbsentFor(s.Window, s.Objective)
	}
	return a, ok
}

// pyrraAbsentFor is how long Pyrra's absent alert waits (its `for`): the
// time a 100% error ratio takes to push the long window of its fastest row
// over that row's factor, plus the row's own `for`. Pyrra scales its
// windows with the SLO window W (for 28d: long 1h, for 2m, factor 14):
//
//	long = W/672, for = W/20160 (each rounded to the minute)
//	absent = round(14 × (1 − objective) × long + for, 1m)
//
// For 99.9% over 28d: 14 × 0.001 × 3600s = 50s, + 2m = 2m50s → 3m.
func pyrraAbsentFor(window time.Duration, objective float64) time.Duration {
	long := (window / (28 * 24)).Round(time.Minute)
	forDur := (window / (28 * 24 * 30)).Round(time.Minute)
	d := time.Duration(14*(1-objective/100)*long.Seconds())*time.Second + forDur
	return d.Round(time.Minute)
}
