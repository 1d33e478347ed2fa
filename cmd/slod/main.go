// Command slod evaluates SLOs incrementally, ranks incidents by the threat
// to their error budget, pages on-call and serves a status page. Try
// `slod --demo`.
package main

import (
	"context"
	"os"

	"github.com/slodhq/slod/daemon"
)

func main() {
	os.Exit(daemon.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
