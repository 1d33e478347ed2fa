package slo

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// OpenSLO files are read in two phases. While files are read, every object
// (SLO, SLI, DataSource, AlertPolicy, AlertCondition,
// AlertNotificationTarget, Service; openslo/v1 and openslo/v1alpha) is
// checked on its own and kept in the Set's openSLO objects, its references
// still names. Once every file of the Load call is read, resolveOpenSLO
// (openslo_refs.go) resolves the references across files and turns each
// SLO objective into a Spec. An object with an error is skipped alone: the
// other objects of its file still load, and only the SLOs that need it fail
// (with an error at their reference). docs/spec.md maps every field.

// openSLOObjects are the OpenSLO objects read so far by one Load call.
type openSLOObjects struct {
	slos       []*osSLO
	slis       map[string]*osSLI
	sources    map[string]*osDataSource
	conditions map[string]*osCondition
	policies   map[string]*osPolicy
	targets    map[string]*osTarget
	// services maps Service names to where they are defined;
	// serviceDeps to their depends_on (annotation slod.dev/depends-on).
	services    map[string]Position
	serviceDeps map[string][]Dependency
}

func (set *Set) openSLOObjects() *openSLOObjects {
	if set.openSLO == nil {
		set.openSLO = &openSLOObjects{
			slis: map[string]*osSLI{}, sources: map[string]*osDataSource{}, conditions: map[string]*osCondition{},
			policies: map[string]*osPolicy{}, targets: map[string]*osTarget{}, services: map[string]Position{},
			serviceDeps: map[string][]Dependency{},
		}
	}
	return set.openSLO
}

// osRef is a reference by name to another object, where it is written.
type osRef struct {
	name string
	pos  Position
}

// osSLO is an OpenSLO SLO before its references are resolved.
type osSLO struct {
	id          string
	pos         Position
	fieldPos    map[string]Position
	labels      map[string]string
	annotations map[string]string
	description string
	service     string
	indicator   *osSLI
	// indicatorRef names an SLI object (indicator is nil then).
	indicatorRef osRef
	window       time.Duration
	calendar     *Calendar
	objectives   []*osObjective
	policies     []*osPolicyRef
	alpha        bool
}

// osObjective is one objective of an SLO; each becomes a Spec.
type osObjective struct {
	pos         Position
	displayName string
	op          string
	opPos       Position
	value       float64
	hasValue    bool
	objective   float64 // percent
	objPos      Position
	// slices is the objective's time-slice budgeting (Timeslices,
	// RatioTimeslices), nil for Occurrences.
	slices *TimeSlices
	// indicator or indicatorRef of a composite objective (v1) or the
	// ratioMetrics of a v1alpha objective; nil/empty means the SLO's.
	indicator    *osSLI
	indicatorRef osRef
}

// osSLI is an SLI object or an inline indicator.
type osSLI struct {
	name string
	pos  Position
	ok   bool
	// Exactly one of ratio and threshold is set when ok.
	ratio     *osRatio
	threshold *osSource
}

type osRatio struct {
	counter          bool
	good, bad, total *osSource
	raw              *osSource
	rawType          string
}

// osSource is a metricSource: a reference to a DataSource and/or a type,
// and a spec whose fields depend on the type and are read once the type is
// known (openslo_refs.go). v1alpha sources carry their query directly.
type osSource struct {
	file    string
	pos     Position
	ref     osRef
	typ     string
	typPos  Position
	spec    *yaml.Node
	specPos Position
	// query is set for v1alpha sources, which have no spec.
	query    string
	queryPos Position
	alpha    bool
}

type osDataSource struct {
	name   string
	pos    Position
	typ    string
	typPos Position
	ok     bool
}

// osCondition is an AlertCondition of kind burnrate.
type osCondition struct {
	name       string
	pos        Position
	severity   string
	sevPos     Position
	op         string
	opPos      Position
	threshold  float64
	lookback   time.Duration
	alertAfter time.Duration
	afterPos   Position
	ok         bool
}

type osPolicy struct {
	name       string
	pos        Position
	breaching  bool
	conditions []*osConditionRef
	targets    []*osTargetRef
	ok         bool
}

