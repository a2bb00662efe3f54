package verify

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden snapshots in testdata/")

// realPipelines are public CDK pipelines, synthesized here; see
// testdata/real/README.md for where each comes from and what its findings
// mean.
var realPipelines = []string{"cdkpipeline-ecs", "codepipeline-build-deploy", "dpra-application-pipeline", "dpra-dynamic-configuration"}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./verify -run Snapshot -update to create it")
	assert.Equal(t, string(want), string(got), "%s changed; review the diff and refresh with -update", path)
}

// TestSnapshotRealPipelines verifies each real pipeline with the default
// config (and, where production cannot be recognised without one, with
// the config its README gives) and compares the report with its golden
// snapshot. None of them has a gate: each fails at error severity.
func TestSnapshotRealPipelines(t *testing.T) {
	for _, name := range realPipelines {
		t.Run(name, func(t *testing.T) {
			rep, err := Assembly(filepath.Join("testdata", "real", name), nil)
			require.NoError(t, err)
			assert.True(t, rep.Failed(Error), "a pipeline without gates fails by default")
			var out bytes.Buffer
			require.NoError(t, WriteText(&out, rep, Info))
			golden(t, filepath.Join("real", name+".golden"), out.Bytes())

			cfgPath := filepath.Join("testdata", "real", name+".verify.json")
			f, err := os.Open(cfgPath)
			if os.IsNotExist(err) {
				return
			}
			require.NoError(t, err)
			defer f.Close()
			cfg, err := ReadConfig(f)
			require.NoError(t, err)
			rep, err = Assembly(filepath.Join("testdata", "real", name), cfg)
			require.NoError(t, err)
			out.Reset()
			require.NoError(t, WriteText(&out, rep, Info))
			golden(t, filepath.Join("real", name+".configured.golden"), out.Bytes())
		})
	}
}

// TestRealPipelineFindings pins what a reviewer reads in each report (the
// README gives the judgement of each).
func TestRealPipelineFindings(t *testing.T) {
	read := func(name string, cfg *Config) map[string]int {
		rep, err := Assembly(filepath.Join("testdata", "real", name), cfg)
		require.NoError(t, err)
		return rulesOf(rep)
	}
	// Production named by no name, tag or account: SP018 and nothing else.
	assert.Equal(t, map[string]int{RuleNoProduction: 1}, read("cdkpipeline-ecs", nil))
	assert.Equal(t, map[string]int{RuleNoProduction: 1}, read("codepipeline-build-deploy", nil))
	// Once told, the production rules apply to what they deploy.
	ecs := read("cdkpipeline-ecs", &Config{Production: "^DeployWave$"})
	assert.Equal(t, 2, ecs[RuleECSCircuitBreaker])
	assert.Equal(t, 2, ecs[RuleECSAlarms])
	// The service runs one task: at 50%, ECS keeps ceil(0.5) = 1 running
	// ("rounded up to the nearest integer"), so no capacity is dropped.
	assert.Zero(t, ecs[RuleMinHealthy])
	assert.Equal(t, 1, ecs[RuleFirstStage])
	cd := read("codepipeline-build-deploy", &Config{Production: "^Deploy$"})
	assert.Equal(t, 1, cd[RuleDeployAlarms])
	assert.Equal(t, 1, cd[RuleDeployRollback])
	assert.Equal(t, 1, cd[RuleMinHealthy])

	app := read("dpra-application-pipeline", nil)
	assert.Equal(t, 1, app[RuleV1], "a V1 pipeline cannot have the conditions production needs")
	assert.Equal(t, 1, app[RuleFirstStage], "Prod-0 deploys two regions at once")
	assert.Equal(t, 6, app[RuleBlocker])
	assert.Zero(t, app[RuleAggregate], "the ECS service's composite health alarm plays the aggregate role")
	assert.Zero(t, app[RuleAlarmContract], "every alarm the deployment groups watch is in the assembly")

	dyn := read("dpra-dynamic-configuration", nil)
	assert.Equal(t, 8, dyn[RuleAppConfigStrategy], "every production AppConfig deployment is all at once")
	assert.Equal(t, 8, dyn[RuleAppConfigMonitors], "and no environment has a monitor")
	assert.Equal(t, 1, dyn[RuleFirstStage], "Core, in the production account, deploys four regions at once")
}
