package receiver_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/alertmanager"
	"github.com/slodhq/slod/notify/logrecv"
	"github.com/slodhq/slod/notify/opsgenie"
	"github.com/slodhq/slod/notify/pagerduty"
	"github.com/slodhq/slod/notify/receiver"
	"github.com/slodhq/slod/notify/webhook"
)

func TestBuildMakesOneSenderPerReceiverOfTheExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pagerduty-routing-key"), []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := receiver.ParseConfig(data, filepath.Join(dir, "notify.yaml"), func(name string) (string, bool) {
		if name == "SLOD_CHATOPS_WEBHOOK_URL" {
			return "https://chat.example/hooks/T0/B0/TOKEN", true
		}
		return "x", true
	})
	if err != nil {
		t.Fatal(err)
	}
	senders, err := receiver.Build(cfg, receiver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(senders) != len(cfg.Receivers) {
		t.Fatalf("%d senders for %d receivers", len(senders), len(cfg.Receivers))
	}
	for name, ok := range map[string]bool{
		"payments-pagerduty": is[*pagerduty.Receiver](senders["payments-pagerduty"]),
		"search-opsgenie":    is[*opsgenie.Receiver](senders["search-opsgenie"]),
		"alertmanager":       is[*alertmanager.Receiver](senders["alertmanager"]),
		"chatops":            is[*webhook.Receiver](senders["chatops"]),
		"stdout":             is[*logrecv.Receiver](senders["stdout"]),
	} {
		if !ok {
			t.Errorf("%s: wrong sender type %T", name, senders[name])
		}
	}
	if _, ok := senders["alertmanager"].(notify.Refresher); !ok {
		t.Error("the alertmanager sender does not ask for refreshes")
	}
}

func TestBuildRefusesAnOfflineConfigForKeyedReceivers(t *testing.T) {
	cfg, err := receiver.LoadConfigOffline("../../examples/notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := receiver.Build(cfg, receiver.Options{}); err == nil {
		t.Error("built a PagerDuty receiver without a routing key")
	}
}

func is[T any](v any) bool { _, ok := v.(T); return ok }

func TestKindsListEveryBuiltInKindOnce(t *testing.T) {
	var names []string
	for _, k := range receiver.Kinds() {
		names = append(names, k.Name)
	}
	if got := strings.Join(names, " "); got != "pagerduty opsgenie alertmanager webhook log" {
		t.Errorf("kinds = %s", got)
	}
}

func TestLogOnlyConfigBuildsOneLogReceiver(t *testing.T) {
	cfg := receiver.LogOnlyConfig()
	var buf bytes.Buffer
	senders, err := receiver.Build(cfg, receiver.Options{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if len(senders) != 1 || !is[*logrecv.Receiver](senders["stdout"]) || cfg.Route.Receiver != "stdout" {
		t.Fatalf("senders = %v, route %+v", senders, cfg.Route)
	}
	if err := senders["stdout"].Send(context.Background(), notify.Page{DedupKey: "k", Action: notify.Trigger}); err != nil || !strings.Contains(buf.String(), `"receiver":"stdout"`) {
		t.Errorf("send: %v, wrote %q", err, buf.String())
	}
}

func TestBuildRefusesAReceiverWithoutConfig(t *testing.T) {
	cfg := &notify.Config{Receivers: []notify.Receiver{{Name: "x", Kind: "log"}}}
	if _, err := receiver.Build(cfg, receiver.Options{}); err == nil || !strings.Contains(err.Error(), `receiver "x": no config`) {
		t.Errorf("err = %v", err)
	}
}
