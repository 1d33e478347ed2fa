package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/internal/promtest"
)

// dayNightHistory is the must-show history of issue 13: 31 days with a
// fixed end of the day/night service (promtest.DayNight), a 20-minute total
// outage at 14:00 and a 30-minute one at 02:00 two and a half days before (apart enough that
// the first incident's 6h hold-down is long over).
func dayNightHistory() (d promtest.DayNight, peak, night promtest.Burn) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	peak = promtest.Burn{From: time.Date(2026, 9, 27, 14, 0, 0, 0, time.UTC), To: time.Date(2026, 9, 27, 14, 20, 0, 0, time.UTC)}
	night = promtest.Burn{From: time.Date(2026, 9, 25, 2, 0, 0, 0, time.UTC), To: time.Date(2026, 9, 25, 2, 30, 0, 0, time.UTC)}
	return promtest.DayNight{End: end, Length: 31 * 24 * time.Hour, Outages: []promtest.Burn{peak, night}}, peak, night
}

// TestBacktestCompareDayNight replays the last week of the day/night
// history from a real Prometheus 2.42 with `sloctl backtest --compare
// default traffic-aware`: traffic-aware pages only the two outages, the
// peak one within 2 minutes and the night one within 12 (the budget math
// says 9m04s), while the default policy pages every night.
func TestBacktestCompareDayNight(t *testing.T) {
	// Minutes of promtool and Prometheus work: beside the package's other
	// heavy tests, not after them (each has its own server and files).
	t.Parallel()
	d, peak, night := dayNightHistory()
	srv := promtest.Start(t, promtest.Options{OpenMetrics: d.OpenMetrics()})
	path := filepath.Join(t.TempDir(), "daynight.yaml")
	if err := os.WriteFile(path, []byte(d.SLOYAML("shop", "checkout", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	from := d.End.Add(-7 * 24 * time.Hour)
	run := func(format string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := Main([]string{"backtest", "--prometheus-url", srv.URL, "--from", from.Format(time.RFC3339), "--to", d.End.Format(time.RFC3339),
			"--format", format, "--compare", "default", "traffic-aware", path}, &out, &errOut)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		return out.String()
	}
	var rep CompareReport
	if err := json.Unmarshal([]byte(run("json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Policies) != 2 || rep.Policies[1] != "traffic-aware" || len(rep.Instances) != 1 {
		t.Fatalf("report %+v", rep)
	}
	def, ta := rep.Instances[0].Quality[0], rep.Instances[0].Quality[1]
	inOutage := func(at time.Time) bool {
		for _, o := range []promtest.Burn{peak, night} {
			if !at.Before(o.From) && at.Before(o.To.Add(time.Hour)) {
				return true
			}
		}
		return false
	}

	t.Run("traffic-aware pages the two outages and nothing else", func(t *testing.T) {
		if ta.Pages != 2 || ta.Unwarranted != 0 || ta.Misses != 0 {
			t.Fatalf("traffic-aware: %d pages, %d unwarranted, %d misses: %+v", ta.Pages, ta.Unwarranted, ta.Misses, ta.PageList)
		}
		for _, p := range ta.PageList {
			if !inOutage(p.Start) {
				t.Errorf("page at %s without an incident", p.Start)
			}
		}
		// Pages come in order: the night outage (the 25th) first.
		if got := ta.PageList[1].Start.Sub(peak.From); got <= 0 || got > 2*time.Minute {
			t.Errorf("peak outage paged after %s, want within 2m", got)
		}
		if got := ta.PageList[0].Start.Sub(night.From); got <= 0 || got > 12*time.Minute {
			t.Errorf("night outage paged after %s, want within 12m", got)
		}
		t.Logf("traffic-aware paged %s after the peak outage began and %s after the night one",
			ta.PageList[1].Start.Sub(peak.From), ta.PageList[0].Start.Sub(night.From))
	})
	t.Run("the default policy pages every night beside it", func(t *testing.T) {
		nightly, clean := 0, 0
		for _, p := range def.PageList {
			if inOutage(p.Start) {
				continue
			}
			nightly++
			if h := p.Start.Hour(); h >= 8 && h < 20 {
				t.Errorf("default page at %s is not at night", p.Start)
			}
			// A nightly page still open when an outage began spent its
			// share then; every other one is unwarranted.
			if p.End.Before(peak.From) || p.Start.After(peak.To) {
				if p.End.Before(night.From) || p.Start.After(night.To) {
					clean++
					if !p.Unwarranted {
						t.Errorf("nightly page %+v without an outage is not unwarranted", p)
					}
				}
			}
		}
		// Seven nights in the range: the 28th's falls inside the incident
		// opened the night before (its hold-down), every other one pages.
		if nightly < 6 || clean < 4 || def.Unwarranted != clean {
			t.Fatalf("default: %d nightly pages, %d of them on clean nights, %d unwarranted: %+v", nightly, clean, def.Unwarranted, def.PageList)
		}
		if def.Pages <= ta.Pages {
			t.Fatalf("default %d pages, traffic-aware %d", def.Pages, ta.Pages)
		}
	})
	t.Run("explain shows detection at the busiest and the quietest hour", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := Main([]string{"explain", "--prometheus-url", srv.URL, "--at", d.End.Format(time.RFC3339), "--format", "json", path}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		var xs []sloExplanation
		if err := json.Unmarshal(out.Bytes(), &xs); err != nil || len(xs) != 1 || xs[0].Traffic == nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		tr := xs[0].Traffic
		// The mean over 30d is 7.56M a day (87.5/s): the day's 10,000 a
		// minute is 1.905 times it, the night's 500 0.0952 times.
		if math.Abs(tr.Busiest-1.905) > 0.01 || math.Abs(tr.Quietest-0.0952) > 0.001 || xs[0].Policy != "traffic-aware" {
			t.Fatalf("policy %s, busiest %v, quietest %v; want traffic-aware, 1.905 and 0.0952", xs[0].Policy, tr.Busiest, tr.Quietest)
		}
		// A full outage fires the 1h/5m page after 51.84 s at the mean
		// traffic: 27.2 s at the busiest hour, 9m04s at the quietest.
		type rows []struct {
			Detections []struct {
				AfterSeconds float64 `json:"after_seconds"`
			} `json:"detections"`
		}
		var secs []struct {
			Traffic struct {
				BusiestRows  rows `json:"busiest_rows"`
				QuietestRows rows `json:"quietest_rows"`
			} `json:"traffic"`
		}
		if err := json.Unmarshal(out.Bytes(), &secs); err != nil {
			t.Fatal(err)
		}
		sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
		if b, q := sec(secs[0].Traffic.BusiestRows[0].Detections[0].AfterSeconds), sec(secs[0].Traffic.QuietestRows[0].Detections[0].AfterSeconds); b < 27*time.Second || b > 28*time.Second ||
			q < 9*time.Minute || q > 9*time.Minute+10*time.Second {
			t.Fatalf("1h/5m page at 100%%: busiest %s, quietest %s", b, q)
		}
		var txt bytes.Buffer
		if code := Main([]string{"explain", "--prometheus-url", srv.URL, "--at", d.End.Format(time.RFC3339), path}, &txt, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		t.Log("\n" + txt.String())
		if !strings.Contains(txt.String(), "BUSIEST 100%") || !strings.Contains(txt.String(), "9m4s") {
			t.Errorf("text lacks the traffic table:\n%s", txt.String())
		}
	})
	t.Run("text and markdown show both side by side", func(t *testing.T) {
		txt, md := run("text"), run("markdown")
		t.Log("\n" + txt)
		t.Log("\n" + md)
		for _, want := range []string{"default", "traffic-aware", "unwarranted pages", "misses", "pages per week"} {
			if !strings.Contains(txt, want) || !strings.Contains(md, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		if !strings.Contains(md, "| | default | traffic-aware |") {
			t.Errorf("markdown header missing:\n%s", md)
		}
	})
}
