package slo

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/want.txt from the current diagnostics")

// brief renders diagnostics as "file:line:col: severity RULE" with paths
// relative to dir, the form of testdata/bad/want.txt.
func brief(t *testing.T, dir string, diags []Diagnostic) []string {
	t.Helper()
	out := make([]string, 0, len(diags))
	for _, d := range diags {
		rel, err := filepath.Rel(dir, d.Pos.File)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d:%d: %s %s", filepath.ToSlash(rel), d.Pos.Line, d.Pos.Column, d.Severity, d.Rule))
	}
	return out
}

func TestEveryExampleLoadsAndLintsClean(t *testing.T) {
	const dir = "../examples/slos"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 6 {
		t.Fatalf("examples/slos holds %d files, want at least 6", len(entries))
	}
	formats := map[Format]bool{}
	kinds := map[SLIKind]bool{}
	grouped := false
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			set, diags := Check(path)
			for _, d := range diags {
				// Policies and the services of depends_on may live in
				// another file of the directory, checked as a whole below.
				if d.Rule != RuleUnknownPolicy && d.Rule != RuleDependencyUnknown {
					t.Errorf("%s", d)
				}
			}
			if len(set.SLOs)+len(set.Policies) == 0 {
				t.Errorf("%s defines nothing", path)
			}
			for _, s := range set.SLOs {
				formats[s.Format] = true
				kinds[s.SLI.Kind()] = true
				grouped = grouped || len(s.GroupBy) > 0
				if s.ErrorQuery() == "" {
					t.Errorf("%s: no error query", s.ID)
				}
			}
		})
	}
	// The whole directory at once: ids unique across files, policies resolved.
	set, diags := Check(dir)
	for _, d := range diags {
		t.Errorf("%s", d)
	}
	if len(formats) != 3 || len(kinds) != 3 || !grouped {
		t.Errorf("examples cover formats %v, SLI kinds %v, group_by %v: want all three formats, all three kinds and a group_by SLO", formats, kinds, grouped)
	}
	var ids []string
	for _, s := range set.SLOs {
		ids = append(ids, s.ID)
	}
	// Other packages' tests and the demo use these ids: keep them stable.
	want := []string{
		"api-gateway-route-availability", "catalog-availability", "checkout-availability",
		"checkout-latency", "payments-requests-availability", "payments-requests-latency",
		"search-probe-availability",
	}
	slices.Sort(ids)
	if !slices.Equal(ids, want) {
		t.Errorf("example ids = %v, want %v", ids, want)
	}
}

