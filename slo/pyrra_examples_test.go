package slo

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPyrraUpstreamExamples loads every file of a Pyrra checkout (set
// SLOD_PYRRA_EXAMPLES to its directory) that holds an apiVersion:
// pyrra.dev/v1alpha1 document, and reports how many load and lint without
// errors. It skips when the variable is unset: the files are Pyrra's, not
// ours, and are not vendored.
func TestPyrraUpstreamExamples(t *testing.T) {
	dir := os.Getenv("SLOD_PYRRA_EXAMPLES")
	if dir == "" {
		t.Skip("SLOD_PYRRA_EXAMPLES is not set")
	}
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "apiVersion: pyrra.dev/v1alpha1" {
				files = append(files, path)
				break
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	clean, slos := 0, 0
	for _, f := range files {
		set, diags := Check(f)
		slos += len(set.SLOs)
		if HasErrors(diags) {
			for _, d := range diags {
				t.Logf("%s", d)
			}
			continue
		}
		for _, d := range diags {
			t.Logf("%s", d)
		}
		clean++
	}
	t.Logf("%d of %d Pyrra files load without errors (%d SLOs)", clean, len(files), slos)
	if clean != len(files) {
		t.Errorf("%d files have errors", len(files)-clean)
	}
}
