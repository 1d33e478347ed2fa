package burnrate

import (
	"maps"
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

// AlertLabels returns the labels of an SLO's alerts of severity sev, the
// same for the generated rules and the daemon's pages (which add the
// instance's group_by labels, as the rules' series carry them): the SLO's
// labels, alerting.labels and the class's labels, later ones winning; then
// severity, unless one of those set it (Sloth files often route on their
// own); then slo, service and tier, which are always slod's (tier orders
// severities for Alertmanager inhibition: page 1, ticket 2). A no-data
// alert adds NoDataStateLabel (NoDataLabels).
func AlertLabels(spec *slo.Spec, sev Severity) map[string]string {
	out := map[string]string{}
	maps.Copy(out, spec.Labels)
	maps.Copy(out, spec.Alerting.Labels)
	maps.Copy(out, AlertClass(spec, sev).Labels)
	if _, ok := out["severity"]; !ok {
		out["severity"] = string(sev)
	}
	out["slo"] = spec.ID
	out["service"] = spec.Service
	out["tier"] = strconv.Itoa(sev.Tier())
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