func TestBadFixturesReportEveryRuleAtItsPosition(t *testing.T) {
	const dir = "testdata/bad"
	_, diags := Check(dir)
	got := brief(t, dir, diags)
	wantFile := filepath.Join(dir, "want.txt")
	data, err := os.ReadFile(wantFile)
	if err != nil {
		t.Fatal(err)
	}
	// want.txt holds what `sloctl lint` reports (cmd/sloctl's test reads
	// it too), so also the lines of SLO rules that need the resolved
	// policy and that burnrate.Lint reports (SLO014): they are not ours.
	elsewhere := map[string]bool{RuleRunbook: true}
	ruleOf := func(line string) string { return line[strings.LastIndex(line, " ")+1:] }
	var want, theirs []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if elsewhere[ruleOf(l)] {
			theirs = append(theirs, l)
		} else {
			want = append(want, l)
		}
	}
	if *update {
		all := append(slices.Clone(got), theirs...)
		slices.SortStableFunc(all, compareBrief)
		if err := os.WriteFile(wantFile, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("diagnostics differ from %s (run go test ./slo -run %s -update after checking them)\ngot:\n%s\nwant:\n%s",
			wantFile, t.Name(), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Every rule documented in docs/lint.md has a bad fixture, and every
	// rule reported is documented.
	doc, err := os.ReadFile("../docs/lint.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## ((?:SLO|DEP)\d{3})`).FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 18 {
		t.Fatalf("docs/lint.md documents %d rules, want at least 18", len(documented))
	}
	reported := map[string]bool{}
	for _, d := range diags {
		reported[d.Rule] = true
		if !documented[d.Rule] {
			t.Errorf("rule %s is reported but not documented in docs/lint.md", d.Rule)
		}
	}
	for _, l := range theirs {
		reported[ruleOf(l)] = true
	}
	for id := range documented {
		if !reported[id] {
			t.Errorf("rule %s is documented but no bad fixture triggers it", id)
		}
	}
}

// compareBrief orders lines of want.txt as SortDiagnostics orders
// diagnostics: by file, line, column, then rule.
func compareBrief(a, b string) int {
	key := func(l string) (string, int, int, string) {
		f := strings.SplitN(l, ":", 4)
		line, _ := strconv.Atoi(f[1])
		col, _ := strconv.Atoi(f[2])
		return f[0], line, col, l[strings.LastIndex(l, " ")+1:]
	}
	af, al, ac, ar := key(a)
	bf, bl, bc, br := key(b)
	return cmp.Or(cmp.Compare(af, bf), cmp.Compare(al, bl), cmp.Compare(ac, bc), cmp.Compare(ar, br))
}

func TestGoodFixturesLintClean(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			set, diags := Check(f)
			for _, d := range diags {
				t.Errorf("%s", d)
			}
			if len(set.SLOs)+len(set.Policies) == 0 {
				t.Errorf("nothing loaded")
			}
		})
	}
}

func TestAMultiDocumentFileLoadsEveryGoodDocument(t *testing.T) {
	set, diags := Load("testdata/bad/multi-document.yaml")
	if len(diags) != 1 || diags[0].Rule != RuleUnknownField || diags[0].Pos.Line != 15 {
		t.Fatalf("diagnostics = %v, want one SLO002 at line 15", diags)
	}
	var ids []string
	for _, s := range set.SLOs {
		ids = append(ids, s.ID)
	}
	if want := []string{"inventory-availability", "inventory-latency"}; !slices.Equal(ids, want) {
		t.Errorf("loaded %v, want %v (the bad second document skipped, the third read)", ids, want)
	}
}

// normalized drops what legitimately differs between formats: where the
// SLO was read from.
func normalized(s *Spec) Spec {
	c := *s
	c.Format, c.Pos, c.FieldPos = "", Position{}, nil
	if len(c.DependsOn) > 0 {
		c.DependsOn = slices.Clone(c.DependsOn)
		for i := range c.DependsOn {
			c.DependsOn[i].Pos = Position{}
		}
	} else {
		c.DependsOn = nil
	}
	return c
}

func TestTheSameSLOInThreeFormatsYieldsTheSameModel(t *testing.T) {
	load := func(path string) *Spec {
		t.Helper()
		set, diags := Load(path)
		if len(diags) != 0 || len(set.SLOs) != 1 {
			t.Fatalf("%s: %d SLOs, diagnostics %v", path, len(set.SLOs), diags)
		}
		return set.SLOs[0]
	}
	native := load("testdata/formats/native.yaml")
	want := Spec{
		ID: "checkout-availability", Name: "availability", Service: "checkout",
		Description: "Checkout API requests that do not fail with a server error.",
		Objective:   99.9, Window: 30 * 24 * time.Hour,
		SLI: SLI{Events: &EventsSLI{
			ErrorQuery: `sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))`,
			TotalQuery: `sum(rate(http_requests_total{job="checkout"}[{{.window}}]))`,
		}},
		Labels: map[string]string{"team": "payments", "criticality": "gold"},
	}
	if got := normalized(native); !reflect.DeepEqual(got, want) {
		t.Fatalf("native model:\n got %+v\nwant %+v", got, want)
	}
	for _, f := range []string{"sloth.yaml", "openslo.yaml", "openslo-target.yaml"} {
		s := load("testdata/formats/" + f)
		if got := normalized(s); !reflect.DeepEqual(got, want) {
			t.Errorf("%s model differs from the native one:\n got %+v %+v\nwant %+v %+v", f, got, got.SLI.Events, want, want.SLI.Events)
		}
	}
}

