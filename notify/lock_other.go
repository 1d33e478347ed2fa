//go:build !unix

package notify

import "time"

// lockFile is a no-op where flock is missing; bbolt's own lock still keeps a
// second dispatcher out once the file is open.
func lockFile(string, time.Duration) (func(), error) { return func() {}, nil }
