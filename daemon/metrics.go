package daemon

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slodhq/slod/burnrate"
)

// Metrics are the daemon's own metrics (slod_*); source and notify
// register theirs on the same registry.
type Metrics struct {
	tickDuration   prometheus.Histogram
	tickPhase      *prometheus.HistogramVec
	reread         prometheus.Histogram
	ticksMissed    prometheus.Counter
	queryErrors    prometheus.Counter
	sourceUp       prometheus.Gauge
	ready          prometheus.Gauge
	instances      *prometheus.GaugeVec
	incidents      *prometheus.GaugeVec
	changes        *prometheus.CounterVec
	pages          *prometheus.CounterVec
	pageErrors     prometheus.Counter
	sloFilesBad    prometheus.Gauge
	slos           prometheus.Gauge
	reloads        *prometheus.CounterVec
	snapshots      *prometheus.CounterVec
	snapshotBytes  prometheus.Gauge
	snapshotTook   prometheus.Gauge
	incidentWrites *prometheus.CounterVec
	backfillSteps  prometheus.Counter
	stepsRead      prometheus.Counter
	lastStepTime   prometheus.Gauge
	budgetRemained *prometheus.GaugeVec
	stateDamaged   prometheus.Counter
	misconfigured  *prometheus.GaugeVec
	backfilling    *prometheus.GaugeVec
	dropped        *prometheus.GaugeVec
}

// NewMetrics registers the daemon metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		tickDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "slod_tick_duration_seconds", Help: "Duration of one evaluation tick: read, ingest, evaluate, page.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		tickPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slod_tick_phase_duration_seconds",
			Help:    "Duration of each phase of a tick: read (waiting for the source), evaluate (ingest, evaluate, incidents), page (outbox), persist, publish (status page and API).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"phase"}),
		reread: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "slod_reread_duration_seconds",
			Help:    "Duration of the background re-read of the newest steps (late samples) that follows a steady tick; the longest over the SLOs.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		ticksMissed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_ticks_missed_total", Help: "Ticks skipped because the previous tick was still running.",
		}),
		queryErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_query_errors_total", Help: "SLO reads that failed (after the source's own retries).",
		}),
		sourceUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_source_up", Help: "1 when the newest read of every SLO succeeded, 0 while the source fails.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_ready", Help: "1 once state is restored and the gap backfilled.",
		}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_instances", Help: "SLO instances evaluated by this daemon (its shard), by SLO.",
		}, []string{"slo"}),
		incidents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_incidents", Help: "Open incidents by severity and class.",
		}, []string{"severity", "class"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_incident_changes_total", Help: "Incident transitions by kind (opened, escalated, resolved, symptoms: a root gained a correlated symptom).",
		}, []string{"kind"}),
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_pages_enqueued_total", Help: "Pages committed to the notify outbox by action.",
		}, []string{"action"}),
		pageErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_page_enqueue_errors_total", Help: "Pages that could not be committed to the outbox (retried next tick).",
		}),
		sloFilesBad: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_slo_files_invalid", Help: "SLO files skipped at the last load because of errors.",
		}),
		slos: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_slos", Help: "SLOs loaded.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_reloads_total", Help: "SLO reloads by result (ok, partial: some files skipped, failed: old set kept).",
		}, []string{"result"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_state_snapshots_total", Help: "Ring checkpoints (slod-state.v2, written in the background) by result.",
		}, []string{"result"}),
		snapshotBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_state_snapshot_bytes", Help: "Size of the newest ring checkpoint.",
		}),
		snapshotTook: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_state_snapshot_duration_seconds", Help: "Time the newest ring checkpoint took to write.",
		}),
		incidentWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_state_incident_writes_total", Help: "Writes of the incidents state (slod-incidents.json: incidents and pages not yet in the outbox) by result.",
		}, []string{"result"}),
		backfillSteps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_backfill_steps_total", Help: "Steps read to fill gaps (start-up and after source outages), summed over SLOs.",
		}),
		stepsRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_steps_read_total", Help: "Evaluator steps covered by successful reads, summed over SLOs (a restart that restores state reads only its gap).",
		}),
		lastStepTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_last_step_timestamp_seconds", Help: "End of the newest step ingested for every SLO.",
		}),
		dropped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_instances_dropped", Help: "Label sets of the SLO refused so far (counted per read that carried them) because an instance cap (--max-instances-per-slo, --max-instances) was reached.",
		}, []string{"slo"}),
		misconfigured: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_slo_misconfigured", Help: "1 when the live checks found an error in the SLO's data (no series, a latency threshold that is no bucket, group_by labels missing): see the status page or the log.",
		}, []string{"slo"}),
		backfilling: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_slo_backfilling", Help: "1 while the SLO's backfill (its window on a cold start, a long gap) goes on in the background: it is not evaluated yet, and slod is not ready until none is.",
		}, []string{"slo"}),
		stateDamaged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_state_damaged_total", Help: "State files (rings, incidents, a legacy snapshot) that could not be read at start-up and were moved aside.",
		}),
		budgetRemained: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_budget_remaining_ratio", Help: "Share of the error budget left over the SLO window, by SLO (worst instance).",
		}, []string{"slo"}),
	}
	for _, r := range []string{"ok", "partial", "failed"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.snapshots.WithLabelValues(r)
		m.incidentWrites.WithLabelValues(r)
	}
	for _, k := range []burnrate.ChangeKind{burnrate.ChangeOpened, burnrate.ChangeEscalated, burnrate.ChangeResolved, burnrate.ChangeSymptoms} {
		m.changes.WithLabelValues(string(k))
	}
	for _, a := range []string{"trigger", "resolve"} {
		m.pages.WithLabelValues(a)
	}
	for _, s := range []burnrate.Severity{burnrate.SeverityPage, burnrate.SeverityTicket} {
		for _, c := range []burnrate.IncidentClass{burnrate.ClassBurn, burnrate.ClassNoData} {
			m.incidents.WithLabelValues(string(s), string(c))
		}
	}
	if reg != nil {
		reg.MustRegister(m.tickDuration, m.tickPhase, m.reread, m.ticksMissed, m.queryErrors, m.sourceUp, m.ready, m.instances,
			m.incidents, m.changes, m.pages, m.pageErrors, m.sloFilesBad, m.slos, m.reloads, m.snapshots,
			m.snapshotBytes, m.snapshotTook, m.incidentWrites, m.backfillSteps, m.stepsRead, m.lastStepTime, m.budgetRemained, m.stateDamaged, m.misconfigured, m.backfilling, m.dropped)
	}
	return m
}
