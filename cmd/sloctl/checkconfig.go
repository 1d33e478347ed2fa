package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/notify"
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
  sloctl check-config /etc/slod/notify.yaml --route severity=page,team=payments`,
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
	cfg, err := notify.ParseConfig(data, opts.Path, lookup)
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
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Kind(), receiverTarget(r))
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

// receiverTarget describes where a receiver sends, naming secret sources
// but never their values.
func receiverTarget(r notify.Receiver) string {
	src := func(file, env string) string {
		if file != "" {
			return "file " + file
		}
		return "env " + env
	}
	switch {
	case r.PagerDuty != nil:
		return fmt.Sprintf("%s (routing key from %s)", r.PagerDuty.URL, src(r.PagerDuty.RoutingKeyFile, r.PagerDuty.RoutingKeyEnv))
	case r.Opsgenie != nil:
		return fmt.Sprintf("%s (api key from %s)", r.Opsgenie.URL, src(r.Opsgenie.APIKeyFile, r.Opsgenie.APIKeyEnv))
	case r.Alertmanager != nil:
		return r.Alertmanager.URL
	case r.Webhook != nil:
		// The URL's path is often the hook's credential: show the host only.
		w := r.Webhook
		target := "url not read (--offline)"
		if w.URL.IsSet() {
			target = notify.MaskURL(w.URL.Reveal())
		}
		var notes []string
		if w.URLFile != "" || w.URLEnv != "" {
			notes = append(notes, "url from "+src(w.URLFile, w.URLEnv))
		}
		if w.HMACSecretFile != "" || w.HMACSecretEnv != "" {
			notes = append(notes, "signed, secret from "+src(w.HMACSecretFile, w.HMACSecretEnv))
		}
		for _, k := range checkConfigSortedKeys(w.SecretHeaders) {
			h := w.SecretHeaders[k]
			notes = append(notes, fmt.Sprintf("header %s from %s", k, src(h.ValueFile, h.ValueEnv)))
		}
		if len(notes) > 0 {
			target += " (" + strings.Join(notes, "; ") + ")"
		}
		return target
	case r.Log != nil:
		return "stdout"
	}
	return ""
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
