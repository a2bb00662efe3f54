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

// realTemplates are public CloudFormation pipelines (committed templates,
// converted from YAML to JSON), read alone; see testdata/real/README.md.
var realTemplates = []string{
	"adf-bootstrap-codebuild", "conditional-source-action", "cross-account-refarch", "devsecops-eks-codebuild",
	"ecs-bluegreen-codedeploy", "nested-stacks-cfn", "sam-manual-approval", "sam-pipeline-two-stage",
}

// TestSnapshotRealTemplates verifies each real template with the default
// config and compares the report with its golden snapshot.
func TestSnapshotRealTemplates(t *testing.T) {
	for _, name := range realTemplates {
		t.Run(name, func(t *testing.T) {
			rep, err := Path(filepath.Join("testdata", "real", name+".template.json"), nil)
			require.NoError(t, err)
			var out bytes.Buffer
			require.NoError(t, WriteText(&out, rep, Info))
			golden(t, filepath.Join("real", name+".golden"), out.Bytes())
		})
	}
}

// TestRealTemplateFindings pins what a reviewer reads in each: every
// finding below is true of the pipeline (README), and the gaps the issue
// found missed are reported.
func TestRealTemplateFindings(t *testing.T) {
	read := func(name string) map[string]int {
		t.Helper()
		rep, err := Path(filepath.Join("testdata", "real", name+".template.json"), nil)
		require.NoError(t, err)
		return rulesOf(rep)
	}
	// Deploys into every account of the organisation through CodeBuild:
	// reported as unverifiable, and as a pipeline whose production no
	// stage names.
	adf := read("adf-bootstrap-codebuild")
	assert.Equal(t, 1, adf[RuleUnverifiable])
	assert.Equal(t, 1, adf[RuleNoProduction])
	// Production deployed only by CodeBuild (kubectl, sam deploy): the
	// production rules apply to the stage, and its deploy is unverifiable.
	for _, name := range []string{"devsecops-eks-codebuild", "sam-pipeline-two-stage"} {
		r := read(name)
		assert.Positive(t, r[RuleUnverifiable], name)
		assert.Equal(t, 1, r[RuleRollback], name)
		assert.Equal(t, 1, r[RuleBlocker], "%s: the stage checks no alarm, whatever regions its build deploys to", name)
		assert.Zero(t, r[RuleNoProduction], name)
	}
	// Stages switched by Fn::If are read with the parameters' defaults;
	// the pipeline only deploys to Dev, which is not production: nothing
	// to report.
	assert.Empty(t, read("conditional-source-action"))
	// Testing plays beta; Deployment is production by the sample's
	// README, but nothing in the template says so: SP018 names it alone.
	rep, err := Path(filepath.Join("testdata", "real", "sam-manual-approval.template.json"), nil)
	require.NoError(t, err)
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, RuleNoProduction, rep.Findings[0].Rule)
	assert.Contains(t, rep.Findings[0].Message, "deploys in Deployment (the pipeline's region), but")
	// Test, UAT, Production: UAT plays gamma, Test plays beta.
	nested := read("nested-stacks-cfn")
	assert.Equal(t, 2, nested[RulePreProd], "alpha and gamma one-box are missing; beta (Test) and gamma (UAT) are there")
	// The production stacks' templates are build outputs: said (SP035).
	for _, name := range []string{"nested-stacks-cfn", "cross-account-refarch"} {
		rep, err := Path(filepath.Join("testdata", "real", name+".template.json"), nil)
		require.NoError(t, err)
		n := 0
		for _, f := range rep.Findings {
			if f.Rule == RuleUnreadStack {
				n++
			}
		}
		assert.Equal(t, 1, n, name)
	}
}
