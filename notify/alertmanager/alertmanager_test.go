package alertmanager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
	"github.com/slodhq/slod/notify/notifytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAlertMapping(t *testing.T) {
	now := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	r := alertmanager.New(alertmanager.Config{URL: "http://127.0.0.1:9093/", GeneratorURL: "http://slod.example/"}, nil, func() time.Time { return now })
	p := notify.Page{
		DedupKey: "k", Action: notify.Trigger, Severity: notify.SeverityPage, Summary: "burning",
		Labels:   map[string]string{"slo": "api-availability", "service": "api"},
		Links:    []notify.Link{{Href: "https://rb.example", Text: "runbook"}},
		StartsAt: now.Add(-time.Minute),
	}
	a := r.Alert(p)
	if a.Labels["alertname"] != alertmanager.DefaultAlertname || a.Labels["severity"] != "page" || a.Labels["slo"] != "api-availability" {
		t.Errorf("labels = %v", a.Labels)
	}
	if a.Annotations["summary"] != "burning" || a.Annotations["runbook_url"] != "https://rb.example" || !a.EndsAt.IsZero() || a.GeneratorURL != "http://slod.example/" {
		t.Errorf("alert = %+v", a)
	}
	p.Action = notify.Resolve
	if got := r.Alert(p).EndsAt; !got.Equal(now) {
		t.Errorf("resolve endsAt = %v, want now", got)
	}
}

// amPayload is the part of Alertmanager's webhook body the test reads.
type amPayload struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		EndsAt      time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

// amServer is a real Alertmanager on 127.0.0.1 that routes every alert to
// a local webhook, with the dispatcher that feeds it.
type amServer struct {
	hook *notifytest.Webhook
	logs *syncBuf
	d    *notify.Dispatcher
	ctx  context.Context
}

