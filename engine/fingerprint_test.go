package engine

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// TestFingerprintCoversTheCountsNotTheObjective: the rings hold per-step
// counts, so a new objective keeps them (only budget figures change), while
// a new window or step makes them mean something else.
func TestFingerprintCoversTheCountsNotTheObjective(t *testing.T) {
	set, diags := slo.Check(filepath.Join("..", "examples", "slos", "checkout-availability.yaml"))
	if slo.HasErrors(diags) || len(set.SLOs) != 1 {
		t.Fatalf("example: %v", diags)
	}
	base := *set.SLOs[0]
	fp := Fingerprint(&base, time.Minute)
	for _, tc := range []struct {
		name string
		mod  func(s *slo.Spec)
		step time.Duration
		same bool
	}{
		{"a new objective keeps the fingerprint", func(s *slo.Spec) { s.Objective = 99.5 }, time.Minute, true},
		{"a new window changes it", func(s *slo.Spec) { s.Window = 7 * 24 * time.Hour }, time.Minute, false},
		{"a new step changes it", func(s *slo.Spec) {}, 30 * time.Second, false},
		{"a new group_by changes it", func(s *slo.Spec) { s.GroupBy = []string{"route"} }, time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.mod(&spec)
			if got := Fingerprint(&spec, tc.step) == fp; got != tc.same {
				t.Errorf("same fingerprint %v, want %v", got, tc.same)
			}
		})
	}
}
