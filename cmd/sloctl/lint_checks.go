package main

import "github.com/slodhq/slod/burnrate"

// lintChecks are the checks `sloctl lint` runs after the slo package's own
// rules. Packages that own more rules (burnrate's policy checks) add their
// check functions here.
func lintChecks() []LintCheck {
	return []LintCheck{
		burnrate.Lint, // POL001..POL004: policy rows that are malformed or can never fire
	}
}
