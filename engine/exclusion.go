package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/slodhq/slod/slo"
)

// exclusionFingerprint extends an SLO's fingerprint with its budget
// exclusions, so that adding, changing or removing one — for a past period
// too — makes a reload start the SLO's counts afresh: the read that
// follows stores the excluded steps as excluded and the budget figures
// are rewritten. An SLO without exclusions keeps its plain fingerprint
// (and the state saved before exclusions existed).
func exclusionFingerprint(fp string, xs []*slo.Exclusion) string {
	if len(xs) == 0 {
		return fp
	}
	h := sha256.New()
	fmt.Fprint(h, fp)
	for _, x := range xs {
		rule, loc := "", ""
		if x.Rule != nil {
			rule = x.Rule.Text
		}
		if x.Location != nil {
			loc = x.Location.String()
		}
		fmt.Fprintf(h, "\x00%s\x00%s\x00%s\x00%s\x00%s\x00%s", x.Name, x.From.UTC().Format(time.RFC3339),
			x.To.UTC().Format(time.RFC3339), rule, x.Duration, loc)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Excluded reports the budget exclusions of an SLO that overlap [from,
// to), merged: the time its reports leave out. Nil when the engine runs
// no such SLO.
func (e *Engine) Excluded(id string, from, to time.Time) []slo.Interval {
	r := e.slos[id]
	if r == nil {
		return nil
	}
	return slo.ExcludedIntervals(nil, r.eval.Exclusions(), from, to)
}
