package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
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
	err := root.Execute()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errFindings):
		return exitFail
	}
	fmt.Fprintf(stderr, "sloctl: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own flag and argument errors are usage errors.
	return exitUsage
}

func newRootCmd(io IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "sloctl",
		Short: "Lint SLO files, generate Prometheus rules, backtest policies, show incidents",
		Long: `sloctl works with SLO definitions kept in git: the native slod/v1 format,
Sloth prometheus/v1 files and OpenSLO v1 SLOs.

Exit codes: 0 success, 1 problems found (for example lint errors), 2 bad usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	root.AddCommand(newCmdVersion(io))
	root.AddCommand(NewCmdLint(io, lintChecks(), nil))
	root.AddCommand(NewCmdGenerate(io, nil))
	root.AddCommand(NewCmdExplain(io, nil))
	root.AddCommand(NewCmdBacktest(io, nil))
	root.AddCommand(NewCmdCheckConfig(io, nil))
	root.AddCommand(NewCmdStatus(io, nil))
	return root
}

func newCmdVersion(io IO) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sloctl version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(io.Out, "sloctl %s\n", version())
			return nil
		},
	}
}

// version is the module version when built with go install ...@version,
// otherwise the VCS revision, otherwise "devel".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
