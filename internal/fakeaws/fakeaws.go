// Package fakeaws runs safepipe's shell steps in tests with an aws CLI
// stand-in: a POSIX script that records every call with the CLI profile it
// ran under (the deployer's, or none: the build's own role) and answers
// the few calls the server deploy step makes as a Scenario says. Tests use
// the record twice: for what the step does (constructs/deploy) and for
// whether the roles safepipe synthesizes allow each call (examples/zonal).
package fakeaws

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// stand-in is the aws CLI: it logs "<profile>|<arguments>" and answers.
const standIn = `#!/bin/sh
echo "${AWS_PROFILE:-}|$*" >> "$FAKE_LOG"
case "$*" in
  *"codepipeline get-pipeline-state"*) echo "$FAKE_KIND" ;;
  *"cloudformation describe-stacks"*) echo "$FAKE_KEY" ;;
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
  *"sts assume-role"*) echo "AKIAFAKE SECRET TOKEN" ;;
  *"configure set"*) ;;
  *) echo "unexpected aws call: $*" >&2; exit 9 ;;
esac
`

// Scenario is how the stand-in answers.
type Scenario struct {
	// Kind is the stage execution's type GetPipelineState reports
	// (STANDARD, ROLLBACK, or the CLI's "None").
	Kind string
	// InProgress is the deployment ListDeployments reports in progress,
	// or "None".
	InProgress string
	// Final is how the new deployment ends, after two polls of InProgress.
	Final string
	// Key is the revision key the stack's output names ("None": none).
	Key string
	// OldFinal is how the stopped deployment ends, after two polls
	// ("InProgress": never).
	OldFinal string
}

// Call is one recorded aws call.
type Call struct {
	// Profile is the AWS_PROFILE it ran with ("" for none).
	Profile string
	// Args are its arguments, space-joined.
	Args string
}

// Run runs script with sh in dir, the stand-in first on PATH, and env
// added to the environment; it returns the script's output, the calls
// and the script's error.
func Run(dir, script string, s Scenario, env []string) (string, []Call, error) {
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(standIn), 0o755); err != nil {
		return "", nil, err
	}
	log := filepath.Join(dir, "calls.log")
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+log, "FAKE_KIND="+s.Kind, "FAKE_INPROGRESS="+s.InProgress,
		"FAKE_FINAL="+s.Final, "FAKE_POLLS="+filepath.Join(dir, "polls"), "FAKE_KEY="+s.Key, "FAKE_OLD_FINAL="+s.OldFinal), env...)
	out, err := cmd.CombinedOutput()
	b, _ := os.ReadFile(log)
	var calls []Call
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if profile, args, ok := strings.Cut(line, "|"); ok {
			calls = append(calls, Call{Profile: profile, Args: args})
		}
	}
	return string(out), calls, err
}
