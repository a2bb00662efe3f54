package gates

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rollerWorld is a world that can tell rollback targets, what each stage
// runs and where an execution went (StageRoller).
type rollerWorld struct {
	*world
	targets   map[string]string          // rollback execution → target
	deployed  map[string]string          // stage → the release it runs
	reached   map[string]map[string]bool // execution → stages
	targetErr error
}

func (w *rollerWorld) RollbackTargetOf(_ context.Context, id string) (string, error) {
	return w.targets[id], w.targetErr
}

func (w *rollerWorld) Deployed(_ context.Context, stage string) (string, error) {
	return w.deployed[stage], nil
}

func (w *rollerWorld) Reached(_ context.Context, id, stage string) (bool, error) {
	return w.reached[id][stage], nil
}

// zonal is a wave of one region: a one-box, then two AZs; Z2 rolls the
// one-box and Z1 back with it.
func zonal() *Config {
	c := config()
	c.Stages = []Stage{{Name: "OneBox", Window: true}, {Name: "Z1", Window: true}, {Name: "Z2", Window: true, RollsBack: []string{"OneBox", "Z1"}}}
	return c
}

// TestRegionRollback: when a zonal step rolls back, the earlier steps of
// its region that run a release that reached it go back to the same
// target, the latest first and one at a time, and every entry of the
// region stays closed until they have; a release that never reached the
// failed step is left alone; whatever is not known holds the region for
// an operator.
func TestRegionRollback(t *testing.T) {
	const (
		good = "00000000-0000-0000-0000-000000000001" // the last release that passed every step
		bad  = "00000000-0000-0000-0000-000000000002" // failed at Z2
		next = "00000000-0000-0000-0000-000000000003" // a later release
		rb   = "00000000-0000-0000-0000-0000000000aa" // Z2's rollback execution
	)
	ok := func(id string) StageState {
		return StageState{Execution: id, ExecutionType: ExecutionStandard, Status: StatusSucceeded}
	}
	rolledBack := StageState{Execution: rb, ExecutionType: ExecutionRollback, Status: StatusSucceeded}
	rollback := func(status string) StageState {
		return StageState{Execution: "rb-x", ExecutionType: ExecutionRollback, Status: status}
	}
	cases := []struct {
		name     string
		stages   map[string]StageState
		deployed map[string]string
		order    map[string]string // stage → RollBackTo
		held     bool              // the region's entries stay closed
		reason   string
	}{
		{"the change goes on", map[string]StageState{"OneBox": ok(bad), "Z1": ok(bad), "Z2": {Execution: bad, ExecutionType: ExecutionStandard, Status: StatusInProgress, Running: true}},
			map[string]string{"OneBox": bad, "Z1": bad}, nil, false, ""},
		{"Z2 rolling back", map[string]StageState{"OneBox": ok(bad), "Z1": ok(bad), "Z2": {Execution: rb, ExecutionType: ExecutionRollback, Status: StatusInProgress, Running: true, Rollback: true}},
			map[string]string{"OneBox": bad, "Z1": bad}, nil, true, "stage Z2 is rolling back"},
		{"Z2 rolled back: Z1 first", map[string]StageState{"OneBox": ok(bad), "Z1": ok(bad), "Z2": rolledBack},
			map[string]string{"OneBox": bad, "Z1": bad}, map[string]string{"Z1": good}, true, "stage Z1 runs release " + bad + ", which reached it"},
		{"Z1 rolling back: wait", map[string]StageState{"OneBox": ok(bad), "Z1": {Execution: "rb-z1", ExecutionType: ExecutionRollback, Status: StatusInProgress, Running: true, Rollback: true}, "Z2": rolledBack},
			map[string]string{"OneBox": bad, "Z1": bad}, nil, true, "stage Z1 runs an execution or a rollback"},
		{"Z1 done: the one-box", map[string]StageState{"OneBox": ok(bad), "Z1": rollback(StatusSucceeded), "Z2": rolledBack},
			map[string]string{"OneBox": bad, "Z1": good}, map[string]string{"OneBox": good}, true, "stage OneBox runs release"},
		{"all back: open", map[string]StageState{"OneBox": rollback(StatusSucceeded), "Z1": rollback(StatusSucceeded), "Z2": rolledBack},
			map[string]string{"OneBox": good, "Z1": good}, nil, false, ""},
		{"a later release passed the one-box: left alone", map[string]StageState{"OneBox": ok(next), "Z1": rollback(StatusSucceeded), "Z2": rolledBack},
			map[string]string{"OneBox": next, "Z1": good}, nil, false, ""},
		{"Z2's rollback failed: held for an operator", map[string]StageState{"OneBox": ok(bad), "Z1": ok(bad), "Z2": {Execution: rb, ExecutionType: ExecutionRollback, Status: "Failed"}},
			map[string]string{"OneBox": bad, "Z1": bad}, nil, true, "roll it back again by hand"},
		// The controller's own rollback of Z1 failed: held, never
		// reopened.
		{"Z1's rollback failed: held", map[string]StageState{"OneBox": ok(bad), "Z1": rollback("Failed"), "Z2": rolledBack},
			map[string]string{"OneBox": bad, "Z1": bad}, nil, true, "stage Z1's own rollback ended Failed"},
		// A later automatic rollback of Z1 went back to the bad release
		// (the most recent standard execution that succeeded there): it
		// runs a release that reached Z2 again, and goes back.
		{"Z1 back on the bad release", map[string]StageState{"OneBox": rollback(StatusSucceeded), "Z1": rollback(StatusSucceeded), "Z2": rolledBack},
			map[string]string{"OneBox": good, "Z1": bad}, map[string]string{"Z1": good}, true, "stage Z1 runs release " + bad},
		// A newer release waits at Z1's entry: Z1 still runs the bad one.
		{"a release waits at Z1's entry", map[string]StageState{"OneBox": ok(next), "Z1": {Execution: next, ExecutionType: ExecutionStandard, Status: StatusInProgress, Running: true, EntryWaiting: true}, "Z2": rolledBack},
			map[string]string{"OneBox": next, "Z1": bad}, map[string]string{"Z1": good}, true, "stage Z1 runs release " + bad},
		{"what Z1 runs is unknown: held", map[string]StageState{"OneBox": ok(bad), "Z1": ok(bad), "Z2": rolledBack},
			map[string]string{"OneBox": bad}, nil, true, "what stage Z1 runs cannot be told"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &rollerWorld{world: healthy(), targets: map[string]string{rb: good}, deployed: tc.deployed,
				reached: map[string]map[string]bool{bad: {"OneBox": true, "Z1": true, "Z2": true}, next: {"OneBox": true}}}
			w.stages = tc.stages
			ds := Evaluate(context.Background(), zonal(), w, open)
			orders := map[string]string{}
			for _, d := range ds {
				if d.RollBackTo != "" {
					orders[d.Stage] = d.RollBackTo
				}
			}
			if tc.order == nil {
				tc.order = map[string]string{}
			}
			assert.Equal(t, tc.order, orders)
			for _, name := range []string{"OneBox", "Z1", "Z2"} {
				d := decision(t, ds, name)
				if w.stages[name].Rollback {
					assert.False(t, d.EntryBlocked, "%s: a rollback's gates are open until it has entered", name)
					continue
				}
				assert.Equal(t, tc.held, d.EntryBlocked, "%s: %v", name, d.EntryReasons)
				if tc.reason != "" {
					assert.Contains(t, joined(d.EntryReasons), tc.reason, name)
				}
			}
		})
	}
}

