// Package engine is slod's one evaluation pipeline: a catalogue of SLOs and
// policies built from SLO files, and a clock-free Tick that reads the newest
// steps through source.Sync, evaluates every SLO instance, and observes
// incidents. The daemon drives it with the wall clock; sloctl backtest with a
// simulated one. Neither evaluates any other way.
package engine

import (
	"fmt"
	"sort"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// Entry is one runnable SLO of a catalogue: its spec and resolved policy.
type Entry struct {
	Spec   *slo.Spec
	Policy burnrate.Policy
	// Exclusions are the budget exclusions that match the SLO.
	Exclusions []*slo.Exclusion
}

// Catalogue is what a set of SLO files yields once loaded, checked, linted
// and resolved: every diagnostic, the SLOs that can run (from files without
// errors and with a known policy), and the files that failed.
type Catalogue struct {
	// Set is everything that decoded, good files and bad.
	Set *slo.Set
	// Diagnostics are the loader's, the validator's and the policy lint's,
	// sorted by position.
	Diagnostics []slo.Diagnostic
	// Entries are the runnable SLOs, sorted by id.
	Entries []Entry
	// BadFiles are the files with at least one error; their SLOs are not
	// among Entries.
	BadFiles map[string]bool
	// Unresolved are SLOs of good files whose policy is unknown.
	Unresolved []slo.Diagnostic
}

// Load reads SLO files and directories, validates them, lints their
// policies and resolves each SLO's policy. It is the one way every caller
// (daemon, backtest, generate, explain, lint) builds its view of the files.
func Load(paths ...string) *Catalogue {
	set, diags := slo.Check(paths...)
	diags = append(diags, burnrate.Lint(set)...)
	slo.SortDiagnostics(diags)
	c := &Catalogue{Set: set, Diagnostics: diags, BadFiles: map[string]bool{}}
	for _, d := range diags {
		if d.Severity == slo.SeverityError {
			c.BadFiles[d.Pos.File] = true
		}
	}
	good := set.SkipBadFiles(diags)
	policies := burnrate.Policies(good)
	for _, spec := range good.SLOs {
		p, ok := burnrate.PolicyFor(spec, policies)
		if !ok {
			c.Unresolved = append(c.Unresolved, slo.Diagnostic{Pos: spec.Pos, Severity: slo.SeverityError,
				Message: fmt.Sprintf("slo %q: unknown policy %q", spec.ID, spec.Policy)})
			continue
		}
		c.Entries = append(c.Entries, Entry{Spec: spec, Policy: p, Exclusions: good.ExclusionsFor(spec)})
	}
	sort.Slice(c.Entries, func(i, j int) bool { return c.Entries[i].Spec.ID < c.Entries[j].Spec.ID })
	return c
}

// HasErrors reports whether any diagnostic is an error.
func (c *Catalogue) HasErrors() bool { return slo.HasErrors(c.Diagnostics) }

// Policies are the named policies of the catalogue's good files, built-ins included.
func (c *Catalogue) Policies() map[string]burnrate.Policy {
	return burnrate.Policies(c.Set.SkipBadFiles(c.Diagnostics))
}
