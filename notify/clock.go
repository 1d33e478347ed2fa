package notify

import "time"

// Clock is the time source of the dispatcher: Now stamps pages and ages
// them; After paces retries. Tests inject a simulated clock so that
// "500 for ten minutes" passes in milliseconds.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
