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
// stage's rollback execution has succeeded, each earlier stage whose
// latest execution is the change (a standard execution that reached the
// failed stage) is rolled back to the same target, the latest first, one
// at a time: a stage that runs an execution is waited for (and the
// pipeline would refuse a rollback of a running stage: "the stage is
// currently running", UnableToRollbackStageException). A stage whose
// latest execution is already the target, a rollback, or a newer release
// that never reached the failed stage is left alone. Whatever cannot be
// read, or a rollback that did not succeed, keeps the entries of the
// region's stages closed with the reason: an operator finishes by hand.
func regionRollbacks(ctx context.Context, c *Config, stages map[string]StageState, o Observer) (held map[string][]string, orders map[string]string) {
	held, orders = map[string][]string{}, map[string]string{}
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
			hold("stage %s's rollback ended %s: the earlier stages of its regions (%v) may still run the change; roll them back by hand (README: a zonal step fails)", s.Name, orUnknown(st.Status), s.RollsBack)
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
			if e.Running || e.Rollback {
				// Running, or a rollback waits to enter it (one this
				// controller started): wait, never order it twice.
				hold("stage %s rolled back; stage %s runs an execution or a rollback waits to enter it, and goes back to %s once it has ended", s.Name, name, target)
				break
			}
			if e.Execution == "" || e.Execution == target || e.ExecutionType != ExecutionStandard || e.Status != StatusSucceeded {
				continue
			}
			reached, err := roller.Reached(ctx, e.Execution, s.Name)
			if err != nil {
				hold("stage %s rolled back; whether stage %s's release %s reached it cannot be read (%v)", s.Name, name, e.Execution, err)
				break
			}
			if !reached {
				continue // a newer release, not the one that failed
			}
			orders[name] = target
			hold("stage %s rolled back; stage %s still runs its release %s and is rolled back to %s", s.Name, name, e.Execution, target)
			break
		}
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
