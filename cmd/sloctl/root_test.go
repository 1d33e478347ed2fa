package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersionPrintsAndExitsZero(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"version"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "sloctl ") {
		t.Errorf("stdout %q", out.String())
	}
}

// `sloctl --version` and `sloctl version` print the same line: the
// program, the module version or "devel", and the toolchain.
func TestVersionFlagMatchesVersionCommand(t *testing.T) {
	var flag, cmd bytes.Buffer
	if code := Main([]string{"--version"}, &flag, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("--version: exit %d", code)
	}
	Main([]string{"version"}, &cmd, &bytes.Buffer{})
	if flag.String() != cmd.String() || !strings.HasPrefix(flag.String(), "sloctl version ") || !strings.Contains(flag.String(), "go1.") {
		t.Errorf("--version %q, version %q", flag.String(), cmd.String())
	}
}

// A bad flag is one line naming it and one pointing at the subcommand's
// help: no usage dump, exit 2, the same shape as slod's.
func TestUnknownFlagIsTwoLines(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"backtest", "--bogus"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if want := "sloctl: unknown flag: --bogus (see 'sloctl backtest --help')\n"; errb.String() != want || out.Len() > 0 {
		t.Errorf("stderr %q, stdout %q; want stderr %q", errb.String(), out.String(), want)
	}
}

func TestUnknownFlagIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"version", "--no-such-flag"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("stderr %q does not name the flag", errb.String())
	}
}
