package rules

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The rules generated for the OpenSLO corpus (slo/testdata/openslo: list
// form, references across files, rewritten counter and gauge queries,
// threshold and raw SLIs, policies from AlertPolicies) pass promtool, and
// the page alerts of an AlertPolicy carry its notification targets.
func TestOpenSLOCorpusRulesPassPromtoolCheck(t *testing.T) {
	set, diags := slo.Check("../slo/testdata/openslo")
	for _, d := range diags {
		// The Datadog SLO is refused and skipped alone.
		if d.Severity == slo.SeverityError && !strings.Contains(d.Message, `"Datadog"`) {
			t.Fatalf("%s", d)
		}
	}
	if len(set.SLOs) < 10 {
		t.Fatalf("%d SLOs loaded", len(set.SLOs))
	}
	for _, d := range burnrate.Lint(set) {
		if d.Severity == slo.SeverityError {
			t.Errorf("policy lint: %s", d)
		}
	}
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	targets := 0
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Labels["slo"] == "payments-availability" && r.Labels["severity"] == "page" && r.Labels["nodata"] == "" {
				if r.Labels[slo.NotificationTargetsLabel] != "payments-pager,payments-slack" {
					t.Errorf("page alert %s labels %v lack the policy's notification targets", r.Alert, r.Labels)
				}
				targets++
			}
		}
	}
	if targets == 0 {
		t.Error("no page alert for payments-availability")
	}
	bin := promtool(t)
	path := filepath.Join(t.TempDir(), "openslo.rules.yml")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
