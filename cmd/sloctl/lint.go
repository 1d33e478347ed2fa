package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/slo"
	"github.com/slodhq/slod/source"
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
	// Prometheus holds the same Prometheus flags as slod's; with a URL,
	// lint also runs each SLO's queries against it (source.Check).
	Prometheus source.PrometheusFlags
	// At is when the live checks look (RFC 3339 or Unix seconds; default
	// now); Step is the evaluation step their queries use.
	At   string
	Step time.Duration
	// MaxInstancesPerSLO is slod's per-SLO instance cap, for the live
	// check that warns of an SLO over it.
	MaxInstancesPerSLO int
	// now is the clock for the default of At (tests set it).
	now func() time.Time
}

// lintFormats are the values of --format.
var lintFormats = []string{"text", "json", "github"}

// NewCmdLint builds `sloctl lint`. checks run after the slo rules; runF
// replaces the run function in flag tests (nil runs the lint).
func NewCmdLint(io IO, checks []LintCheck, runF func(*LintOptions) error) *cobra.Command {
	opts := &LintOptions{IO: io, Checks: checks, now: time.Now,
		Prometheus: source.PrometheusFlags{QueryTimeout: 30 * time.Second}, Step: burnrate.DefaultStep,
		MaxInstancesPerSLO: engine.DefaultMaxInstancesPerSLO}
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check SLO files for errors, as CI does on every pull request",
		Long: `Lint loads SLO and policy files (native slod/v1, Sloth prometheus/v1 and
OpenSLO v1) from the given files and directories (recursively, *.yaml and
*.yml; default: the current directory) and reports every problem with its
position and rule ID (see docs/lint.md).

With --prometheus-url, lint also runs the queries of every SLO from a file
without errors against that server over the hour before --at (default
now), and reports SLIs that would read wrongly: no series (SLO019), a
latency threshold that is no bucket (SLO020), group_by labels missing
from the series (SLO021), errors without totals (SLO022). A server that
cannot be asked fails the run with one line (exit 1).

Diagnostics go to stdout, a summary to stderr. Exit codes: 0 clean or
warnings only, 1 any error (or any warning with --strict), 2 bad usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  sloctl lint examples/slos
  sloctl lint --format github --strict slos/
  sloctl lint --prometheus-url http://localhost:9090 slos/`,
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
			if err := opts.Prometheus.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if opts.Prometheus.URL == "" && opts.At != "" {
				return usageErrorf("--at needs --prometheus-url: it is when the live checks look")
			}
			if opts.At != "" {
				if _, err := parseBacktestTime(opts.At); err != nil {
					return usageErrorf("--at: %v", err)
				}
			}
			if opts.Step < time.Second || opts.Step%time.Second != 0 {
				return usageErrorf("--step %s: must be a whole number of seconds", opts.Step)
			}
			if runF != nil {
				return runF(opts)
			}
			return runLint(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: "+strings.Join(lintFormats, ", "))
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail (exit 1) on warnings too")
	opts.Prometheus.AddFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.At, "at", "", "time the live checks look at, with --prometheus-url (RFC 3339 or Unix seconds; default now)")
	cmd.Flags().DurationVar(&opts.Step, "step", opts.Step, "evaluation step of the live checks' queries, as slod's --step")
	cmd.Flags().IntVar(&opts.MaxInstancesPerSLO, "max-instances-per-slo", opts.MaxInstancesPerSLO, "with --prometheus-url, warn of an SLO with more instances (group_by label sets) than this, as slod's --max-instances-per-slo")
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
	if len(set.SLOs) == 0 && len(set.Policies) == 0 && len(diags) == 0 {
		// Nothing to lint is a mistake (a moved or emptied directory), not a
		// clean result: CI must not pass silently.
		return usageErrorf("no SLO files (*.yaml, *.yml) found in %s", strings.Join(opts.Paths, " "))
	}
	live := ""
	if opts.Prometheus.URL != "" {
		// The SLOs slod would run: those of files without errors.
		good := set.SkipBadFiles(diags)
		found, at, err := lintLive(context.Background(), opts, good.SLOs)
		if err != nil {
			return err
		}
		diags = append(diags, found...)
		live = fmt.Sprintf(", %s checked against %s at %s", plural(len(good.SLOs), "SLO"), opts.Prometheus.URL, at.Format(time.RFC3339))
	}
	slo.SortDiagnostics(diags)

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
	fmt.Fprintf(opts.IO.Err, "sloctl lint: %s, %s loaded%s; %s, %s\n",
		plural(len(set.SLOs), "SLO"), plural(len(set.Policies), "policy"), live, plural(errs, "error"), plural(warns, "warning"))
	if errs > 0 || (opts.Strict && warns > 0) {
		return errFindings
	}
	return nil
}

// lintLive runs source.Check for each SLO against opts.Prometheus at
// opts.At (default now), one SLO after the other, and returns the findings
// as diagnostics and the time checked. A query that fails stops the run:
// the server cannot be asked, and every other SLO would fail alike.
func lintLive(ctx context.Context, opts *LintOptions, specs []*slo.Spec) ([]slo.Diagnostic, time.Time, error) {
	at := opts.now().UTC()
	if opts.At != "" {
		t, err := parseBacktestTime(opts.At)
		if err != nil {
			return nil, at, usageErrorf("--at: %v", err)
		}
		at = t
	}
	po, err := opts.Prometheus.Options()
	if err != nil {
		return nil, at, usageErrorf("%v", err)
	}
	// One retry: lint runs in a terminal or in CI, where an unreachable
	// server should fail fast rather than be waited for.
	po.MaxTries = 2
	src, err := source.NewPrometheus(po)
	if err != nil {
		return nil, at, usageErrorf("%v", err)
	}
	var diags []slo.Diagnostic
	for _, spec := range specs {
		found, err := source.CheckWith(ctx, src, spec, at, opts.Step, source.CheckOptions{MaxInstances: opts.MaxInstancesPerSLO})
		if err != nil {
			return nil, at, &exitError{code: exitFail, err: fmt.Errorf("live checks against %s: %w", opts.Prometheus.URL, err)}
		}
		for _, f := range found {
			diags = append(diags, f.Diagnostic(spec))
		}
	}
	return diags, at, nil
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
