package logrecv_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/logrecv"
)

func TestConfigHasNoSettingsAndWritesUnderTheReceiverName(t *testing.T) {
	cfg, err := notify.ParseConfig([]byte("receivers: [{name: out, log: {}}, {name: bare, log: }]\nroute: {receiver: out}\n"), "notify.yaml", nil, []notify.Kind{logrecv.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	s, err := cfg.Receivers[1].Config.NewSender(notify.SenderOptions{Name: cfg.Receivers[1].Name, Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), notify.Page{DedupKey: "k", Action: notify.Trigger}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"receiver":"bare"`) {
		t.Errorf("line = %s", buf.String())
	}
	_, err = notify.ParseConfig([]byte("receivers: [{name: out, log: {file: /tmp/x}}]\nroute: {receiver: out}\n"), "notify.yaml", nil, []notify.Kind{logrecv.Kind()})
	if err == nil || !strings.Contains(err.Error(), `notify.yaml:1:31: unknown field "file" in log`) {
		t.Errorf("error = %v", err)
	}
}
