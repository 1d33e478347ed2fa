package engine

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// payCatalogue is pay's SLO of the fixture with one exclusion document
// (none when exclusion is empty).
func payCatalogue(t *testing.T, exclusion string) *Catalogue {
	t.Helper()
	dir := t.TempDir()
	doc := `version: slod/v1
service: pay
slos:
  - name: availability
    objective: 99.9
    window: 30d
    annotations: {runbook: https://runbooks.example.com/pay}
    sli:
      events:
        error_query: sum(rate(requests_total{svc="pay",code="500"}[{{.window}}]))
        total_query: sum(rate(requests_total{svc="pay"}[{{.window}}]))
`
	if exclusion != "" {
		doc += "---\n" + exclusion
	}
	if err := os.WriteFile(filepath.Join(dir, "pay.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cat := Load(dir)
	if cat.HasErrors() || len(cat.Entries) != 1 {
		t.Fatalf("catalogue: %v", cat.Diagnostics)
	}
	return cat
}

func exclusionDoc(from, to time.Time) string {
	return "version: slod/v1\nkind: Exclusion\nname: pay-maintenance\nreason: CHG-1\ncategory: maintenance\n" +
		"match: {service: pay}\nfrom: " + from.Format(time.RFC3339) + "\nto: " + to.Format(time.RFC3339) + "\n"
}

// tickRange ticks every minute in (from, to] and returns the changes.
func tickRange(t *testing.T, e *Engine, from, to time.Time) []burnrate.Change {
	t.Helper()
	var out []burnrate.Change
	for now := from.Add(time.Minute); !now.After(to); now = now.Add(time.Minute) {
		res := e.Tick(context.Background(), now)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Changes...)
	}
	return out
}

func TestNoPageOpensInsideAnExclusion(t *testing.T) {
	// pay fails every request from 47h on; the maintenance covers 46h50
	// to 47h30. Its errors count nowhere, so the page opens only once the
	// outage outlasts it, at the first step after 47h30.
	q := fixture(t)
	e, err := New(Options{Querier: q})
	if err != nil {
		t.Fatal(err)
	}
	from := start.Add(46 * time.Hour)
	if _, _, err := e.Apply(payCatalogue(t, exclusionDoc(start.Add(46*time.Hour+50*time.Minute), start.Add(47*time.Hour+30*time.Minute))), from); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(context.Background(), from).Err(); err != nil {
		t.Fatal(err)
	}
	changes := tickRange(t, e, from, start.Add(47*time.Hour+35*time.Minute))
	if len(changes) != 1 || changes[0].Kind != burnrate.ChangeOpened {
		t.Fatalf("changes %+v, want one incident opened", changes)
	}
	if got, want := changes[0].Incident.Start, start.Add(47*time.Hour+31*time.Minute); !got.Equal(want) {
		t.Errorf("opened at %s, want %s, the first step after the exclusion", got, want)
	}
	l := e.Latest()["pay-availability{}"]
	if l.Excluded != "" || math.Abs(l.WindowErrors-5*6000) > 1e-6 {
		t.Errorf("after the exclusion: excluded %q, %v errors in W; want the five minutes since it only", l.Excluded, l.WindowErrors)
	}
}

func TestAnOpenIncidentStaysOpenThroughAnExclusion(t *testing.T) {
	q := fixture(t)
	e, err := New(Options{Querier: q})
	if err != nil {
		t.Fatal(err)
	}
	from := start.Add(46 * time.Hour)
	xFrom, xTo := start.Add(47*time.Hour+30*time.Minute), start.Add(48*time.Hour)
	if _, _, err := e.Apply(payCatalogue(t, exclusionDoc(xFrom, xTo)), from); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(context.Background(), from).Err(); err != nil {
		t.Fatal(err)
	}
	changes := tickRange(t, e, from, xTo)
	if len(changes) != 1 || changes[0].Kind != burnrate.ChangeOpened || !changes[0].Incident.Start.Equal(start.Add(47*time.Hour+time.Minute)) {
		t.Fatalf("changes %+v, want the page opened at 47h01 only", changes)
	}
	if open := e.Open(); len(open) != 1 {
		t.Fatalf("open incidents %+v at the exclusion's end, want the page still open", open)
	}
	if l := e.Latest()["pay-availability{}"]; l.Excluded != "pay-maintenance" {
		t.Errorf("latest evaluation inside the exclusion is marked %q", l.Excluded)
	}
}

func TestChangingExclusionsRewritesTheCounts(t *testing.T) {
	// An exclusion added for a past period takes effect on reload: the
	// fingerprint changes, the SLO's counts are read afresh.
	q := fixture(t)
	e, err := New(Options{Querier: q})
	if err != nil {
		t.Fatal(err)
	}
	now := start.Add(47*time.Hour + 20*time.Minute)
	if _, _, err := e.Apply(payCatalogue(t, ""), now); err != nil {
		t.Fatal(err)
	}
	if err := e.Tick(context.Background(), now).Err(); err != nil {
		t.Fatal(err)
	}
	before := e.Latest()["pay-availability{}"].WindowErrors
	fp := e.SLO("pay-availability").Fingerprint()
	if _, _, err := e.Apply(payCatalogue(t, exclusionDoc(start.Add(47*time.Hour), start.Add(47*time.Hour+10*time.Minute))), now); err != nil {
		t.Fatal(err)
	}
	if e.SLO("pay-availability").Fingerprint() == fp {
		t.Fatal("fingerprint unchanged by a new exclusion")
	}
	if err := e.Tick(context.Background(), now.Add(time.Minute)).Err(); err != nil {
		t.Fatal(err)
	}
	after := e.Latest()["pay-availability{}"].WindowErrors
	if math.Abs(before-20*6000) > 1e-6 || math.Abs(after-11*6000) > 1e-6 {
		t.Errorf("errors in W %v before and %v after the exclusion, want %v and %v", before, after, 20*6000, 11*6000)
	}
}
