// Package slo holds the SLO model shared by every part of slod, and the
// loaders that turn native, Sloth, OpenSLO and Pyrra files into it.
package slo

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultWindow is the rolling window of an SLO that does not name one.
const DefaultWindow = 30 * 24 * time.Hour

// Format names the file format an SLO was read from.
type Format string

// The input formats slod reads.
const (
	FormatNative  Format = "slod/v1"
	FormatSloth   Format = "prometheus/v1"
	FormatOpenSLO Format = "openslo/v1"
	FormatPyrra   Format = "pyrra.dev/v1alpha1"
	// FormatOpenSLOAlpha is OpenSLO's openslo/v1alpha, the version Sloth reads.
	FormatOpenSLOAlpha Format = "openslo/v1alpha"
)

// Position is where a definition stands in its file, for error messages.
type Position struct {
	File   string
	Line   int
	Column int
}

// String renders the position as path:line:col, the prefix of every file error.
func (p Position) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Spec is one SLO after loading, whichever format it came from.
type Spec struct {
	// ID is unique across all loaded files: "<service>-<name>".
	ID          string
	Name        string
	Service     string
	Description string
	// Objective is the target in percent, 0 < Objective < 100 (99.9 means 99.9%).
	Objective float64
	// Window is the rolling compliance window (default 30d), or the
	// nominal length of a calendar period (Calendar).
	Window time.Duration
	// Calendar, when set, aligns the compliance window to calendar weeks,
	// months or quarters in a timezone (calendar.go).
	Calendar *Calendar
	// TimeSlices, when set, budgets the share of good time slices instead
	// of good events (timeslice.go).
	TimeSlices *TimeSlices
	SLI        SLI
	// GroupBy splits the SLO into one instance per label set (for example per route).
	GroupBy []string
	// Policy names the burn-rate policy; empty means the default policy.
	Policy string
	// MinEvents keeps a low-traffic SLO from alerting when the long window
	// holds fewer events than this (0 disables the guard).
	MinEvents float64
	// RuleInterval is the evaluation interval of the SLO's generated rule
	// group (zero: the one `sloctl generate --interval` sets, or
	// Prometheus's global evaluation_interval). It concerns only the
	// generated rules: the daemon evaluates at its own step.
	RuleInterval time.Duration
	// DependsOn are the services and SLOs this SLO's users also need
	// (depends_on): a burn of this SLO that starts while one of them burns
	// is correlated as its symptom (docs/incidents.md).
	DependsOn []Dependency
	// Labels are added to every rule, alert and page of this SLO.
	Labels map[string]string
	// Annotations carry runbook, dashboard and other links to alerts and pages.
	Annotations map[string]string
	Alerting    Alerting
	Format      Format
	// Pos is where the SLO's definition starts.
	Pos Position
	// FieldPos holds where individual fields stand, keyed by their path in
	// the native vocabulary ("objective", "window", "sli.events.error_query",
	// "labels.team", "group_by[0]", ...), whatever format the SLO came from.
	// Use PosOf to read it.
	FieldPos map[string]Position
}

// PosOf returns where a field of the SLO stands (see FieldPos), or the
// SLO's own position when the field was not written.
func (s *Spec) PosOf(field string) Position {
	if p, ok := s.FieldPos[field]; ok {
		return p
	}
	return s.Pos
}

// ServiceLabel is the label slod sets to the SLO's service on every rule,
// alert and page, unless the SLO groups by it (ServiceFromInstance).
const ServiceLabel = "service"

// ServiceFromInstance reports whether each instance of the SLO carries its
// own service label: a Sloth, Pyrra or OpenSLO SLO whose group_by names
// service, as `sum by (service)` or `grouping: [service]` give. Those tools
// alert with each series' own service label, so slod then sets no service
// label of its own on the SLO's recorded series, alerts and pages: the
// instance's value is the alert's service. Native files may not group by
// service (SLO018).
func (s *Spec) ServiceFromInstance() bool {
	return s.Format != FormatNative && s.Format != "" && slices.Contains(s.GroupBy, ServiceLabel)
}

// ErrorBudget is the allowed error ratio, 1 − objective (0.001 for 99.9%).
func (s *Spec) ErrorBudget() float64 {
	return 1 - s.Objective/100
}

// Alerting configures the alerts generated or raised for an SLO.
type Alerting struct {
	// Name is the alert name (Sloth's alerting.name); empty means a generated one.
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	Page        AlertClass
	Ticket      AlertClass
	// NoData is how long an SLI may be in a no-data state (NoDataState)
	// before its no-data alert fires; zero means the default
	// (burnrate.DefaultNoDataAfter), the same for the daemon and the rules.
	NoData time.Duration
	// Idle says whether an idle SLI (its total exists and reads zero)
	// raises a no-data alert; "" is IdleIgnore.
	Idle IdleAction
	// Collapse, when set, raises a no-data alert when traffic falls far
	// below its own baseline.
	Collapse *Collapse
}

// IdleAction says what an idle SLI raises.
type IdleAction string

// The idle actions (YAML alerting.idle).
const (
	// IdleIgnore, the default: no traffic means no users, not an outage.
	IdleIgnore IdleAction = "ignore"
	// IdleAlert raises a no-data alert once the SLI has been idle for NoData.
	IdleAlert IdleAction = "alert"
)

