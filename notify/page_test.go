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
		BudgetRemaining:  0.42,
		TimeToExhaustion: 90 * time.Minute,
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
