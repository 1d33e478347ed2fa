package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/slodhq/slod/slo"
)

func TestDemoRunsOnTheBuiltInExamplesOutsideACheckout(t *testing.T) {
	dir, err := extractExamples()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dir)) })

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
}
