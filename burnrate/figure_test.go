package burnrate

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"
)

func TestFigureJSON(t *testing.T) {
	cases := []struct {
		name string
		fig  Figure
		json string
	}{
		{"an unknown figure is null", Unknown(), "null"},
		{"a measured 0 is a number, not null", 0, "0"},
		{"a finite figure is a number", 0.044, "0.044"},
		{"a negative figure is a number", -0.25, "-0.25"},
		{"a large figure is a number", 1.5e21, "1.5e+21"},
		{"+Inf is a string, as in Prometheus's API", Figure(math.Inf(1)), `"+Inf"`},
		{"-Inf is a string, as in Prometheus's API", Figure(math.Inf(-1)), `"-Inf"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.fig)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.json {
				t.Errorf("marshal %v: %s, want %s", tc.fig, data, tc.json)
			}
			// The figure inside a struct field, as incidents and the API hold it.
			var back struct{ F Figure }
			back.F = 42 // null must overwrite it, not leave it
			if err := json.Unmarshal([]byte(`{"F":`+tc.json+`}`), &back); err != nil {
				t.Fatal(err)
			}
			if back.F != tc.fig && (back.F.Known() || tc.fig.Known()) {
				t.Errorf("unmarshal %s: %v, want %v", tc.json, back.F, tc.fig)
			}
		})
	}
}

func TestFigureJSONRefusesOtherValues(t *testing.T) {
	for _, in := range []string{`"NaN"`, `"Inf"`, `"1.5"`, `true`, `{}`} {
		var f Figure
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("%s read as %v, want an error", in, f)
		}
	}
}

func TestFigureText(t *testing.T) {
	pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
	cases := []struct {
		name   string
		fig    Figure
		format func(float64) string
		want   string
	}{
		{"an unknown figure reads unknown whatever the format", Unknown(), pct, "unknown"},
		{"a known figure goes through the format", 0.044, pct, "4.4%"},
		{"a measured 0 is not unknown", 0, pct, "0.0%"},
		{"no format writes the shortest number", 14.4, nil, "14.4"},
		{"no format writes an unknown figure as unknown", Unknown(), nil, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fig.Text(tc.format); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatTimeToExhaustion(t *testing.T) {
	cases := []struct {
		name string
		tte  Figure
		want string
	}{
		{"unknown", Unknown(), "unknown"},
		{"a budget that does not burn never runs out", Figure(math.Inf(1)), "never"},
		{"a spent budget is gone now", 0, "0s"},
		{"seconds read as a duration", secs(95*time.Minute + 2*time.Second), "1h35m2s"},
		{"days read in days", secs(36 * time.Hour), "1d12h"},
		{"beyond the largest duration reads never", 1e12, "never"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatTimeToExhaustion(tc.tte); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// secs is a duration as a Figure of seconds, as incidents hold times to exhaustion.
func secs(d time.Duration) Figure { return Figure(d.Seconds()) }
