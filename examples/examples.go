// Package examples ships the example SLO files inside the binaries, so that
// `slod --demo` runs from any directory after `go install`.
package examples

import "embed"

// SLOs holds examples/slos: realistic SLO files that lint clean.
//
//go:embed slos/*.yaml
var SLOs embed.FS
