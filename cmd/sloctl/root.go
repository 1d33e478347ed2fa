package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/internal/version"
)

// Exit codes shared by every sloctl command.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and found problems (lint errors, failed checks)
	exitUsage = 2 // bad flags or arguments
)

// exitError carries an exit code out of a command's run function.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf reports a bad flag or argument (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// errFindings is returned by a command that ran and found problems it has
// already printed (exit 1, nothing more to print).
var errFindings = errors.New("findings reported")

// IO is where a command writes: results to Out, diagnostics to Err.
type IO struct {
	Out io.Writer
	Err io.Writer
}

// Main runs sloctl with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(IO{Out: stdout, Err: stderr})
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFail
	}
	code := exitUsage // cobra's own flag and argument errors are usage errors
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	// One line, also for usage errors: the error and where help is.
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "sloctl: %v (see '%s --help')\n", err, cmd.CommandPath())
	} else {
		fmt.Fprintf(stderr, "sloctl: %v\n", err)
	}
	return code
}

func newRootCmd(io IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "sloctl",
		Short: "Lint SLO files, generate Prometheus rules, backtest policies, show incidents",
		Long: `sloctl works with SLO definitions kept in git: the native slod/v1 format,
Sloth prometheus/v1 files, Pyrra manifests and OpenSLO v1 SLOs; convert
turns any of them into slod/v1 or OpenSLO v1.

Exit codes: 0 success, 1 problems found (for example lint errors), 2 bad usage.`,
		Version:       version.Read().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetVersionTemplate("{{.Name}} version {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(newCmdVersion(io))
	root.AddCommand(NewCmdLint(io, lintChecks(), nil))
	root.AddCommand(NewCmdGenerate(io, nil))
	root.AddCommand(NewCmdConvert(io, nil))
	root.AddCommand(NewCmdExplain(io, nil))
	root.AddCommand(NewCmdBacktest(io, nil))
	root.AddCommand(NewCmdReport(io, nil))
	root.AddCommand(NewCmdCheckConfig(io, nil))
	root.AddCommand(NewCmdStatus(io, nil))
	// pflag prints deprecated-flag notices to a flag set's output, which
	// cobra would copy to stdout, where results go.
	var quiet func(*cobra.Command)
	quiet = func(c *cobra.Command) {
		c.Flags().SetOutput(io.Err)
		for _, sub := range c.Commands() {
			quiet(sub)
		}
	}
	quiet(root)
	return root
}

func newCmdVersion(io IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sloctl version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(io.Out, version.Line("sloctl"))
			return nil
		},
	}
}
