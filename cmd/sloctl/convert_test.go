package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConvertFlags(t *testing.T) {
	var got *ConvertOptions
	cmd := NewCmdConvert(IO{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, func(o *ConvertOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--to", "openslo", "-o", "out/", "a.yaml"})
	if err := cmd.Execute(); err == nil {
		t.Fatal("a missing input was accepted")
	}
	cmd.SetArgs([]string{"--to", "openslo", "-o", "out/", "../../examples/slos"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.To != "openslo" || got.Output != "out/" || len(got.Paths) != 1 {
		t.Errorf("options %+v", got)
	}
}

func TestConvertBadUsageExitsTwoWithOneLine(t *testing.T) {
	for name, args := range map[string][]string{
		"an unknown target":  {"convert", "--to", "sloth", "../../examples/slos"},
		"no input":           {"convert"},
		"a missing input":    {"convert", "nowhere.yaml"},
		"an unknown flag":    {"convert", "--format", "json", "../../examples/slos"},
		"an input as output": {"convert", "-o", "../../examples/slos/policies.yaml", "../../examples/slos/policies.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := Main(args, &out, &errb); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %s", code, exitUsage, errb.String())
			}
			if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); !strings.HasPrefix(lines[len(lines)-1], "sloctl: ") {
				t.Errorf("stderr does not end in one sloctl: line:\n%s", errb.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout: %s", out.String())
			}
		})
	}
}

// TestConvertedExamplesLintClean converts every example into a directory,
// file by file, and lints it: the conversion of files that lint lints.
func TestConvertedExamplesLintClean(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "converted") + "/"
	var out, errb bytes.Buffer
	if code := Main([]string{"convert", "-o", dir, "../../examples/slos"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout with -o: %s", out.String())
	}
	inputs, _ := filepath.Glob("../../examples/slos/*.yaml")
	for _, in := range inputs {
		data, err := os.ReadFile(filepath.Join(dir, filepath.Base(in)))
		if err != nil {
			t.Errorf("no output file for %s: %v", in, err)
			continue
		}
		if !strings.Contains(string(data), "version: slod/v1") {
			t.Errorf("%s: not slod/v1:\n%s", in, data)
		}
	}
	errb.Reset()
	out.Reset()
	if code := Main([]string{"lint", dir}, &out, &errb); code != exitOK {
		t.Errorf("lint of the conversion: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if strings.Contains(out.String(), "error") {
		t.Errorf("lint of the conversion reports errors:\n%s", out.String())
	}
}

func TestConvertToOpenSLOLintsCleanWithItsPolicies(t *testing.T) {
	tmp := t.TempDir()
	conv := filepath.Join(tmp, "slos.openslo.yaml")
	var out, errb bytes.Buffer
	if code := Main([]string{"convert", "--to", "openslo", "-o", conv, "../../examples/slos"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"group_by: OpenSLO has no per-label instances", "sli.latency: OpenSLO has no histogram SLI", "alerting: ",
		`policy "slow-burn": kind: Policy: OpenSLO has no burn-rate policies: not written`} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr does not warn %q:\n%s", want, errb.String())
		}
	}
	out.Reset()
	errb.Reset()
	// Policies are not written to OpenSLO: lint with the original ones.
	if code := Main([]string{"lint", conv, "../../examples/slos/policies.yaml"}, &out, &errb); code != exitOK || strings.Contains(out.String(), "error") {
		t.Errorf("lint of the OpenSLO conversion: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

func TestConvertSkipsAFileWithErrorsAndConvertsTheOthers(t *testing.T) {
	in := t.TempDir()
	good := `# the good one
version: slod/v1
service: shop
slos:
  - name: availability # the main SLO
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    annotations: {runbook: https://runbooks.example.com/shop}
`
	bad := `version: slod/v1
service: cart
slos:
  - name: availability
    objectiv: 99.5
`
	if err := os.WriteFile(filepath.Join(in, "good.yaml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"convert", in}, &out, &errb); code != exitFail {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFail, errb.String())
	}
	if want := filepath.Join(in, "bad.yaml") + ":5:5: error SLO002"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr does not report %q:\n%s", want, errb.String())
	}
	if !strings.Contains(errb.String(), "1 file not converted") {
		t.Errorf("stderr does not say a file was skipped:\n%s", errb.String())
	}
	for _, want := range []string{"# the good one", "service: shop", "name: availability # the main SLO", "objective: 99.5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "cart") {
		t.Errorf("the file with errors was converted:\n%s", out.String())
	}

	// One output file per input: the bad one gets none.
	dir := t.TempDir()
	errb.Reset()
	if code := Main([]string{"convert", "-o", dir, in}, &out, &errb); code != exitFail {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitFail, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "good.yaml")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.yaml")); err == nil {
		t.Error("bad.yaml was written")
	}
}

// TestConvertedSlothCorpusLintsClean: a Sloth SLO of 90% keeps the rows
// its policy can fire through a derived policy, since slod/v1 refuses a
// row that can never fire (POL003) where Sloth's format only warns.
func TestConvertedSlothCorpusLintsClean(t *testing.T) {
	dir := t.TempDir() + "/"
	var out, errb bytes.Buffer
	if code := Main([]string{"convert", "-o", dir, "../../slo/testdata/sloth"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `so the SLO names policy "default-batch-jobs-success"`) {
		t.Errorf("no warning about the derived policy:\n%s", errb.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "objective-90.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"policy: default-batch-jobs-success", "kind: Policy\nname: default-batch-jobs-success\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("objective-90.yaml lacks %q:\n%s", want, data)
		}
	}
	out.Reset()
	errb.Reset()
	if code := Main([]string{"lint", dir}, &out, &errb); code != exitOK || strings.Contains(out.String(), "error") {
		t.Errorf("lint of the conversion: exit %d\n%s%s", code, out.String(), errb.String())
	}
}
