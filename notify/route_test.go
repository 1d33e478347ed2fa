package notify_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/slodhq/slod/notify"
)

func mustRouter(t testing.TB, cfg *notify.Config) *notify.Router {
	t.Helper()
	r, err := cfg.Router()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A routing tree built in Go, never through ParseConfig, still honours
// match_re once compiled: routing goes through a Router, and a Router only
// comes from compiling.
func TestARouterBuiltFromAHandMadeRouteHonoursMatchRE(t *testing.T) {
	route := &notify.Route{Receiver: "default", Routes: []*notify.Route{
		{MatchRE: map[string]string{"team": "pay.*"}, Receiver: "payments"},
		{Match: map[string]string{"severity": "page"}, Routes: []*notify.Route{{MatchRE: map[string]string{"service": "api|web"}}}},
	}}
	rt, err := notify.NewRouter(route)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   []string
	}{
		{map[string]string{"team": "payments"}, []string{"payments"}},
		{map[string]string{"team": "xpayments"}, []string{"default"}}, // anchored
		{map[string]string{"team": "search"}, []string{"default"}},
		{map[string]string{"severity": "page", "service": "api"}, []string{"default"}}, // inherited through two levels
	} {
		if got := rt.Receivers(tc.labels); !slices.Equal(got, tc.want) {
			t.Errorf("Receivers(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := route.Routes[1].Routes[0].Receiver; got != "" {
		t.Errorf("compiling changed the Route: receiver %q", got)
	}
	// The deprecated Route.Receivers compiles too; it never matches with
	// match_re ignored.
	if got := route.Receivers(map[string]string{"team": "search"}); !slices.Equal(got, []string{"default"}) {
		t.Errorf("Route.Receivers = %v", got)
	}
}

func TestNewRouterRejectsWhatDoesNotCompile(t *testing.T) {
	_, err := notify.NewRouter(&notify.Route{Receiver: "a", Routes: []*notify.Route{{MatchRE: map[string]string{"team": "("}}, nil}})
	if err == nil || !strings.Contains(err.Error(), "route.routes[0]: match_re team") || !strings.Contains(err.Error(), "route.routes[1]: empty child route") {
		t.Errorf("err = %v", err)
	}
	if _, err := notify.NewRouter(nil); err == nil {
		t.Error("a nil route compiled")
	}
}

// A page whose SLO sets its own severity label (severity: critical, for
// the team's Alertmanager) still routes by slod's class: slod_severity
// always carries the page's Severity, which no label can override.
func TestRoutingBySlodSeverityIgnoresTheUsersSeverityLabel(t *testing.T) {
	rt, err := notify.NewRouter(&notify.Route{Receiver: "chat", Routes: []*notify.Route{
		{Match: map[string]string{notify.ClassLabel: "page"}, Receiver: "pager"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		page notify.Page
		want string
	}{
		{"a page with the user's severity: critical", notify.Page{Severity: notify.SeverityPage, Labels: map[string]string{"severity": "critical"}}, "pager"},
		{"a page without a severity label", notify.Page{Severity: notify.SeverityPage}, "pager"},
		{"a ticket whose labels claim to be a page", notify.Page{Severity: notify.SeverityTicket, Labels: map[string]string{"severity": "page", notify.ClassLabel: "page"}}, "chat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rt.Receivers(tc.page.RouteLabels()); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("routed to %v, want %s", got, tc.want)
			}
		})
	}
	if l := (notify.Page{Severity: notify.SeverityPage, Labels: map[string]string{"severity": "critical"}}).RouteLabels(); l["severity"] != "critical" {
		t.Errorf("the user's severity label became %q", l["severity"])
	}
}
