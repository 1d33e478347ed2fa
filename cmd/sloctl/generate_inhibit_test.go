package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/internal/promtest"
	"github.com/slodhq/slod/slo"
)

// TestAlertmanagerInhibitMutesDependents generates the inhibit rules of
// examples/slos (checkout-latency depends on payments-requests-latency,
// search on catalog), checks them with amtool check-config, loads them
// into a real Alertmanager 0.25, and sends it the burn-rate alerts slod's
// rules and pages carry: while their upstream pages, checkout-latency's
// and search's alerts are suppressed (inhibited); checkout-availability
// (no dependency) and checkout-latency's no-data alert are not; once
// payments resolves, checkout-latency is active again.
func TestAlertmanagerInhibitMutesDependents(t *testing.T) {
	am, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus-alertmanager not installed (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("prometheus-alertmanager not installed")
	}
	dir := t.TempDir()
	frag := filepath.Join(dir, "inhibit.yml")
	var out, errOut bytes.Buffer
	if code := Main([]string{"generate", "--alertmanager-inhibit", "-o", frag, "../../examples/slos"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	rules, err := os.ReadFile(frag)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "alertmanager.yml")
	body := "route:\n  receiver: blackhole\n  group_wait: 100ms\nreceivers:\n  - name: blackhole\n" + string(rules)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if amtool, err := exec.LookPath("amtool"); err == nil {
		if out, err := exec.Command(amtool, "check-config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("amtool check-config: %v\n%s\n%s", err, out, body)
		}
	}

	addr := fmt.Sprintf("127.0.0.1:%d", promtest.FreePort(t))
	var logs bytes.Buffer
	cmd := exec.Command(am, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	waitUntil(t, "alertmanager ready", 20*time.Second, func() bool {
		resp, err := client.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, func() string { return logs.String() })

	set, diags := slo.Check("../../examples/slos")
	if slo.HasErrors(diags) {
		t.Fatal(diags)
	}
	specs := map[string]*slo.Spec{}
	for _, s := range set.SLOs {
		specs[s.ID] = s
	}
	// alert is a burn-rate page of an SLO as slod labels it (extra: the
	// instance's labels, or nodata).
	alert := func(id string, extra map[string]string, ends time.Time) map[string]any {
		s := specs[id]
		if s == nil {
			t.Fatalf("no SLO %s in examples/slos", id)
		}
		labels := burnrate.AlertLabels(s, burnrate.SeverityPage)
		labels["alertname"] = burnrate.AlertName(s, burnrate.ClassBurn)
		for k, v := range extra {
			labels[k] = v
		}
		a := map[string]any{"labels": labels, "startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
		if !ends.IsZero() {
			a["endsAt"] = ends.UTC().Format(time.RFC3339)
		}
		return a
	}
	post := func(alerts ...map[string]any) {
		b, _ := json.Marshal(alerts)
		resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
		}
	}
	// states maps "slo nodata" to the alert's state (active, suppressed).
	states := func() map[string]string {
		resp, err := client.Get(base + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				State       string   `json:"state"`
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, a := range got {
			state := a.Status.State
			if state == "suppressed" && len(a.Status.InhibitedBy) == 0 {
				state = "suppressed (not inhibited)"
			}
			out[strings.TrimSpace(a.Labels["slo"]+" "+a.Labels["nodata"])] = state
		}
		return out
	}
	expect := func(what string, want map[string]string) {
		t.Helper()
		var got map[string]string
		waitUntil(t, what, 15*time.Second, func() bool {
			got = states()
			for k, v := range want {
				if got[k] != v {
					return false
				}
			}
			return true
		}, func() string { return fmt.Sprintf("states %v, want %v", got, want) })
	}

	post(alert("payments-requests-latency", nil, time.Time{}),
		alert("checkout-latency", nil, time.Time{}),
		alert("checkout-latency", map[string]string{"nodata": "broken"}, time.Time{}),
		alert("checkout-availability", nil, time.Time{}),
		alert("catalog-availability", nil, time.Time{}),
		alert("search-probe-availability", nil, time.Time{}))
	expect("dependents muted while their upstream pages", map[string]string{
		"payments-requests-latency": "active",
		"checkout-latency":          "suppressed",
		"checkout-latency broken":   "active",
		"checkout-availability":     "active",
		"catalog-availability":      "active",
		"search-probe-availability": "suppressed",
	})
	post(alert("payments-requests-latency", nil, time.Now().Add(-time.Second)))
	expect("checkout-latency active once payments resolved, search still muted by the catalog", map[string]string{
		"checkout-latency":          "active",
		"search-probe-availability": "suppressed",
	})
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
