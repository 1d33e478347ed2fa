// Package archtest holds the import graph of DESIGN.md ("Layout and
// direction of imports") in one test, for every package of the module.
package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/slodhq/slod"

// allowed maps each package of ours (relative to the module, a trailing
// "/..." covering its subpackages) to the packages of ours it may import.
// A package missing here fails the test: add it, with DESIGN.md's blessing.
var allowed = map[string][]string{
	"slo":      nil,
	"burnrate": {"slo"},
	"rules":    {"slo", "burnrate"},
	"source":   {"slo", "burnrate"},
	// engine is being written: it drives source on a clock-free tick.
	"engine": {"source", "burnrate", "slo"},
	"server": {"burnrate", "slo", "report"},
	// report holds the budget report's figures and renderings (issue 15).
	"report": {"burnrate", "slo"},
	// notify owns its Page type and imports none of ours; each receiver
	// implements notify's interfaces; notify/receiver builds them all.
	"notify":          nil,
	"notify/...":      {"notify"},
	"notify/receiver": {"notify", "notify/..."},
	"daemon":          {"engine", "server", "notify", "notify/...", "source", "burnrate", "slo", "report", "examples", "internal/..."},
	"examples":        nil,
	// Test helpers and small concepts, leaves of the graph.
	"internal/...": nil,
	"cmd/...":      {"..."},
}

// cloudSDKs are module path prefixes of cloud provider SDKs, which
// prometheus/prometheus's tsdb, config and discovery packages pull in
// (FACTS.md): none may be linked into our binaries or tests.
var cloudSDKs = []string{
	"github.com/aws/",
	"github.com/Azure/",
	"github.com/AzureAD/",
	"cloud.google.com/",
	"google.golang.org/api",
	"github.com/googleapis/",
}

type pkg struct {
	ImportPath string
	Imports    []string
	ForTest    string
	DepOnly    bool
}

// listPackages runs go list -deps -test -json over the module.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-test", "-json=ImportPath,Imports,ForTest,DepOnly", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// ours returns p relative to the module, or false for other modules.
func ours(p string) (string, bool) {
	if p == module {
		return ".", true
	}
	return strings.CutPrefix(p, module+"/")
}

// match reports whether pattern (a path, "x/..." or "...") covers p.
// "x/..." covers x's subpackages only; name x itself separately.
func match(pattern, p string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return strings.HasPrefix(p, base+"/")
	}
	return pattern == p
}

// rule finds the entry of allowed for p: its own, or the closest "/...".
func rule(p string) ([]string, bool) {
	if r, ok := allowed[p]; ok {
		return r, true
	}
	for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
		if r, ok := allowed[dir+"/..."]; ok {
			return r, true
		}
	}
	return nil, false
}

// TestImportDirection checks every package's own (non-test) imports of our
// packages against allowed, and that nothing, tests included, imports a
// command.
func TestImportDirection(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		rel, ok := ours(p.ImportPath)
		if !ok || p.DepOnly && p.ForTest == "" {
			continue
		}
		// Test variants are "x [x.test]"; the test main is "x.test".
		if strings.HasSuffix(rel, ".test") {
			continue
		}
		name, _, isTest := strings.Cut(rel, " ")
		for _, imp := range p.Imports {
			irel, ok := ours(imp)
			if !ok {
				continue
			}
			irel, _, _ = strings.Cut(irel, " ")
			if strings.HasPrefix(irel, "cmd/") && irel != name {
				t.Errorf("%s imports the command %s: commands are the top of the graph", name, irel)
			}
		}
		if isTest || seen[name] {
			continue // tests may use helpers (internal/promtest, rules fixtures) freely
		}
		seen[name] = true
		r, ok := rule(name)
		if !ok {
			t.Errorf("package %s is not in the import rules of internal/archtest: add it (see DESIGN.md)", name)
			continue
		}
		for _, imp := range p.Imports {
			irel, ok := ours(imp)
			if !ok || irel == name {
				continue
			}
			if !slices.ContainsFunc(r, func(pattern string) bool { return match(pattern, irel) }) {
				t.Errorf("%s imports %s; DESIGN.md allows it only %v", name, irel, r)
			}
		}
	}
	for _, must := range []string{"slo", "burnrate", "rules", "source", "notify", "server", "daemon", "cmd/slod", "cmd/sloctl"} {
		if !seen[must] {
			t.Errorf("go list did not report %s: the test is not looking at the module", must)
		}
	}
}

// TestNoCloudSDKs keeps the cloud SDKs that parts of prometheus/prometheus
// depend on out of every binary and test of the module.
func TestNoCloudSDKs(t *testing.T) {
	for _, p := range listPackages(t) {
		for _, sdk := range cloudSDKs {
			if strings.HasPrefix(p.ImportPath, sdk) {
				t.Errorf("%s is linked (into %s): import only promql and promql/parser from prometheus/prometheus (FACTS.md)", p.ImportPath, strings.TrimSpace(p.ForTest+" a dependency"))
			}
		}
	}
}

// The rules themselves: a few packages that must be refused and allowed.
func TestRules(t *testing.T) {
	cases := []struct {
		from, to string
		ok       bool
	}{
		{"slo", "burnrate", false},
		{"burnrate", "slo", true},
		{"burnrate", "source", false},
		{"notify", "slo", false},
		{"notify/pagerduty", "notify", true},
		{"notify/pagerduty", "notify/webhook", false},
		{"notify/receiver", "notify/webhook", true},
		{"source", "notify", false},
		{"engine", "source", true},
		{"engine", "daemon", false},
		{"server", "daemon", false},
		{"daemon", "internal/version", true},
		{"daemon", "rules", false},
		{"internal/promtest", "slo", false},
		{"cmd/sloctl", "daemon", true},
	}
	for _, c := range cases {
		r, ok := rule(c.from)
		if !ok {
			t.Errorf("no rule for %s", c.from)
			continue
		}
		got := slices.ContainsFunc(r, func(p string) bool { return match(p, c.to) })
		if got != c.ok {
			t.Errorf("%s -> %s allowed = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}
