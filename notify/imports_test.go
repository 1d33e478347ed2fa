package notify_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
)

// notify and its subpackages import no other package of slod: the daemon
// turns incidents into notify.Page, never the other way round.
func TestNotifyImportsNoOtherSlodPackage(t *testing.T) {
	const module = "github.com/slodhq/slod/"
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			return err
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		for _, imps := range [][]string{pkg.Imports, pkg.TestImports, pkg.XTestImports} {
			for _, imp := range imps {
				if strings.HasPrefix(imp, module) && !strings.HasPrefix(imp, module+"notify") {
					t.Errorf("%s imports %s", path, imp)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLogOnlyConfig(t *testing.T) {
	cfg := notify.LogOnlyConfig()
	if got := mustRouter(t, cfg).Receivers(map[string]string{"severity": "page"}); len(got) != 1 || got[0] != "stdout" || cfg.Receivers[0].Log == nil {
		t.Errorf("receivers %v", got)
	}
}
