package burnrate

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/slodhq/slod/slo"
)

// burning maps an SLO id to the minutes [from, to) during which it burns
// 20× its budget (every row of the default policy fires).
type burning map[string][][2]int

// correlated drives a tracker minute by minute over SLOs of one-SLO
// services (service "x" has SLO "x-a" depending on deps[x]), roots first,
// correlating after each SLO as the engine does, and returns every change.
func correlated(t *testing.T, deps map[string][]string, policy slo.DependencyPolicy, grace time.Duration, b burning, minutes int) []Change {
	t.Helper()
	var specs []*slo.Spec
	for svc, ups := range deps {
		s := &slo.Spec{ID: svc + "-a", Name: "a", Service: svc}
		for _, u := range ups {
			s.DependsOn = append(s.DependsOn, slo.Dependency{Service: u})
		}
		specs = append(specs, s)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].ID < specs[j].ID })
	g := slo.NewGraph(specs, policy)
	tr := NewTracker(TrackerOptions{})
	opts := CorrelationOptions{Graph: g, Grace: grace}
	var all []Change
	for m := 0; m <= minutes; m++ {
		for _, id := range g.Order() {
			burn := 0.0
			for _, iv := range b[id] {
				if m >= iv[0] && m < iv[1] {
					burn = 20
				}
			}
			ev := eval(time.Duration(m)*time.Minute, 0.9, uniform(burn))
			changes := tr.Observe(Subject{Key: id + "{}", SLO: id, Window: 30 * day}, ev)
			all = append(all, tr.Correlate(opts, id, changes, ev.At)...)
		}
	}
	return all
}

// pages are the incidents that reached receivers at page severity: SLO id
// and the minute of the change that paged first.
func pages(cs []Change) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cs {
		inc := c.Incident
		id := fmt.Sprintf("%s@%s", inc.SLO, inc.Start.Sub(t0))
		if c.Silent() || c.Kind == ChangeResolved || c.Kind == ChangeSymptoms || inc.Severity != SeverityPage || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, fmt.Sprintf("%s at %s", inc.SLO, c.Incident.Updated.Sub(t0)))
	}
	return out
}

// last returns the newest change of an SLO's incident that started at
// minute start.
func last(t *testing.T, cs []Change, id string, start int) Incident {
	t.Helper()
	var found *Incident
	for i := range cs {
		if c := cs[i].Incident; c.SLO == id && c.Start.Equal(t0.Add(time.Duration(start)*time.Minute)) && c.Class == ClassBurn {
			found = &cs[i].Incident
		}
	}
	if found == nil {
		t.Fatalf("no incident of %s started at minute %d", id, start)
	}
	return *found
}