// Collapse detects traffic that falls far below its own recent level: the
// SLI is collapsed while its total rate is below BelowPercent of the
// baseline, the mean total rate over the hour that ended one Baseline
// earlier (the median of Periods such hours, one Baseline apart).
type Collapse struct {
	// BelowPercent is the share of the baseline, in percent (0, 100),
	// under which traffic counts as collapsed.
	BelowPercent float64
	// Baseline is how far back the compared hour lies: 1w compares with
	// the same hour of the same weekday (default DefaultCollapseBaseline).
	Baseline time.Duration
	// Periods is how many hours, Baseline apart, the median is taken of
	// (default 1: just the hour one Baseline ago).
	Periods int
}

// Defaults and bounds of Collapse.
const (
	DefaultCollapseBaseline = 7 * 24 * time.Hour
	// MinCollapseBaseline keeps the compared hour entirely in the past.
	MinCollapseBaseline = time.Hour
	// MaxCollapsePeriods bounds the hours a baseline is the median of.
	MaxCollapsePeriods = 12
)

// BaselineAt returns the offset of the i-th compared hour (i from 1 to
// Periods): i × Baseline, with the defaults filled in.
func (c Collapse) BaselineAt(i int) time.Duration {
	b := c.Baseline
	if b <= 0 {
		b = DefaultCollapseBaseline
	}
	return time.Duration(i) * b
}

// PeriodCount is Periods, or 1 when unset.
func (c Collapse) PeriodCount() int {
	return max(c.Periods, 1)
}

// NoDataState says why an SLI has no data its burn-rate alerts can use.
// The daemon and the generated rules tell the same three states apart
// (DESIGN.md, docs/rules.md).
type NoDataState string

// The no-data states.
const (
	// NoDataIdle: the total exists and reads zero. No users is not an
	// outage: it alerts only with Alerting.Idle set to IdleAlert.
	NoDataIdle NoDataState = "idle"
	// NoDataBroken: series the SLI reads are absent (a missing le bucket,
	// a renamed metric, a scrape target gone) or its query returns nothing.
	NoDataBroken NoDataState = "broken"
	// NoDataCollapsed: traffic below Alerting.Collapse's share of its own
	// baseline; only with Collapse set.
	NoDataCollapsed NoDataState = "collapsed"
)

// runbookKeys are the annotation names that hold a runbook link.
var runbookKeys = []string{"runbook", "runbook_url"}

// Runbook returns the runbook link the SLO's alerts of class c carry: the
// runbook (or runbook_url) annotation of c, else of alerting, else of the
// SLO; "" when none is set.
func (s *Spec) Runbook(c AlertClass) string {
	for _, m := range []map[string]string{c.Annotations, s.Alerting.Annotations, s.Annotations} {
		for _, k := range runbookKeys {
			if v := strings.TrimSpace(m[k]); v != "" {
				return v
			}
		}
	}
	return ""
}

// AlertClass configures one severity class (page or ticket).
type AlertClass struct {
	Disabled bool
	// For is the `for` of the class's generated burn-rate alert (zero:
	// the one `sloctl generate --for` sets, by default none). It concerns
	// only the generated rules: the daemon raises the class as soon as a
	// row fires, as the Workbook's two windows already filter blips.
	For         time.Duration
	Labels      map[string]string
	Annotations map[string]string
}

// SLIKind names the way an SLI counts errors.
type SLIKind string

// The SLI kinds.
const (
	KindEvents  SLIKind = "events"
	KindRaw     SLIKind = "raw"
	KindLatency SLIKind = "latency"
)

// SLI is how an SLO measures good and bad events. Exactly one field is set.
type SLI struct {
	Events  *EventsSLI
	Raw     *RawSLI
	Latency *LatencySLI
}

// Kind reports which SLI kind is set ("" when none is).
func (s SLI) Kind() SLIKind {
	switch {
	case s.Events != nil:
		return KindEvents
	case s.Raw != nil:
		return KindRaw
	case s.Latency != nil:
		return KindLatency
	}
	return ""
}

// EventsSLI counts errors and totals with two PromQL queries that each
// contain the {{.window}} placeholder and return a per-second rate.
type EventsSLI struct {
	ErrorQuery string
	TotalQuery string
}

// RawSLI measures an error ratio directly; it is averaged per time slice.
type RawSLI struct {
	ErrorRatioQuery string
}

// LatencySLI counts requests slower than Threshold as errors, from a
// Prometheus histogram: good = Metric_bucket{le=Threshold}, total = Metric_count.
type LatencySLI struct {
	// Metric is the histogram's base name, without _bucket or _count.
	Metric string
	// Selector holds extra label matchers, without braces: job="api",route!="/health".
	Selector string
	// Threshold is the bucket bound in the histogram's unit; it must be one of its le values.
	Threshold float64
}

// WindowPlaceholder is replaced by a range duration in SLI queries.
const WindowPlaceholder = "{{.window}}"

// ExpandWindow replaces the {{.window}} placeholder (also written
// {{ .window }}) in an SLI query with a PromQL duration such as "5m".
func ExpandWindow(query, window string) string {
	query = strings.ReplaceAll(query, "{{ .window }}", window)
	return strings.ReplaceAll(query, WindowPlaceholder, window)
}