type osPolicyRef struct {
	ref    osRef
	inline *osPolicy
}

type osConditionRef struct {
	ref    osRef
	inline *osCondition
}

type osTargetRef struct {
	ref    osRef
	inline *osTarget
}

type osTarget struct {
	name   string
	pos    Position
	target string
	ok     bool
}

// openSLOKinds are the kinds of openslo/v1.
var openSLOKinds = []string{"SLO", "SLI", "DataSource", "Service", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}

// openSLODocument reads one openslo/v1 or openslo/v1alpha object.
func (d *decoder) openSLODocument(set *Set, n *yaml.Node, version string) {
	var kind *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "kind" {
			kind = resolve(n.Content[i+1])
		}
	}
	if kind == nil || kind.Kind != yaml.ScalarNode {
		d.errorf(n, RuleInvalidField, "OpenSLO %s object without kind: set kind to one of %s", version, strings.Join(openSLOKinds, ", "))
		return
	}
	objs := set.openSLOObjects()
	if version == "openslo/v1alpha" {
		switch kind.Value {
		case "SLO":
			if s := d.openSLOAlpha(n); s != nil {
				objs.slos = append(objs.slos, s)
			}
		case "Service":
			d.openSLOService(objs, n, "openslo/v1alpha Service")
		default:
			d.errorf(kind, RuleUnsupported, "openslo/v1alpha has no kind %q (it has SLO and Service); use apiVersion: openslo/v1", kind.Value)
		}
		return
	}
	switch kind.Value {
	case "SLO":
		if s := d.openSLO(n); s != nil {
			objs.slos = append(objs.slos, s)
		}
	case "SLI":
		start := len(d.diags)
		what := "OpenSLO SLI"
		fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
		d.required(n, fs, what, "metadata", "spec")
		meta := d.osMetadata(fs, what, nil)
		sli := &osSLI{name: meta.name, pos: meta.pos}
		if f, ok := fs["spec"]; ok {
			d.osSLISpec(f, what+fmt.Sprintf(" %q: spec", meta.name), sli)
		}
		sli.ok = !d.errorsSince(start)
		addObject(d, objs.slis, "SLI", meta, sli)
	case "DataSource":
		start := len(d.diags)
		what := "OpenSLO DataSource"
		fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
		d.required(n, fs, what, "metadata", "spec")
		meta := d.osMetadata(fs, what, nil)
		ds := &osDataSource{name: meta.name, pos: meta.pos, ok: meta.ok}
		if f, ok := fs["spec"]; ok {
			what += fmt.Sprintf(" %q: spec", meta.name)
			sfs, _ := d.fields(f.val, what, "description", "type", "connectionDetails")
			d.required(f.key, sfs, what, "type")
			if t, found := sfs["type"]; found {
				ds.typ, _ = d.str(t, what+": type")
				ds.typPos = d.pos(t.val)
			}
			if f, found := sfs["description"]; found {
				d.str(f, what+": description")
			}
		}
		ds.ok = !d.errorsSince(start)
		addObject(d, objs.sources, "DataSource", meta, ds)
	case "Service":
		d.openSLOService(objs, n, "OpenSLO Service")
	case "AlertPolicy":
		if p := d.osAlertPolicy(n, "OpenSLO AlertPolicy"); p != nil {
			addObject(d, objs.policies, "AlertPolicy", osMeta{name: p.name, pos: p.pos}, p)
		}
	case "AlertCondition":
		if c := d.osAlertCondition(n, "OpenSLO AlertCondition"); c != nil {
			addObject(d, objs.conditions, "AlertCondition", osMeta{name: c.name, pos: c.pos}, c)
		}
	case "AlertNotificationTarget":
		if t := d.osTarget(n, "OpenSLO AlertNotificationTarget"); t != nil {
			addObject(d, objs.targets, "AlertNotificationTarget", osMeta{name: t.name, pos: t.pos}, t)
		}
	default:
		d.errorf(kind, RuleUnsupported, "OpenSLO kind %q is not an openslo/v1 kind (%s)", kind.Value, strings.Join(openSLOKinds, ", "))
	}
}

