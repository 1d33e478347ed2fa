package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slodhq/slod/burnrate"
	"github.com/slodhq/slod/report"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// reportRequest asks the evaluation loop, which owns the engine, for a
// report between two ticks.
type reportRequest struct {
	period, timezone string
	reply            chan reportReply
}

type reportReply struct {
	rep *report.Report
	err error
}

// requestReport is the server's ReportFunc: it hands the request to the
// evaluation loop and waits for its answer or ctx.
func (d *Daemon) requestReport(ctx context.Context, period, timezone string) (*report.Report, error) {
	loc, err := time.LoadLocation(timezone)
	if err != nil || timezone == "Local" {
		return nil, fmt.Errorf("%w: timezone %q is not an IANA zone such as Europe/Berlin", server.ErrBadReportRequest, timezone)
	}
	if _, err := report.ParsePeriod(period, loc); err != nil {
		return nil, fmt.Errorf("%w: %v", server.ErrBadReportRequest, err)
	}
	req := reportRequest{period: period, timezone: timezone, reply: make(chan reportReply, 1)}
	select {
	case d.reportC <- req:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	select {
	case r := <-req.reply:
		return r.rep, r.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// buildReport works out a report from the engine's rings at now (the
// evaluation loop calls it). The figures cover the part of the period
// before now that the rings hold — the SLO window W, at the coarse tier's
// resolution for older steps, which is exact for whole-hour period edges —
// and every other step of the period counts as unknown, never as good.
// Incidents are those the engine still holds (the open ones and the most
// recent resolved ones); `sloctl report` replays the whole period instead.
func (d *Daemon) buildReport(period, timezone string, now time.Time) (*report.Report, error) {
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return nil, err
	}
	p, err := report.ParsePeriod(period, loc)
	if err != nil {
		return nil, err
	}
	step := d.cfg.Step
	from, to := p.From.UTC(), p.To.UTC()
	end := to
	if end.After(now) {
		end = now.Truncate(step)
	}
	rep := &report.Report{Period: p.Name, Timezone: loc.String(), From: from, To: to, StepSeconds: step.Seconds(), SLOs: []report.SLO{}}
	incidents := append(d.eng.Recent(), d.eng.Open()...)
	byKey := map[string][]burnrate.Incident{}
	for _, inc := range incidents {
		byKey[inc.Key] = append(byKey[inc.Key], inc)
	}
	latest := d.eng.Latest()
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, r := range d.eng.SLOs() {
		spec := r.Spec()
		s := report.SLO{SLO: spec.ID, Service: spec.Service, Objective: spec.Objective, Policy: r.Policy().Name,
			Exclusions: report.ExclusionsIn(r.Evaluator().Exclusions(), from, to), Instances: []report.Instance{}}
		xs := d.eng.Excluded(spec.ID, from, to)
		for _, iv := range xs {
			s.ExcludedSeconds += iv.Overlap(from, to).Seconds()
		}
		held := now.Add(-spec.Window)
		if from.Before(held) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("the period starts before the %s slod keeps: steps before %s count as unknown (sloctl report replays the whole period)",
				slo.FormatDuration(spec.Window), held.Truncate(time.Hour).Format(time.RFC3339)))
		}
		if end.Before(to) {
			s.Warnings = append(s.Warnings, "the period is not over: steps after "+end.Format(time.RFC3339)+" count as unknown")
		}
		total := int64(to.Sub(from) / step)
		var excluded int64
		for _, iv := range xs {
			excluded += int64((iv.Overlap(from, end) + step - 1) / step)
		}
		prefix := spec.ID + "{"
		for _, k := range keys {
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			l := latest[k]
			in := r.Evaluator().Instance(l.Labels)
			var c report.Counts
			if in != nil && end.After(from) {
				w := in.Window(end, end.Sub(from))
				c = report.Counts{Errors: w.Errors, Events: w.Total, Known: int64(w.Known), Excluded: excluded}
			}
			c.Unknown = max(total-c.Known-c.Excluded, 0)
			s.Instances = append(s.Instances, report.NewInstance(l.Labels, spec.Objective, c, step, byKey[k], p))
		}
		rep.SLOs = append(rep.SLOs, s)
	}
	return rep, nil
}