func TestSlothFieldsMapFaithfully(t *testing.T) {
	set, diags := Load("../examples/slos/payments-sloth.yaml")
	if len(diags) != 0 || len(set.SLOs) != 2 {
		t.Fatalf("%d SLOs, diagnostics %v", len(set.SLOs), diags)
	}
	avail, lat := set.SLOs[0], set.SLOs[1]
	if avail.ID != "payments-requests-availability" || avail.Window != DefaultWindow || avail.Objective != 99.95 || avail.Format != FormatSloth {
		t.Errorf("availability: id %q window %v objective %v format %q", avail.ID, avail.Window, avail.Objective, avail.Format)
	}
	wantAlerting := Alerting{
		Name:        "PaymentsAvailabilityBurn",
		Labels:      map[string]string{"category": "availability"},
		Annotations: map[string]string{"summary": "Payment authorisations are failing", "runbook": "https://runbooks.example.com/payments/availability"},
		Page:        AlertClass{Labels: map[string]string{"routing": "payments-pager"}},
		Ticket:      AlertClass{Labels: map[string]string{"routing": "payments-tickets"}},
	}
	if !reflect.DeepEqual(avail.Alerting, wantAlerting) {
		t.Errorf("alerting:\n got %+v\nwant %+v", avail.Alerting, wantAlerting)
	}
	if want := map[string]string{"team": "payments", "owner": "payments-oncall"}; !reflect.DeepEqual(avail.Labels, want) {
		t.Errorf("labels %v, want %v (service labels on every SLO)", avail.Labels, want)
	}
	if !lat.Alerting.Ticket.Disabled || lat.Alerting.Page.Disabled {
		t.Errorf("latency: ticket disabled %v, page disabled %v; want true, false", lat.Alerting.Ticket.Disabled, lat.Alerting.Page.Disabled)
	}
	if !strings.Contains(lat.SLI.Events.ErrorQuery, `le="0.5"`) {
		t.Errorf("latency error query %q", lat.SLI.Events.ErrorQuery)
	}
}

func TestPolicyDocumentsLoadIntoTheModel(t *testing.T) {
	set, diags := Load("../examples/slos/policies.yaml")
	if len(diags) != 0 || len(set.Policies) != 1 {
		t.Fatalf("%d policies, diagnostics %v", len(set.Policies), diags)
	}
	p := set.Policies[0]
	if p.Name != "slow-burn" || len(p.Rows) != 2 {
		t.Fatalf("policy %+v", p)
	}
	r := p.Rows[1]
	if r.Severity != "ticket" || r.Long != 72*time.Hour || r.Short != 6*time.Hour || r.BudgetPercent != 10 || r.Pos.Line != 13 {
		t.Errorf("row 2 = %+v", r)
	}
}

func TestNoDataSettingsLoadIntoTheModel(t *testing.T) {
	set, diags := Check("testdata/good/no-data.yaml")
	if len(diags) != 0 || len(set.SLOs) != 2 {
		t.Fatalf("%d SLOs, diagnostics %v", len(set.SLOs), diags)
	}
	a, l := set.SLOs[0].Alerting, set.SLOs[1].Alerting
	want := Collapse{BelowPercent: 10, Baseline: 7 * 24 * time.Hour, Periods: 4}
	if a.NoData != 20*time.Minute || a.Idle != IdleAlert || a.Collapse == nil || *a.Collapse != want {
		t.Errorf("availability alerting = %+v, collapse %+v", a, a.Collapse)
	}
	// Defaults: no delay of its own, idle ignored, a 1w baseline of one period.
	want = Collapse{BelowPercent: 5, Baseline: DefaultCollapseBaseline, Periods: 1}
	if l.NoData != 0 || l.Idle != IdleIgnore || l.Collapse == nil || *l.Collapse != want {
		t.Errorf("latency alerting = %+v, collapse %+v", l, l.Collapse)
	}
	if p := set.SLOs[0].PosOf("alerting.collapse.periods"); p.Line != 20 || p.Column != 18 {
		t.Errorf("periods at %s, want line 20 col 18", p)
	}
}

