package notify

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDetailsTravelWithTimeToExhaustionInSeconds(t *testing.T) {
	d := Details{
		Burn:             map[string]float64{"1h": 14.4, "5m": 20},
		BudgetRemaining:  new(0.42),
		TimeToExhaustion: new(90 * time.Minute),
		Objective:        99.9,
		Extra:            map[string]string{"current_burn": "20"},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"time_to_exhaustion_seconds":5400`) {
		t.Errorf("webhook consumers read seconds; got %s", b)
	}
	var back Details
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("outbox round trip changed the details:\n got %+v\nwant %+v", back, d)
	}
}

func TestDetailsSayUnknownNeverZero(t *testing.T) {
	for _, c := range []struct {
		name           string
		d              Details
		budget, exhaus string
	}{
		{"figures without data are unknown, not 0% and exhausted", Details{}, "unknown", "unknown"},
		{"a budget that is not burning says the sender's word", Details{BudgetRemaining: new(0.5), Extra: map[string]string{"time_to_exhaustion": "never"}}, "50.00%", "never"},
		{"a spent budget is exhausted", Details{BudgetRemaining: new(-0.25), TimeToExhaustion: new(time.Duration(0))}, "-25.00%", "budget exhausted"},
		{"a burning budget has a duration", Details{BudgetRemaining: new(0.42), TimeToExhaustion: new(90*time.Minute + 400*time.Millisecond)}, "42.00%", "1h30m0s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.d.BudgetText(); got != c.budget {
				t.Errorf("BudgetText %q, want %q", got, c.budget)
			}
			if got := c.d.ExhaustionText(); got != c.exhaus {
				t.Errorf("ExhaustionText %q, want %q", got, c.exhaus)
			}
		})
	}
	b, err := json.Marshal(Details{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"budget_remaining":null`) || !strings.Contains(string(b), `"time_to_exhaustion_seconds":null`) {
		t.Errorf("unknown figures must be null on the wire: %s", b)
	}
}
