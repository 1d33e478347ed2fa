package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestExplainSaysHowEarlyInACalendarPeriodAPageFires(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Main([]string{"explain", "testdata/calendar/month.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"calendar window: month in Europe/Berlin", "budget resets at each month start (local midnight in Europe/Berlin)",
		"factors use a 30d period", "a full outage pages 51.8s into a period at the earliest"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, out.String())
		}
	}
}