// startAlertmanager starts prometheus-alertmanager grouping by groupBy and a
// dispatcher with one receiver, "am", posting to it.
func startAlertmanager(t *testing.T, groupBy string) *amServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus-alertmanager not installed (scripts/install-test-deps.sh installs it)")
		}
		t.Skip("prometheus-alertmanager not installed; apt-get install prometheus-alertmanager")
	}
	hook := notifytest.NewWebhook()
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`
route:
  receiver: hook
  group_by: %s
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s/alertmanager
        send_resolved: true
`, groupBy, hook.URL())), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	stderr := &syncBuf{}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	waitReady(t, client, base+"/-/ready", stderr)

	cfg, err := notify.ParseConfig([]byte(fmt.Sprintf(`
receivers: [{name: am, alertmanager: {url: %s, generator_url: "http://slod.example/"}}]
route: {receiver: am}
delivery: {timeout: 5s, backoff_initial: 50ms, backoff_max: 500ms}
`, base)), "notify.yaml", func(string) (string, bool) { return "", false }, []notify.Kind{alertmanager.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.New(notify.Options{
		Config:  cfg,
		Senders: map[string]notify.Sender{"am": alertmanager.New(*cfg.Receivers[0].Config.(*alertmanager.Config), client, nil)},
		Path:    filepath.Join(dir, "outbox.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		d.Close()
	})
	return &amServer{hook: hook, logs: stderr, d: d, ctx: ctx}
}

// A real Alertmanager 0.25 receives our alerts over /api/v2/alerts and
// routes them to a local webhook: firing, then resolved.
func TestRealAlertmanagerRoutesFiringThenResolved(t *testing.T) {
	am := startAlertmanager(t, "[alertname, slo]")
	page := notify.Page{
		DedupKey: notify.DedupKey("checkout-availability", "page"),
		Action:   notify.Trigger, Severity: notify.SeverityPage,
		Summary:  "checkout availability burning 14x",
		Labels:   map[string]string{"slo": "checkout-availability", "service": "checkout", "team": "payments"},
		Links:    []notify.Link{{Href: "https://runbooks.example/checkout", Text: "runbook"}},
		StartsAt: time.Now().Add(-2 * time.Minute),
	}
	if err := am.d.Enqueue(am.ctx, page); err != nil {
		t.Fatal(err)
	}
	firing := waitStatus(t, am.hook, "firing", am.logs)
	a := firing.Alerts[0]
	if a.Labels["slo"] != "checkout-availability" || a.Labels["severity"] != "page" || a.Labels["alertname"] != alertmanager.DefaultAlertname ||
		a.Annotations["summary"] != page.Summary || a.Annotations["runbook_url"] != "https://runbooks.example/checkout" {
		t.Errorf("firing alert = %+v", a)
	}
	// The resolve carries only the key: the dispatcher gives it the
	// trigger's labels so Alertmanager ends the same alert.
	if err := am.d.Enqueue(am.ctx, notify.Page{DedupKey: page.DedupKey, Action: notify.Resolve}); err != nil {
		t.Fatal(err)
	}
	resolved := waitStatus(t, am.hook, "resolved", am.logs)
	if r := resolved.Alerts[0]; r.Status != "resolved" || r.Labels["slo"] != "checkout-availability" || r.EndsAt.After(time.Now()) {
		t.Errorf("resolved alert = %+v", r)
	}
}

// An incident escalating from ticket to page keeps its dedup key, but its
// severity label makes the page a second Alertmanager alert. The ticket
// alert must be resolved at once, not left to expire after resolve_timeout
// while the budget still burns (a false "resolved" minutes later), and the
// resolve of the incident must end the page alert.
func TestRealAlertmanagerEscalationResolvesTheTicketAlertAndFiresThePage(t *testing.T) {
	am := startAlertmanager(t, "[alertname, slo, severity]")
	// As daemon.PageFor sends them: same key and labels, severity ticket,
	// then page (the escalation), then a resolve with the last severity.
	p := notify.Page{
		DedupKey: notify.DedupKey("checkout-availability", "burn"),
		Action:   notify.Trigger, Severity: notify.SeverityTicket,
		Summary:  "checkout availability burning 3x",
		Labels:   map[string]string{"slo": "checkout-availability", "service": "checkout", "class": "burn"},
		StartsAt: time.Now().Add(-2 * time.Minute),
	}
	if err := am.d.Enqueue(am.ctx, p); err != nil {
		t.Fatal(err)
	}
	if a := waitStatus(t, am.hook, "firing", am.logs).Alerts[0]; a.Labels["severity"] != "ticket" {
		t.Fatalf("first firing alert = %+v, want the ticket", a)
	}
	p.Severity, p.Summary = notify.SeverityPage, "checkout availability burning 14x"
	if err := am.d.Enqueue(am.ctx, p); err != nil {
		t.Fatal(err)
	}
	// Two notifications, one per group, in either order.
	got := map[string]string{}
	for len(got) < 2 {
		n := waitAny(t, am.hook, am.logs)
		a := n.Alerts[0]
		got[a.Labels["severity"]+" "+a.Status] = a.Labels["slo"]
	}
	if got["ticket resolved"] != "checkout-availability" || got["page firing"] != "checkout-availability" {
		t.Fatalf("after the escalation alertmanager notified %v, want the ticket resolved and the page firing", got)
	}
	p.Action = notify.Resolve
	if err := am.d.Enqueue(am.ctx, p); err != nil {
		t.Fatal(err)
	}
	if a := waitStatus(t, am.hook, "resolved", am.logs).Alerts[0]; a.Labels["severity"] != "page" {
		t.Errorf("resolved alert = %+v, want the page", a)
	}
}

// waitAny returns the next one-alert notification from Alertmanager.
func waitAny(t *testing.T, hook *notifytest.Webhook, logs *syncBuf) amPayload {
	t.Helper()
	return waitStatus(t, hook, "", logs)
}

// waitStatus returns the next one-alert notification with the given status
// ("" for any).
func waitStatus(t *testing.T, hook *notifytest.Webhook, status string, logs *syncBuf) amPayload {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case req := <-hook.Received:
			var p amPayload
			if err := json.Unmarshal(req.Body, &p); err != nil {
				t.Fatalf("webhook body: %v: %s", err, req.Body)
			}
			if req.Path != "/alertmanager" {
				t.Fatalf("path %s", req.Path)
			}
			if (status == "" || p.Status == status) && len(p.Alerts) == 1 {
				return p
			}
		case <-timeout:
			t.Fatalf("no %q notification from alertmanager within 30s; its log:\n%s", status, logs.String())
		}
	}
}

func waitReady(t *testing.T, c *http.Client, url string, logs *syncBuf) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready: %v; log:\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSpace(s.b.String())
}
