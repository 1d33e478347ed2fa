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

func TestUnknownFlagIsAUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"version", "--no-such-flag"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("stderr %q does not name the flag", errb.String())
	}
}