func TestCorrelateOnePagePerRootCause(t *testing.T) {
	two := map[string][]string{"payments": nil, "checkout": {"payments"}}
	chain := map[string][]string{"payments": nil, "checkout": {"payments"}, "gateway": {"checkout"}}
	diamond := map[string][]string{"bottom": nil, "left": {"bottom"}, "right": {"bottom"}, "top": {"left", "right"}}
	for _, c := range []struct {
		name    string
		deps    map[string][]string
		policy  slo.DependencyPolicy
		b       burning
		want    []string
		symptom map[string]string // symptom SLO → root SLO (incidents starting at minute 0)
	}{
		{"a dependent failing with its upstream does not page; a later failure of its own does, after the grace",
			two, "", burning{"payments-a": {{0, 30}}, "checkout-a": {{0, 30}, {60, 80}}},
			[]string{"payments-a at 0s", "checkout-a at 1h2m0s"}, map[string]string{"checkout-a": "payments-a"}},
		{"a three-level chain pages once, every symptom names the root",
			chain, "", burning{"payments-a": {{0, 30}}, "checkout-a": {{0, 30}}, "gateway-a": {{0, 30}}},
			[]string{"payments-a at 0s"}, map[string]string{"checkout-a": "payments-a", "gateway-a": "payments-a"}},
		{"a diamond pages once for its bottom",
			diamond, "", burning{"bottom-a": {{0, 30}}, "left-a": {{0, 30}}, "right-a": {{0, 30}}, "top-a": {{0, 30}}},
			[]string{"bottom-a at 0s"}, map[string]string{"left-a": "bottom-a", "right-a": "bottom-a", "top-a": "bottom-a"}},
		{"a diamond with two independent causes pages for each (after the grace: they depend on bottom), the top under the first",
			diamond, "", burning{"left-a": {{0, 30}}, "right-a": {{1, 30}}, "top-a": {{1, 30}}},
			[]string{"left-a at 2m0s", "right-a at 3m0s"}, map[string]string{"top-a": "left-a"}},
		{"a dependent that detects first holds its page and links to the upstream burn within the grace",
			two, "", burning{"payments-a": {{1, 30}}, "checkout-a": {{0, 30}}},
			[]string{"payments-a at 1m0s"}, map[string]string{"checkout-a": "payments-a"}},
		{"an upstream burn that begins after the grace is no cause",
			two, "", burning{"payments-a": {{5, 30}}, "checkout-a": {{0, 30}}},
			[]string{"checkout-a at 2m0s", "payments-a at 5m0s"}, nil},
		{"annotate pages both, the symptom naming its root",
			two, slo.PolicyAnnotate, burning{"payments-a": {{0, 30}}, "checkout-a": {{0, 30}}},
			[]string{"payments-a at 0s", "checkout-a at 0s"}, map[string]string{"checkout-a": "payments-a"}},
		{"off correlates nothing and holds nothing",
			two, slo.PolicyOff, burning{"payments-a": {{0, 30}}, "checkout-a": {{0, 30}}},
			[]string{"payments-a at 0s", "checkout-a at 0s"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs := correlated(t, c.deps, c.policy, DefaultGrace, c.b, 100)
			if got := pages(cs); !slices.Equal(got, c.want) {
				t.Errorf("pages = %q, want %q", got, c.want)
			}
			for sym, root := range c.symptom {
				start := c.b[sym][0][0]
				inc := last(t, cs, sym, start)
				if inc.CausedBy == nil || inc.CausedBy.SLO != root {
					t.Errorf("%s caused_by = %+v, want %s", sym, inc.CausedBy, root)
					continue
				}
				if inc.Paged != (c.policy == slo.PolicyAnnotate) {
					t.Errorf("%s paged = %v under policy %q", sym, inc.Paged, c.policy)
				}
				r := last(t, cs, root, c.b[root][0][0])
				if !slices.ContainsFunc(r.Symptoms, func(s Symptom) bool { return s.SLO == sym }) {
					t.Errorf("root %s lists symptoms %+v, want %s among them", root, r.Symptoms, sym)
				}
				if !r.Paged {
					t.Errorf("root %s did not page", root)
				}
			}
			if c.symptom == nil {
				for _, ch := range cs {
					if ch.Incident.CausedBy != nil {
						t.Fatalf("%s linked to %s", ch.Incident.SLO, ch.Incident.CausedBy.SLO)
					}
				}
			}
			for _, ch := range cs {
				if ch.Kind == ChangeResolved && ch.Incident.Paged && ch.Silent() {
					t.Errorf("the resolve of %s, which paged, is silent", ch.Incident.SLO)
				}
				if ch.Kind == ChangeResolved && !ch.Silent() && ch.Incident.Silent {
					t.Errorf("the resolve of %s, never told, is not silent", ch.Incident.SLO)
				}
			}
		})
	}
}

func TestCorrelateRootResolvesWhileSymptomBurns(t *testing.T) {
	// Payments last fires at 19m and resolves 5m later (its hold-down);
	// checkout burns on until 40m: from 24m it is an incident of its own.
	cs := correlated(t, map[string][]string{"payments": nil, "checkout": {"payments"}}, "", DefaultGrace,
		burning{"payments-a": {{0, 20}}, "checkout-a": {{0, 40}}}, 60)
	if got, want := pages(cs), []string{"payments-a at 0s", "checkout-a at 24m0s"}; !slices.Equal(got, want) {
		t.Fatalf("pages = %q, want %q", got, want)
	}
	inc := last(t, cs, "checkout-a", 0)
	if inc.CausedBy == nil || inc.CausedBy.RootResolved.IsZero() || !inc.Paged || inc.Suppressed {
		t.Errorf("checkout = %+v, want caused_by payments with root_resolved, paged", inc.Correlation)
	}
	// Both recover together: the symptom resolves silently.
	cs = correlated(t, map[string][]string{"payments": nil, "checkout": {"payments"}}, "", DefaultGrace,
		burning{"payments-a": {{0, 30}}, "checkout-a": {{0, 30}}}, 60)
	if got, want := pages(cs), []string{"payments-a at 0s"}; !slices.Equal(got, want) {
		t.Fatalf("pages = %q, want %q", got, want)
	}
	for _, c := range cs {
		if c.Incident.SLO == "checkout-a" && !c.Silent() && c.Kind != ChangeSymptoms {
			t.Errorf("checkout change %s reached receivers", c.Kind)
		}
	}
}

