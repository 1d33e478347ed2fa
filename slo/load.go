package slo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxFileSize caps the size of one SLO file. Real SLO files are a few
// kilobytes; a file this large is a mistake (a log, a binary, a dump) and is
// reported instead of parsed.
const MaxFileSize = 4 << 20

// Set is everything loaded from a group of files.
type Set struct {
	SLOs     []*Spec
	Policies []*PolicySpec
	// Exclusions are the `kind: Exclusion` documents (slo/exclusion.go).
	Exclusions []*Exclusion

	// openSLO holds the OpenSLO objects read until every file of a Load
	// call is, so references resolve across files (resolveOpenSLO).
	openSLO *openSLOObjects
	// slothWindows maps an SLO period to the policy of the Sloth
	// AlertWindows document for it (applySlothWindows).
	slothWindows map[time.Duration]string
}

// PolicySpec is a burn-rate policy as written in a `kind: Policy` document.
// The burnrate package turns it into a burnrate.Policy and checks its math;
// slo only reads it, since slo imports nothing of ours.
type PolicySpec struct {
	Name string
	// Measure is the policy's burn measure, "ratio" or "budget" ("" is
	// ratio); a row may set its own.
	Measure string
	Rows    []PolicyRowSpec
	Pos     Position
}

// PolicyRowSpec is one row of a PolicySpec: page or ticket when the burn
// over Long and Short spends BudgetPercent of the window's budget within Long.
type PolicyRowSpec struct {
	// Severity is "page" or "ticket".
	Severity      string
	Long, Short   time.Duration
	BudgetPercent float64
	// Measure overrides the policy's measure for this row ("" inherits).
	Measure string
	// FloorPercent, when > 0, makes the row a floor row: it fires when at
	// least this percentage of events fail over both windows, whatever
	// the traffic (BudgetPercent is then not set).
	FloorPercent float64
	Pos          Position
}

// Load reads SLO and policy documents from files and directories.
// Directories are walked recursively for *.yaml and *.yml files (hidden
// directories are skipped); files named explicitly are read whatever their
// extension. Every document of a multi-document file is read, in the native
// (version: slod/v1), Sloth (version: prometheus/v1, or apiVersion:
// sloth.slok.dev/v1 kind: PrometheusServiceLevel), OpenSLO (apiVersion:
// openslo/v1 or openslo/v1alpha, every kind, also as one YAML list of
// objects) or Pyrra (apiVersion: pyrra.dev/v1alpha1, kind:
// ServiceLevelObjective) format, strictly: an unknown field is an error at
// its line:column. Documents of other apiVersions (Kubernetes manifests)
// are skipped. OpenSLO references resolve across all of paths.
//
// Load reports problems of form (rules SLO001..SLO004) and skips what they
// affect, an SLO or a whole document, while everything else still loads.
// It does not apply the semantic rules: call Validate on the result, or use
// Check for both. Load never panics and always returns a non-nil Set.
func Load(paths ...string) (*Set, []Diagnostic) {
	set := &Set{}
	var diags []Diagnostic
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			diags = append(diags, Diagnostic{Pos: Position{File: p, Line: 1, Column: 1}, Severity: SeverityError, Rule: RuleYAML, Message: err.Error()})
		}
		for _, f := range files {
			diags = append(diags, loadFile(set, f)...)
		}
	}
	diags = append(diags, set.resolveOpenSLO()...)
	diags = append(diags, set.readSlodAnnotations()...)
	set.applySlothWindows()
	SortDiagnostics(diags)
	return set, diags
}

// Check loads paths and validates the result: Load followed by Validate,
// with every diagnostic sorted by position.
func Check(paths ...string) (*Set, []Diagnostic) {
	set, diags := Load(paths...)
	diags = append(diags, Validate(set)...)
	SortDiagnostics(diags)
	return set, diags
}

