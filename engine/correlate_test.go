package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/source"
)

// depFixture is 3h of 15s scrapes of requests_total per service (several
// samples per 1m step: the in-process engine needs them, FACTS.md): 1000
// good requests a minute, and 1000 failed ones a minute while the service
// fails (minutes [from, to) of its outages).
func depFixture(t *testing.T, outages map[string][][2]int) *source.Embedded {
	t.Helper()
	const scrapes = 180 * 4
	var b strings.Builder
	for svc, ivs := range outages {
		fmt.Fprintf(&b, "requests_total{svc=%q,code=\"200\"} 0+250x%d\n", svc, scrapes)
		var vals []string
		errs := 0
		for i := 0; i <= scrapes; i++ {
			vals = append(vals, fmt.Sprint(errs))
			for _, iv := range ivs {
				if i >= iv[0]*4 && i < iv[1]*4 {
					errs += 250
				}
			}
		}
		fmt.Fprintf(&b, "requests_total{svc=%q,code=\"500\"} %s\n", svc, strings.Join(vals, " "))
	}
	emb := source.NewEmbedded()
	if err := emb.LoadSeries(start, 15*time.Second, b.String()); err != nil {
		t.Fatal(err)
	}
	return emb
}

// depCatalogue writes one SLO per service, depending on deps[service],
// with a page-only policy so incidents end soon after the outage.
func depCatalogue(t *testing.T, deps map[string][]string) *Catalogue {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"policy.yaml": `version: slod/v1
kind: Policy
name: pages
rows:
  - {severity: page, long: 1h, short: 5m, budget_percent: 2}
  - {severity: page, long: 6h, short: 30m, budget_percent: 5}
`}
	for svc, ups := range deps {
		dep := ""
		if len(ups) > 0 {
			dep = "depends_on: [" + strings.Join(ups, ", ") + "]\n"
		}
		files[svc+".yaml"] = fmt.Sprintf(`version: slod/v1
service: %[1]s
%[2]sslos:
  - name: availability
    objective: 99.9
    policy: pages
    annotations:
      runbook: https://runbooks.example.com/%[1]s
    sli:
      events:
        error_query: sum(rate(requests_total{svc="%[1]s",code="500"}[{{.window}}]))
        total_query: sum(rate(requests_total{svc="%[1]s"}[{{.window}}]))
`, svc, dep)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := Load(dir)
	if cat.HasErrors() {
		t.Fatalf("catalogue: %v", cat.Diagnostics)
	}
	return cat
}

// TestCorrelationOnePagePerRootCause ticks the engine minute by minute
// through outages and collects the changes that reach receivers.
func TestCorrelationOnePagePerRootCause(t *testing.T) {
	chain := map[string][]string{"payments": nil, "checkout": {"payments"}, "gateway": {"checkout"}}
	diamond := map[string][]string{"bottom": nil, "left": {"bottom"}, "right": {"bottom"}, "top": {"left", "right"}}
	both := func(svcs ...string) map[string][][2]int {
		m := map[string][][2]int{}
		for _, s := range svcs {
			m[s] = [][2]int{{120, 150}}
		}
		return m
	}
	for _, c := range []struct {
		name     string
		deps     map[string][]string
		outages  map[string][][2]int
		pages    []string
		symptoms map[string]string
	}{
		{"a three-level chain failing from its bottom pages once, for payments",
			chain, both("payments", "checkout", "gateway"), []string{"payments-availability"},
			map[string]string{"checkout-availability": "payments-availability", "gateway-availability": "payments-availability"}},
		{"a diamond failing from its bottom pages once, for bottom",
			diamond, both("bottom", "left", "right", "top"), []string{"bottom-availability"},
			map[string]string{"left-availability": "bottom-availability", "right-availability": "bottom-availability", "top-availability": "bottom-availability"}},
		{"a chain failing in its middle pages for checkout only",
			chain, both("checkout", "gateway"), []string{"checkout-availability"},
			map[string]string{"gateway-availability": "checkout-availability"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for svc := range c.deps {
				if c.outages[svc] == nil {
					c.outages[svc] = nil
				}
			}
			e, err := New(Options{Querier: depFixture(t, c.outages)})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.Apply(depCatalogue(t, c.deps), start); err != nil {
				t.Fatal(err)
			}
			var paged []string
			for m := 100; m <= 180; m++ {
				res := e.Tick(context.Background(), start.Add(time.Duration(m)*time.Minute))
				if err := res.Err(); err != nil {
					t.Fatal(err)
				}
				for _, ch := range res.Changes {
					if !ch.Silent() && ch.Kind == burnrate.ChangeOpened {
						paged = append(paged, ch.Incident.SLO)
					}
				}
			}
			if !slices.Equal(paged, c.pages) {
				t.Errorf("pages opened: %v, want %v", paged, c.pages)
			}
			recent := append(e.Recent(), e.Open()...)
			for sym, root := range c.symptoms {
				i := slices.IndexFunc(recent, func(inc burnrate.Incident) bool { return inc.SLO == sym })
				if i < 0 {
					t.Errorf("%s: no incident", sym)
					continue
				}
				if inc := recent[i]; inc.CausedBy == nil || inc.CausedBy.SLO != root || inc.Paged {
					t.Errorf("%s: caused_by %+v, paged %v; want caused by %s, not paged", sym, inc.CausedBy, inc.Paged, root)
				}
			}
		})
	}
}

// TestEvaluationOrderPutsRootsFirst: the engine evaluates every SLO after
// the SLOs it depends on, whatever their ids.
func TestEvaluationOrderPutsRootsFirst(t *testing.T) {
	e, err := New(Options{Querier: depFixture(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Apply(depCatalogue(t, map[string][]string{"a-gateway": {"b-checkout"}, "b-checkout": {"c-payments"}, "c-payments": nil}), start); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range e.order {
		got = append(got, e.ids[i])
	}
	if want := []string{"c-payments-availability", "b-checkout-availability", "a-gateway-availability"}; !slices.Equal(got, want) {
		t.Errorf("evaluation order %v, want %v", got, want)
	}
}
