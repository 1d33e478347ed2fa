package engine

import (
	"testing"
	"time"
)

func TestReplayTimesAreTheMissedTicksBoundedByMaxReplay(t *testing.T) {
	from := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	to := from.Add(time.Minute)
	got := replayTimes(from, to, 20*time.Second, time.Hour)
	if len(got) != 3 || !got[0].Equal(from.Add(20*time.Second)) || !got[2].Equal(to) {
		t.Errorf("replay %v", got)
	}
	if got := replayTimes(from, from.Add(10*time.Hour), time.Minute, time.Hour); len(got) != 60 {
		t.Errorf("replay bounded by max-replay: %d times", len(got))
	}
}
