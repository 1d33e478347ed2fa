package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/rules"
	"github.com/slodhq/slod/slo"
)

// GenerateOptions are the inputs of `sloctl generate`.
type GenerateOptions struct {
	IO     IO
	Paths  []string
	Output string
	Format string
	Rules  rules.Options
	// Inhibit writes Alertmanager inhibit rules for depends_on instead of
	// Prometheus rules; DependencyPolicy is the policy of edges naming none.
	Inhibit          bool
	DependencyPolicy string
}

var generateFormats = []string{rules.FormatPrometheus, rules.FormatPrometheusRule, rules.FormatGrafanaDashboard}

// NewCmdGenerate builds `sloctl generate`; runF replaces the run function
// in flag tests (nil generates).
func NewCmdGenerate(io IO, runF func(*GenerateOptions) error) *cobra.Command {
	opts := &GenerateOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "generate [PATH...]",
		Short: "Generate Prometheus recording and alerting rules from SLO files",
		Long: `Generate loads SLO and policy files like lint does and writes Prometheus
rules: per SLO, the error ratio of every window its policy uses (long
windows summed from recorded 5m counts), budget metadata, one burn-rate
alert per severity class and a no-data alert. See docs/rules.md.

Files with lint errors are refused (exit 1). Without -o the rules go to
stdout; -o FILE writes one file; -o DIR (an existing directory, or a path
ending in /) writes one file per service.

--format prometheus writes a rule file for Prometheus, Thanos Ruler, Mimir's
ruler and promtool; --format prometheusrule writes one Kubernetes
PrometheusRule object per service (monitoring.coreos.com/v1);
--format grafana-dashboard writes a Grafana dashboard (JSON, with a uid for
file provisioning) over the series those rules record: objective, budget
remaining, SLI, error ratio, request rate and burn per window, with an $slo
variable (-o DIR writes DIR/slod-slos.json).

--compat sloth adds Sloth's series (slo:sli_error:ratio_rate5m, ...,
sloth_slo_info) and its sloth_* labels and title/summary annotations to
every SLO, so Sloth's Grafana dashboards and the Alertmanager routes
written for Sloth keep working; --compat pyrra adds Pyrra's series
(<metric>:burnrate5m, pyrra_availability, ...) and alerts one per policy
row labelled long, short, exhaustion and severity critical|warning.`,
		Example: `  sloctl generate examples/slos -o slo.rules.yml && promtool check rules slo.rules.yml
  sloctl generate --format prometheusrule -o deploy/rules/ slos/
  sloctl generate --format grafana-dashboard -o dashboards/slod-slos.json slos/
  sloctl generate --compat sloth sloth-slos/ -o slo.rules.yml`,
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if len(opts.Paths) == 0 {
				opts.Paths = []string{"."}
			}
			if opts.Inhibit && isDirTarget(opts.Output) {
				return usageErrorf("--alertmanager-inhibit writes one file: -o FILE, or stdout")
			}
			if _, err := slo.ParseDependencyPolicy(opts.DependencyPolicy); err != nil {
				return usageErrorf("--dependency-policy: %v", err)
			}
			if !contains(generateFormats, opts.Format) {
				return usageErrorf("--format %q: must be one of %s", opts.Format, strings.Join(generateFormats, ", "))
			}
			if !contains(rules.Compats, opts.Rules.Compat) {
				return usageErrorf("--compat %q: must be %s or %s", opts.Rules.Compat, rules.CompatSloth, rules.CompatPyrra)
			}
			for _, p := range opts.Paths {
				if _, err := os.Stat(p); err != nil {
					return usageErrorf("%s: no such file or directory", p)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runGenerate(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "output file, or directory for one file per service (default stdout)")
	f.StringVar(&opts.Format, "format", rules.FormatPrometheus, "output format: "+strings.Join(generateFormats, ", "))
	f.DurationVar(&opts.Rules.Interval, "interval", 0, "evaluation interval of the rule groups (default: Prometheus's global one)")
	f.DurationVar(&opts.Rules.For, "for", 0, "`for` duration of the burn-rate alerts (default none)")
	f.StringVar(&opts.Rules.Compat, "compat", "", "also emit another tool's series names, labels and annotations: "+rules.CompatSloth+" or "+rules.CompatPyrra)
	f.DurationVar(&opts.Rules.NoData, "no-data", rules.DefaultNoData, "how long an SLI may have no data before its no-data alert fires, unless the SLO sets it")
	f.BoolVar(&opts.Inhibit, "alertmanager-inhibit", false, "write Alertmanager inhibit_rules expressing depends_on (an upstream SLO's page mutes its dependents' burn-rate alerts) instead of Prometheus rules; merge them into alertmanager.yml")
	f.StringVar(&opts.DependencyPolicy, "dependency-policy", "", "with --alertmanager-inhibit: the policy of depends_on edges that name none, as slod's (suppress, the default; annotate and off edges mute nothing)")
	return cmd
}

// loadForRules loads paths, runs every lint rule and prints the findings to
// stderr; it fails when any is an error, since rules from a file that does
// not lint would alert wrongly or not at all.
func loadForRules(io IO, paths []string) (*slo.Set, error) {
	cat := engine.Load(paths...)
	for _, d := range cat.Diagnostics {
		fmt.Fprintln(io.Err, d.String())
	}
	if cat.HasErrors() {
		fmt.Fprintln(io.Err, "sloctl: fix the errors above (see sloctl lint) before generating")
		return nil, errFindings
	}
	return cat.Set, nil
}

func runGenerate(opts *GenerateOptions) error {
	set, err := loadForRules(opts.IO, opts.Paths)
	if err != nil {
		return err
	}
	if len(set.SLOs) == 0 {
		return usageErrorf("no SLOs found in %s", strings.Join(opts.Paths, " "))
	}
	if opts.Inhibit {
		return writeInhibit(opts, set)
	}
	start := time.Now()
	ro := opts.Rules
	ro.Exclusions = set.ExclusionsFor
	f, err := rules.Generate(set.SLOs, burnrate.Policies(set), ro)
	if err != nil {
		return err
	}
	if opts.Format == rules.FormatGrafanaDashboard {
		out, err := rules.Dashboard(f)
		if err != nil {
			return err
		}
		path := opts.Output
		switch {
		case path == "":
			_, err := opts.IO.Out.Write(out)
			return err
		case isDirTarget(path):
			if err := os.MkdirAll(path, 0o755); err != nil {
				return err
			}
			path = filepath.Join(path, "slod-slos.json")
		}
		if err := writeFileAtomic(path, out); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "sloctl generate: a dashboard over the rules of %d SLOs -> %s\n", len(set.SLOs), path)
		return nil
	}
	if !isDirTarget(opts.Output) {
		var buf bytes.Buffer
		if err := f.Encode(&buf, opts.Format); err != nil {
			return err
		}
		if opts.Output == "" {
			_, err := opts.IO.Out.Write(buf.Bytes())
			return err
		}
		if err := writeFileAtomic(opts.Output, buf.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Err, "sloctl generate: %d SLOs, %d groups -> %s (%s)\n", len(set.SLOs), len(f.Groups), opts.Output, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := os.MkdirAll(opts.Output, 0o755); err != nil {
		return err
	}
	ext := ".rules.yml"
	if opts.Format == rules.FormatPrometheusRule {
		ext = ".prometheusrule.yaml"
	}
	for _, svc := range f.Services() {
		var buf bytes.Buffer
		if err := f.ForService(svc).Encode(&buf, opts.Format); err != nil {
			return err
		}
		path := filepath.Join(opts.Output, fileName(svc)+ext)
		if err := writeFileAtomic(path, buf.Bytes()); err != nil {
			return err
		}
	}
	fmt.Fprintf(opts.IO.Err, "sloctl generate: %d SLOs, %d services -> %s (%s)\n", len(set.SLOs), len(f.Services()), opts.Output, time.Since(start).Round(time.Millisecond))
	return nil
}

// isDirTarget reports whether -o names a directory: an existing one, or a
// path ending in a separator.
func isDirTarget(out string) bool {
	if out == "" {
		return false
	}
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(filepath.Separator)) {
		return true
	}
	st, err := os.Stat(out)
	return err == nil && st.IsDir()
}

// fileName keeps a service name safe as a file name.
func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// writeFileAtomic writes data to path through a temporary file and a
// rename, so a reader (a ruler watching the directory) never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeInhibit writes the Alertmanager inhibit rules of set's depends_on
// graph to -o FILE or stdout.
func writeInhibit(opts *GenerateOptions, set *slo.Set) error {
	inh := rules.Inhibit(set.SLOs, slo.DependencyPolicy(opts.DependencyPolicy))
	b, err := rules.EncodeInhibit(inh)
	if err != nil {
		return err
	}
	if opts.Output == "" {
		_, err := opts.IO.Out.Write(b)
		return err
	}
	if err := writeFileAtomic(opts.Output, b); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Err, "sloctl generate: %d inhibit rules -> %s\n", len(inh), opts.Output)
	return nil
}
