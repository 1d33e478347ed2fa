package slo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Loss is a setting that a conversion could not carry over to the target
// format, or carried over only in part, with where the setting stands in
// its source file.
type Loss struct {
	Pos Position
	// SLO is the id of the SLO (or the name of the policy) concerned.
	SLO string
	// Field names the setting in the native vocabulary (group_by, alerting, ...).
	Field   string
	Message string
}

// String renders the loss as path:line:col: warning: ..., as lint prints diagnostics.
func (l Loss) String() string {
	return fmt.Sprintf("%s: warning: %s: %s: %s", l.Pos, l.SLO, l.Field, l.Message)
}

// WriteOptions configure WriteNative and WriteOpenSLO.
type WriteOptions struct {
	// Comments, when set, carries the YAML comments of the source files
	// over to the written documents (see ReadComments).
	Comments *Comments
}

// WriteNative writes specs as slod/v1 documents, one per service (in the
// order services first appear, labels common to all its SLOs on the
// document), followed by policies as kind: Policy documents. Field order
// follows docs/spec.md, maps are sorted by key, and defaults are left out,
// so the output is deterministic. Loading it yields the same model, save
// the Losses it returns (an id that is not <service>-<name>).
func WriteNative(w io.Writer, specs []*Spec, policies []*PolicySpec, opts WriteOptions) ([]Loss, error) {
	var losses []Loss
	var docs []*yaml.Node
	for _, group := range byService(specs) {
		doc, l := nativeDocument(group, opts.Comments)
		docs = append(docs, doc)
		losses = append(losses, l...)
	}
	for _, p := range policies {
		docs = append(docs, policyDocument(p, opts.Comments))
	}
	return losses, encodeDocuments(w, docs)
}

// byService groups specs by service, in the order services first appear.
func byService(specs []*Spec) [][]*Spec {
	var groups [][]*Spec
	index := map[string]int{}
	for _, s := range specs {
		i, ok := index[s.Service]
		if !ok {
			i = len(groups)
			index[s.Service] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], s)
	}
	return groups
}

func encodeDocuments(w io.Writer, docs []*yaml.Node) error {
	if len(docs) == 0 {
		return nil // yaml.v3 fails to close a stream without documents
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	for _, doc := range docs {
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("writing YAML: %w", err)
		}
	}
	return enc.Close()
}

// commonLabels returns the labels every spec of group carries with the
// same value; with a single SLO none, so its labels stay with it.
func commonLabels(group []*Spec) map[string]string {
	if len(group) < 2 {
		return nil
	}
	common := maps.Clone(group[0].Labels)
	for _, s := range group[1:] {
		for k, v := range common {
			if w, ok := s.Labels[k]; !ok || w != v {
				delete(common, k)
			}
		}
	}
	if len(common) == 0 {
		return nil
	}
	return common
}

