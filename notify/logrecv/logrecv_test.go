package logrecv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/logrecv"
)

func TestOneJSONLinePerPage(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r := logrecv.New("stdout", &buf, func() time.Time { return now })
	for _, a := range []notify.Action{notify.Trigger, notify.Resolve} {
		if err := r.Send(context.Background(), notify.Page{DedupKey: "k", Action: a, Severity: notify.SeverityPage, Summary: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines = %q", lines)
	}
	var l logrecv.Line
	if err := json.Unmarshal([]byte(lines[1]), &l); err != nil {
		t.Fatal(err)
	}
	if l.Receiver != "stdout" || l.Page.Action != notify.Resolve || !l.Time.Equal(now) {
		t.Errorf("line = %+v", l)
	}
}
