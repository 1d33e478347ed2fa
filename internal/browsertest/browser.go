// Package browsertest drives Debian's chromium from tests through
// chromedriver's W3C WebDriver HTTP API, spoken with net/http: enough to
// load pages, find and click elements, read text and attributes, run a
// script and take screenshots, without a browser-automation dependency.
package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// elementKey is the W3C name of an element reference in JSON.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Browser is one WebDriver session of a headless chromium.
type Browser struct {
	t       testing.TB
	base    string // http://127.0.0.1:port/session/id
	client  *http.Client
	timeout time.Duration
}

// Element is a reference to an element of the current page.
type Element struct {
	b  *Browser
	id string
}

// Find looks up chromium and chromedriver: it fails the test under CI
// (the test command installs them) and skips it elsewhere.
func Find(t testing.TB) (chromium, driver string) {
	t.Helper()
	var missing []string
	for _, name := range []string{"chromium", "chromedriver"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		if name == "chromium" {
			chromium = p
		} else {
			driver = p
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%v not installed (scripts/install-test-deps.sh installs Debian's chromium and chromium-driver)", missing)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return chromium, driver
}

// Start starts chromedriver on a free port and opens a session of
// headless chromium with a window of width × height CSS pixels. Both end
// when the test does.
func Start(t testing.TB, width, height int) *Browser {
	t.Helper()
	chromium, driver := Find(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver:\n%s", logs.String())
		}
	})
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	b := &Browser{t: t, client: &http.Client{Timeout: 60 * time.Second}, timeout: 30 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status struct {
			Ready bool `json:"ready"`
		}
		if err := b.do(http.MethodGet, root+"/status", nil, &status); err == nil && status.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver on port %d not ready in 20s", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	profile := t.TempDir()
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			// Headless, as root in a container, and quiet: no network of
			// its own beyond the pages the test loads.
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--no-first-run", "--disable-quic", "--hide-scrollbars", "--user-data-dir=" + profile,
				fmt.Sprintf("--window-size=%d,%d", width, height)},
		},
	}}}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.do(http.MethodPost, root+"/session", caps, &sess); err != nil {
		t.Fatalf("new session: %v", err)
	}
	b.base = root + "/session/" + sess.SessionID
	t.Cleanup(func() { _ = b.do(http.MethodDelete, b.base, nil, nil) })
	return b
}

// do sends one WebDriver command and decodes its "value" into out.
func (b *Browser) do(method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("%s %s: %d: %s", method, url, resp.StatusCode, data)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(env.Value, &e)
		return fmt.Errorf("%s %s: %d %s: %s", method, url, resp.StatusCode, e.Error, e.Message)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

func (b *Browser) must(err error) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
}

// Open loads url and waits until the document has loaded.
func (b *Browser) Open(url string) {
	b.t.Helper()
	b.must(b.do(http.MethodPost, b.base+"/url", map[string]string{"url": url}, nil))
}

// URL is the current page's address.
func (b *Browser) URL() string {
	b.t.Helper()
	var u string
	b.must(b.do(http.MethodGet, b.base+"/url", nil, &u))
	return u
}

// All finds the elements matching a CSS selector (none is no error).
func (b *Browser) All(css string) []Element {
	b.t.Helper()
	var refs []map[string]string
	b.must(b.do(http.MethodPost, b.base+"/elements", map[string]string{"using": "css selector", "value": css}, &refs))
	out := make([]Element, len(refs))
	for i, r := range refs {
		if r[elementKey] == "" {
			b.t.Fatalf("element reference without %s: %v", elementKey, r)
		}
		out[i] = Element{b: b, id: r[elementKey]}
	}
	return out
}

// One finds the first element matching a CSS selector; the test fails
// when there is none.
func (b *Browser) One(css string) Element {
	b.t.Helper()
	els := b.All(css)
	if len(els) == 0 {
		b.t.Fatalf("%s: no element matches %q", b.URL(), css)
	}
	return els[0]
}

// Script runs JavaScript in the page and decodes its return value into out.
func (b *Browser) Script(js string, out any) {
	b.t.Helper()
	b.must(b.do(http.MethodPost, b.base+"/execute/sync", map[string]any{"script": js, "args": []any{}}, out))
}

// Screenshot is a PNG of the viewport.
func (b *Browser) Screenshot() []byte {
	b.t.Helper()
	var s string
	b.must(b.do(http.MethodGet, b.base+"/screenshot", nil, &s))
	png, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b.t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Fatal(errors.New("screenshot is not a PNG"))
	}
	return png
}

// Resize sets the window's size in CSS pixels.
func (b *Browser) Resize(width, height int) {
	b.t.Helper()
	b.must(b.do(http.MethodPost, b.base+"/window/rect", map[string]int{"width": width, "height": height}, nil))
}

// Click clicks the element, as a user would (it must be visible).
func (e Element) Click() {
	e.b.t.Helper()
	e.b.must(e.b.do(http.MethodPost, e.b.base+"/element/"+e.id+"/click", map[string]any{}, nil))
}

// Text is the element's rendered text.
func (e Element) Text() string {
	e.b.t.Helper()
	var s string
	e.b.must(e.b.do(http.MethodGet, e.b.base+"/element/"+e.id+"/text", nil, &s))
	return s
}

// Attr is the element's attribute name, "" when it has none.
func (e Element) Attr(name string) string {
	e.b.t.Helper()
	var s *string
	e.b.must(e.b.do(http.MethodGet, e.b.base+"/element/"+e.id+"/attribute/"+name, nil, &s))
	if s == nil {
		return ""
	}
	return *s
}

// SendKeys types text into the element.
func (e Element) SendKeys(text string) {
	e.b.t.Helper()
	e.b.must(e.b.do(http.MethodPost, e.b.base+"/element/"+e.id+"/value", map[string]string{"text": text}, nil))
}

// Until polls cond every 100 ms until it holds, failing the test after
// the browser's timeout: a click that navigates may return before the new
// page is there.
func (b *Browser) Until(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not %s after %s", b.URL(), what, b.timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ClickTo clicks the element and waits until the page's address has
// changed and contains want.
func (e Element) ClickTo(want string) {
	e.b.t.Helper()
	before := e.b.URL()
	e.Click()
	e.b.Until("at a new address with "+want, func() bool {
		u := e.b.URL()
		return u != before && strings.Contains(u, want)
	})
}