func TestUnknownNestedFieldsAreRejectedAtTheirPosition(t *testing.T) {
	cases := []struct {
		name, yaml string
		line, col  int
	}{
		{"a key inside alerting.page", `version: slod/v1
service: s
slos:
  - name: n
    objective: 99
    sli: {raw: {error_ratio_query: "x[{{.window}}]"}}
    alerting:
      page:
        disabled: true
`, 9, 9},
		{"a key inside a Sloth page_alert", `version: prometheus/v1
service: s
slos:
  - name: n
    objective: 99
    sli: {raw: {error_ratio_query: "x[{{.window}}]"}}
    alerting:
      page_alert: {labels: {}, annotation: {}}
`, 8, 32},
		{"a key inside an OpenSLO metricSource spec", `apiVersion: openslo/v1
kind: SLO
metadata: {name: s-n}
spec:
  service: s
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: x, promql: y}}}
        total: {metricSource: {type: Prometheus, spec: {query: x}}}
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
`, 10, 65},
		{"a key inside alerting.collapse", `version: slod/v1
service: s
slos:
  - name: n
    objective: 99
    sli: {raw: {error_ratio_query: "x[{{.window}}]"}}
    alerting:
      collapse: {below_percent: 10, offset: 1w}
`, 8, 37},
		{"a key in a policy row", `version: slod/v1
kind: Policy
name: p
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2, for: 2m}
`, 5, 62},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, diags := LoadBytes("f.yaml", []byte(c.yaml))
			if len(diags) != 1 || diags[0].Rule != RuleUnknownField || diags[0].Pos.Line != c.line || diags[0].Pos.Column != c.col {
				t.Fatalf("diagnostics %v, want one %s at %d:%d", diags, RuleUnknownField, c.line, c.col)
			}
			if len(set.SLOs)+len(set.Policies) != 0 {
				t.Errorf("the bad definition was loaded anyway")
			}
		})
	}
}

func TestGarbageInputGivesAClearErrorAndNoPanic(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i/13) // deterministic bytes covering every value
	}
	big := bytes.Repeat([]byte("# padding line of a file far too large to be an SLO file\n"), 10<<20/56)
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepMap := strings.Repeat("{a: ", 20000) + "1" + strings.Repeat("}", 20000)
	var bomb strings.Builder
	bomb.WriteString("a: &a [x, x, x, x, x, x, x, x, x, x]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		fmt.Fprintf(&bomb, "%s: &%s [%s]\n", n, n, strings.TrimSuffix(strings.Repeat("*"+prev+", ", 10), ", "))
		prev = n
	}
	bomb.WriteString("version: slod/v1\nservice: *i\nslos: *i\n")
	cases := []struct {
		name    string
		data    []byte
		message string
	}{
		{"binary data", random, "not UTF-8 text"},
		{"a 10 MB file", big, "larger than 4 MiB"},
		{"deeply nested lists", []byte(deep), "max depth"},
		{"deeply nested mappings", []byte(deepMap), "max depth"},
		{"an empty file", nil, "file is empty"},
		{"only whitespace", []byte("  \n\n\t\n"), "file is empty"},
		{"only comments", []byte("# nothing here\n---\n# nor here\n"), "no YAML documents"},
		{"a scalar document", []byte("just some text\n"), "must be a mapping"},
		{"a NUL byte in text", []byte("version: slod/v1\nservice: a\x00b\n"), "not UTF-8 text"},
		{"an alias bomb", []byte(bomb.String()), "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			set, diags := Check(path)
			if len(set.SLOs) != 0 || !HasErrors(diags) {
				t.Fatalf("loaded %d SLOs, diagnostics %v: want an error and nothing loaded", len(set.SLOs), diags)
			}
			if !strings.Contains(diags[0].Message, c.message) || diags[0].Pos.File != path {
				t.Errorf("first diagnostic %q, want a message containing %q at %s", diags[0], c.message, path)
			}
		})
	}
}