// TestRollbackEnteredKeepsTheRegionClosed: a rollback's gates open while
// it waits to enter; once it runs the stage's actions, a stage held for a
// region rollback closes again, so that a release waiting there does not
// follow the rollback in.
func TestRollbackEnteredKeepsTheRegionClosed(t *testing.T) {
	w := &rollerWorld{world: healthy(), targets: map[string]string{"rb": "good"}, deployed: map[string]string{"OneBox": "bad", "Z1": "bad"},
		reached: map[string]map[string]bool{"bad": {"Z2": true}}}
	w.stages = map[string]StageState{
		"OneBox": {Execution: "bad", ExecutionType: ExecutionStandard, Status: StatusSucceeded},
		"Z1":     {Execution: "rb-z1", ExecutionType: ExecutionRollback, Status: StatusInProgress, Running: true, Rollback: true},
		"Z2":     {Execution: "rb", ExecutionType: ExecutionRollback, Status: StatusSucceeded},
	}
	assert.False(t, decision(t, Evaluate(context.Background(), zonal(), w, open), "Z1").EntryBlocked, "the rollback waits to enter Z1: open")
	st := w.stages["Z1"]
	st.RollbackEntered = true
	w.stages["Z1"] = st
	assert.True(t, decision(t, Evaluate(context.Background(), zonal(), w, open), "Z1").EntryBlocked, "the rollback runs Z1's actions: closed behind it")
}

// TestRegionRollbackFailsClosed: an Observer that cannot roll stages back,
// or cannot read a rollback's target, keeps the region's entries closed
// and orders nothing.
func TestRegionRollbackFailsClosed(t *testing.T) {
	stages := map[string]StageState{
		"OneBox": {Execution: "b", ExecutionType: ExecutionStandard, Status: StatusSucceeded},
		"Z1":     {Execution: "b", ExecutionType: ExecutionStandard, Status: StatusSucceeded},
		"Z2":     {Execution: "r", ExecutionType: ExecutionRollback, Status: StatusSucceeded},
	}
	plain := healthy()
	plain.stages = stages
	roller := &rollerWorld{world: healthy(), targetErr: errors.New("throttled")}
	roller.stages = stages
	for name, o := range map[string]Observer{"no roller": plain, "target unreadable": roller} {
		ds := Evaluate(context.Background(), zonal(), o, open)
		for _, d := range ds {
			assert.True(t, d.EntryBlocked, "%s: %s", name, d.Stage)
			assert.Empty(t, d.RollBackTo, name)
		}
	}
}

func TestRollsBackIsValidated(t *testing.T) {
	c := zonal()
	require.NoError(t, c.Validate())
	c.Stages[2].RollsBack = []string{"Z1", "OneBox", "Z2", "Nope", "Z1"}
	err := c.Validate()
	assert.ErrorContains(t, err, `rollsBack[1]: "OneBox" comes before "Z1" in the pipeline`)
	assert.ErrorContains(t, err, `rollsBack[2]: "Z2" is not an earlier gated stage`)
	assert.ErrorContains(t, err, `rollsBack[3]: "Nope" is not an earlier gated stage`)
	assert.ErrorContains(t, err, `rollsBack[4]: "Z1" is listed twice`)
}

func joined(ss []string) string {
	out := ""
	for _, s := range ss {
		out += s + "\n"
	}
	return out
}
