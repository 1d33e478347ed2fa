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

// The Sloth corpus of the slo package (both Sloth forms, plugins, for,
// objective 90) lints without errors and generates rules that promtool
// accepts: the objective-90 SLO without its impossible 1h page row, the
// plugin-set intervals on their groups and each class's for on its alert.
func TestSlothCorpusRules(t *testing.T) {
	set, diags := slo.Check("../slo/testdata/sloth")
	diags = append(diags, burnrate.Lint(set)...)
	if slo.HasErrors(diags) {
		t.Fatalf("corpus: %v", diags)
	}
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]Group{}
	for _, g := range f.Groups {
		groups[g.Name] = g
	}
	alerts := func(group string) map[string]Rule {
		out := map[string]Rule{}
		for _, r := range groups[group].Rules {
			if r.Alert != "" {
				out[r.Labels["severity"]+"/"+r.Alert] = r
			}
		}
		return out
	}

	batch := alerts("slod-batch-jobs-success")
	page := batch["page/BatchJobsBurn"]
	if page.Expr == "" || strings.Contains(page.Expr, "ratio_rate1h") || !strings.Contains(page.Expr, "ratio_rate6h") {
		t.Errorf("objective 90 page alert should keep the 6h row and drop the 1h one:\n%s", page.Expr)
	}
	if tk := batch["ticket/BatchJobsBurn"]; !strings.Contains(tk.Expr, "ratio_rate1d") || !strings.Contains(tk.Expr, "ratio_rate3d") {
		t.Errorf("objective 90 ticket alert:\n%s", tk.Expr)
	}

	checkout := alerts("slod-checkout-requests-availability")
	if p, tk := checkout["page/CheckoutAvailabilityBurn"], checkout["ticket/CheckoutAvailabilityBurn"]; p.For != "5m" || tk.For != "30m" {
		t.Errorf("for: page %q ticket %q; want 5m and 30m", p.For, tk.For)
	}
	// fast-only, named with alerting.annotations.slod_policy: 1h page and 1d ticket only.
	if p := checkout["page/CheckoutAvailabilityBurn"]; strings.Contains(p.Expr, "ratio_rate6h") {
		t.Errorf("policy fast-only has no 6h row:\n%s", p.Expr)
	}
	if _, leaked := checkout["page/CheckoutAvailabilityBurn"].Annotations[slo.SlothPolicyAnnotation]; leaked {
		t.Error("the slod_policy annotation reaches the alert")
	}
	for name, want := range map[string]string{
		"slod-checkout-requests-availability": "30s",
		"slod-checkout-requests-latency":      "2m",
		"slod-search-index-freshness":         "5m",
		"slod-search-query-availability":      "",
	} {
		if got := groups[name].Interval; got != want {
			t.Errorf("group %s interval %q, want %q", name, got, want)
		}
	}
	if a := alerts("slod-checkout-requests-latency"); len(a) != 0 {
		t.Errorf("overridePrevious without alert_rules: alerts %v, want none", a)
	}

	bin := promtool(t)
	var buf bytes.Buffer
	if err := f.Encode(&buf, FormatPrometheus); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "sloth.rules.yml")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
