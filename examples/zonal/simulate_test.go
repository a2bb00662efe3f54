package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/examples/zonal/fleet"
	"github.com/safepipe/safepipe/sim"
	"github.com/safepipe/safepipe/sim/simtest"
	"github.com/safepipe/safepipe/waves"
)

// model reads the synthesized pipeline for the simulator.
func model(t *testing.T) (*sim.Model, *waves.Plan) {
	t.Helper()
	dir, plan := synthesized(t)
	a, err := sim.Load(dir, sim.Limits{})
	require.NoError(t, err)
	m, err := sim.NewModel(a)
	require.NoError(t, err)
	return m, plan
}

// TestSimulateAnotherAZFiring: the region's aggregate is its AZs'
// together. While the second AZ of the first region bakes, the first AZ's
// aggregate fires (the change, already in that AZ, fails there, or the
// region is unhealthy): the stage's bake breaches and rolls it back, and
// the third AZ never starts. When each step watched only its own AZ, every
// stage of this run succeeded.
func TestSimulateAnotherAZFiring(t *testing.T) {
	m, plan := model(t)
	first := plan.Stages[0].Targets[0].Region
	var azs []string
	for _, s := range plan.Stages {
		for _, tg := range s.Targets {
			if tg.Region == first && tg.AZ != "" && !tg.OneBox {
				azs = append(azs, tg.AZ)
			}
		}
	}
	require.GreaterOrEqual(t, len(azs), 3)
	az1 := alarms.Names{Team: fleet.Team, Environment: "prod", Cell: azs[0]}.Aggregate()
	faults, err := sim.ParseFaults([]string{az1 + "@" + first + ":Prod-W1-Z2+40m"})
	require.NoError(t, err)
	res, err := sim.Run(m, sim.Options{Start: time.Date(2026, 1, 5, 9, 0, 0, 0, m.Location()), Faults: faults})
	require.NoError(t, err)
	results := map[string]string{}
	for _, s := range res.Stages {
		if s.Execution == "STANDARD" {
			results[s.Name] = s.Result
		}
	}
	assert.Equal(t, "RolledBack", results["Prod-W1-Z2"], "%v", results)
	assert.NotEqual(t, "Succeeded", results["Prod-W1-Z3"], "%v", results)
	// CodePipeline rolls back the failed stage only; the gate controller
	// then rolls the region's earlier steps back (gates.Stage.RollsBack):
	// the first AZ, then the one-box. The whole region runs the earlier
	// version again.
	assert.Empty(t, res.Violations)
	assert.Equal(t, sim.ExitStopped, res.ExitCode, res.Summary)
	assert.Equal(t, []string{first}, res.RolledBack)
	var rolled []string
	for _, s := range res.Stages {
		if s.Execution == "ROLLBACK" && s.Result == "Succeeded" {
			rolled = append(rolled, s.Name)
		}
	}
	assert.Equal(t, []string{"Prod-W1-Z2", "Prod-W1-Z1", "Prod-W1-OneBox"}, rolled)
}

// TestZonalRehearses: what a team's CI runs beside verifytest: the happy
// path, and a bad change in every step of the first wave (the one-box and
// each AZ), at once and latent (one reading each: the zonal plan is large;
// TestZonalUnderEachReading and TestZonalFaultRollsTheRegionBack run the
// others).
func TestZonalRehearses(t *testing.T) {
	dir, _ := synthesized(t)
	simtest.Safe(t, dir, &simtest.Options{OneReading: true})
}

// TestZonalFaultRollsTheRegionBack: a change bad from the second AZ on
// (latent: it shows 20 minutes after it serves there) is contained under
// every reading of what the AWS documentation leaves open: the region's
// one-box and first AZ go back with the failed step.
func TestZonalFaultRollsTheRegionBack(t *testing.T) {
	m, _ := model(t)
	faults, err := sim.ParseFaults([]string{"bad:Prod-W1-Z2+20m"})
	require.NoError(t, err)
	all, err := sim.RunReadings(m, sim.Options{Start: time.Date(2026, 1, 5, 9, 0, 0, 0, m.Location()), Faults: faults}, nil)
	require.NoError(t, err)
	for _, r := range all.Readings {
		assert.Empty(t, r.Violations, "%v", r.Reading)
		assert.Equal(t, sim.ExitStopped, r.ExitCode, "%v: %s", r.Reading, r.Summary)
	}
}

// TestSimulateHappyPath: with no fault the change reaches every region of
// the plan, and every property holds: in particular the one-box instance
// serves at most a tenth of its region (one host of the region's fleet)
// during its bake.
func TestSimulateHappyPath(t *testing.T) {
	m, plan := model(t)
	res, err := sim.Run(m, sim.Options{Start: time.Date(2026, 1, 5, 9, 0, 0, 0, m.Location())})
	require.NoError(t, err)
	assert.Empty(t, res.Violations)
	assert.Equal(t, sim.ExitReached, res.ExitCode, res.Summary)
	assert.ElementsMatch(t, plan.Regions(), res.Reached)
}

// TestZonalUnderEachReading runs the zonal pipeline under each reading of
// what the AWS documentation leaves open, one question at a time (the
// cross product of 24 runs of a 34-region zonal rollout is the heavy
// form, `safepipe simulate --all-readings`): no property fails on the
// happy path, and a fault in the first production one-box is contained
// (the one-box stage rolls back; nothing later runs the change).
func TestZonalUnderEachReading(t *testing.T) {
	m, plan := model(t)
	first := plan.Stages[0]
	require.Equal(t, waves.KindOneBox, first.Kind)
	faults, err := sim.ParseFaults([]string{first.Targets[0].Region + ":" + first.Name + "+20m"})
	require.NoError(t, err)
	runs := []sim.Options{{}}
	for _, q := range sim.Questions {
		for _, r := range q.Readings[1:] {
			var o sim.Options
			require.NoError(t, o.SetReading(q.Name, string(r)))
			runs = append(runs, o)
		}
	}
	for _, o := range runs {
		o.Start = time.Date(2026, 1, 5, 9, 0, 0, 0, m.Location())
		happy, err := sim.Run(m, o)
		require.NoError(t, err)
		assert.Empty(t, happy.Violations, "%v", o.Readings())
		o.Faults = faults
		res, err := sim.Run(m, o)
		require.NoError(t, err)
		assert.Empty(t, res.Violations, "%v", o.Readings())
		assert.Equal(t, sim.ExitStopped, res.ExitCode, "%v: %s", o.Readings(), res.Summary)
		assert.Empty(t, res.Reached, "%v", o.Readings())
	}
}
