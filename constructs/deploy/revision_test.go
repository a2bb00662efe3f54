package deploy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fakeaws"
)

// runDeployScriptOld runs the step's real script with an aws stand-in
// (internal/fakeaws): a stage execution of type kind, a deployment in
// progress (inProgress) that ends oldFinal after the stop, and a new one
// that ends final. It returns the calls, "<profile>|<arguments>" each.
func runDeployScriptOld(t *testing.T, kind, inProgress, final, key, oldFinal string) (string, []string, error) {
	t.Helper()
	// A deployment that never stops is waited for a second; one that does
	// has a minute, so that a second ticking over between two polls does
	// not end the wait early.
	wait := "60"
	if oldFinal == "InProgress" {
		wait = "1"
	}
	out, calls, err := fakeaws.Run(t.TempDir(), ServerDeployScript,
		fakeaws.Scenario{Kind: kind, InProgress: inProgress, Final: final, Key: key, OldFinal: oldFinal},
		[]string{"SAFEPIPE_POLL_SECONDS=0", "SAFEPIPE_STOP_WAIT_SECONDS=" + wait,
			"SAFEPIPE_PIPELINE=p", "SAFEPIPE_PIPELINE_REGION=us-west-2", "SAFEPIPE_STAGE=Prod-W1-Z1", "SAFEPIPE_DEADLINE_MINUTES=60",
			"SAFEPIPE_APPLICATION=app", "SAFEPIPE_GROUP=fleet-use1-az1", "SAFEPIPE_BUCKET=b", "SAFEPIPE_STACK=svc-fleet", "SAFEPIPE_OUTPUT=SafepipeRevisionFleet",
			"AWS_PROFILE=" + DeployerProfile})
	lines := make([]string, len(calls))
	for i, c := range calls {
		lines[i] = c.Profile + "|" + c.Args
	}
	return out, lines, err
}

func runDeployScript(t *testing.T, kind, inProgress, final string) (string, []string, error) {
	return runDeployScriptKey(t, kind, inProgress, final, "new.zip")
}

func runDeployScriptKey(t *testing.T, kind, inProgress, final, key string) (string, []string, error) {
	return runDeployScriptOld(t, kind, inProgress, final, key, "Stopped")
}

func callsOf(calls []string, sub string) []string {
	var out []string
	for _, c := range calls {
		if strings.Contains(c, sub) {
			out = append(out, c)
		}
	}
	return out
}

// TestServerDeployScript runs the step's real script under a POSIX shell
// with an aws stand-in.
func TestServerDeployScript(t *testing.T) {
	// A standard execution: alarms on, the deployment awaited.
	out, calls, err := runDeployScript(t, "STANDARD", "None", "Succeeded")
	require.NoError(t, err, out)
	create := callsOf(calls, "create-deployment")
	require.Len(t, create, 1)
	assert.Contains(t, create[0], "--application-name app --deployment-group-name fleet-use1-az1 --s3-location bucket=b,key=new.zip,bundleType=zip",
		"the revision is the one the stack just deployed names")
	assert.NotContains(t, create[0], "override-alarm-configuration", "a forward deployment keeps its alarms")
	assert.Len(t, callsOf(calls, "deploymentInfo.status"), 3, "it waits until the deployment ends")
	assert.Empty(t, callsOf(calls, "stop-deployment"))

	// "None" (the CLI's empty value) is not a rollback.
	_, calls, err = runDeployScript(t, "None", "None", "Succeeded")
	require.NoError(t, err)
	assert.NotContains(t, callsOf(calls, "create-deployment")[0], "override-alarm-configuration")

	// A rollback execution: the deployment still in progress is stopped
	// and the earlier revision goes out with alarm polling off.
	out, calls, err = runDeployScript(t, "ROLLBACK", "d-OLD", "Succeeded")
	require.NoError(t, err, out)
	assert.Contains(t, out, "a rollback execution")
	assert.Equal(t, []string{DeployerProfile + "|deploy stop-deployment --deployment-id d-OLD --no-auto-rollback-enabled"}, callsOf(calls, "stop-deployment"))
	assert.Contains(t, callsOf(calls, "create-deployment")[0], "--override-alarm-configuration enabled=false")
	// "Pending: The stop operation is pending." (API_StopDeployment): the
	// new deployment is created only once the stopped one has ended.
	lastPoll, createAt := -1, -1
	for i, c := range calls {
		if strings.Contains(c, "--deployment-id d-OLD --query deploymentInfo.status") {
			lastPoll = i
		}
		if strings.Contains(c, "create-deployment") {
			createAt = i
		}
	}
	assert.Len(t, callsOf(calls, "--deployment-id d-OLD --query deploymentInfo.status"), 3, "it polls the stopped deployment until it has ended")
	// (The fake answers InProgress twice, then the final status.)
	assert.Less(t, lastPoll, createAt, "and only then creates the next")
	assert.Contains(t, out, "deployment d-OLD ended Stopped")
	// One that does not stop in time fails the step, creating nothing.
	out, calls, err = runDeployScriptOld(t, "ROLLBACK", "d-OLD", "Succeeded", "new.zip", "InProgress")
	require.Error(t, err)
	assert.Contains(t, out, "deployment d-OLD did not stop within 1 s")
	assert.Empty(t, callsOf(calls, "create-deployment"))
	// The pipeline's state is read with the build's own credentials; every
	// other call with the deployer's.
	assert.Contains(t, callsOf(calls, "get-pipeline-state")[0], "|codepipeline get-pipeline-state --name p --region us-west-2")
	for _, c := range calls {
		assert.Equal(t, !strings.Contains(c, "get-pipeline-state"), strings.HasPrefix(c, DeployerProfile+"|"), c)
	}

	// The revision is read from the stack the stage has just deployed, not
	// written into the pipeline: in a rollback execution the stage's stack
	// actions have redeployed the earlier template, whose output names the
	// earlier revision. (A key in the action's configuration would change
	// the pipeline's structure with every release, and "The pipeline can
	// only roll back to a previous execution if the previous execution was
	// started in the current pipeline structure version.")
	out, calls, err = runDeployScriptKey(t, "ROLLBACK", "None", "Succeeded", "old.zip")
	require.NoError(t, err, out)
	assert.Contains(t, callsOf(calls, "create-deployment")[0], "key=old.zip")
	out, calls, err = runDeployScriptKey(t, "STANDARD", "None", "Succeeded", "None")
	require.Error(t, err)
	assert.Contains(t, out, "stack svc-fleet has no output SafepipeRevisionFleet")
	assert.Empty(t, callsOf(calls, "create-deployment"))

	// A failed deployment fails the step, saying why.
	out, _, err = runDeployScript(t, "STANDARD", "None", "Stopped")
	require.Error(t, err)
	assert.Contains(t, out, "deployment d-NEW Stopped: Deployment stopped: alarm orders-prod-use1-az1-api-cpu fired")
}
