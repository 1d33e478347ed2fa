package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/slodhq/slod/slo"
)

// TestBuiltInExamplesMatchTheCheckoutAndLintClean: the SLO files built into
// the binary (what `slod --demo` runs outside a checkout) are the checkout's
// examples/slos, extracted they lint clean, and removing the directory
// extractExamples returns leaves nothing behind.
func TestBuiltInExamplesMatchTheCheckoutAndLintClean(t *testing.T) {
	tmpRoot := t.TempDir()
	t.Setenv("TMPDIR", tmpRoot)
	tmp, dir, err := extractExamples()
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Glob("../examples/slos/*.yaml")
	if err != nil || len(want) == 0 {
		t.Fatalf("no example files found: %v", err)
	}
	for _, w := range want {
		a, _ := os.ReadFile(w)
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(w)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: built-in copy differs from the checkout (err %v)", filepath.Base(w), err)
		}
	}
	set, diags := slo.Check(dir)
	if slo.HasErrors(diags) {
		t.Fatalf("built-in examples do not lint clean: %v", diags)
	}
	if len(set.SLOs) == 0 {
		t.Fatal("built-in examples hold no SLO")
	}
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	assertEmptyDir(t, tmpRoot)
}

// TestDemoOutsideACheckoutLeavesNoTemporaryFiles runs `slod --demo` from a
// directory without examples/slos (it starts on the built-in copy) and
// stops it: the extracted SLOs and the demo's state directory are gone.
func TestDemoOutsideACheckoutLeavesNoTemporaryFiles(t *testing.T) {
	tmpRoot := t.TempDir()
	t.Setenv("TMPDIR", tmpRoot)
	t.Chdir(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the first tick runs, then the daemon stops
	var stdout, stderr lockedBuffer
	if code := Main(ctx, []string{"--demo", "--listen", "127.0.0.1:0"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("slod --demo: exit %d\n%s", code, stderr.String())
	}
	assertEmptyDir(t, tmpRoot)
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("%s left behind in the temporary directory", e.Name())
	}
}