func TestMissingPathsAreReported(t *testing.T) {
	set, diags := Load(filepath.Join(t.TempDir(), "nope"))
	if len(set.SLOs) != 0 || len(diags) != 1 || diags[0].Rule != RuleYAML || !strings.Contains(diags[0].Message, "no such file") {
		t.Fatalf("diagnostics %v", diags)
	}
}

func TestDirectoriesAreWalkedForYAMLFilesOnly(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile("testdata/formats/native.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("team-a/checkout.yaml", good)
	write("team-b/deep/orders.yml", bytes.ReplaceAll(good, []byte("service: checkout"), []byte("service: orders")))
	write("README.md", []byte("not yaml: ["))
	write(".git/config.yaml", []byte("not: [yaml"))
	set, diags := Load(dir)
	if len(diags) != 0 || len(set.SLOs) != 2 {
		t.Fatalf("%d SLOs, diagnostics %v; want both YAML files read, nothing else", len(set.SLOs), diags)
	}
	if set.SLOs[0].ID != "checkout-availability" || set.SLOs[1].ID != "orders-availability" {
		t.Errorf("ids %s, %s", set.SLOs[0].ID, set.SLOs[1].ID)
	}
}

func TestSkipBadFilesKeepsTheGoodOnes(t *testing.T) {
	set, diags := Check("../examples/slos", "testdata/bad/slo007-window.yaml", "testdata/bad/slo014-runbook.yaml")
	kept := set.SkipBadFiles(diags)
	if len(kept.SLOs) != len(set.SLOs)-2 {
		t.Fatalf("kept %d of %d SLOs, want all but the two of slo007-window.yaml", len(kept.SLOs), len(set.SLOs))
	}
	for _, s := range kept.SLOs {
		if strings.Contains(s.Pos.File, "slo007") {
			t.Errorf("kept %s from a file with errors", s.ID)
		}
	}
	if len(kept.Policies) != 1 {
		t.Errorf("kept %d policies, want 1", len(kept.Policies))
	}
}

func TestDiagnosticString(t *testing.T) {
	d := Diagnostic{Pos: Position{File: "slos/a.yaml", Line: 3, Column: 14}, Severity: SeverityWarning, Rule: RuleRunbook, Message: "no runbook"}
	if got, want := d.String(), "slos/a.yaml:3:14: warning SLO014: no runbook"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDurationsArePrometheusStyle(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "1h30m": 90 * time.Minute, "4w2d": 30 * 24 * time.Hour, "90s": 90 * time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseDuration(FormatDuration(got)); back != got {
			t.Errorf("FormatDuration(%v) = %q does not parse back", got, FormatDuration(got))
		}
	}
	for _, in := range []string{"", "30 days", "1.5h", "-1h", "0s", "1h 30m"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func TestNonRegularFilesAreNotRead(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	set, diags := Load(dir) // must not block on the FIFO
	if len(set.SLOs) != 0 || len(diags) != 0 {
		t.Errorf("directory walk: %d SLOs, diagnostics %v", len(set.SLOs), diags)
	}
	if _, diags := Load(fifo); len(diags) != 1 || !strings.Contains(diags[0].Message, "not a regular file") {
		t.Errorf("explicit FIFO: diagnostics %v", diags)
	}
	if diags := Validate(nil); diags != nil {
		t.Errorf("Validate(nil) = %v", diags)
	}
}
