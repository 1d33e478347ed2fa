package slo

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// corpusFiles are the files of every corpus the loaders are tested on
// (slo/testdata but the bad fixtures, and examples/slos), grouped by
// directory, since an SLO may name a policy of another file of its directory.
func corpusFiles(t *testing.T) map[string][]string {
	t.Helper()
	dirs := map[string][]string{}
	for _, root := range []string{"testdata", "../examples/slos"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "bad" {
				return filepath.SkipDir
			}
			if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				dirs[filepath.Dir(path)] = append(dirs[filepath.Dir(path)], path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// comparable drops what legitimately differs between a file and its
// conversion (where things were read from, the format) and treats empty
// maps as absent.
func comparable(s *Spec) Spec {
	c := normalized(s)
	empty := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	c.Labels, c.Annotations = empty(c.Labels), empty(c.Annotations)
	c.Alerting.Labels, c.Alerting.Annotations = empty(c.Alerting.Labels), empty(c.Alerting.Annotations)
	c.Alerting.Page.Labels, c.Alerting.Page.Annotations = empty(c.Alerting.Page.Labels), empty(c.Alerting.Page.Annotations)
	c.Alerting.Ticket.Labels, c.Alerting.Ticket.Annotations = empty(c.Alerting.Ticket.Labels), empty(c.Alerting.Ticket.Annotations)
	if len(c.GroupBy) == 0 {
		c.GroupBy = nil
	}
	return c
}

// withoutGroupByService drops the SLO018 errors of group_by service.
func withoutGroupByService(diags []Diagnostic) []Diagnostic {
	return slices.DeleteFunc(slices.Clone(diags), func(d Diagnostic) bool {
		return d.Rule == RuleReservedLabel && d.Severity == SeverityError && strings.Contains(d.Message, `group_by label "service"`)
	})
}

func errorRules(diags []Diagnostic) []string {
	var rules []string
	for _, d := range diags {
		if d.Severity == SeverityError {
			rules = append(rules, d.Rule)
		}
	}
	slices.Sort(rules)
	return rules
}

// of returns the SLOs and policies of set read from file.
func of(set *Set, file string) ([]*Spec, []*PolicySpec) {
	var specs []*Spec
	var policies []*PolicySpec
	for _, s := range set.SLOs {
		if s.Pos.File == file {
			specs = append(specs, s)
		}
	}
	for _, p := range set.Policies {
		if p.Pos.File == file {
			policies = append(policies, p)
		}
	}
	return specs, policies
}

func TestConvertEveryCorpusFileToNativeAndBackYieldsTheSameModel(t *testing.T) {
	for dir, files := range corpusFiles(t) {
		out := t.TempDir()
		// The directory is loaded at once, as sloctl convert loads its
		// inputs, so references between its files resolve (OpenSLO).
		set, diags := Load(files...)
		bad := map[string]bool{}
		for _, d := range diags {
			if d.Severity == SeverityError {
				bad[d.Pos.File] = true
			}
		}
		var good []string
		// Files with an SLO grouped by service, which slod/v1 cannot
		// express: their conversion keeps group_by and fails lint (SLO018),
		// as the loss says.
		serviceGrouped := map[string]bool{}
		for _, file := range files {
			t.Run(file, func(t *testing.T) {
				if bad[file] {
					t.Skipf("does not load: %v", diags)
				}
				good = append(good, file)
				specs, policies := of(set, file)
				var buf bytes.Buffer
				losses, err := WriteNative(&buf, specs, policies, WriteOptions{Comments: ReadComments(file)})
				if err != nil {
					t.Fatal(err)
				}
				renamed := map[string]bool{}
				for _, l := range losses {
					switch {
					case l.Field == "group_by" && slices.ContainsFunc(specs, func(s *Spec) bool { return s.ID == l.SLO && s.ServiceFromInstance() }):
						// slod/v1 refuses group_by service (SLO018): below.
						serviceGrouped[file] = true
					case l.Field != "id":
						t.Errorf("unexpected loss converting to slod/v1: %s", l)
					default:
						renamed[l.SLO] = true
					}
				}
				conv := filepath.Join(out, filepath.Base(file))
				if err := os.WriteFile(conv, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				back, diags := Load(conv)
				if serviceGrouped[file] {
					diags = withoutGroupByService(diags)
				}
				if HasErrors(diags) {
					t.Fatalf("the conversion does not load: %v\n%s", diags, buf.String())
				}
				if len(back.SLOs) != len(specs) || len(back.Policies) != len(policies) {
					t.Fatalf("%d SLOs and %d policies back, want %d and %d\n%s", len(back.SLOs), len(back.Policies), len(specs), len(policies), buf.String())
				}
				got := map[string]*Spec{}
				for _, s := range back.SLOs {
					if s.Format != FormatNative {
						t.Errorf("%s: format %q", s.ID, s.Format)
					}
					got[s.ID] = s
				}
				for _, s := range specs {
					want := comparable(s)
					if renamed[s.ID] {
						want.ID = s.Service + "-" + s.Name
					}
					g, ok := got[want.ID]
					if !ok {
						t.Errorf("SLO %s is missing from the conversion (have %v)", want.ID, slices.Sorted(maps.Keys(got)))
						continue
					}
					if c := comparable(g); !reflect.DeepEqual(c, want) {
						t.Errorf("SLO %s differs after conversion:\n got %+v\nwant %+v\n%s", want.ID, c, want, buf.String())
					}
				}
				for i, p := range policies {
					if q := back.Policies[i]; q.Name != p.Name || len(q.Rows) != len(p.Rows) {
						t.Errorf("policy %s came back as %+v", p.Name, q)
						continue
					}
					for j, r := range p.Rows {
						q := back.Policies[i].Rows[j]
						r.Pos, q.Pos = Position{}, Position{}
						if r != q {
							t.Errorf("policy %s row %d: got %+v, want %+v", p.Name, j+1, q, r)
						}
					}
				}
				// Linting the file alone finds no more errors after than
				// before (none, or a policy another file defines; an
				// OpenSLO reference to another file is resolved by now).
				_, before := Check(file)
				_, after := Check(conv)
				if serviceGrouped[file] {
					after = withoutGroupByService(after)
				}
				if b, a := errorRules(before), errorRules(after); len(a) > len(b) {
					t.Errorf("lint errors differ: %v before, %v after: %v\n%s", b, a, after, buf.String())
				}
			})
		}
		// The directory's good files, converted one by one, lint as the
		// originals do.
		if len(good) == 0 {
			continue
		}
		_, before := Check(good...)
		_, after := Check(out)
		if len(serviceGrouped) > 0 {
			after = withoutGroupByService(after)
		}
		if b, a := errorRules(before), errorRules(after); !slices.Equal(b, a) {
			t.Errorf("%s: lint errors differ: %v before, %v after: %v", dir, b, a, after)
		}
	}
}

func TestConvertNativeToOpenSLOAndBackKeepsWhatOpenSLOExpresses(t *testing.T) {
	for _, files := range corpusFiles(t) {
		set, diags := Load(files...)
		bad := map[string]bool{}
		for _, d := range diags {
			if d.Severity == SeverityError {
				bad[d.Pos.File] = true
			}
		}
		for _, file := range files {
			t.Run(file, func(t *testing.T) {
				if bad[file] {
					t.Skipf("does not load: %v", diags)
				}
				specs, policies := of(set, file)
				var buf bytes.Buffer
				losses, err := WriteOpenSLO(&buf, specs, policies, WriteOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(policies) > 0 && len(losses) == 0 {
					t.Error("policies are not written to OpenSLO, yet no loss was reported")
				}
				if len(specs) == 0 {
					return
				}
				back, diags := LoadBytes(file+".openslo.yaml", buf.Bytes())
				for _, d := range diags {
					if d.Severity == SeverityError {
						t.Errorf("the OpenSLO conversion does not load: %s\n%s", d, buf.String())
					}
				}
				got := map[string]*Spec{}
				for _, s := range back.SLOs {
					got[s.ID] = s
				}
				for _, s := range specs {
					want := comparable(s)
					want.Name = strings.TrimPrefix(s.ID, s.Service+"-")
					if want.Name == "" {
						want.Name = s.ID
					}
					g, ok := got[s.ID]
					if !ok {
						t.Errorf("SLO %s is missing from the OpenSLO conversion: %v\n%s", s.ID, diags, buf.String())
						continue
					}
					if l := s.SLI.Latency; l != nil {
						good, total := latencyQueries(l, s.GroupBy)
						want.SLI = SLI{Events: &EventsSLI{ErrorQuery: "(" + total + ") - (" + good + ")", TotalQuery: total}}
					}
					if c := comparable(g); !reflect.DeepEqual(c, want) {
						t.Errorf("SLO %s differs after OpenSLO and back:\n got %+v\nwant %+v\n%s", s.ID, c, want, buf.String())
					}
				}
			})
		}
	}
}

func TestConvertCarriesCommentsOver(t *testing.T) {
	const src = `# Payments SLOs.
version: "prometheus/v1"
service: payments  # the billing service
slos:
  # Availability: authorisations without a server error.
  - name: availability
    objective: 99.9  # agreed with product
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      page_alert:
        labels:
          routing: pager # the pager route
---
# Checkout errors, as Pyrra reads them.
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-errors
  namespace: checkout
spec:
  target: "99.9"
  window: 28d
  indicator:
    ratio:
      errors: {metric: 'http_requests_total{job="checkout",code=~"5.."}'}
      total: {metric: 'http_requests_total{job="checkout"}'}
`
	set, diags := LoadBytes("in.yaml", []byte(src))
	if HasErrors(diags) {
		t.Fatal(diags)
	}
	cm := &Comments{}
	cm.Add("in.yaml", []byte(src))
	var buf bytes.Buffer
	if _, err := WriteNative(&buf, set.SLOs, nil, WriteOptions{Comments: cm}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# Payments SLOs.\n",
		"service: payments # the billing service\n",
		"  # Availability: authorisations without a server error.\n  - name: availability\n",
		"objective: 99.9 # agreed with product\n",
		"      page:\n        labels:\n          routing: pager # the pager route\n",
		"  # Checkout errors, as Pyrra reads them.\n  - name: api-errors\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if _, err := WriteOpenSLO(&buf, set.SLOs, nil, WriteOptions{Comments: cm}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Payments SLOs.\n", "# Availability: authorisations without a server error.\n", "# Checkout errors, as Pyrra reads them.\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("OpenSLO output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestSlodAnnotationsOfOpenSLOAreReadBackOrReported(t *testing.T) {
	const doc = `apiVersion: openslo/v1
kind: SLO
metadata:
  name: shop-availability
  annotations:
    runbook: https://runbooks.example.com/shop
    slod_group_by: route, method
    slod_min_events: "%s"
    slod_policy: default
    slod_alerting: '{name: ShopBurn, no_data: 10m, ticket: {disable: true}}'
spec:
  service: shop
  indicator:
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum by (route, method) (rate(errors_total[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum by (route, method) (rate(requests_total[{{.window}}]))'}}}
  timeWindow: [{duration: 30d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
`
	set, diags := LoadBytes("shop.yaml", []byte(strings.Replace(doc, "%s", "50", 1)))
	if len(diags) != 0 || len(set.SLOs) != 1 {
		t.Fatalf("%d SLOs, %v", len(set.SLOs), diags)
	}
	s := set.SLOs[0]
	if !slices.Equal(s.GroupBy, []string{"route", "method"}) || s.MinEvents != 50 || s.Policy != "default" ||
		s.Alerting.Name != "ShopBurn" || !s.Alerting.Ticket.Disabled || s.Alerting.NoData.Minutes() != 10 {
		t.Errorf("annotations not read back: %+v", s)
	}
	if want := map[string]string{"runbook": "https://runbooks.example.com/shop"}; !reflect.DeepEqual(s.Annotations, want) {
		t.Errorf("annotations %v, want %v", s.Annotations, want)
	}
	if p := s.PosOf("min_events"); p.Line != 8 {
		t.Errorf("min_events at %s, want line 8", p)
	}

	set, diags = LoadBytes("shop.yaml", []byte(strings.Replace(doc, "%s", "many", 1)))
	if len(set.SLOs) != 0 || len(diags) != 1 || diags[0].Rule != RuleInvalidField || diags[0].Pos.Line != 8 {
		t.Errorf("a bad min-events: %d SLOs, %v", len(set.SLOs), diags)
	}
}
