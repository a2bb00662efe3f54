package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/examples/zonal/fleet"
	"github.com/safepipe/safepipe/sim"
)

// TestSimulateAnotherAZFiring: the region's aggregate is its AZs'
// together. While the second AZ of the first region bakes, the first AZ's
// aggregate fires (the change, already in that AZ, fails there, or the
// region is unhealthy): the stage's bake breaches and rolls it back, and
// the third AZ never starts. When each step watched only its own AZ, every
// stage of this run succeeded.
func TestSimulateAnotherAZFiring(t *testing.T) {
	dir, plan := synthesized(t)
	a, err := sim.Load(dir, sim.Limits{})
	require.NoError(t, err)
	m, err := sim.NewModel(a)
	require.NoError(t, err)

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
	assert.Empty(t, res.Violations)
}
