package server

import (
	"net/http"
	"testing"
)

func TestReportsAPIWithoutAReportFunctionIs404(t *testing.T) {
	ts, _ := newTestServer(t, testSnapshot())
	code, _ := get(t, ts.URL+"/api/v1/reports?period=2026-11")
	if code != http.StatusNotFound {
		t.Errorf("status %d, want 404", code)
	}
}
