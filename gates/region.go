package gates

import (
	"context"
	"fmt"
	"slices"
)

// The execution types and statuses of GetPipelineState's latestExecution
// (API_StageExecution: type "STANDARD | ROLLBACK"; status "Cancelled |
// InProgress | Failed | Stopped | Stopping | Succeeded | Skipped").
const (
	ExecutionStandard = "STANDARD"
	ExecutionRollback = "ROLLBACK"
	StatusSucceeded   = "Succeeded"
	StatusInProgress  = "InProgress"
)

// regionRollbacks decides, for every stage whose regions' earlier stages
// go back with it (Stage.RollsBack), what is left to do once it has rolled
// back: which earlier stage to roll back now (orders: stage → target
// execution) and which entries stay closed meanwhile (held: stage →
// reasons).
//
// CodePipeline rolls back the failed stage only, so when a zonal step
// fails, the region's one-box and earlier AZs keep the change. Once the
// stage's rollback execution has succeeded, each earlier stage that runs
// a release that reached the failed stage (what it runs: the most recent
// execution that succeeded in it, or the target of a rollback that did,
// StageRoller.Deployed) is rolled back to the same target, the latest
// first, one at a time. That covers a later automatic rollback of an
// earlier stage to the bad release too: it runs a release that reached the
// failed stage again. A stage whose actions run, or that a rollback is in
// or waits to enter, is waited for (CodePipeline refuses to roll back a
// running stage: "the stage is currently running",
// UnableToRollbackStageException). A stage that runs the target, or a
// release newer than the failed one that never reached the failed stage,
// is left alone: that newer release is taken to be the fix (the README
// says so). Whatever cannot be read, a rollback that did not succeed, and
// two failed stages asking one stage back to different targets keep the
// entries of the region's stages closed with the reason: an operator
// finishes by hand.
func regionRollbacks(ctx context.Context, c *Config, stages map[string]StageState, o Observer) (held map[string][]string, orders map[string]string) {
	held, orders = map[string][]string{}, map[string]string{}
	conflict := map[string]bool{}
	for _, s := range c.Stages {
		if len(s.RollsBack) == 0 {
			continue
		}
		st := stages[s.Name]
		if st.ExecutionType != ExecutionRollback {
			continue
		}
		hold := func(format string, args ...any) {
			why := fmt.Sprintf(format, args...)
			for _, name := range append([]string{s.Name}, s.RollsBack...) {
				held[name] = append(held[name], why)
			}
		}
		switch st.Status {
		case StatusInProgress:
			hold("stage %s is rolling back; the earlier stages of its regions (%v) go back with it once it is done", s.Name, s.RollsBack)
			continue
		case StatusSucceeded:
		default:
			hold("stage %s's rollback ended %s: roll it back again by hand, then the earlier stages of its regions (%v), latest first (README: a zonal step fails)", s.Name, orUnknown(st.Status), s.RollsBack)
			continue
		}
		roller, ok := o.(StageRoller)
		if !ok {
			hold("stage %s rolled back, and the controller cannot roll back the earlier stages of its regions (%v)", s.Name, s.RollsBack)
			continue
		}
		target, err := roller.RollbackTargetOf(ctx, st.Execution)
		if err != nil || target == "" {
			hold("stage %s rolled back, and its rollback's target cannot be read (%v): the earlier stages of its regions (%v) wait", s.Name, orMissing(err), s.RollsBack)
			continue
		}
		for _, name := range slices.Backward(s.RollsBack) {
			e := stages[name]
			if e.Rollback || e.Running && !e.EntryWaiting {
				hold("stage %s rolled back; stage %s runs an execution or a rollback, and is looked at again once it has ended", s.Name, name)
				break
			}
			if e.ExecutionType == ExecutionRollback && e.Status != StatusSucceeded {
				hold("stage %s rolled back; stage %s's own rollback ended %s: roll it back by hand to %s (README: a zonal step fails)", s.Name, name, orUnknown(e.Status), target)
				break
			}
			runs, err := roller.Deployed(ctx, name)
			if err != nil || runs == "" {
				hold("stage %s rolled back; what stage %s runs cannot be told (%v): roll it back by hand to %s", s.Name, name, orMissing(err), target)
				break
			}
			if runs == target {
				continue
			}
			reached, err := roller.Reached(ctx, runs, s.Name)
			if err != nil {
				hold("stage %s rolled back; whether stage %s's release %s reached it cannot be read (%v)", s.Name, name, runs, err)
				break
			}
			if !reached {
				continue // a newer release, not the one that failed
			}
			if prev, ok := orders[name]; ok && prev != target {
				conflict[name] = true
			}
			orders[name] = target
			hold("stage %s rolled back; stage %s runs release %s, which reached it, and is rolled back to %s", s.Name, name, runs, target)
			break
		}
	}
	for name := range conflict {
		delete(orders, name)
		held[name] = append(held[name], fmt.Sprintf("two rolled-back stages ask stage %s back to different executions: roll it back by hand", name))
	}
	return held, orders
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

func orMissing(err error) string {
	if err == nil {
		return "none given"
	}
	return err.Error()
}
