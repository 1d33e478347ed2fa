package daemon

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (the
// dispatcher's workers, the run group's actors). Idle keep-alive
// connections of HTTP clients are not leaks. It removes the slod binary
// the crash test built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.Cleanup(func(code int) {
			if binDir != "" {
				os.RemoveAll(binDir)
			}
			os.Exit(code)
		}),
	)
}
