package burnrate_test

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/slodhq/slod/burnrate"
)

// An SLI without data has no budget figure: it is unknown, null in JSON and
// "unknown" in text, never a made-up 0.
func ExampleFigure() {
	pct := func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }
	for _, f := range []burnrate.Figure{0.044, 0, burnrate.Unknown()} {
		data, _ := json.Marshal(f)
		fmt.Printf("%s %s\n", data, f.Text(pct))
	}
	// Output:
	// 0.044 4.4%
	// 0 0.0%
	// null unknown
}

// A time to exhaustion is a Figure of seconds: unknown, +Inf (never) or a
// duration.
func ExampleFormatTimeToExhaustion() {
	for _, s := range []burnrate.Figure{5702, 0, burnrate.Figure(math.Inf(1)), burnrate.Unknown()} {
		fmt.Println(burnrate.FormatTimeToExhaustion(s))
	}
	// Output:
	// 1h35m2s
	// 0s
	// never
	// unknown
}
