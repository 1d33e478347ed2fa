package engine

import (
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

// The catalogue the daemon and backtest run from resolves a foreign SLO's
// policy without its impossible rows, as the rules do: the objective-90
// Sloth SLO loads with a warning and runs the three rows that can fire.
func TestCatalogueDropsImpossibleRowsOfForeignSLOs(t *testing.T) {
	cat := Load("../slo/testdata/sloth")
	if cat.HasErrors() || len(cat.Entries) != 6 {
		t.Fatalf("%d entries, diagnostics %v", len(cat.Entries), cat.Diagnostics)
	}
	warned := false
	for _, d := range cat.Diagnostics {
		if d.Rule == burnrate.RuleRowCannotFire && d.Severity == slo.SeverityWarning {
			warned = true
		}
	}
	if !warned {
		t.Error("no POL003 warning for the objective-90 SLO")
	}
	for _, en := range cat.Entries {
		for _, r := range en.Policy.Rows {
			if !r.CanFire(en.Spec.Window, en.Spec.ErrorBudget()) {
				t.Errorf("%s runs a row that cannot fire: %+v", en.Spec.ID, r)
			}
		}
		switch en.Spec.ID {
		case "batch-jobs-success":
			if len(en.Policy.Rows) != 3 || en.Policy.Rows[0].Long != 6*time.Hour {
				t.Errorf("batch policy rows %+v; want the default without its 1h row", en.Policy.Rows)
			}
		case "checkout-requests-availability":
			if en.Policy.Name != "fast-only" || len(en.Policy.Rows) != 2 {
				t.Errorf("checkout policy %+v; want fast-only", en.Policy)
			}
		case "search-query-availability":
			if en.Policy.Name != "gentle" {
				t.Errorf("search policy %q; want gentle from the manifest's slod.dev/policy", en.Policy.Name)
			}
		}
		ev, err := burnrate.NewEvaluator(burnrate.Options{Spec: en.Spec, Policy: en.Policy, Step: time.Minute})
		if err != nil || ev == nil {
			t.Errorf("%s: evaluator: %v", en.Spec.ID, err)
		}
	}
}