// SkipBadFiles returns the part of s defined in files that have no error
// among diags, so that a daemon runs every good file while a bad one is
// reported and skipped.
func (s *Set) SkipBadFiles(diags []Diagnostic) *Set {
	bad := map[string]bool{}
	for _, d := range diags {
		if d.Severity == SeverityError {
			bad[d.Pos.File] = true
		}
	}
	out := &Set{}
	for _, spec := range s.SLOs {
		if !bad[spec.Pos.File] {
			out.SLOs = append(out.SLOs, spec)
		}
	}
	for _, p := range s.Policies {
		if !bad[p.Pos.File] {
			out.Policies = append(out.Policies, p)
		}
	}
	for _, x := range s.Exclusions {
		if !bad[x.Pos.File] {
			out.Exclusions = append(out.Exclusions, x)
		}
	}
	return out
}

// expand turns a path into the SLO files it names.
func expand(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPathError(err))
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("cannot read: not a regular file")
		}
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		ext := strings.ToLower(filepath.Ext(path))
		if ext != ".yaml" && ext != ".yml" {
			return nil
		}
		// Regular files and symlinks to them only: a FIFO would block.
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			return nil
		}
		files = append(files, path)
		return nil
	})
	if err != nil {
		return files, fmt.Errorf("cannot walk directory: %w", unwrapPathError(err))
	}
	slices.Sort(files)
	return files, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// loadFile reads one file into set and returns its diagnostics.
