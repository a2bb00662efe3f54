package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAWS is an aws stand-in for the deploy script: it logs every call
// and answers the few the script makes from the environment.
const fakeAWS = `#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$*" in
  *"codepipeline get-pipeline-state"*) echo "$FAKE_KIND" ;;
  *"cloudformation describe-stacks --stack-name svc-fleet"*"OutputKey=='SafepipeRevisionFleet'"*) echo "$FAKE_KEY" ;;
  *"deploy list-deployments"*) echo "$FAKE_INPROGRESS" ;;
  *"deploy stop-deployment"*) ;;
  *"deploy create-deployment"*) echo d-NEW ;;
  *"get-deployment --deployment-id d-OLD"*"deploymentInfo.status"*)
    n=$(cat "$FAKE_POLLS.old" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_POLLS.old"
    if [ "$n" -lt 3 ]; then echo InProgress; else echo "$FAKE_OLD_FINAL"; fi ;;
  *"deploymentInfo.status"*)
    n=$(cat "$FAKE_POLLS" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_POLLS"
    if [ "$n" -lt 3 ]; then echo InProgress; else echo "$FAKE_FINAL"; fi ;;
  *"errorInformation"*) echo "Deployment stopped: alarm orders-prod-use1-az1-api-cpu fired" ;;
  *) echo "unexpected aws call: $*" >&2; exit 9 ;;
esac
`

func runDeployScript(t *testing.T, kind, inProgress, final string) (string, []string, error) {
	return runDeployScriptKey(t, kind, inProgress, final, "new.zip")
}

func runDeployScriptKey(t *testing.T, kind, inProgress, final, key string) (string, []string, error) {
	return runDeployScriptOld(t, kind, inProgress, final, key, "Stopped")
}

// runDeployScriptOld also says how the deployment in progress ends after
// the stop (oldFinal, after two polls of InProgress; "InProgress" never
// ends).
func runDeployScriptOld(t *testing.T, kind, inProgress, final, key, oldFinal string) (string, []string, error) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "aws"), []byte(fakeAWS), 0o755))
	log := filepath.Join(dir, "calls.log")
	cmd := exec.Command("sh", "-c", ServerDeployScript)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+log, "FAKE_KIND="+kind, "FAKE_INPROGRESS="+inProgress,
		"FAKE_FINAL="+final, "FAKE_POLLS="+filepath.Join(dir, "polls"), "FAKE_KEY="+key, "FAKE_OLD_FINAL="+oldFinal, "SAFEPIPE_POLL_SECONDS=0", "SAFEPIPE_STOP_WAIT_SECONDS=1",
		"SAFEPIPE_PIPELINE=p", "SAFEPIPE_PIPELINE_REGION=us-west-2", "SAFEPIPE_STAGE=Prod-W1-Z1", "SAFEPIPE_DEADLINE_MINUTES=60",
		"SAFEPIPE_APPLICATION=app", "SAFEPIPE_GROUP=fleet-use1-az1", "SAFEPIPE_BUCKET=b", "SAFEPIPE_STACK=svc-fleet", "SAFEPIPE_OUTPUT=SafepipeRevisionFleet",
		"AWS_PROFILE=safepipe-deployer")
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(log)
	return string(out), strings.Split(strings.TrimSpace(string(b)), "\n"), err
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
	assert.Equal(t, []string{"deploy stop-deployment --deployment-id d-OLD --no-auto-rollback-enabled"}, callsOf(calls, "stop-deployment"))
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
	// The pipeline's state is read with the build's own credentials.
	assert.Contains(t, callsOf(calls, "get-pipeline-state")[0], "--name p --region us-west-2")

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