// addObject registers an object under its name; a second object of the
// same kind and name is an error (references to it would be ambiguous), and
// the first one stays.
func addObject[T any](d *decoder, m map[string]T, kind string, meta osMeta, obj T) {
	if meta.name == "" {
		return
	}
	if _, dup := m[meta.name]; dup {
		d.diags = append(d.diags, Diagnostic{Pos: meta.pos, Severity: SeverityError, Rule: RuleDuplicateID,
			Message: fmt.Sprintf("OpenSLO %s %q is defined twice; references use the first definition", kind, meta.name)})
		return
	}
	m[meta.name] = obj
}

func (d *decoder) openSLOService(objs *openSLOObjects, n *yaml.Node, what string) {
	fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	d.required(n, fs, what, "metadata")
	meta := d.osMetadata(fs, what, nil)
	if f, ok := fs["spec"]; ok && !isNull(f.val) {
		sfs, _ := d.fields(f.val, what+": spec", "description")
		if f, found := sfs["description"]; found {
			d.str(f, what+": spec: description")
		}
	}
	if meta.name == "" {
		return
	}
	if first, dup := objs.services[meta.name]; dup {
		// A Service only names a group of SLOs: a repeat is harmless.
		d.diags = append(d.diags, Diagnostic{Pos: meta.pos, Severity: SeverityWarning, Rule: RuleDuplicateID,
			Message: fmt.Sprintf("%s %q is defined twice (first at %s)", what, meta.name, first)})
		return
	}
	objs.services[meta.name] = meta.pos
	d.osServiceDeps(objs, meta)
}

// openSLO reads an openslo/v1 kind: SLO object. It returns nil when the SLO
// cannot be read at all (no name); otherwise an SLO whose problems are
// already reported, to be resolved, or skipped when it has errors.
func (d *decoder) openSLO(n *yaml.Node) *osSLO {
	start := len(d.diags)
	what := "OpenSLO SLO"
	s := &osSLO{pos: d.pos(n), fieldPos: map[string]Position{}, window: DefaultWindow}
	fs, _ := d.fields(n, what, "apiVersion", "kind", "metadata", "spec")
	d.required(n, fs, what, "metadata", "spec")
	if name := peekName(fs); name != "" {
		what = fmt.Sprintf("OpenSLO SLO %q", name)
	}
	meta := d.osMetadata(fs, what, s.fieldPos)
	s.id, s.labels, s.annotations = meta.name, meta.labels, meta.annotations
	f, found := fs["spec"]
	if !found || isNull(f.val) {
		return nil
	}
	what += ": spec"
	sfs, _ := d.fields(f.val, what, "description", "service", "indicator", "indicatorRef",
		"timeWindow", "budgetingMethod", "objectives", "alertPolicies")
	d.required(f.key, sfs, what, "service", "budgetingMethod", "objectives")
	d.osSLOCommon(s, sfs, what)
	if ff, ok := sfs["timeWindow"]; ok {
		d.osTimeWindow(ff, what+": timeWindow", s)
	}
	occurrences := true
	if ff, ok := sfs["budgetingMethod"]; ok {
		occurrences = d.osBudgetingMethod(ff, what)
	}
	_, hasInd := sfs["indicator"]
	_, hasRef := sfs["indicatorRef"]
	if hasInd && hasRef {
		d.errorf(sfs["indicatorRef"].key, RuleInvalidField, "%s: set indicator or indicatorRef, not both", what)
	}
	if ff, ok := sfs["indicator"]; ok {
		s.indicator = d.osInlineIndicator(ff, what+": indicator")
		s.fieldPos["sli"] = d.pos(ff.val)
	}
	if ff, ok := sfs["indicatorRef"]; ok {
		s.indicatorRef.name, _ = d.str(ff, what+": indicatorRef")
		s.indicatorRef.pos = d.pos(ff.val)
		s.fieldPos["sli"] = s.indicatorRef.pos
	}
	if ff, ok := sfs["objectives"]; ok {
		for i, item := range d.list(ff, what+": objectives") {
			s.objectives = append(s.objectives, d.osObjective(item, fmt.Sprintf("%s: objectives[%d]", what, i), occurrences))
		}
	}
	composite := len(s.objectives) > 0
	for _, o := range s.objectives {
		composite = composite && (o.indicator != nil || o.indicatorRef.name != "")
	}
	if !hasInd && !hasRef && !composite && len(s.objectives) > 0 {
		d.errorf(f.key, RuleInvalidField, "%s: missing required field \"indicator\" (or \"indicatorRef\", or one in every objective)", what)
	}
	if ff, ok := sfs["alertPolicies"]; ok && !isNull(ff.val) {
		s.fieldPos["policy"] = d.pos(ff.val)
		for i, item := range d.list(ff, what+": alertPolicies") {
			iwhat := fmt.Sprintf("%s: alertPolicies[%d]", what, i)
			if ref := d.osRefItem(item, iwhat, "alertPolicyRef"); ref != nil {
				s.policies = append(s.policies, &osPolicyRef{ref: *ref})
				continue
			}
			if p := d.osAlertPolicy(item, iwhat); p != nil {
				s.policies = append(s.policies, &osPolicyRef{inline: p})
			}
		}
	}
	if d.errorsSince(start) || s.id == "" {
		return nil
	}
	return s
}