func nativeDocument(group []*Spec, cm *Comments) (*yaml.Node, []Loss) {
	common := commonLabels(group)
	root := mapping()
	add(root, "version", str(string(FormatNative)))
	add(root, "service", str(group[0].Service))
	if len(common) > 0 {
		add(root, "labels", stringMap(common))
	}
	slos := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	add(root, "slos", slos)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}

	var losses []Loss
	seenDoc := map[*yaml.Node]bool{}
	for _, s := range group {
		n := nativeSLO(s, common)
		if id := s.Service + "-" + s.Name; id != s.ID {
			losses = append(losses, Loss{Pos: s.PosOf("name"), SLO: s.ID, Field: "id",
				Message: fmt.Sprintf("a slod/v1 id is <service>-<name>: the converted SLO's id is %q (its slo label changes; rename it or set service to keep %q)", id, s.ID)})
		}
		if s.ServiceFromInstance() {
			losses = append(losses, Loss{Pos: s.PosOf("group_by"), SLO: s.ID, Field: "group_by",
				Message: fmt.Sprintf("grouped by service, each instance's own service label is its alerts' service, which a slod/v1 file cannot say: there slod sets service to %q (SLO018 refuses group_by service); the conversion fails lint until its queries copy service to another label (label_replace) grouped by instead, or keep the original file, which slod reads unchanged", s.Service)})
		}
		slos.Content = append(slos.Content, n)
		src, srcDoc := cm.find(s.Pos)
		if src == nil {
			continue
		}
		srcRoot := srcDoc.Content[0]
		// A source document's own comments (above its first key, or
		// above it and a blank line) go on the output document for the
		// first source document, and on its first SLO for the others.
		docComment := ""
		first := len(seenDoc) == 0
		if !seenDoc[srcDoc] {
			seenDoc[srcDoc] = true
			docComment = srcDoc.HeadComment
			if src != srcRoot {
				docComment = joinComments(docComment, firstKeyHead(srcRoot))
			}
			if first {
				doc.HeadComment, doc.FootComment, docComment = docComment, srcDoc.FootComment, ""
				if src != srcRoot && (s.Format == FormatNative || s.Format == FormatSloth) {
					// The comments of the document's keys (version,
					// service, labels, slos), but the first key's head,
					// which is now the document's.
					copyComments(root, srcRoot, nil)
					root.Content[0].HeadComment = ""
				}
			}
		}
		if src == srcRoot {
			// The SLO is the whole document (OpenSLO, Pyrra): the
			// comments above its first key are the SLO's.
			n.HeadComment = joinComments(docComment, firstKeyHead(src), src.HeadComment)
			n.LineComment, n.FootComment = src.LineComment, src.FootComment
			continue
		}
		n.HeadComment = joinComments(docComment, src.HeadComment)
		n.LineComment, n.FootComment = src.LineComment, src.FootComment
		if s.Format == FormatNative || s.Format == FormatSloth {
			copyComments(n, src, slothKeys)
		}
	}
	return doc, losses
}

// slothKeys maps the native keys to the Sloth ones where they differ.
var slothKeys = map[string]string{"page": "page_alert", "ticket": "ticket_alert"}

// nativeSLO builds one SLO of a slod/v1 document; labels in common are
// written on the document instead.
func nativeSLO(s *Spec, common map[string]string) *yaml.Node {
	n := mapping()
	add(n, "name", str(s.Name))
	if s.Description != "" {
		add(n, "description", str(s.Description))
	}
	add(n, "objective", num(s.Objective))
	if s.Window != DefaultWindow {
		add(n, "window", str(FormatDuration(s.Window)))
	}
	add(n, "sli", nativeSLI(s.SLI))
	if len(s.GroupBy) > 0 {
		add(n, "group_by", stringList(s.GroupBy))
	}
	if s.Policy != "" {
		add(n, "policy", str(s.Policy))
	}
	if s.MinEvents != 0 {
		add(n, "min_events", num(s.MinEvents))
	}
	if s.RuleInterval != 0 {
		add(n, "rule_interval", str(FormatDuration(s.RuleInterval)))
	}
	own := map[string]string{}
	for k, v := range s.Labels {
		if cv, ok := common[k]; !ok || cv != v {
			own[k] = v
		}
	}
	if len(own) > 0 {
		add(n, "labels", stringMap(own))
	}
	if len(s.Annotations) > 0 {
		add(n, "annotations", stringMap(s.Annotations))
	}
	if a := nativeAlerting(s.Alerting); a != nil {
		add(n, "alerting", a)
	}
	if len(s.DependsOn) > 0 {
		add(n, "depends_on", nativeDependsOn(s.DependsOn))
	}
	return n
}

// nativeDependsOn writes depends_on: a plain service name where that says
// it all, a mapping otherwise.
func nativeDependsOn(deps []Dependency) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, d := range deps {
		if d.SLO == "" && d.Policy == "" {
			list.Content = append(list.Content, str(d.Service))
			continue
		}
		m := mapping()
		if d.SLO != "" {
			add(m, "slo", str(d.SLO))
		} else {
			add(m, "service", str(d.Service))
		}
		if d.Policy != "" {
			add(m, "policy", str(string(d.Policy)))
		}
		list.Content = append(list.Content, m)
	}
	return list
}

