package burnrate

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayPure holds the design rule: burnrate imports no package of
// ours but slo, and nothing that does I/O (callers pass now and counts).
func TestImportsStayPure(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net", "net/http", "os", "os/exec", "io/ioutil", "log", "log/slog", "database/sql", "syscall"}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/slodhq/slod/") && path != "github.com/slodhq/slod/slo" {
				t.Errorf("%s imports %s: burnrate may import only slo of ours", name, path)
			}
			for _, f := range forbidden {
				if path == f {
					t.Errorf("%s imports %s: burnrate does no I/O", name, path)
				}
			}
		}
	}
}
