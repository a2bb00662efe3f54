package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/internal/mototest"
	"github.com/safepipe/safepipe/waves"
)

func TestTestRoleNames(t *testing.T) {
	d := Deployment{Environment: Beta, Account: "222222222222", Target: waves.Target{Region: "eu-west-1"}, Alarms: alarms.Names{Team: "orders", Environment: "beta"}}
	assert.Equal(t, "safepipe-tests-orders-beta-eu-west-1", TestRoleName(d))
	assert.Equal(t, "arn:aws:iam::222222222222:role/safepipe-tests-orders-beta-eu-west-1", TestRoleArn(d))
	d.Alarms.Team = strings.Repeat("t", 40)
	d.Target.Region = "ap-southeast-5"
	assert.Len(t, TestRoleName(d), 64, "long names are cut to IAM's 64 characters with a hash")
	other := d
	other.Environment = Gamma
	assert.NotEqual(t, TestRoleName(d), TestRoleName(other))
	d.Target.Region = "cn-north-1"
	assert.True(t, strings.HasPrefix(TestRoleArn(d), "arn:aws-cn:iam::"))
}

// TestCredentialsCommandRunsAgainstMoto runs the generated command under a
// POSIX shell with the real AWS CLI against moto: the profile it writes
// holds the test role's credentials, so the test's next command runs as the
// role (a separate shell, as CodeBuild may run each command).
func TestCredentialsCommandRunsAgainstMoto(t *testing.T) {
	mototest.Start(t)
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the AWS CLI is not installed")
	}
	home := t.TempDir()
	d := Deployment{Environment: Beta, Account: "123456789012", Target: waves.Target{Region: "eu-west-1"}, Alarms: alarms.Names{Team: "orders", Environment: "beta"}}
	// As in CodeBuild, the build's own credentials are not in the
	// environment (CodeBuild serves them from its container endpoint):
	// here they are the default profile's.
	require.NoError(t, os.WriteFile(filepath.Join(home, "credentials"), []byte("[default]\naws_access_key_id = build\naws_secret_access_key = build\n"), 0o600))
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_ACCESS_KEY_ID=") && !strings.HasPrefix(kv, "AWS_SECRET_ACCESS_KEY=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PROFILE="+TestProfile)
	run := func(script string) string {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s\n%s", script, out)
		return string(out)
	}
	run(TestCredentialsCommand(d))
	who := run("aws sts get-caller-identity --query Arn --output text")
	assert.Contains(t, who, "assumed-role/"+TestRoleName(d)+"/safepipe", "the next command runs as the test role")
	cfg, err := os.ReadFile(filepath.Join(home, "config"))
	require.NoError(t, err)
	assert.Contains(t, string(cfg), "region = eu-west-1")
}

// TestDefaultBuildCommandsVetATeamRepo: in a team's repository with the CDK
// CLI installed, whose node_modules ships Go templates that do not
// compile, the default build commands still vet the team's code.
func TestDefaultBuildCommandsVetATeamRepo(t *testing.T) {
	dir := t.TempDir()
	write := func(path, body string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, path)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, path), []byte(body), 0o644))
	}
	write("go.mod", "module team\n\ngo 1.22\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	write("node_modules/aws-cdk/lib/init-templates/app/go/%name%.template.go", "package main\n\nfunc %name%() {}\n")
	vet := exec.Command("go", "vet", "./...")
	vet.Dir = dir
	out, err := vet.CombinedOutput()
	require.Error(t, err, "without the go.mod, go vet reads node_modules: %s", out)
	for _, c := range BuildCommands("go run .") {
		if strings.HasPrefix(c, "npm") || strings.HasPrefix(c, "npx") || strings.HasPrefix(c, "go test") {
			continue
		}
		cmd := exec.Command("sh", "-c", c)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", c, out)
	}
}
