package slo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSlothCorpus loads every YAML file under $SLOD_SLOTH_CORPUS (for
// example a checkout of Sloth's examples/ directory) with Check and reports
// how many load without errors; a _gen directory (Sloth's generated rule
// files, not SLO files) is left out. It measures, it does not gate: it skips
// unless the variable is set, and fails only when nothing loads.
func TestSlothCorpus(t *testing.T) {
	dir := os.Getenv("SLOD_SLOTH_CORPUS")
	if dir == "" {
		t.Skip("SLOD_SLOTH_CORPUS is not set")
	}
	files, err := expand(dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded, total := 0, 0
	for _, f := range files {
		set, diags := Check(f)
		rel, _ := filepath.Rel(dir, f)
		if slices.Contains(strings.Split(filepath.ToSlash(rel), "/"), "_gen") {
			continue
		}
		total++
		if HasErrors(diags) {
			var errs []string
			for _, d := range diags {
				if d.Severity == SeverityError {
					errs = append(errs, d.String())
				}
			}
			t.Logf("FAIL %s:\n\t%s", rel, strings.Join(errs, "\n\t"))
			continue
		}
		loaded++
		t.Logf("ok   %s: %d SLOs, %d warnings", rel, len(set.SLOs), len(diags))
		for _, d := range diags {
			t.Logf("\t%s", d)
		}
	}
	t.Logf("%d of %d files load", loaded, total)
	if loaded == 0 && total > 0 {
		t.Fatal("no file loads")
	}
}
