package notify_test

import (
	"fmt"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
)

func ExampleDedupKey() {
	// The same SLO instance and alert class give the same key on every
	// replica and after every restart; any other part changes it.
	a := notify.DedupKey("checkout-availability", `route="/pay"`, "page")
	b := notify.DedupKey("checkout-availability", `route="/pay"`, "page")
	c := notify.DedupKey("checkout-availability", `route="/pay"`, "ticket")
	fmt.Println(len(a), a == b, a == c)
	// Output: 32 true false
}

func ExampleRouter_Receivers() {
	cfg, err := receiver.ParseConfig([]byte(`
receivers:
  - {name: pagerduty, webhook: {url: "http://127.0.0.1:1"}}
  - {name: chat, webhook: {url: "http://127.0.0.1:2"}}
  - {name: stdout, log: {}}
route:
  receiver: stdout
  routes:
    - {match: {severity: page}, match_re: {team: "pay.*"}, receiver: pagerduty, continue: true}
    - {match: {team: payments}, receiver: chat}
`), "example.yaml", nil)
	if err != nil {
		panic(err)
	}
	router, err := notify.NewRouter(cfg.Route)
	if err != nil {
		panic(err)
	}
	fmt.Println(router.Receivers(map[string]string{"team": "payments", "severity": "page"}))
	fmt.Println(router.Receivers(map[string]string{"team": "payments", "severity": "ticket"}))
	fmt.Println(router.Receivers(map[string]string{"team": "search", "severity": "page"}))
	// Output:
	// [pagerduty chat]
	// [chat]
	// [stdout]
}
