package source

import (
	"os"
	"sync"
	"testing"
)

// packageCleanups run after every test of the package (the shared
// Prometheus fixture is stopped and its directory removed).
var (
	packageCleanups []func()
	tempDirs        []string
	tempMu          sync.Mutex
)

func packageTempDir(tb testing.TB) string {
	tempMu.Lock()
	defer tempMu.Unlock()
	d, err := os.MkdirTemp("", "slod-source-test-*")
	if err != nil {
		tb.Fatal(err)
	}
	tempDirs = append(tempDirs, d)
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(packageCleanups) - 1; i >= 0; i-- {
		packageCleanups[i]()
	}
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
