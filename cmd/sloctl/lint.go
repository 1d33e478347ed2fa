package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/slo"
)

// LintCheck is an extra lint check over a loaded set of SLOs and policies,
// run by `sloctl lint` after the slo package's own rules (see lintChecks).
type LintCheck func(*slo.Set) []slo.Diagnostic

// LintOptions are the inputs of `sloctl lint`.
type LintOptions struct {
	IO     IO
	Paths  []string
	Format string
	Strict bool
	Checks []LintCheck
}

// lintFormats are the values of --format.
var lintFormats = []string{"text", "json", "github"}

// NewCmdLint builds `sloctl lint`. checks run after the slo rules; runF
// replaces the run function in flag tests (nil runs the lint).
func NewCmdLint(io IO, checks []LintCheck, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: io, Checks: checks}
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check SLO files for errors, as CI does on every pull request",
		Long: `Lint loads SLO and policy files (native slod/v1, Sloth prometheus/v1 and
OpenSLO v1) from the given files and directories (recursively, *.yaml and
*.yml; default: the current directory) and reports every problem with its
position and rule ID (see docs/lint.md).

Diagnostics go to stdout, a summary to stderr. Exit codes: 0 clean or
warnings only, 1 any error (or any warning with --strict), 2 bad usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  sloctl lint examples/slos
  sloctl lint --format github --strict slos/`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			if !contains(lintFormats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(lintFormats, ", "))
			}
			for _, p := range opts.Paths {
				if _, err := os.Stat(p); err != nil {
					return usageErrorf("%s: no such file or directory", p)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runLint(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: "+strings.Join(lintFormats, ", "))
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail (exit 1) on warnings too")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func runLint(opts *LintOptions) error {
	set, diags := slo.Check(opts.Paths...)
	for _, check := range opts.Checks {
		diags = append(diags, check(set)...)
	}
	slo.SortDiagnostics(diags)
	if len(set.SLOs) == 0 && len(set.Policies) == 0 && len(diags) == 0 {
		// Nothing to lint is a mistake (a moved or emptied directory), not a
		// clean result: CI must not pass silently.
		return usageErrorf("no SLO files (*.yaml, *.yml) found in %s", strings.Join(opts.Paths, " "))
	}

	var err error
	switch opts.Format {
	case "json":
		err = writeLintJSON(opts.IO.Out, diags)
	case "github":
		err = writeLintGitHub(opts.IO.Out, diags)
	default:
		for _, d := range diags {
			if _, err = fmt.Fprintln(opts.IO.Out, d.String()); err != nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}

	errs, warns := 0, 0
	for _, d := range diags {
		if d.Severity == slo.SeverityError {
			errs++
		} else {
			warns++
		}
	}
	fmt.Fprintf(opts.IO.Err, "sloctl lint: %s, %s loaded; %s, %s\n",
		plural(len(set.SLOs), "SLO"), plural(len(set.Policies), "policy"), plural(errs, "error"), plural(warns, "warning"))
	if errs > 0 || (opts.Strict && warns > 0) {
		return errFindings
	}
	return nil
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return "1 " + word
	case strings.HasSuffix(word, "y"):
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// lintJSON is one diagnostic in --format json.
type lintJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
}

func writeLintJSON(w io.Writer, diags []slo.Diagnostic) error {
	out := make([]lintJSON, 0, len(diags))
	for _, d := range diags {
		out = append(out, lintJSON{File: d.Pos.File, Line: d.Pos.Line, Column: d.Pos.Column, Severity: string(d.Severity), Rule: d.Rule, Message: d.Message})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// writeLintGitHub prints GitHub Actions workflow commands, which the runner
// turns into annotations on the pull request's changed lines:
// ::error file=F,line=L,col=C,title=ID::message
func writeLintGitHub(w io.Writer, diags []slo.Diagnostic) error {
	for _, d := range diags {
		level := "error"
		if d.Severity == slo.SeverityWarning {
			level = "warning"
		}
		_, err := fmt.Fprintf(w, "::%s file=%s,line=%d,col=%d,title=%s::%s\n", level,
			ghProperty(d.Pos.File), d.Pos.Line, d.Pos.Column, ghProperty(d.Rule), ghData(d.Message))
		if err != nil {
			return err
		}
	}
	return nil
}

// ghData escapes a workflow command's message.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
