package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/slodhq/slod/slo"
)

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestLintExamplesIsClean(t *testing.T) {
	code, out, errOut := runMain(t, "lint", "../../examples/slos")
	if code != exitOK || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !regexp.MustCompile(`^sloctl lint: \d+ SLOs, \d+ polic(y|ies) loaded; 0 errors, 0 warnings\n$`).MatchString(errOut) {
		t.Errorf("summary %q", errOut)
	}
}

func TestLintBadFixturesReportsEveryRuleAndExitsOne(t *testing.T) {
	const dir = "../../slo/testdata/bad"
	code, out, _ := runMain(t, "lint", dir)
	if code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	// The text format: path:line:col: severity ID: message, in the order and
	// at the positions of the slo package's golden file.
	want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(.+):(\d+):(\d+): (error|warning) ([A-Z]+\d{3}): \S.*$`)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q is not path:line:col: severity ID: message", l)
		}
		if !strings.HasPrefix(m[5], "SLO") && !strings.HasPrefix(m[5], "DEP") {
			continue // the policy checks (POL…) have their own tests
		}
		rel, _ := filepath.Rel(dir, m[1])
		got = append(got, rel+":"+m[2]+":"+m[3]+": "+m[4]+" "+m[5])
	}
	if g, w := strings.Join(got, "\n"), strings.TrimSpace(string(want)); g != w {
		t.Errorf("lint output differs from want.txt:\n%s\nwant:\n%s", g, w)
	}
}

func TestLintFormats(t *testing.T) {
	const file = "../../slo/testdata/bad/slo005-objective.yaml"
	t.Run("json is an array of diagnostics", func(t *testing.T) {
		code, out, _ := runMain(t, "lint", "--format", "json", file)
		if code != exitFail {
			t.Fatalf("exit %d", code)
		}
		var all, diags []lintJSON
		if err := json.Unmarshal([]byte(out), &all); err != nil {
			t.Fatalf("%v in %s", err, out)
		}
		for _, d := range all {
			if d.Rule == "SLO005" {
				diags = append(diags, d)
			}
		}
		if len(diags) != 2 || diags[0].Rule != "SLO005" || diags[0].Line != 5 || diags[0].Column != 16 || diags[0].Severity != "error" || diags[0].File != file {
			t.Errorf("diagnostics %+v", diags)
		}
	})
	t.Run("json of a clean run is an empty array", func(t *testing.T) {
		code, out, _ := runMain(t, "lint", "--format", "json", "../../examples/slos")
		if code != exitOK || strings.TrimSpace(out) != "[]" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("github prints workflow commands", func(t *testing.T) {
		code, out, _ := runMain(t, "lint", "--format", "github", file)
		if code != exitFail {
			t.Fatalf("exit %d", code)
		}
		first := strings.SplitN(out, "\n", 2)[0] // sorted by position: the line 5 SLO005 comes first
		want := "::error file=" + file + ",line=5,col=16,title=SLO005::slo \"checkout-perfect\": objective 100 leaves no error budget"
		if !strings.HasPrefix(first, want) {
			t.Errorf("first line %q\nwant prefix %q", first, want)
		}
	})
	t.Run("github escapes newlines, colons and commas", func(t *testing.T) {
		var b bytes.Buffer
		d := slo.Diagnostic{Pos: slo.Position{File: "a,b:c.yaml", Line: 1, Column: 2}, Severity: slo.SeverityWarning, Rule: "SLO014", Message: "100% sure\nsecond line"}
		if err := writeLintGitHub(&b, []slo.Diagnostic{d}); err != nil {
			t.Fatal(err)
		}
		if got, want := b.String(), "::warning file=a%2Cb%3Ac.yaml,line=1,col=2,title=SLO014::100%25 sure%0Asecond line\n"; got != want {
			t.Errorf("got  %q\nwant %q", got, want)
		}
	})
}

func TestLintStrictFailsOnWarnings(t *testing.T) {
	const file = "../../slo/testdata/bad/slo014-runbook.yaml" // one warning, no error
	if code, out, _ := runMain(t, "lint", file); code != exitOK || !strings.Contains(out, "warning SLO014") {
		t.Errorf("without --strict: exit %d, stdout %q; want 0 and the warning", code, out)
	}
	if code, _, _ := runMain(t, "lint", "--strict", file); code != exitFail {
		t.Errorf("with --strict: exit %d, want %d", code, exitFail)
	}
	if code, _, _ := runMain(t, "lint", "--strict", "../../examples/slos"); code != exitOK {
		t.Errorf("--strict on clean files: exit %d", code)
	}
}

func TestLintUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"lint", "--format", "yaml", "../../examples/slos"},
		{"lint", "--no-such-flag"},
		{"lint", filepath.Join(t.TempDir(), "missing")},
		{"lint", emptyDir(t)},
	} {
		if code, _, errOut := runMain(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want %d and a message", args, code, errOut, exitUsage)
		}
	}
}

func TestLintRunsExtraChecks(t *testing.T) {
	var out, errb bytes.Buffer
	extra := func(set *slo.Set) []slo.Diagnostic {
		return []slo.Diagnostic{{Pos: set.SLOs[0].Pos, Severity: slo.SeverityError, Rule: "POL999", Message: "extra check ran"}}
	}
	cmd := NewCmdLint(IO{Out: &out, Err: &errb}, []LintCheck{extra}, nil)
	cmd.SetArgs([]string{"../../slo/testdata/formats/native.yaml"})
	if err := cmd.Execute(); err != errFindings {
		t.Fatalf("err %v, want errFindings", err)
	}
	if !strings.Contains(out.String(), "error POL999: extra check ran") {
		t.Errorf("stdout %q", out.String())
	}
}

func TestLintFlagsReachOptions(t *testing.T) {
	var got *LintOptions
	cmd := NewCmdLint(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil, func(o *LintOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--format", "github", "--strict", "../../examples/slos", "../../slo/testdata/good"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Format != "github" || !got.Strict || len(got.Paths) != 2 {
		t.Errorf("options %+v", got)
	}
	cmd = NewCmdLint(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, nil, func(o *LintOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Format != "text" || got.Strict || len(got.Paths) != 1 || got.Paths[0] != "." {
		t.Errorf("defaults %+v", got)
	}
}

func TestLintGarbageGivesClearErrorsAndExitsOne(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"binary.yaml": {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0xff, 0xfe},
		"empty.yaml":  nil,
		"deep.yaml":   []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)),
		"huge.yaml":   bytes.Repeat([]byte("#\n"), 5<<20),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runMain(t, "lint", dir)
	if code != exitFail {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for name, msg := range map[string]string{
		"binary.yaml": "not UTF-8 text", "empty.yaml": "file is empty",
		"deep.yaml": "max depth", "huge.yaml": "larger than 4 MiB",
	} {
		want := filepath.Join(dir, name) + ":1:1: error SLO001: "
		found := false
		for _, l := range strings.Split(out, "\n") {
			found = found || (strings.HasPrefix(l, want) && strings.Contains(l, msg))
		}
		if !found {
			t.Errorf("no %q line containing %q in:\n%s", want, msg, out)
		}
	}
}

// emptyDir is a directory holding files, none of them YAML: what a CI job
// sees when its SLO directory moved.
func emptyDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("slos moved\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
