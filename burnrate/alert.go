package burnrate

import (
	"maps"
	"regexp"
	"strconv"

	"github.com/slodhq/slod/slo"
)

// Default alert names, for an SLO whose alerting section names none; the
// slo label tells the SLOs apart.
const (
	DefaultBurnAlert   = "SLOBurnRate"
	DefaultNoDataAlert = "SLONoData"
)

// NoDataStateLabel is the label a no-data alert carries with its
// slo.NoDataState (idle, broken, collapsed), so each state routes and
// resolves on its own.
const NoDataStateLabel = "nodata"

// AlertName is the name of an SLO's alerts of a class: alerting.name (or
// DefaultBurnAlert) for burns, that name with NoData appended (or
// DefaultNoDataAlert) for no data. The generated rules name their alerts
// so, and the daemon sets it as the alertname label of its pages.
func AlertName(spec *slo.Spec, class IncidentClass) string {
	if class == ClassNoData {
		if spec.Alerting.Name == "" {
			return DefaultNoDataAlert
		}
		return spec.Alerting.Name + "NoData"
	}
	if spec.Alerting.Name == "" {
		return DefaultBurnAlert
	}
	return spec.Alerting.Name
}

// AlertClass returns the alerting class of a severity: alerting.page for
// pages, alerting.ticket for tickets.
func AlertClass(spec *slo.Spec, sev Severity) slo.AlertClass {
	if sev == SeverityPage {
		return spec.Alerting.Page
	}
	return spec.Alerting.Ticket
}

// ClassLabel is the label that carries slod's own alert class, page or
// ticket (a no-data alert's is its NoDataSeverity), on every alert and
// page. Users may set severity and tier to anything their routing expects;
// this label is always slod's, so notify routes, Alertmanager inhibition
// and dashboards can rely on it. notify.ClassLabel is the same name.
const ClassLabel = "slod_severity"

// The labels Sloth puts on its rules and alerts, which slod keeps on the
// alerts and pages of SLOs read from Sloth files (and `sloctl generate
// --compat sloth` on every SLO), so that routes and annotation templates
// written for Sloth ({{$labels.sloth_service}}) keep working.
const (
	SlothIDLabel       = "sloth_id"
	SlothServiceLabel  = "sloth_service"
	SlothSLOLabel      = "sloth_slo"
	SlothSeverityLabel = "sloth_severity"
)

// SlothLabels returns the Sloth identity labels of an SLO: sloth_id (its
// id, service-name as in Sloth), sloth_service and sloth_slo.
func SlothLabels(spec *slo.Spec) map[string]string {
	return map[string]string{SlothIDLabel: spec.ID, SlothServiceLabel: spec.Service, SlothSLOLabel: spec.Name}
}

// AlertLabels returns the labels of an SLO's alerts of severity sev, the
// same for the generated rules and the daemon's pages (which add the
// instance's group_by labels, as the rules' series carry them). In order,
// later ones winning:
//
//   - slod's defaults: severity (page or ticket) and tier (1 for pages, 2
//     for tickets, for Alertmanager inhibition);
//   - the user's: the SLO's labels, alerting.labels and the class's labels
//     (later ones winning), so a user's severity: critical or tier: gold
//     is what the alert carries;
//   - slod's own, never overridden: slo, service and ClassLabel, and for
//     an SLO read from a Sloth file Sloth's sloth_id, sloth_service,
//     sloth_slo and sloth_severity (as Sloth sets them).
//
// An SLO that groups by service (slo.Spec.ServiceFromInstance) gets no
// service label here, not even the user's: the instance's own is the
// alert's, as in Sloth, Pyrra and OpenSLO.
//
// A no-data alert adds NoDataStateLabel (NoDataLabels).
func AlertLabels(spec *slo.Spec, sev Severity) map[string]string {
	out := map[string]string{
		"severity": string(sev),
		"tier":     strconv.Itoa(sev.Tier()),
	}
	maps.Copy(out, spec.Labels)
	maps.Copy(out, spec.Alerting.Labels)
	maps.Copy(out, AlertClass(spec, sev).Labels)
	if spec.Format == slo.FormatSloth {
		maps.Copy(out, SlothLabels(spec))
		out[SlothSeverityLabel] = string(sev)
	}
	out["slo"] = spec.ID
	out[slo.ServiceLabel] = spec.Service
	if spec.ServiceFromInstance() {
		// Each instance carries its own service label, which the rules'
		// series keep and the daemon's pages take from the instance.
		delete(out, slo.ServiceLabel)
	}
	out[ClassLabel] = string(sev)
	return out
}

// NoDataLabels returns the labels of an SLO's no-data alert in a state:
// AlertLabels of its severity (NoDataSeverity) plus NoDataStateLabel.
func NoDataLabels(spec *slo.Spec, sev Severity, state slo.NoDataState) map[string]string {
	out := AlertLabels(spec, sev)
	out[NoDataStateLabel] = string(state)
	return out
}

// AlertAnnotations returns the annotations an SLO gives its alerts of
// severity sev: the SLO's, alerting.annotations and the class's, later ones
// winning. Callers add their own summary and description; a no-data alert
// replaces the user's, written for burns.
func AlertAnnotations(spec *slo.Spec, sev Severity) map[string]string {
	out := map[string]string{}
	maps.Copy(out, spec.Annotations)
	maps.Copy(out, spec.Alerting.Annotations)
	maps.Copy(out, AlertClass(spec, sev).Annotations)
	return out
}

// NoDataSeverity is the severity of an SLO's no-data alerts: a ticket, or
// a page when the SLO disables its ticket class (a broken SLI must still
// reach whoever its burns reach). false when both classes are disabled:
// an SLO that alerts on nothing raises no no-data alert either.
func NoDataSeverity(spec *slo.Spec) (Severity, bool) {
	switch {
	case !spec.Alerting.Ticket.Disabled:
		return SeverityTicket, true
	case !spec.Alerting.Page.Disabled:
		return SeverityPage, true
	}
	return "", false
}

// LabelRef matches a label reference in an annotation, {{$labels.name}} or
// {{ $labels.name }}: the one template action that annotations of SLOs
// from Sloth files may use and that slod renders (LabelRefsRender).
var LabelRef = regexp.MustCompile(`\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// LabelRefsRender reports whether label references in an SLO's annotations
// render: for SLOs read from Sloth files, whose annotations Sloth copies
// into its alerting rules as Prometheus templates (title: "{{$labels.sloth_service}}
// is burning"). Everywhere else annotations are literal text.
func LabelRefsRender(spec *slo.Spec) bool {
	return spec.Format == slo.FormatSloth
}

// RenderLabelRefs replaces every LabelRef in s with that label's value in
// labels, or nothing when it has none (as Prometheus renders a missing
// label). The daemon renders its pages' annotations so; the generated
// rules leave the references to Prometheus.
func RenderLabelRefs(s string, labels map[string]string) string {
	return LabelRef.ReplaceAllStringFunc(s, func(ref string) string {
		return labels[LabelRef.FindStringSubmatch(ref)[1]]
	})
}