func nativeSLI(sli SLI) *yaml.Node {
	n := mapping()
	switch {
	case sli.Events != nil:
		ev := mapping()
		add(ev, "error_query", str(sli.Events.ErrorQuery))
		add(ev, "total_query", str(sli.Events.TotalQuery))
		add(n, "events", ev)
	case sli.Raw != nil:
		raw := mapping()
		add(raw, "error_ratio_query", str(sli.Raw.ErrorRatioQuery))
		add(n, "raw", raw)
	case sli.Latency != nil:
		lat := mapping()
		add(lat, "metric", str(sli.Latency.Metric))
		if sli.Latency.Selector != "" {
			add(lat, "selector", str(sli.Latency.Selector))
		}
		add(lat, "threshold", num(sli.Latency.Threshold))
		add(n, "latency", lat)
	}
	return n
}

// nativeAlerting builds the alerting block, or nil when nothing is set.
func nativeAlerting(a Alerting) *yaml.Node {
	n := mapping()
	if a.Name != "" {
		add(n, "name", str(a.Name))
	}
	if len(a.Labels) > 0 {
		add(n, "labels", stringMap(a.Labels))
	}
	if len(a.Annotations) > 0 {
		add(n, "annotations", stringMap(a.Annotations))
	}
	if a.NoData != 0 {
		add(n, "no_data", str(FormatDuration(a.NoData)))
	}
	if a.Idle != "" {
		add(n, "idle", str(string(a.Idle)))
	}
	if c := a.Collapse; c != nil {
		cn := mapping()
		add(cn, "below_percent", num(c.BelowPercent))
		add(cn, "baseline", str(FormatDuration(c.Baseline)))
		add(cn, "periods", num(float64(c.PeriodCount())))
		add(n, "collapse", cn)
	}
	for _, class := range []struct {
		key string
		c   AlertClass
	}{{"page", a.Page}, {"ticket", a.Ticket}} {
		cn := mapping()
		if class.c.Disabled {
			add(cn, "disable", boolean(true))
		}
		if class.c.For != 0 {
			add(cn, "for", str(FormatDuration(class.c.For)))
		}
		if len(class.c.Labels) > 0 {
			add(cn, "labels", stringMap(class.c.Labels))
		}
		if len(class.c.Annotations) > 0 {
			add(cn, "annotations", stringMap(class.c.Annotations))
		}
		if len(cn.Content) > 0 {
			add(n, class.key, cn)
		}
	}
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

func policyDocument(p *PolicySpec, cm *Comments) *yaml.Node {
	root := mapping()
	add(root, "version", str(string(FormatNative)))
	add(root, "kind", str("Policy"))
	add(root, "name", str(p.Name))
	rows := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, r := range p.Rows {
		row := mapping()
		add(row, "severity", str(r.Severity))
		add(row, "long", str(FormatDuration(r.Long)))
		add(row, "short", str(FormatDuration(r.Short)))
		add(row, "budget_percent", num(r.BudgetPercent))
		rows.Content = append(rows.Content, row)
	}
	add(root, "rows", rows)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	if srcDoc := cm.policyDoc(p); srcDoc != nil {
		doc.HeadComment, doc.FootComment = srcDoc.HeadComment, srcDoc.FootComment
		copyComments(root, srcDoc.Content[0], nil)
	}
	return doc
}

// Nodes.

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func add(m *yaml.Node, key string, val *yaml.Node) {
	m.Content = append(m.Content, str(key), val)
}

// str is a string scalar; yaml.v3 quotes it when it would read as another
// type. Multi-line text (a query written as a block) stays a block.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
	}
	return n
}