// errorsSince reports whether an error was reported after the first
// start diagnostics: whether the object read since then is broken.
func (d *decoder) errorsSince(start int) bool {
	for _, x := range d.diags[start:] {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// osSLOCommon reads the SLO fields v1 and v1alpha share.
func (d *decoder) osSLOCommon(s *osSLO, sfs map[string]field, what string) {
	if ff, ok := sfs["description"]; ok {
		s.description, _ = d.str(ff, what+": description")
	}
	if ff, ok := sfs["service"]; ok {
		s.service, _ = d.str(ff, what+": service")
		s.fieldPos["service"] = d.pos(ff.val)
	}
}

// osBudgetingMethod reads the budgeting method: Occurrences, or the
// time-slice methods Timeslices and RatioTimeslices, which slod budgets
// alike (the share of slices whose good ratio meets timeSliceTarget). It
// reports whether the method is Occurrences (or unreadable, reported
// already).
func (d *decoder) osBudgetingMethod(f field, what string) bool {
	m, ok := d.str(f, what+": budgetingMethod")
	if !ok {
		return true
	}
	switch m {
	case "Occurrences":
		return true
	case "Timeslices", "RatioTimeslices":
		return false
	default:
		d.errorf(f.val, RuleInvalidField, "%s: budgetingMethod must be Occurrences, Timeslices or RatioTimeslices, got %q", what, m)
	}
	return true
}

// osTimeWindow reads the one time window of a v1 SLO: a rolling one
// (isRolling: true, a duration in days or weeks) or a calendar-aligned one
// (calendar: {startTime, timeZone}, a duration of 1w, 1M or 1Q), which
// becomes a calendar window in the timezone, weeks starting on
// startTime's weekday. Other calendar durations are refused.
func (d *decoder) osTimeWindow(f field, what string, s *osSLO) {
	items := d.list(f, what)
	if len(items) != 1 {
		if len(items) > 1 {
			d.errorf(f.val, RuleInvalidField, "%s: exactly one time window, got %d", what, len(items))
		}
		return
	}
	fs, _ := d.fields(items[0], what, "duration", "isRolling", "calendar")
	d.required(items[0], fs, what, "duration")
	cal, hasCal := fs["calendar"]
	if r, found := fs["isRolling"]; found {
		rolling, ok := d.boolean(r, what+": isRolling")
		switch {
		case ok && !rolling && !hasCal:
			d.errorf(r.val, RuleInvalidField, "%s: a calendar-aligned window (isRolling: false) needs calendar: {startTime, timeZone}", what)
			return
		case ok && rolling && hasCal:
			d.errorf(r.val, RuleInvalidField, "%s: a rolling window (isRolling: true) takes no calendar", what)
			return
		}
	}
	w, found := fs["duration"]
	if !found {
		return
	}
	s.fieldPos["window"] = d.pos(w.val)
	str, ok := d.str(w, what+": duration")
	if !ok {
		return
	}
	if hasCal {
		s.calendar = d.osCalendar(cal, w, str, what)
		if s.calendar != nil {
			s.window = s.calendar.NominalLength()
		}
		return
	}
	if u := str[max(len(str)-1, 0):]; u == "M" || u == "Q" || u == "Y" {
		d.errorf(w.val, RuleUnsupported, "%s: duration %s: months, quarters and years have no fixed length in a rolling window; write it in days or weeks (30d, 4w), or make the window calendar-aligned", what, str)
		return
	}
	if dur, ok := d.duration(w, what+": duration"); ok {
		s.window = dur
	}
}

// osCalendar maps an OpenSLO calendar window onto a Calendar.
func (d *decoder) osCalendar(cal, dur field, duration, what string) *Calendar {
	fs, ok := d.fields(cal.val, what+": calendar", "startTime", "timeZone")
	if !ok || !d.required(cal.key, fs, what+": calendar", "startTime", "timeZone") {
		return nil
	}
	tzs, ok := d.str(fs["timeZone"], what+": calendar: timeZone")
	if !ok {
		return nil
	}
	loc, err := time.LoadLocation(tzs)
	if err != nil || tzs == "" || tzs == "Local" {
		d.errorf(fs["timeZone"].val, RuleInvalidField, "%s: calendar: timeZone %q is not an IANA zone such as Europe/Berlin", what, tzs)
		return nil
	}
	sts, ok := d.str(fs["startTime"], what+": calendar: startTime")
	if !ok {
		return nil
	}
	start, err := time.ParseInLocation("2006-01-02 15:04:05", sts, loc)
	if err != nil {
		d.errorf(fs["startTime"].val, RuleInvalidField, "%s: calendar: startTime %q is not a time such as \"2022-01-01 00:00:00\"", what, sts)
		return nil
	}
	c := &Calendar{Location: loc, WeekStart: time.Monday}
	switch duration {
	case "1w", "7d":
		c.Unit, c.WeekStart = CalendarWeek, start.Weekday()
	case "1M":
		c.Unit = CalendarMonth
	case "1Q":
		c.Unit = CalendarQuarter
	default:
		d.errorf(dur.val, RuleUnsupported, "%s: duration %s: slod's calendar windows are a week (1w), a month (1M) or a quarter (1Q)", what, duration)
		return nil
	}
	if start.Hour() != 0 || start.Minute() != 0 || start.Second() != 0 {
		d.report(fs["startTime"].key, SeverityWarning, RuleUnsupported, "%s: calendar: startTime %s is not at midnight: slod's periods start at local midnight", what, sts)
	}
	return c
}

// osTimeSlices reads the time-slice target (a ratio in (0, 1]) and window
// of an objective of a time-slice SLO; both are required.
func (d *decoder) osTimeSlices(n *yaml.Node, fs map[string]field, what string) *TimeSlices {
	if !d.required(n, fs, what, "timeSliceTarget", "timeSliceWindow") {
		return nil
	}
	ts := &TimeSlices{}
	target, ok := d.num(fs["timeSliceTarget"], what+": timeSliceTarget")
	if ok && !(target > 0 && target <= 1) {
		d.errorf(fs["timeSliceTarget"].val, RuleInvalidField, "%s: timeSliceTarget must be a ratio in (0, 1], got %v", what, target)
		ok = false
	}
	length, lok := d.duration(fs["timeSliceWindow"], what+": timeSliceWindow")
	if !ok || !lok {
		return nil
	}
	ts.Target, ts.Length = target, length
	return ts
}

// osObjective reads one v1 objective.
func (d *decoder) osObjective(n *yaml.Node, what string, occurrences bool) *osObjective {
	o := &osObjective{pos: d.pos(n)}
	fs, _ := d.fields(n, what, "displayName", "op", "value", "target", "targetPercent",
		"timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight")
	if f, ok := fs["displayName"]; ok {
		o.displayName, _ = d.str(f, what+": displayName")
	}
	d.osObjectiveOpValue(o, fs, what)
	d.osTarget01(o, fs, what, "target", "targetPercent")
	for _, name := range []string{"timeSliceTarget", "timeSliceWindow"} {
		if f, ok := fs[name]; ok && occurrences {
			d.report(f.key, SeverityWarning, RuleUnsupported, "%s: %s is ignored: it applies to the time-slice budgeting methods, and this SLO budgets occurrences", what, name)
		}
	}
	if !occurrences {
		o.slices = d.osTimeSlices(n, fs, what)
	}
	if f, ok := fs["compositeWeight"]; ok {
		d.report(f.key, SeverityWarning, RuleUnsupported, "%s: compositeWeight is ignored: slod alerts on each objective as its own SLO and computes no composite budget", what)
	}
	if f, ok := fs["indicator"]; ok {
		o.indicator = d.osInlineIndicator(f, what+": indicator")
	}
	if f, ok := fs["indicatorRef"]; ok {
		o.indicatorRef.name, _ = d.str(f, what+": indicatorRef")
		o.indicatorRef.pos = d.pos(f.val)
	}
	return o
}

func (d *decoder) osObjectiveOpValue(o *osObjective, fs map[string]field, what string) {
	if f, ok := fs["op"]; ok {
		if op, sok := d.str(f, what+": op"); sok {
			if _, known := failingOp[op]; !known {
				d.errorf(f.val, RuleInvalidField, "%s: op must be one of lt, lte, gt, gte, got %q", what, op)
			}
			o.op, o.opPos = op, d.pos(f.val)
		}
	}
	if f, ok := fs["value"]; ok {
		o.value, o.hasValue = d.num(f, what+": value")
	}
}

// osTarget01 reads the objective's target: a ratio under targetKey or a
// percentage under percentKey (empty when the format has none).
func (d *decoder) osTarget01(o *osObjective, fs map[string]field, what, targetKey, percentKey string) {
	t, hasT := fs[targetKey]
	tp, hasTP := fs[percentKey]
	switch {
	case hasT && hasTP:
		d.errorf(tp.key, RuleInvalidField, "%s: set %s or %s, not both", what, targetKey, percentKey)
	case hasT:
		if x, ok := d.num(t, what+": "+targetKey); ok {
			if x <= 0 || x >= 1 {
				d.errorf(t.val, RuleObjective, "%s: %s is a ratio in (0, 1), e.g. 0.999; got %v", what, targetKey, x)
				return
			}
			// Round away the binary artefact of ×100 (0.999×100 = 99.89999999999999).
			o.objective, o.objPos = roundObjective(x*100), d.pos(t.val)
		}
	case hasTP:
		if x, ok := d.num(tp, what+": "+percentKey); ok {
			o.objective, o.objPos = x, d.pos(tp.val)
		}
	default:
		want := `"` + targetKey + `"`
		if percentKey != "" {
			want += ` (or "` + percentKey + `")`
		}
		d.errorf(nil, RuleInvalidField, "%s: missing required field %s", what, want)
		d.diags[len(d.diags)-1].Pos = o.pos
	}
}

// osInlineIndicator reads an inline SLI: metadata and the SLI spec.
func (d *decoder) osInlineIndicator(f field, what string) *osSLI {
	sli := &osSLI{pos: d.pos(f.val)}
	fs, ok := d.fields(f.val, what, "metadata", "spec")
	ok = d.required(f.key, fs, what, "spec") && ok
	if m, found := fs["metadata"]; found && !isNull(m.val) {
		meta := d.osMetadata(fs, what, nil)
		sli.name = meta.name
		ok = ok && meta.ok
	}
	if sp, found := fs["spec"]; found {
		d.osSLISpec(sp, what+": spec", sli)
	}
	sli.ok = sli.ok && ok
	return sli
}

// osSLISpec reads an SLI spec into sli and sets sli.ok.
func (d *decoder) osSLISpec(f field, what string, sli *osSLI) {
	start := len(d.diags)
	fs, _ := d.fields(f.val, what, "description", "ratioMetric", "thresholdMetric")
	if ff, ok := fs["description"]; ok {
		d.str(ff, what+": description")
	}
	rm, hasRatio := fs["ratioMetric"]
	tm, hasThreshold := fs["thresholdMetric"]
	switch {
	case hasRatio && hasThreshold:
		d.errorf(tm.key, RuleInvalidField, "%s: set ratioMetric or thresholdMetric, not both", what)
	case hasThreshold:
		sli.threshold = d.osMetric(tm, what+": thresholdMetric")
	case hasRatio:
		sli.ratio = d.osRatioMetric(rm, what+": ratioMetric")
	default:
		d.errorf(f.val, RuleInvalidField, "%s: missing required field \"ratioMetric\" (or \"thresholdMetric\")", what)
	}
	sli.ok = !d.errorsSince(start)
}

func (d *decoder) osRatioMetric(f field, what string) *osRatio {
	r := &osRatio{}
	fs, _ := d.fields(f.val, what, "counter", "good", "bad", "total", "rawType", "raw")
	if c, ok := fs["counter"]; ok {
		r.counter, _ = d.boolean(c, what+": counter")
	}
	_, hasGood := fs["good"]
	_, hasBad := fs["bad"]
	_, hasTotal := fs["total"]
	raw, hasRaw := fs["raw"]
	switch {
	case hasRaw && (hasGood || hasBad || hasTotal):
		d.errorf(raw.key, RuleInvalidField, "%s: raw cannot be used with good, bad or total", what)
	case hasRaw:
		r.raw = d.osMetric(raw, what+": raw")
		rt, ok := fs["rawType"]
		if !ok {
			d.errorf(raw.key, RuleInvalidField, "%s: raw needs rawType: success or failure", what)
			break
		}
		if r.rawType, ok = d.str(rt, what+": rawType"); ok && r.rawType != "success" && r.rawType != "failure" {
			d.errorf(rt.val, RuleInvalidField, "%s: rawType must be success or failure, got %q", what, r.rawType)
		}
	case hasGood == hasBad:
		d.errorf(f.val, RuleInvalidField, "%s: set exactly one of good or bad, with total", what)
	case !hasTotal:
		d.errorf(f.val, RuleInvalidField, "%s: missing required field \"total\"", what)
	default:
		if rt, ok := fs["rawType"]; ok {
			d.errorf(rt.key, RuleInvalidField, "%s: rawType goes with raw, not with good or bad", what)
		}
		if hasGood {
			r.good = d.osMetric(fs["good"], what+": good")
		} else {
			r.bad = d.osMetric(fs["bad"], what+": bad")
		}
		r.total = d.osMetric(fs["total"], what+": total")
	}
	return r
}

// osMetric reads {metricSource: {metricSourceRef, type, spec}}. The spec
// is kept as a node: its fields depend on the type, which may come from the
// referenced DataSource.
func (d *decoder) osMetric(f field, what string) *osSource {
	fs, _ := d.fields(f.val, what, "metricSource")
	ms, found := fs["metricSource"]
	if !found {
		d.errorf(f.val, RuleInvalidField, "%s: missing required field \"metricSource\"", what)
		return nil
	}
	what += ": metricSource"
	src := &osSource{file: d.file, pos: d.pos(ms.val)}
	mfs, _ := d.fields(ms.val, what, "metricSourceRef", "type", "spec")
	d.required(ms.key, mfs, what, "spec")
	if r, ok := mfs["metricSourceRef"]; ok {
		src.ref.name, _ = d.str(r, what+": metricSourceRef")
		src.ref.pos = d.pos(r.val)
	}
	if t, ok := mfs["type"]; ok {
		src.typ, _ = d.str(t, what+": type")
		src.typPos = d.pos(t.val)
	}
	if src.ref.name == "" && src.typ == "" {
		d.errorf(ms.val, RuleInvalidField, "%s: set type (e.g. Prometheus) or metricSourceRef (a DataSource)", what)
	}
	if sp, ok := mfs["spec"]; ok {
		src.spec, src.specPos = sp.val, d.pos(sp.val)
	}
	return src
}

// isOpenSLOAPIVersion reports whether an apiVersion looks like OpenSLO's,
// so that a version slod does not read (openslo/v2alpha) is an error
// rather than a document skipped as someone else's.
func isOpenSLOAPIVersion(v string) bool {
	return strings.Contains(strings.ToLower(v), "openslo")
}
