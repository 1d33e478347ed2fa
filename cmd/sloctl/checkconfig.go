package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/notify"
	"github.com/slodhq/slod/notify/receiver"
)

// CheckConfigOptions are the inputs of `sloctl check-config`.
type CheckConfigOptions struct {
	IO   IO
	Path string
	// Offline checks structure only: secret files and variables are not read.
	Offline bool
	// Routes are label sets (k=v,k=v) to show the receivers for.
	Routes []string
	// LookupEnv reads environment variables; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
}

// NewCmdCheckConfig builds `sloctl check-config`; runF replaces the run
// function in flag tests (nil checks).
func NewCmdCheckConfig(io IO, runF func(*CheckConfigOptions) error) *cobra.Command {
	opts := &CheckConfigOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate a notify config: receivers, routing tree, secrets",
		Long: `Check-config loads a slod notify config the way the daemon does: strict YAML
(unknown fields are errors at their line:column), receivers, the routing tree
and its matchers, delivery settings, and every secret (read from its _file or
_env source; never printed). It prints the receivers and the routing tree;
webhook URLs, whose path is often the hook's credential, are shown as
scheme://host/… only.

--offline skips reading secrets, for CI where they are not present; each
secret must still name exactly one source. --route shows which receivers a
page with the given labels goes to.

Exit codes: 0 valid, 1 invalid, 2 bad usage. See docs/notify.md.`,
		Example: `  sloctl check-config examples/notify.yaml --offline
  sloctl check-config /etc/slod/notify.yaml --route slod_severity=page,team=payments`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Path = args[0]
			if _, err := os.Stat(opts.Path); err != nil {
				return usageErrorf("%s: no such file", opts.Path)
			}
			for _, r := range opts.Routes {
				if _, err := checkConfigLabels(r); err != nil {
					return usageErrorf("--route %q: %v", r, err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runCheckConfig(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "do not read secret files or environment variables")
	cmd.Flags().StringArrayVar(&opts.Routes, "route", nil, "show the receivers for a page with these labels (k=v,k=v); repeatable")
	return cmd
}

func runCheckConfig(opts *CheckConfigOptions) error {
	data, err := os.ReadFile(opts.Path)
	if err != nil {
		return usageErrorf("%v", err)
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if opts.Offline {
		lookup = nil
	}
	cfg, err := receiver.ParseConfig(data, opts.Path, lookup)
	if err != nil {
		for _, e := range checkConfigErrors(err) {
			fmt.Fprintf(opts.IO.Err, "%v\n", e)
		}
		return errFindings
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s: ok\n\nreceivers:\n", opts.Path)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range cfg.Receivers {
		// Each kind describes its target, naming secret sources, never
		// their values (a webhook URL shows as scheme://host/… only).
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Kind, r.Config.Target())
	}
	tw.Flush()
	fmt.Fprintln(w, "\nroutes:")
	printRoute(w, cfg.Route, "  ")
	d := cfg.Delivery
	fmt.Fprintf(w, "\ndelivery: timeout %s, backoff %s..%s (full jitter), max age %s, breaker after %d failures for %s\n",
		d.Timeout, d.BackoffInitial, d.BackoffMax, d.MaxAge, d.BreakerFailures, d.BreakerOpen)
	for _, r := range opts.Routes {
		labels, _ := checkConfigLabels(r)
		fmt.Fprintf(w, "\nroute %s -> %s\n", r, strings.Join(cfg.Route.Receivers(labels), ", "))
	}
	return nil
}

func printRoute(w interface{ Write([]byte) (int, error) }, r *notify.Route, indent string) {
	var m []string
	for _, k := range checkConfigSortedKeys(r.Match) {
		m = append(m, fmt.Sprintf("%s=%q", k, r.Match[k]))
	}
	for _, k := range checkConfigSortedKeys(r.MatchRE) {
		m = append(m, fmt.Sprintf("%s=~%q", k, r.MatchRE[k]))
	}
	match := "{}"
	if len(m) > 0 {
		match = "{" + strings.Join(m, ", ") + "}"
	}
	cont := ""
	if r.Continue {
		cont = " (continue)"
	}
	fmt.Fprintf(w, "%s%s -> %s%s\n", indent, match, r.Receiver, cont)
	for _, c := range r.Routes {
		printRoute(w, c, indent+"  ")
	}
}

func checkConfigSortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkConfigLabels reads "k=v,k=v".
func checkConfigLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not label=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// checkConfigErrors splits an errors.Join tree into its leaves.
func checkConfigErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, checkConfigErrors(e)...)
		}
		return out
	}
	return []error{err}
}
