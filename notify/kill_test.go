package notify_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
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
	cfg, err := receiver.ParseConfig([]byte(fmt.Sprintf(pdConfig, os.Getenv("PD_URL"), "30s", "1s")), "helper.yaml", env(map[string]string{"PD_KEY": pdKey}))
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
	if os.Getenv("STREAM") == "1" {
		// Trigger and resolve new keys as fast as the disk allows,
		// until killed.
		for j := 0; ; j++ {
			key := fmt.Sprintf("stream-%02d-%04d", round, j)
			for _, a := range []notify.Action{notify.Trigger, notify.Resolve} {
				if err := d.Enqueue(context.Background(), testPage(key, a, notify.SeverityPage)); err != nil {
					t.Fatal(err)
				}
				fmt.Printf("enqueued %s %s\n", key, a)
			}
		}
	}
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

// A dispatcher process that enqueues and delivers a stream of pages is
// SIGKILLed at random moments (in the middle of bbolt commits as often as
// not), 10 times. Every page whose Enqueue returned arrives, in order per
// key, and no key opens more than one incident.
func TestSIGKILLAtRandomMoments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 10 processes")
	}
	srv := notifytest.NewPagerDuty(pdKey)
	defer srv.Close()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 23)) // fixed: the same kill delays every run
	var want []string
	for i := 0; i < 10; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDispatcherProcess$")
		cmd.Env = append(os.Environ(), "NOTIFY_HELPER=1", "STREAM=1", "STATE_DIR="+dir, "PD_URL="+srv.URL(), "ROUND="+strconv.Itoa(i))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1<<16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it get going (first page enqueued), then kill it after
		// a random 5-80 ms.
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("round %d: helper exited: %s", i, stderr.String())
			}
			want = append(want, l)
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: helper silent: %s", i, stderr.String())
		}
		<-time.After(time.Duration(5+rng.IntN(75)) * time.Millisecond)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		for l := range lines {
			want = append(want, l)
		}
	}
	cfg := parse(t, fmt.Sprintf(pdConfig, srv.URL(), "5s", "1s"), map[string]string{"PD_KEY": pdKey})
	h := newHarness(t, cfg, realClock{}, nil)
	h.dir = dir
	h.start()
	h.waitDrained(60 * time.Second)

	wantByKey := map[string][]string{}
	for _, l := range want {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "enqueued" {
			t.Fatalf("helper printed %q", l)
		}
		wantByKey[f[1]] = append(wantByKey[f[1]], f[2])
	}
	gotByKey := map[string][]string{}
	for _, ev := range srv.Events() {
		gotByKey[ev.DedupKey] = append(gotByKey[ev.DedupKey], ev.EventAction)
	}
	for k, acts := range wantByKey {
		if !isSubsequence(acts, gotByKey[k]) {
			t.Errorf("%s: enqueued %v, receiver saw %v", k, acts, gotByKey[k])
		}
	}
	opened := map[string]int{}
	for _, in := range srv.Incidents() {
		opened[in.DedupKey]++
		if len(wantByKey[in.DedupKey]) == 2 && !in.Resolved {
			t.Errorf("%s: resolve enqueued but incident open", in.DedupKey)
		}
	}
	for k, n := range opened {
		if n > 1 {
			t.Errorf("%s: %d incidents", k, n)
		}
	}
	t.Logf("%d pages enqueued across 10 kills, %d events received, %d incidents", len(want), len(srv.Events()), len(srv.Incidents()))
}