func loadFile(set *Set, path string) []Diagnostic {
	fileErr := func(line int, format string, args ...any) []Diagnostic {
		return []Diagnostic{{Pos: Position{File: path, Line: line, Column: 1}, Severity: SeverityError, Rule: RuleYAML, Message: fmt.Sprintf(format, args...)}}
	}
	f, err := os.Open(path)
	if err != nil {
		return fileErr(1, "cannot read: %v", unwrapPathError(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fileErr(1, "cannot read: %v", unwrapPathError(err))
	}
	if len(data) > MaxFileSize {
		return fileErr(1, "file is larger than %d MiB; SLO files are small, is this the right file?", MaxFileSize>>20)
	}
	return loadBytes(set, path, data)
}

// LoadBytes reads SLO and policy documents from data as if it were the file
// named path. It is Load for one in-memory file (tests, fuzzing, stdin).
func LoadBytes(path string, data []byte) (*Set, []Diagnostic) {
	set := &Set{}
	diags := loadBytes(set, path, data)
	diags = append(diags, set.resolveOpenSLO()...)
	diags = append(diags, set.readSlodAnnotations()...)
	set.applySlothWindows()
	SortDiagnostics(diags)
	return set, diags
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// internalError starts the message of a panic recovered while reading a
// file, so that one bad file cannot take a daemon down; the fuzz test fails
// on it.
const internalError = "internal error reading this file (please report it)"

func loadBytes(set *Set, path string, data []byte) (diags []Diagnostic) {
	fileErr := func(line int, format string, args ...any) []Diagnostic {
		return []Diagnostic{{Pos: Position{File: path, Line: line, Column: 1}, Severity: SeverityError, Rule: RuleYAML, Message: fmt.Sprintf(format, args...)}}
	}
	if len(data) > MaxFileSize {
		return fileErr(1, "file is larger than %d MiB; SLO files are small, is this the right file?", MaxFileSize>>20)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fileErr(1, "file is empty: expected SLO or policy documents")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 || !utf8.Valid(data) {
		line := 1
		if i >= 0 {
			line += bytes.Count(data[:i], []byte("\n"))
		}
		return fileErr(line, "file is not UTF-8 text (binary data?)")
	}
	// yaml.v3 guards against deep nesting and alias bombs with errors; a
	// panic from it on hostile input must still not take the caller down.
	defer func() {
		if r := recover(); r != nil {
			diags = append(diags, fileErr(1, "%s: %v", internalError, r)...)
		}
	}()
	d := &decoder{file: path}
	// Foreign SLOs whose queries aggregate by labels get those as group_by.
	defer func(first int) { d.groupByFromQueries(set.SLOs[first:]); diags = d.diags }(len(set.SLOs))
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line := 1
			if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			msg = strings.TrimPrefix(msg, "line "+strconv.Itoa(line)+": ")
			d.diags = append(d.diags, fileErr(line, "invalid YAML: %s", msg)...)
			break
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue // an empty document between separators
		}
		docs++
		d.document(set, doc.Content[0])
	}
	if docs == 0 && len(d.diags) == 0 {
		d.diags = append(d.diags, fileErr(1, "file holds no YAML documents (only comments or separators)")...)
	}
	return d.diags
}

// document dispatches one document on its version (native, Sloth) or
// apiVersion (OpenSLO, Pyrra, Sloth's Kubernetes form). A document with an
// apiVersion no format of slod uses is skipped silently; a list of
// documents (the OpenSLO list form) is read item by item.
func (d *decoder) document(set *Set, n *yaml.Node) {
	n = resolve(n)
	if n.Kind == yaml.SequenceNode {
		// The list form: a file that is one list of objects, as OpenSLO's
		// go-sdk writes them. Each item is read as a document.
		for _, item := range n.Content {
			if item = resolve(item); item != nil && item.Kind == yaml.SequenceNode {
				d.errorf(item, RuleYAML, "a list of objects must hold mappings, got a nested list")
				continue
			}
			d.document(set, item)
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, RuleYAML, "document must be a mapping with a version field, got %s", kindName(n))
		return
	}
	var version, apiVersion, kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "version":
			version = resolve(n.Content[i+1])
		case "apiVersion":
			apiVersion = resolve(n.Content[i+1])
		case "kind":
			kind = resolve(n.Content[i+1])
		}
	}
	scalar := func(x *yaml.Node) string {
		if x == nil || x.Kind != yaml.ScalarNode {
			return ""
		}
		return x.Value
	}
	switch {
	case apiVersion != nil:
		switch v := scalar(apiVersion); v {
		case "openslo/v1", "openslo/v1alpha":
			d.openSLODocument(set, n, v)
		case string(FormatPyrra):
			d.pyrra(set, n, kind)
		case "sloth.slok.dev/v1":
			d.slothK8s(set, n, kind)
		default:
			if isOpenSLOAPIVersion(v) || strings.HasPrefix(v, "pyrra.dev/") || strings.HasPrefix(v, "sloth.slok.dev/") || apiVersion.Kind != yaml.ScalarNode {
				d.errorf(apiVersion, RuleUnsupported, "apiVersion %q is not supported: slod reads openslo/v1, openslo/v1alpha, pyrra.dev/v1alpha1 and sloth.slok.dev/v1", v)
			}
			// Anything else is someone else's object (a Deployment or
			// ConfigMap next to the SLOs in a directory of Kubernetes
			// manifests): skipped, not an error.
		}
	case version != nil:
		switch v := scalar(version); v {
		case string(FormatNative):
			switch k := scalar(kind); {
			case kind == nil || k == "SLO":
				d.native(set, n)
			case k == "Policy":
				d.policy(set, n)
			case k == "Exclusion":
				d.exclusion(set, n)
			default:
				d.errorf(kind, RuleUnsupported, "kind %q is not supported: a slod/v1 document is kind: SLO (the default), kind: Policy or kind: Exclusion", k)
			}
		case string(FormatSloth):
			d.sloth(set, n)
		default:
			d.errorf(version, RuleUnsupported, "version %q is not supported: use slod/v1, prometheus/v1 (Sloth) or apiVersion: openslo/v1", v)
		}
	default:
		d.errorf(n, RuleInvalidField, "document has no version: start it with version: slod/v1, version: prometheus/v1 (Sloth), apiVersion: openslo/v1, apiVersion: pyrra.dev/v1alpha1 or apiVersion: sloth.slok.dev/v1")
	}
}
