package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/notifytest"
	"github.com/slodhq/slod/notify/receiver"
)

// TestHelperDispatcherProcess is not a test: TestSIGKILLMidDelivery runs
// the test binary with NOTIFY_HELPER=1 to get a dispatcher in a process of
// its own that it can SIGKILL.
func TestHelperDispatcherProcess(t *testing.T) {
	if os.Getenv("NOTIFY_HELPER") != "1" {
		t.Skip("helper process for TestSIGKILLMidDelivery")
	}
	cfg, err := notify.ParseConfig([]byte(fmt.Sprintf(pdConfig, os.Getenv("PD_URL"), "30s", "1s")), "helper.yaml", env(map[string]string{"PD_KEY": pdKey}))
	if err != nil {
		t.Fatal(err)
	}
	senders, err := receiver.Build(cfg, receiver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := notify.New(notify.Options{Config: cfg, Senders: senders, StateDir: os.Getenv("STATE_DIR"),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.Run(context.Background()) }()
	round, _ := strconv.Atoi(os.Getenv("ROUND"))
	key := fmt.Sprintf("killed-%02d", round)
	pages := []notify.Page{testPage(key, notify.Trigger, notify.SeverityPage), testPage(key, notify.Trigger, notify.SeverityPage)}
	if round > 0 {
		pages = append(pages, testPage(fmt.Sprintf("killed-%02d", round-1), notify.Resolve, ""))
	}
	for _, p := range pages {
		if err := d.Enqueue(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("enqueued %s %s\n", p.DedupKey, p.Action)
	}
	select {} // until SIGKILL
}

// A dispatcher process is SIGKILLed in the middle of a delivery, 10 times:
// after the receiver processed a page but before the answer arrived, or
// before the receiver processed it. Every page whose Enqueue returned is
// delivered; no incident is opened twice.
func TestSIGKILLMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 10 processes")
	}
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	dir := t.TempDir()
	const rounds = 10
	var want []string
	for i := 0; i < rounds; i++ {
		cut := make(chan struct{})
		var once sync.Once
		var mu sync.Mutex
		count := 0
		srv.SetFault(func(*http.Request, int) notifytest.Fault {
			mu.Lock()
			defer mu.Unlock()
			count++
			if count != 2 {
				return notifytest.Fault{}
			}
			if i%2 == 0 {
				return notifytest.Fault{HangAfter: true, Served: func() { once.Do(func() { close(cut) }) }}
			}
			once.Do(func() { close(cut) })
			return notifytest.Fault{Hang: true}
		})
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDispatcherProcess$")
		cmd.Env = append(os.Environ(), "NOTIFY_HELPER=1", "STATE_DIR="+dir, "PD_URL="+srv.URL(), "ROUND="+strconv.Itoa(i))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 8)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Every page whose Enqueue returned must arrive.
		for l := range lines {
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == "enqueued" {
				want = append(want, f[1]+":"+f[2])
			}
			if (i == 0 && len(want) == 2) || (i > 0 && strings.HasSuffix(l, "resolve")) {
				break
			}
		}
		select {
		case <-cut:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no cut request; helper log:\n%s", i, stderr.String())
		}
		_ = cmd.Process.Kill() // SIGKILL
		_ = cmd.Wait()
		for range lines {
		}
	}
	srv.SetFault(nil)
	srv.Release()

	// A last start delivers what is left and resolves the last incident.
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1s"), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.dir = dir
	h.start()
	last := fmt.Sprintf("killed-%02d", rounds-1)
	h.enqueue(testPage(last, notify.Resolve, ""))
	want = append(want, last+":resolve")
	h.waitDrained(30 * time.Second)

	gotByKey := map[string][]string{}
	for _, ev := range srv.Events() {
		gotByKey[ev.DedupKey] = append(gotByKey[ev.DedupKey], ev.EventAction)
	}
	wantByKey := map[string][]string{}
	for _, w := range want {
		k, a, _ := strings.Cut(w, ":")
		wantByKey[k] = append(wantByKey[k], a)
	}
	for k, acts := range wantByKey {
		if !isSubsequence(acts, gotByKey[k]) {
			t.Errorf("%s: enqueued %v, receiver saw %v", k, acts, gotByKey[k])
		}
	}
	inc := srv.Incidents()
	if len(inc) != rounds {
		t.Errorf("%d incidents, want %d", len(inc), rounds)
	}
	for _, in := range inc {
		if !in.Resolved {
			t.Errorf("incident %s left open", in.DedupKey)
		}
	}
}
