package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBodyIsSignedWithHMACSHA256(t *testing.T) {
	srv := notifytest.NewWebhook()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	secret := "hook-secret"
	r := webhook.New(webhook.Config{URL: notify.NewSecret(srv.URL() + "/in"), HMACSecret: notify.NewSecret(secret), Headers: map[string]string{"X-Team": "payments"}}, client, nil)
	p := notify.Page{DedupKey: "k", Action: notify.Trigger, Severity: notify.SeverityPage, Summary: "s", Labels: map[string]string{"slo": "a"}}
	if err := r.Send(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	req := srv.All()[0]
	sig := req.Header.Get(webhook.DefaultSignatureHeader)
	if !webhook.Verify([]byte(secret), req.Body, sig) {
		t.Fatalf("signature %q does not verify", sig)
	}
	if webhook.Verify([]byte("other"), req.Body, sig) || webhook.Verify([]byte(secret), append(req.Body, ' '), sig) {
		t.Error("signature verifies with the wrong secret or body")
	}
	var b webhook.Body
	if err := json.Unmarshal(req.Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Version != webhook.Version || b.Page.DedupKey != "k" || b.Page.Labels["slo"] != "a" || req.Header.Get("X-Team") != "payments" || req.Path != "/in" {
		t.Errorf("body %+v, headers %v", b, req.Header)
	}
}

func TestNoSecretNoSignature(t *testing.T) {
	srv := notifytest.NewWebhook()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	r := webhook.New(webhook.Config{URL: notify.NewSecret(srv.URL())}, client, nil)
	if err := r.Send(context.Background(), notify.Page{DedupKey: "k", Action: notify.Resolve}); err != nil {
		t.Fatal(err)
	}
	if h := srv.All()[0].Header.Get(webhook.DefaultSignatureHeader); h != "" {
		t.Errorf("signature %q without a secret", h)
	}
}

func TestAURLNotReadIsAPermanentError(t *testing.T) {
	r := webhook.New(webhook.Config{}, nil, nil) // as parsed with --offline
	err := r.Send(context.Background(), notify.Page{DedupKey: "k", Action: notify.Resolve})
	var se *notify.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Reason != notify.ReasonInvalid {
		t.Errorf("error %v, want a permanent invalid SendError", err)
	}
}
