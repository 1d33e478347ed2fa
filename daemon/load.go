package daemon

import (
	"errors"

	"github.com/slodhq/slod/engine"
	"github.com/slodhq/slod/server"
	"github.com/slodhq/slod/slo"
)

// load reads the SLO directory and hands it to the engine, which swaps the
// runnable SLOs in (see engine.Apply for what a failing file keeps). The
// resolves of SLOs that are gone are paged.
func (d *Daemon) load() error {
	dir := d.cfg.SLODir
	cat := engine.Load(dir)
	for _, dg := range cat.Diagnostics {
		if dg.Severity == slo.SeverityError {
			d.log.Error("slo file skipped", "file", dg.Pos.File, "err", dg.String())
		}
	}
	d.m.sloFilesBad.Set(float64(len(cat.BadFiles)))
	at := d.lastTarget
	if at.IsZero() {
		at = d.now()
	}
	changes, problems, err := d.eng.Apply(cat, at)
	d.problems = d.problems[:0]
	for _, p := range problems {
		d.problems = append(d.problems, server.Problem{Where: p.Where, Message: p.Message})
	}
	if err != nil {
		if len(d.eng.SLOs()) == 0 {
			return errors.New(err.Error() + " in " + dir)
		}
		d.m.reloads.WithLabelValues("failed").Inc()
		d.problems = append(d.problems, server.Problem{Where: dir, Message: "no valid SLO left: still running the previous set"})
		d.log.Error("reload found no valid slo, keeping the previous set", "dir", dir)
		return nil
	}
	d.handle(changes)
	for id := range d.metricSLOs {
		if d.eng.SLO(id) == nil {
			d.m.instances.DeleteLabelValues(id)
			d.m.budgetRemained.DeleteLabelValues(id)
			d.m.misconfigured.DeleteLabelValues(id)
			d.m.backfilling.DeleteLabelValues(id)
			d.m.dropped.DeleteLabelValues(id)
			delete(d.metricSLOs, id)
		}
	}
	d.m.slos.Set(float64(len(d.eng.SLOs())))
	if len(cat.BadFiles) > 0 {
		d.m.reloads.WithLabelValues("partial").Inc()
	} else {
		d.m.reloads.WithLabelValues("ok").Inc()
	}
	d.log.Info("slos loaded", "dir", dir, "slos", len(d.eng.SLOs()), "files_skipped", len(cat.BadFiles))
	return nil
}
