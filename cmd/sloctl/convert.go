package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/slo"
)

// ConvertOptions are the inputs of `sloctl convert`.
type ConvertOptions struct {
	IO     IO
	Paths  []string
	To     string
	Output string
}

// The targets of --to.
const (
	convertToSlod    = "slod"
	convertToOpenSLO = "openslo"
)

var convertTargets = []string{convertToSlod, convertToOpenSLO}

// NewCmdConvert builds `sloctl convert`; runF replaces the run function in
// flag tests (nil converts).
func NewCmdConvert(io IO, runF func(*ConvertOptions) error) *cobra.Command {
	opts := &ConvertOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "convert [--to slod|openslo] [-o FILE|DIR] PATH...",
		Short: "Convert SLO files of any format slod reads to slod/v1 or OpenSLO v1",
		Long: `Convert loads SLO and policy files like lint does, in any format slod
reads (native slod/v1, Sloth, Pyrra, OpenSLO), and writes them as slod/v1
(--to slod, the default) or OpenSLO v1 (--to openslo) YAML. Loading the
output yields the same SLOs: ids, names, queries, objective, window,
group_by, labels, annotations, alerting and policy.

slod/v1 output holds one document per service (labels common to all its
SLOs on the document) and the kind: Policy documents of the input. Comments
carry over: the document's and each SLO's, and for native and Sloth
input those of every field.

A Sloth, Pyrra or OpenSLO SLO whose policy has rows that can never fire
at its objective (slod drops them with warning POL003; slod/v1 refuses
them) gets a policy of the rows it uses, written beside it.

OpenSLO has no field for group_by, min_events, policy, rule_interval or
alerting: they are kept as slod_ annotations, which slod reads back and
other tools ignore. A latency SLI is written as good (bucket) and total (count)
queries, and policies are not written. Each such loss is a warning on
stderr naming the field. See docs/convert.md.

Diagnostics from loading go to stderr as lint prints them. A file with
errors is not converted; the others are, and the exit code is 1. Without
-o the output goes to stdout; -o FILE writes one file; -o DIR (an existing
directory, or a path ending in /) writes one file per input file, with the
input's base name.

Exit codes: 0 converted, 1 a file had errors (the others converted), 2 bad usage.`,
		Example: `  sloctl convert slos/payments-sloth.yaml > payments.yaml
  sloctl convert -o converted/ pyrra-manifests/
  sloctl convert --to openslo -o catalog.openslo.yaml slos/catalog.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Paths = args
			if !contains(convertTargets, opts.To) {
				return usageErrorf("--to %q: must be one of %s", opts.To, strings.Join(convertTargets, ", "))
			}
			for _, p := range opts.Paths {
				if _, err := os.Stat(p); err != nil {
					return usageErrorf("%s: no such file or directory", p)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runConvert(opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", convertToSlod, "output format: "+strings.Join(convertTargets, ", "))
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output file, or directory for one file per input file (default stdout)")
	return cmd
}

// convertInput is one input file and what it defined.
type convertInput struct {
	path     string
	specs    []*slo.Spec
	policies []*slo.PolicySpec
}

func runConvert(opts *ConvertOptions) error {
	cat := engine.Load(opts.Paths...)
	diags := slices.Concat(cat.Diagnostics, cat.Unresolved)
	for i := range diags {
		if diags[i].Rule == "" {
			diags[i].Rule = slo.RuleUnknownPolicy // Unresolved: a policy in a file with errors
		}
	}
	slo.SortDiagnostics(diags)
	for _, d := range diags {
		fmt.Fprintln(opts.IO.Err, d.String())
	}
	bad := map[string]bool{}
	for _, d := range diags {
		if d.Severity == slo.SeverityError {
			bad[d.Pos.File] = true
		}
	}

	// The input files in the order Load read them, with their definitions.
	var inputs []*convertInput
	byPath := map[string]*convertInput{}
	input := func(path string) *convertInput {
		in := byPath[path]
		if in == nil {
			in = &convertInput{path: path}
			byPath[path] = in
			inputs = append(inputs, in)
		}
		return in
	}
	for _, s := range cat.Set.SLOs {
		in := input(s.Pos.File)
		in.specs = append(in.specs, s)
	}
	for _, p := range cat.Set.Policies {
		in := input(p.Pos.File)
		in.policies = append(in.policies, p)
	}
	var good []*convertInput
	var files []string
	for _, in := range inputs {
		if !bad[in.path] {
			good = append(good, in)
			files = append(files, in.path)
		}
	}
	if len(inputs) == 0 && len(bad) == 0 {
		return usageErrorf("no SLOs or policies found in %s", strings.Join(opts.Paths, " "))
	}

	write := slo.WriteNative
	if opts.To == convertToOpenSLO {
		write = slo.WriteOpenSLO
	} else {
		policies := burnrate.Policies(cat.Set.SkipBadFiles(diags))
		for _, in := range good {
			for _, l := range nativePolicies(in, policies) {
				fmt.Fprintln(opts.IO.Err, l.String())
			}
		}
	}
	wopts := slo.WriteOptions{Comments: slo.ReadComments(files...)}
	convert := func(ins []*convertInput) ([]byte, error) {
		var specs []*slo.Spec
		var policies []*slo.PolicySpec
		for _, in := range ins {
			specs = append(specs, in.specs...)
			policies = append(policies, in.policies...)
		}
		var buf bytes.Buffer
		losses, err := write(&buf, specs, policies, wopts)
		for _, l := range losses {
			fmt.Fprintln(opts.IO.Err, l.String())
		}
		return buf.Bytes(), err
	}

	nSLOs, nPolicies := 0, 0
	for _, in := range good {
		nSLOs += len(in.specs)
		nPolicies += len(in.policies)
	}
	dest := "stdout"
	switch {
	case len(good) == 0:
		// Nothing converts: every file had errors.
	case isDirTarget(opts.Output):
		if err := convertToDir(opts, good, convert); err != nil {
			return err
		}
		dest = opts.Output
	default:
		out, err := convert(good)
		if err != nil {
			return err
		}
		if opts.Output == "" {
			if _, err := opts.IO.Out.Write(out); err != nil {
				return err
			}
			break
		}
		for _, in := range good {
			if sameFile(in.path, opts.Output) {
				return usageErrorf("-o %s: is an input file; write the conversion elsewhere", opts.Output)
			}
		}
		if err := writeFileAtomic(opts.Output, out); err != nil {
			return err
		}
		dest = opts.Output
	}
	fmt.Fprintf(opts.IO.Err, "sloctl convert: %s, %s from %s -> %s", plural(nSLOs, "SLO"), plural(nPolicies, "policy"), plural(len(good), "file"), dest)
	if len(bad) > 0 {
		fmt.Fprintf(opts.IO.Err, "; %s not converted (errors above)", plural(len(bad), "file"))
	}
	fmt.Fprintln(opts.IO.Err)
	if len(bad) > 0 {
		return errFindings
	}
	return nil
}

// convertToDir writes one file per input file into opts.Output, named as
// the input. Two inputs of the same name, or an output that would replace
// its input, are refused before anything is written.
func convertToDir(opts *ConvertOptions, inputs []*convertInput, convert func([]*convertInput) ([]byte, error)) error {
	names := map[string]string{}
	for _, in := range inputs {
		name := filepath.Base(in.path)
		if first, dup := names[name]; dup {
			return usageErrorf("-o %s: %s and %s would both be written to %s; convert them into different directories", opts.Output, first, in.path, name)
		}
		names[name] = in.path
		if sameFile(in.path, filepath.Join(opts.Output, name)) {
			return usageErrorf("-o %s: would overwrite the input %s; write the conversion elsewhere", opts.Output, in.path)
		}
	}
	if err := os.MkdirAll(opts.Output, 0o755); err != nil {
		return err
	}
	for _, in := range inputs {
		out, err := convert([]*convertInput{in})
		if err != nil {
			return fmt.Errorf("%s: %w", in.path, err)
		}
		if err := writeFileAtomic(filepath.Join(opts.Output, filepath.Base(in.path)), out); err != nil {
			return err
		}
	}
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// nativePolicies keeps the alerts of foreign SLOs whose policy has rows
// that can never fire at their objective and window (a Sloth SLO of 90%
// and the default 1h page row). burnrate.PolicyFor drops such rows for
// foreign formats, while in a slod/v1 file they are an error (POL003); so
// such an SLO is converted naming a policy of the rows it really uses,
// "<policy>-<slo id>", written beside it (shared by the SLOs of the file
// with the same policy, objective and window).
func nativePolicies(in *convertInput, policies map[string]burnrate.Policy) []slo.Loss {
	type key struct {
		policy    string
		objective float64
		window    time.Duration
	}
	derived := map[key]string{}
	var losses []slo.Loss
	for _, s := range in.specs {
		if !burnrate.Foreign(s) {
			continue
		}
		name := s.Policy
		if name == "" {
			name = burnrate.DefaultPolicyName
		}
		full, ok := policies[name]
		firing, _ := burnrate.PolicyFor(s, policies)
		if !ok || len(firing.Rows) == len(full.Rows) || len(firing.Rows) == 0 {
			continue
		}
		k := key{name, s.Objective, s.Window}
		if derived[k] == "" {
			derived[k] = name + "-" + s.ID
			ps := &slo.PolicySpec{Name: derived[k], Pos: s.Pos}
			for _, r := range firing.Rows {
				pct, _ := strconv.ParseFloat(strconv.FormatFloat(r.BudgetShare*100, 'g', 12, 64), 64)
				ps.Rows = append(ps.Rows, slo.PolicyRowSpec{Severity: string(r.Severity), Long: r.Long, Short: r.Short, BudgetPercent: pct})
			}
			in.policies = append(in.policies, ps)
		}
		losses = append(losses, slo.Loss{Pos: s.PosOf("objective"), SLO: s.ID, Field: "policy",
			Message: fmt.Sprintf("policy %q has %s that can never fire at objective %v%% over %s, which %s drops; slod/v1 refuses such rows (POL003), so the SLO names policy %q, written beside it with the %s it uses",
				name, plural(len(full.Rows)-len(firing.Rows), "row"), s.Objective, slo.FormatDuration(s.Window), s.Format, derived[k], plural(len(firing.Rows), "row"))})
		s.Policy = derived[k]
	}
	return losses
}
