package daemon

import (
	"flag"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/browsertest"
)

var screenshots = flag.Bool("screenshots", false, "write the browser test's screenshots to docs/ (status-page.png, slo-page.png, ...)")

// TestBrowserStatusAndSLOPagesDuringAndAfterTheDemoOutage loads the demo's
// pages in headless chromium during the checkout outage and five minutes
// after it ends: it clicks from the incidents to the SLO page, through its
// ranges and back to the filtered, grouped, sorted list, and checks what a
// reader sees without hovering — the burn onset beside the detection, the
// charts' lines, the burn values on the bars, the recovering state.
// go test ./daemon -run Browser -screenshots refreshes docs/*.png.
func TestBrowserStatusAndSLOPagesDuringAndAfterTheDemoOutage(t *testing.T) {
	browsertest.Find(t)
	h := newDemoDaemon(t, t.TempDir(), nil, nil)
	srv := httptest.NewServer(h.d.Handler())
	t.Cleanup(srv.Close)
	b := browsertest.Start(t, 1400, 1900)
	shot := func(name string) {
		t.Helper()
		png := b.Screenshot()
		dir := t.TempDir()
		if *screenshots {
			dir = filepath.Join("..", "docs")
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const id = "checkout-availability"

	// During the outage (+1m to +3m): the checkout SLO pages.
	h.runTo(demoStart.Add(2*time.Minute + 30*time.Second))
	b.Open(srv.URL + "/")
	row := b.One(`tr:has(a[href^="slo?id=` + id + `&"])`).Text()
	if !strings.Contains(row, "page") {
		t.Fatalf("the incidents table's checkout row reads %q, want a page", row)
	}
	// Onset at +1m (within the step whose end first holds errors),
	// detection ~52 s later: both shown, the onset first.
	if !regexp.MustCompile(`11-01 12:0[01]:\d\d\n[\dms]+ before detection\n11-01 12:01:\d\d`).MatchString(row) {
		t.Errorf("the checkout row shows no burn onset before its detection: %q", row)
	}
	if !strings.Contains(row, "since detection") {
		t.Errorf("the checkout row shows no budget spent since onset and detection: %q", row)
	}
	checkBars(t, b)
	shot("status-page.png")

	b.One(`tr:has(a[href^="slo?id=` + id + `&"]) a[href^="slo?"]`).ClickTo("slo?id=" + id)
	b.One(`p.ranges a[href*="range=1h"]`).ClickTo("range=1h")
	checkCharts(t, b)
	if txt := b.One("table").Text(); !strings.Contains(txt, "fires") {
		t.Errorf("the policy table shows no firing row during the outage:\n%s", txt)
	}
	shot("slo-page-during.png")

	// Five minutes after the outage: the 5m window has cleared, the 1h one
	// still burns above 14.4×, so checkout is recovering; the api-gateway
	// route's burn (+2m to +12m) pages.
	h.runTo(demoStart.Add(8 * time.Minute))
	b.Open(srv.URL + "/")
	row = b.One(`tr:has(a[href^="slo?id=` + id + `&"])`).Text()
	if !strings.Contains(row, "recovering") {
		t.Errorf("five minutes after the outage the checkout incident is not shown recovering: %q", row)
	}
	checkBars(t, b)
	shot("status-page-after.png")

	// The list: search, a column sort, a grouping, each through the form
	// and the links a user clicks.
	b.Open(srv.URL + "/instances")
	b.One(`input[name="q"]`).SendKeys("orders")
	b.One(`form button`).ClickTo("q=orders")
	rows := b.All(`table tr:has(td)`)
	if len(rows) != 1 || !strings.Contains(rows[0].Text(), "/v1/orders") {
		t.Fatalf("searching for orders lists %d rows, want the /v1/orders route", len(rows))
	}
	b.One(`table th a[href*="sort=budget"]`).ClickTo("sort=budget")
	if u := b.URL(); !strings.Contains(u, "q=orders") {
		t.Fatalf("the budget column's link dropped the search: %s", u)
	}
	b.Open(srv.URL + "/instances")
	// Each click that navigates waits for the new address: chromedriver's
	// click may return before the form's page is there.
	b.One(`select[name="group"] option:nth-child(2)`).Click()
	b.One(`form button`).ClickTo("group=service")
	groups := b.All(`tr.group`)
	if len(groups) < 3 {
		t.Fatalf("grouped by service, the list shows %d group headings", len(groups))
	}
	b.One(`select[name="team"] option:nth-child(2)`).Click()
	b.One(`form button`).ClickTo("team=")
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	team := u.Query().Get("team")
	if team == "" {
		t.Fatalf("choosing the first team sent none: %s", u)
	}
	for _, r := range b.All(`table tr:has(td)`) {
		if !strings.Contains(r.Text(), "team "+team) {
			t.Errorf("filtered by team %q, the list shows %q", team, r.Text())
		}
	}
	// From the list to an instance's page of a group_by SLO.
	b.Open(srv.URL + "/instances?q=orders")
	b.One(`table tr:has(td) td:nth-child(3) a`).ClickTo("instance=")
	checkCharts(t, b)

	b.Open(srv.URL + "/slo?id=" + id + "&range=1h")
	checkCharts(t, b)
	var marks []string
	b.Script(`return Array.from(document.querySelectorAll("svg.series text")).map(e => e.textContent)`, &marks)
	joined := strings.Join(marks, "|")
	for _, want := range []string{"burn began", "detected", "page 1h/5m threshold 14.4×"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the SLO page's charts do not show %q", want)
		}
	}
	shot("slo-page.png")
}

// checkBars checks that every burn bar chart writes its values.
func checkBars(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	var values []string
	b.Script(`return Array.from(document.querySelectorAll("svg text.v")).map(e => e.textContent)`, &values)
	if len(values) == 0 {
		t.Fatal("no burn values written on the bars")
	}
	for _, v := range values {
		if !regexp.MustCompile(`^(\d+(\.\d)?×|\?)$`).MatchString(v) {
			t.Errorf("burn value %q", v)
		}
	}
}

// checkCharts checks that the SLO page draws its four charts, each with a
// line of several points.
func checkCharts(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	charts := b.All("svg.series")
	if len(charts) != 4 {
		t.Fatalf("%s: %d charts, want 4 (budget, error ratio, rate, burn)", b.URL(), len(charts))
	}
	var ds []string
	b.Script(`return Array.from(document.querySelectorAll("svg.series")).map(s => Array.from(s.querySelectorAll("path")).map(p => p.getAttribute("d")).join("|"))`, &ds)
	for i, d := range ds {
		if strings.Count(d, "L") < 10 {
			t.Errorf("%s: chart %d has no line of several points: %.80q", b.URL(), i+1, d)
		}
	}
}
