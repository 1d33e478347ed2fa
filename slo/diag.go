package slo

import (
	"cmp"
	"fmt"
	"slices"
)

// Severity says whether a diagnostic fails a lint run on its own.
type Severity string

// The diagnostic severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// The rule IDs of the loader and of Validate, documented with a bad example
// each in docs/lint.md. IDs are stable: a retired rule keeps its number.
const (
	RuleYAML            = "SLO001" // not a readable, well-formed YAML file
	RuleUnknownField    = "SLO002" // unknown or duplicate field
	RuleInvalidField    = "SLO003" // missing field, wrong type or invalid value
	RuleUnsupported     = "SLO004" // a format, kind or feature slod does not read
	RuleObjective       = "SLO005" // objective outside (0, 100)
	RuleObjectiveHigh   = "SLO006" // objective above 99.999: a budget of seconds
	RuleWindow          = "SLO007" // window outside 1d..90d
	RuleDuplicateID     = "SLO008" // SLO id defined twice
	RuleName            = "SLO009" // name, service or label name not Prometheus-safe
	RulePromQL          = "SLO010" // query does not parse after {{.window}} expansion
	RulePlaceholder     = "SLO011" // query without {{.window}}
	RuleMetricFamily    = "SLO012" // error and total queries read different metrics
	RuleGroupBy         = "SLO013" // group_by label dropped by the query's aggregation
	RuleRunbook         = "SLO014" // paging SLO without a runbook annotation (burnrate.Lint)
	RuleLabelValue      = "SLO015" // label value that must be escaped in PromQL
	RuleUnknownPolicy   = "SLO016" // policy name not defined
	RuleDuplicatePolicy = "SLO017" // policy defined twice
	RuleReservedLabel   = "SLO018" // label slod sets itself (slo, service, nodata, slod_severity)
)

// The rule IDs of depends_on (docs/lint.md, "Dependency rules").
const (
	RuleDependencyUnknown = "DEP001" // depends_on names no loaded service or SLO
	RuleDependencyCycle   = "DEP002" // depends_on forms a cycle
	RuleDependencyNoPage  = "DEP003" // depends_on a service with no paging SLO
)

// Diagnostic is one finding about an SLO file, with where it stands.
type Diagnostic struct {
	Pos      Position
	Severity Severity
	// Rule is the stable rule ID, for example "SLO005".
	Rule    string
	Message string
}

// String renders the diagnostic as path:line:col: severity ID: message.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s %s: %s", d.Pos, d.Severity, d.Rule, d.Message)
}

// HasErrors reports whether any diagnostic is an error.
func HasErrors(diags []Diagnostic) bool {
	for _, d := range diags {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// SortDiagnostics orders diagnostics by file, line, column, then rule, so
// output is stable whatever order files and checks ran in.
func SortDiagnostics(diags []Diagnostic) {
	slices.SortStableFunc(diags, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
