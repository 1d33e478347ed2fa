package promtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWriteOpenMetrics(t *testing.T) {
	var b strings.Builder
	start := time.Unix(1000, 0)
	err := WriteOpenMetrics(&b, start, time.Minute, 2,
		Counter{Family: "reqs", Labels: map[string]string{"code": `5"0`}, Value: func(i int) float64 { return float64(10 * i) }},
		Counter{Family: "slod:x:rate5m", Gauge: true, Every: 2, Value: func(int) float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	want := `# TYPE reqs counter
reqs_total{code="5\"0"} 0 1000
reqs_total{code="5\"0"} 10 1060
reqs_total{code="5\"0"} 20 1120
# TYPE slod:x:rate5m gauge
slod:x:rate5m 0.5 1000
slod:x:rate5m 0.5 1120
# EOF
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestSLOFixtureErrors(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	fx := BurnScenarios(end, 5*24*time.Hour)
	outage := fx.Scenarios[ScenarioOutage][0]
	if got := fx.ErrorsAt(ScenarioOutage, outage.From); got != 0 {
		t.Errorf("errors at the outage start %v, want 0", got)
	}
	if got := fx.ErrorsAt(ScenarioOutage, outage.From.Add(time.Minute)); got != 1000 {
		t.Errorf("errors one minute in %v, want 1000", got)
	}
	if got := fx.ErrorsAt(ScenarioOutage, end); got != 120000 {
		t.Errorf("errors at the end %v, want 120000", got)
	}
}

func TestServerStopStartKeepsData(t *testing.T) {
	end := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	fx := BurnScenarios(end, 2*time.Hour)
	srv := Start(t, Options{OpenMetrics: fx.OpenMetrics()})
	ctx := context.Background()
	query := `sum(increase(slo_requests_total[1h]))`
	st, err := QueryStats(ctx, srv.URL, query, end)
	if err != nil || st.TotalQueryableSamples != 61 {
		t.Fatalf("stats %+v, %v: want 61 samples (an hour at 1m, both edges on 2.42)", st, err)
	}
	srv.Stop()
	if _, err := http.Get(srv.URL + "/-/ready"); err == nil {
		t.Fatal("server still answers after Stop")
	}
	srv.Start(t)
	if st, err := QueryStats(ctx, srv.URL, query, end); err != nil || st.TotalQueryableSamples != 61 {
		t.Fatalf("after restart: %+v, %v", st, err)
	}
	srv.Restart(t)
	if _, err := QueryStats(ctx, srv.URL, query, end); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}

// Start survives losing the race for its port: to Prometheus that cannot
// bind (the port is held by a plain listener), and to another server that
// answers /-/ready on it (which must not be taken for ours).
func TestStartRetriesOnATakenPort(t *testing.T) {
	RequireBinaries(t, "prometheus", "promtool")
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ready")
	}))
	defer impostor.Close()
	taken := []int{held.Addr().(*net.TCPAddr).Port, impostor.Listener.Addr().(*net.TCPAddr).Port}

	var handed []int
	freePort = func(t testing.TB) int {
		p := FreePort(t)
		if len(handed) < len(taken) {
			p = taken[len(handed)]
		}
		handed = append(handed, p)
		return p
	}
	defer func() { freePort = FreePort }()

	srv := Start(t, Options{})
	if len(handed) != 3 {
		t.Fatalf("ports tried %v, want the two taken ones and a free one", handed)
	}
	if want := fmt.Sprintf("http://127.0.0.1:%d", handed[2]); srv.URL != want {
		t.Fatalf("URL %s, want %s", srv.URL, want)
	}
	if st, err := QueryStats(context.Background(), srv.URL, "vector(1)", time.Now()); err != nil || st.TotalQueryableSamples != 0 {
		t.Fatalf("query on the started server: %+v, %v", st, err)
	}
}
