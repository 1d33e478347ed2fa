package burnrate

import (
	"math"
	"testing"
	"time"
)

func TestDefaultFactorsFor30Days(t *testing.T) {
	want := []float64{14.4, 6, 3, 1}
	for i, r := range DefaultPolicy().Rows {
		if got := r.Factor(30 * 24 * time.Hour); math.Abs(got-want[i]) > 1e-9 {
			t.Errorf("row %d: factor %v, want %v", i, got, want[i])
		}
	}
}

func TestDetectionTimeOfFullOutage(t *testing.T) {
	row := DefaultPolicy().Rows[0]
	got, ok := row.DetectionTime(30*24*time.Hour, 0.001, 1)
	if !ok {
		t.Fatal("a full outage must fire the 1h page row")
	}
	if want := 51840 * time.Millisecond; got != want {
		t.Errorf("detection %v, want %v", got, want)
	}
	if _, ok := row.DetectionTime(30*24*time.Hour, 0.001, 0.01); ok {
		t.Error("a 1% error ratio (burn 10) must never fire a 14.4 row")
	}
}
