package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slodhq/slod/burnrate"
)

// The traffic-aware policy reads the Workbook's rows with the budget
// measure: a full outage fires the 1h/5m page after 51.8 s at the mean
// traffic of a 99.9%/30d SLO, sooner at twice the mean, later at a tenth.
func ExampleTrafficAwarePolicy() {
	p := burnrate.TrafficAwarePolicy()
	page := p.Rows[0]
	for _, traffic := range []float64{1, 2, 0.1} {
		d, _ := page.DetectionTimeAt(30*24*time.Hour, 0.001, 1, traffic)
		fmt.Printf("%s %s at %v× the mean traffic: %s\n", p.Name, page.Measure, traffic, d.Round(100*time.Millisecond))
	}
	// Output:
	// traffic-aware budget at 1× the mean traffic: 51.8s
	// traffic-aware budget at 2× the mean traffic: 25.9s
	// traffic-aware budget at 0.1× the mean traffic: 8m38.4s
}
