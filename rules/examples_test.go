package rules

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/slo"
)

func loadExamples(t *testing.T) *slo.Set {
	t.Helper()
	set, diags := slo.Check("../examples/slos")
	if slo.HasErrors(diags) || len(set.SLOs) == 0 {
		t.Fatalf("examples/slos: %d SLOs, %v", len(set.SLOs), diags)
	}
	return set
}

// Every example SLO file generates rules that promtool accepts, in one file
// and per service.
func TestExamplesPassPromtoolCheck(t *testing.T) {
	set := loadExamples(t)
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{})
	if err != nil {
		t.Fatal(err)
	}
	main := 0
	for _, g := range f.Groups {
		if !strings.HasSuffix(g.Name, "-budget") {
			main++
		}
	}
	if main != len(set.SLOs) {
		t.Errorf("%d main groups for %d SLOs", main, len(set.SLOs))
	}
	bin := promtool(t)
	dir := t.TempDir()
	var files []string
	for _, svc := range append(f.Services(), "") {
		part := f
		if svc != "" {
			part = f.ForService(svc)
		}
		var buf bytes.Buffer
		if err := part.Encode(&buf, FormatPrometheus); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "all"+svc+".rules.yml")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	out, err := exec.Command(bin, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// Sloth's default alert windows for a 30d SLO (its "page quick/slow" and
// "ticket quick/slow" alerts): long/short window and burn factor.
var slothDefaults30d = []struct {
	severity     string
	long, short  string
	factor       float64
	slothAlertAs string
}{
	{"page", "1h", "5m", 14.4, "page quick"},
	{"page", "6h", "30m", 6, "page slow"},
	{"ticket", "1d", "2h", 3, "ticket quick"},
	{"ticket", "3d", "6h", 1, "ticket slow"},
}

// A Sloth prometheus/v1 file read unchanged alerts with Sloth's default
// windows and factors, under the alert name and labels it gives.
func TestSlothFileGetsSlothDefaultWindowsAndFactors(t *testing.T) {
	set, diags := slo.Check("../examples/slos/payments-sloth.yaml")
	if slo.HasErrors(diags) {
		t.Fatal(diags)
	}
	f, err := Generate(set.SLOs, burnrate.Policies(set), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for _, g := range f.Groups {
		if strings.HasSuffix(g.Name, "-budget") {
			continue
		}
		spec := findSpec(set, g.Name)
		if spec.Format != slo.FormatSloth {
			t.Fatalf("%s: format %q", spec.ID, spec.Format)
		}
		alerts := map[string]Rule{}
		for _, r := range g.Rules {
			if r.Alert == spec.Alerting.Name {
				alerts[r.Labels["tier"]] = r
			}
		}
		for _, d := range slothDefaults30d {
			class := spec.Alerting.Page
			tier := "1"
			if d.severity == "ticket" {
				class, tier = spec.Alerting.Ticket, "2"
			}
			r, ok := alerts[tier]
			if class.Disabled {
				if ok {
					t.Errorf("%s: %s alert generated though Sloth's %s_alert is disabled", spec.ID, d.severity, d.severity)
				}
				continue
			}
			if !ok {
				t.Errorf("%s: no %s alert named %s", spec.ID, d.severity, spec.Alerting.Name)
				continue
			}
			th := formatFloat(d.factor * spec.ErrorBudget())
			for _, w := range []string{d.long, d.short} {
				want := fmt.Sprintf("%s%s{slo=%q} >= %s", ErrorRatio, w, spec.ID, th)
				if !strings.Contains(r.Expr, want) {
					t.Errorf("%s %s (%s): expression lacks %q:\n%s", spec.ID, d.severity, d.slothAlertAs, want, r.Expr)
				}
			}
			for k, v := range class.Labels {
				if r.Labels[k] != v {
					t.Errorf("%s %s: label %s=%q, want Sloth's %q", spec.ID, d.severity, k, r.Labels[k], v)
				}
			}
			checked++
		}
	}
	if checked < 4 {
		t.Errorf("checked %d alert rows, want at least 4", checked)
	}
}

func findSpec(set *slo.Set, group string) *slo.Spec {
	for _, s := range set.SLOs {
		if "slod-"+s.ID == group {
			return s
		}
	}
	panic("no SLO for group " + group)
}
