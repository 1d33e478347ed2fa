package main

// lintChecks are the checks `sloctl lint` runs after the slo package's own
// rules. Packages that own more rules (burnrate's policy checks) add their
// check functions here.
func lintChecks() []LintCheck {
	return []LintCheck{}
}
