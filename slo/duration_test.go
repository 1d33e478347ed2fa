package slo

import (
	"math"
	"testing"
	"time"
)

// TestFormatDurationIsTheOneFormatAndParsesBack: every place that shows a
// duration uses FormatDuration, so 36h reads "1d12h" and 14d "14d"
// everywhere, and what it writes parses back to the same duration.
func TestFormatDurationIsTheOneFormatAndParsesBack(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * 24 * time.Hour: "30d", 14 * 24 * time.Hour: "14d", 36 * time.Hour: "1d12h", 6 * time.Hour: "6h",
		90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 90 * time.Second: "1m30s", 1500 * time.Millisecond: "1500ms",
		250 * time.Millisecond: "250ms", 0: "0s", -time.Second: "0s", math.MaxInt64: "never",
	} {
		got := FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%v) = %s, want %s", d, got, want)
		}
		if d <= 0 || d == math.MaxInt64 {
			continue
		}
		if back, err := ParseDuration(got); err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}
}
