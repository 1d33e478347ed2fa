package daemon

import (
	"fmt"
	"strconv"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/server"
)

// correlation adds dependency correlation to an incident's page: a root
// lists its symptoms (PagerDuty custom_details.affected, Opsgenie
// details.affected, Alertmanager annotation affected, the webhook's
// details.affected); a symptom that pages anyway (policy annotate, or its
// root resolved) names its root (caused_by).
func correlation(p *notify.Page, inc burnrate.Incident) {
	for _, s := range inc.Symptoms {
		a := notify.Affected{SLO: s.SLO, Severity: string(s.Severity), Since: s.Start, Resolved: s.Resolved}
		if len(s.Labels) > 0 {
			a.Instance = burnrate.LabelsKey(s.Labels)
		}
		if s.Burn.Known() {
			a.Burn = new(server.Round(float64(s.Burn)))
		}
		p.Details.Affected = append(p.Details.Affected, a)
	}
	if n := inc.SymptomCount; n > 0 {
		p.Details.Extra["affected_slos"] = strconv.Itoa(n)
		p.Summary += fmt.Sprintf(" — %d dependent SLO instance(s) burning with it", n)
	}
	if c := inc.CausedBy; c != nil {
		p.Details.CausedBy = causeText(c)
		p.Annotations["caused_by"] = p.Details.CausedBy
		if !c.RootResolved.IsZero() {
			p.Details.Extra["root_resolved"] = c.RootResolved.UTC().Format("2006-01-02T15:04:05Z07:00")
		}
	}
}

// causeText names a symptom's root: its SLO id and instance labels.
func causeText(c *burnrate.Cause) string {
	if c == nil {
		return ""
	}
	if len(c.Labels) == 0 {
		return c.SLO
	}
	return c.SLO + burnrate.LabelsKey(c.Labels)
}