func TestCorrelateTicketRootDoesNotHideAPage(t *testing.T) {
	g := slo.NewGraph([]*slo.Spec{{ID: "payments-a", Service: "payments"},
		{ID: "checkout-a", Service: "checkout", DependsOn: []slo.Dependency{{Service: "payments"}}}}, "")
	tr := NewTracker(TrackerOptions{})
	opts := CorrelationOptions{Graph: g, Grace: DefaultGrace}
	// payments burns at ticket level (3d/6h rows only), checkout at page level.
	ticket := [4][2]float64{{0, 0}, {0, 0}, {4, 4}, {2, 2}}
	tr.Correlate(opts, "payments-a", tr.Observe(Subject{Key: "payments-a{}", SLO: "payments-a", Window: 30 * day}, eval(0, 0.9, ticket)), t0)
	cs := tr.Correlate(opts, "checkout-a", tr.Observe(Subject{Key: "checkout-a{}", SLO: "checkout-a", Window: 30 * day}, eval(0, 0.9, uniform(20))), t0)
	if got := pages(cs); len(got) != 1 || got[0] != "checkout-a at 0s" {
		t.Fatalf("pages = %q, want checkout's own page", got)
	}
	if inc := cs[len(cs)-1].Incident; inc.CausedBy == nil || inc.CausedBy.Policy != slo.PolicyAnnotate {
		t.Errorf("checkout correlation = %+v, want annotate under the ticket root", inc.Correlation)
	}
}

func TestNestRanksRootsWithTheirSymptoms(t *testing.T) {
	root := Incident{Key: "payments-a{}", SLO: "payments-a", Class: ClassBurn, Severity: SeverityPage, TimeToExhaustion: 3600, Burn: 20}
	lone := Incident{Key: "search-a{}", SLO: "search-a", Class: ClassBurn, Severity: SeverityPage, TimeToExhaustion: 3600, Burn: 30}
	sym := Incident{Key: "checkout-a{}", SLO: "checkout-a", Class: ClassBurn, Severity: SeverityPage, TimeToExhaustion: 60, Burn: 90,
		Correlation: Correlation{CausedBy: &Cause{SLO: "payments-a", Key: "payments-a{}"}}}
	orphan := Incident{Key: "gateway-a{}", SLO: "gateway-a", Class: ClassBurn, Severity: SeverityTicket, TimeToExhaustion: 7200,
		Correlation: Correlation{CausedBy: &Cause{SLO: "gone-a", Key: "gone-a{}"}}}
	groups := Nest([]Incident{lone, sym, orphan, root})
	var got []string
	for _, g := range groups {
		s := g.Root.SLO
		for _, x := range g.Symptoms {
			s += " > " + x.SLO
		}
		got = append(got, s)
	}
	// Equal time to exhaustion: the root affecting more SLOs first, though
	// the lone incident burns faster; a symptom whose root is not open is
	// shown on its own.
	if want := []string{"payments-a > checkout-a", "search-a", "gateway-a"}; !slices.Equal(got, want) {
		t.Errorf("groups = %q, want %q", got, want)
	}
}

func TestCorrelationSurvivesJSON(t *testing.T) {
	in := Incident{Key: "checkout-a{}", SLO: "checkout-a", Class: ClassBurn, Start: t0, Burn: 3,
		Correlation: Correlation{CausedBy: &Cause{SLO: "payments-a", Key: "payments-a{}", Start: t0, Policy: slo.PolicySuppress},
			Suppressed: true, Silent: true, HeldUntil: t0.Add(time.Minute),
			Symptoms: []Symptom{{SLO: "gateway-a", Key: "gateway-a{}", Start: t0, Severity: SeverityPage, Burn: 2}}, SymptomCount: 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Incident
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.CausedBy == nil || out.CausedBy.Key != in.CausedBy.Key || out.CausedBy.Policy != in.CausedBy.Policy || !out.CausedBy.Start.Equal(t0) || !out.Suppressed || !out.Silent || !out.HeldUntil.Equal(in.HeldUntil) ||
		len(out.Symptoms) != 1 || out.Symptoms[0].SLO != "gateway-a" || out.SymptomCount != 1 {
		t.Errorf("round trip: %+v\nfrom %s", out.Correlation, b)
	}
}
