package slo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPublicOpenSLOCorpus measures how many files of a directory of public
// OpenSLO examples (the spec repository's and the go-sdk's, which we do not
// copy into ours) load without errors, each file on its own. It skips
// unless SLOD_OPENSLO_CORPUS names that directory; run it with -v to see
// each file's first error.
func TestPublicOpenSLOCorpus(t *testing.T) {
	dir := os.Getenv("SLOD_OPENSLO_CORPUS")
	if dir == "" {
		t.Skip("SLOD_OPENSLO_CORPUS is not set")
	}
	files, err := expand(dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for _, f := range files {
		set, diags := Check(f)
		var errs []Diagnostic
		for _, d := range diags {
			if d.Severity == SeverityError {
				errs = append(errs, d)
			}
		}
		rel, _ := filepath.Rel(dir, f)
		if len(errs) == 0 {
			loaded++
			t.Logf("loads: %s (%d SLOs)", rel, len(set.SLOs))
			continue
		}
		rules := []string{}
		for _, d := range errs {
			if !slices.Contains(rules, d.Rule) {
				rules = append(rules, d.Rule)
			}
		}
		t.Logf("fails: %s (%d SLOs load; %d errors %v): %s", rel, len(set.SLOs), len(errs), rules, errs[0])
	}
	t.Logf("%d of %d files load without errors", loaded, len(files))
}
