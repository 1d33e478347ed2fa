// Command sloctl lints SLO files, generates Prometheus rules from them,
// backtests policies against history and shows slod's incidents.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
