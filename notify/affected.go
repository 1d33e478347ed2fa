package notify

import (
	"fmt"
	"strings"
	"time"
)

// Affected is one downstream SLO instance whose burn is correlated with a
// page's incident (a symptom of it): the root's page lists them so that
// on-call sees one page naming the broken component and what it breaks.
type Affected struct {
	// SLO is the symptom's SLO id; Instance its instance labels rendered
	// as {k="v"} ("" for an SLO without group_by).
	SLO      string `json:"slo"`
	Instance string `json:"instance,omitempty"`
	Severity string `json:"severity"`
	// Burn is the symptom's burn rate when it was linked; nil when unknown.
	Burn  *float64  `json:"burn"`
	Since time.Time `json:"since"`
	// Resolved is set once the symptom stopped burning.
	Resolved time.Time `json:"resolved,omitzero"`
}

// MaxAffectedText bounds AffectedText, so a root with many symptoms fits
// every receiver's field limits.
const MaxAffectedText = 1000

// AffectedText renders Affected on one line for receivers whose details
// are strings (Opsgenie details, Alertmanager annotations):
// "checkout-availability (page, burn 20.5), gateway-availability{route="/a"} (page, burn 3.1)".
func (d Details) AffectedText() string {
	var b strings.Builder
	for i, a := range d.Affected {
		if i > 0 {
			b.WriteString(", ")
		}
		item := a.SLO + a.Instance + " (" + a.Severity
		if a.Burn != nil {
			item += fmt.Sprintf(", burn %.3g", *a.Burn)
		}
		if !a.Resolved.IsZero() {
			item += ", resolved"
		}
		item += ")"
		if b.Len()+len(item) > MaxAffectedText {
			fmt.Fprintf(&b, "and %d more", len(d.Affected)-i)
			break
		}
		b.WriteString(item)
	}
	return b.String()
}