// num is a number in its shortest exact decimal form, never an exponent.
func num(x float64) *yaml.Node {
	v := strconv.FormatFloat(x, 'f', -1, 64)
	tag := "!!float"
	if !strings.Contains(v, ".") {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

func stringMap(m map[string]string) *yaml.Node {
	n := mapping()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		add(n, k, str(m[k]))
	}
	return n
}

func stringList(list []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
	for _, s := range list {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// The annotations under which WriteOpenSLO keeps the settings OpenSLO has
// no field for; the loader reads them back from OpenSLO SLOs
// (readSlodAnnotations). They are Prometheus label names without a domain
// prefix, since slod's OpenSLO reader keeps only the name after the last /
// of an annotation key, like Sloth's slod_policy annotation.
const (
	AnnotationGroupBy      = "slod_group_by"      // group_by, comma-separated
	AnnotationMinEvents    = "slod_min_events"    // min_events
	AnnotationPolicy       = "slod_policy"        // policy
	AnnotationRuleInterval = "slod_rule_interval" // rule_interval
	AnnotationAlerting     = "slod_alerting"      // the alerting block, as one line of YAML
	AnnotationDependsOn    = "slod_depends_on"    // depends_on (FormatDependsOn)
)

// WriteOpenSLO writes specs as OpenSLO v1 kind: SLO documents with an
// inline ratioMetric (Prometheus queries, which keep slod's {{.window}}
// placeholder) and a rolling timeWindow. Settings OpenSLO has no field
// for (group_by, min_events, policy, rule_interval, alerting) become slod_
// annotations that slod reads back; a latency SLI becomes good and total
// bucket queries (an events SLI when read back); policies are not
// written. Each of these is returned as a Loss.
func WriteOpenSLO(w io.Writer, specs []*Spec, policies []*PolicySpec, opts WriteOptions) ([]Loss, error) {
	var losses []Loss
	var docs []*yaml.Node
	seenDoc := map[*yaml.Node]bool{}
	for _, s := range specs {
		doc, l := openSLODocument(s, opts.Comments, seenDoc)
		docs = append(docs, doc)
		losses = append(losses, l...)
	}
	for _, p := range policies {
		losses = append(losses, Loss{Pos: p.Pos, SLO: "policy " + strconv.Quote(p.Name), Field: "kind: Policy",
			Message: "OpenSLO has no burn-rate policies: not written; keep this policy in a slod/v1 file loaded with the converted SLOs"})
	}
	return losses, encodeDocuments(w, docs)
}

// openSLODocument builds the document of one SLO. Its head comment is
// the source SLO's, after its source document's for the first SLO of that
// document (seenDoc).
func openSLODocument(s *Spec, cm *Comments, seenDoc map[*yaml.Node]bool) (*yaml.Node, []Loss) {
	var losses []Loss
	lose := func(field, format string, args ...any) {
		losses = append(losses, Loss{Pos: s.PosOf(field), SLO: s.ID, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	annotations := maps.Clone(s.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	if len(s.GroupBy) > 0 {
		annotations[AnnotationGroupBy] = strings.Join(s.GroupBy, ",")
		lose("group_by", "OpenSLO has no per-label instances: kept as annotation %s, which only slod reads", AnnotationGroupBy)
	}
	if s.MinEvents != 0 {
		annotations[AnnotationMinEvents] = strconv.FormatFloat(s.MinEvents, 'f', -1, 64)
		lose("min_events", "OpenSLO has no low-traffic guard: kept as annotation %s, which only slod reads", AnnotationMinEvents)
	}
	if s.Policy != "" {
		annotations[AnnotationPolicy] = s.Policy
		lose("policy", "OpenSLO has no burn-rate policies: kept as annotation %s, which only slod reads", AnnotationPolicy)
	}
	if len(s.DependsOn) > 0 {
		annotations[AnnotationDependsOn] = FormatDependsOn(s.DependsOn)
		lose("depends_on", "OpenSLO has no dependencies between SLOs: kept as annotation %s, which only slod reads", AnnotationDependsOn)
	}
	if s.RuleInterval != 0 {
		annotations[AnnotationRuleInterval] = FormatDuration(s.RuleInterval)
		lose("rule_interval", "OpenSLO has no rule evaluation interval: kept as annotation %s, which only slod reads", AnnotationRuleInterval)
	}
	if a := nativeAlerting(s.Alerting); a != nil {
		setFlow(a)
		var b strings.Builder
		enc := yaml.NewEncoder(&b)
		if err := enc.Encode(a); err == nil && enc.Close() == nil {
			annotations[AnnotationAlerting] = strings.TrimSpace(b.String())
			lose("alerting", "OpenSLO alert policies do not map onto slod's alerting: kept as annotation %s, which only slod reads", AnnotationAlerting)
		}
	}

	root := mapping()
	add(root, "apiVersion", str(string(FormatOpenSLO)))
	add(root, "kind", str("SLO"))
	meta := mapping()
	add(meta, "name", str(s.ID))
	if len(s.Labels) > 0 {
		add(meta, "labels", stringMap(s.Labels))
	}
	if len(annotations) > 0 {
		add(meta, "annotations", stringMap(annotations))
	}
	add(root, "metadata", meta)
	spec := mapping()
	if s.Description != "" {
		add(spec, "description", str(s.Description))
	}
	add(spec, "service", str(s.Service))
	ratio := mapping()
	source := func(query string) *yaml.Node {
		src := mapping()
		add(src, "type", str("Prometheus"))
		q := mapping()
		add(q, "query", str(query))
		add(src, "spec", q)
		m := mapping()
		add(m, "metricSource", src)
		return m
	}
	switch {
	case s.SLI.Events != nil:
		add(ratio, "counter", boolean(true))
		add(ratio, "bad", source(s.SLI.Events.ErrorQuery))
		add(ratio, "total", source(s.SLI.Events.TotalQuery))
	case s.SLI.Latency != nil:
		good, total := latencyQueries(s.SLI.Latency, s.GroupBy)
		add(ratio, "counter", boolean(true))
		add(ratio, "good", source(good))
		add(ratio, "total", source(total))
		lose("sli.latency", "OpenSLO has no histogram SLI: written as good (bucket) and total (count) queries, read back as an events SLI whose no-data check covers only the total")
	case s.SLI.Raw != nil:
		add(ratio, "counter", boolean(false))
		add(ratio, "rawType", str("failure"))
		add(ratio, "raw", source(s.SLI.Raw.ErrorRatioQuery))
	}
	indicator := mapping()
	ispec := mapping()
	add(ispec, "ratioMetric", ratio)
	add(indicator, "spec", ispec)
	add(spec, "indicator", indicator)
	tw := mapping()
	add(tw, "duration", str(FormatDuration(s.Window)))
	add(tw, "isRolling", boolean(true))
	add(spec, "timeWindow", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{tw}})
	add(spec, "budgetingMethod", str("Occurrences"))
	obj := mapping()
	if t := s.Objective / 100; roundObjective(t*100) == s.Objective {
		add(obj, "target", num(roundObjective(t)))
	} else {
		add(obj, "targetPercent", num(s.Objective))
	}
	add(spec, "objectives", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{obj}})
	add(root, "spec", spec)

	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	if src, srcDoc := cm.find(s.Pos); src != nil {
		docComment := ""
		if !seenDoc[srcDoc] {
			seenDoc[srcDoc] = true
			docComment = joinComments(srcDoc.HeadComment, firstKeyHead(srcDoc.Content[0]))
		}
		doc.HeadComment = joinComments(docComment, src.HeadComment)
		doc.FootComment = src.FootComment
	}
	return doc, losses
}

// latencyQueries are the good and total queries of a latency SLI, summed
// by groupBy: the threshold's bucket and the histogram's count, as
// LatencySLI.queries builds them (errors = total - good).
func latencyQueries(l *LatencySLI, groupBy []string) (good, total string) {
	errors, total, err := l.queries(groupBy)
	if err != nil {
		return "", ""
	}
	return strings.TrimPrefix(errors, total+" - "), total
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// setFlow writes n and everything in it on one line.
func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	if n.Kind == yaml.ScalarNode && n.Style == yaml.LiteralStyle {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}
