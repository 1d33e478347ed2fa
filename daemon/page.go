package daemon

import (
	"fmt"
	"maps"
	"math"
	"os"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// DedupKey is the stable key of an incident's pages: the same SLO
// instance and class give the same key on every replica and after every
// restart, so receivers merge repeats into one incident.
func DedupKey(sloID string, labels map[string]string, class burnrate.IncidentClass) string {
	return notify.DedupKey(sloID, burnrate.LabelsKey(labels), string(class))
}

// PageFor turns an incident change into a page; false when the SLO disables
// alerting for the incident's severity.
func PageFor(c burnrate.Change, spec *slo.Spec) (notify.Page, bool) {
	inc := c.Incident
	sev := inc.Severity
	// The instance's group_by labels, as the rules' series carry them;
	// then the labels the generated rules give the same alert, which win.
	// For an SLO grouped by service those have no service, so the
	// instance's own stays (slo.Spec.ServiceFromInstance).
	labels := maps.Clone(inc.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	ann := map[string]string{}
	var objective float64
	if spec != nil {
		objective = spec.Objective
		if inc.Class == burnrate.ClassNoData {
			s, ok := burnrate.NoDataSeverity(spec)
			if !ok && c.Kind != burnrate.ChangeResolved {
				return notify.Page{}, false
			}
			if ok {
				sev = s
			}
			state := inc.NoDataState
			if state == "" {
				state = slo.NoDataBroken // incidents from before states had names
			}
			maps.Copy(labels, burnrate.NoDataLabels(spec, sev, state))
		} else {
			if burnrate.AlertClass(spec, sev).Disabled && c.Kind != burnrate.ChangeResolved {
				if sev == burnrate.SeverityPage && !spec.Alerting.Ticket.Disabled {
					sev = burnrate.SeverityTicket
				} else {
					return notify.Page{}, false
				}
			}
			maps.Copy(labels, burnrate.AlertLabels(spec, sev))
			maps.Copy(ann, burnrate.AlertAnnotations(spec, sev))
			if spec.Description != "" {
				ann["description"] = spec.Description
			}
		}
		labels["alertname"] = burnrate.AlertName(spec, inc.Class)
		if r := spec.Runbook(burnrate.AlertClass(spec, sev)); r != "" && ann["runbook"] == "" && ann["runbook_url"] == "" {
			ann["runbook"] = r
		}
	}
	labels["slo"] = inc.SLO
	if spec != nil && burnrate.LabelRefsRender(spec) {
		// Sloth's annotations are templates over the alert's labels
		// ({{$labels.sloth_service}}); render them as Prometheus would.
		for k, v := range ann {
			ann[k] = burnrate.RenderLabelRefs(v, labels)
		}
	}
	p := notify.Page{
		DedupKey: DedupKey(inc.SLO, inc.Labels, inc.Class),
		Action:   notify.Trigger,
		Severity: notify.Severity(sev),
		Summary:  summary(inc, spec),
		Labels:   labels, Annotations: ann,
		StartsAt: inc.Start,
		Details: notify.Details{
			Burn:      map[string]float64{},
			Objective: objective,
			Extra: map[string]string{
				"budget_spent_since_start": inc.BudgetSpent.Text(func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }),
				"time_to_exhaustion":       burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion),
				"current_burn":             inc.Burn.Text(func(x float64) string { return fmt.Sprintf("%.3g", x) }),
			},
		},
	}
	// notify.Details owns its types: nil stands for a figure it cannot
	// show as a number. Unknown figures stay nil, so a no-data page does not
	// read "budget 0%, exhausted"; a budget that never runs out is nil too,
	// and Extra["time_to_exhaustion"] says "never".
	if inc.BudgetRemaining.Known() {
		p.Details.BudgetRemaining = new(server.Round(float64(inc.BudgetRemaining)))
	}
	if tte := float64(inc.TimeToExhaustion); !math.IsNaN(tte) && !math.IsInf(tte, 0) {
		// A finite time to exhaustion fits a Duration (burnrate.TimeToExhaustion).
		p.Details.TimeToExhaustion = new(time.Duration(tte * float64(time.Second)))
	}
	for _, pb := range inc.PeakBurn {
		p.Details.Burn[slo.FormatDuration(pb.Window)] = server.Round(pb.Burn)
	}
	for _, k := range []string{"runbook", "runbook_url", "dashboard", "dashboard_url"} {
		if v := ann[k]; v != "" {
			p.Links = append(p.Links, notify.Link{Href: v, Text: strings.TrimSuffix(k, "_url")})
		}
	}
	correlation(&p, inc)
	if !inc.NoDataSince.IsZero() {
		// A burn whose data went missing stays open and says so (its
		// ChangeNoData page raises it again with this).
		p.Details.Extra["no_data_since"] = inc.NoDataSince.UTC().Format(time.RFC3339)
	}
	if c.Kind == burnrate.ChangeResolved {
		p.Action = notify.Resolve
		p.EndsAt = inc.Resolved
	}
	if host, err := os.Hostname(); err == nil {
		p.Source = "slod@" + host
	}
	return p, true
}

func summary(inc burnrate.Incident, spec *slo.Spec) string {
	inst := ""
	if len(inc.Labels) > 0 {
		inst = " " + burnrate.LabelsKey(inc.Labels)
	}
	obj := ""
	if spec != nil {
		obj = fmt.Sprintf(" (%s%% over %s)", trimZeros(spec.Objective), slo.FormatDuration(spec.Window))
	}
	if inc.Class == burnrate.ClassNoData {
		switch inc.NoDataState {
		case slo.NoDataIdle:
			return fmt.Sprintf("%s%s%s: idle — the SLI's traffic reads zero (its series exist)", inc.SLO, inst, obj)
		case slo.NoDataCollapsed:
			return fmt.Sprintf("%s%s%s: traffic collapsed far below its own baseline", inc.SLO, inst, obj)
		}
		return fmt.Sprintf("%s%s%s: SLI has had no data for %s", inc.SLO, inst, obj, slo.FormatDuration(inc.NoDataFor))
	}
	out := fmt.Sprintf("%s%s%s: error budget burning %s — %s left, gone in %s", inc.SLO, inst, obj,
		inc.Burn.Text(func(x float64) string { return fmt.Sprintf("%.3g×", x) }),
		inc.BudgetRemaining.Text(func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }),
		burnrate.FormatTimeToExhaustion(inc.TimeToExhaustion))
	if !inc.NoDataSince.IsZero() {
		out += "; no data since " + inc.NoDataSince.UTC().Format(time.RFC3339) + " (still open: unknown is not resolved)"
	}
	return out
}

func trimZeros(f float64) string {
	s := fmt.Sprintf("%.4f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// specOf is the running SLO's spec, or nil when the SLO is not running
// (its pages then carry only what the incident holds).
func (d *Daemon) specOf(id string) *slo.Spec {
	if r := d.eng.SLO(id); r != nil {
		return r.Spec()
	}
	return nil
}
