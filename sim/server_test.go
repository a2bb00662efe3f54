package sim

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestActionEnv(t *testing.T) {
	a := &Action{Name: "Deploy", Env: map[string]string{"A": "project", "B": "project"},
		Config: map[string]string{"EnvironmentVariables": `[{"name":"B","type":"PLAINTEXT","value":"action"},{"name":"C","value":"c"}]`}}
	require.NoError(t, actionEnv(a))
	assert.Equal(t, map[string]string{"A": "project", "B": "action", "C": "c"}, a.Env, "the action's variables override the project's")

	bad := &Action{Name: "Deploy", Config: map[string]string{"EnvironmentVariables": `{"B":"x"}`}}
	assert.ErrorContains(t, actionEnv(bad), "action Deploy: EnvironmentVariables is not a list")
}

// fleetStack creates a deployment group over an Auto Scaling group of
// three instances, a one-box group of one, and one whose name is not
// literal.
func fleetStack(fleetConfig any) *Stack {
	fleet := map[string]any{"ApplicationName": map[string]any{"Ref": "App"}, "DeploymentGroupName": "svc-fleet", "AutoScalingGroups": []any{map[string]any{"Ref": "Fleet"}}}
	if fleetConfig != nil {
		fleet["DeploymentConfigName"] = fleetConfig
	}
	return &Stack{Name: "fleet", Account: "333333333333", Region: "eu-west-1", Template: &Template{Resources: map[string]*Resource{
		"App":     {Type: "AWS::CodeDeploy::Application", Properties: map[string]any{"ComputePlatform": "Server"}},
		"Fleet":   {Type: "AWS::AutoScaling::AutoScalingGroup", Properties: map[string]any{"MinSize": "3", "MaxSize": "3"}},
		"OneBox":  {Type: "AWS::AutoScaling::AutoScalingGroup", Properties: map[string]any{"MinSize": "1", "MaxSize": "1"}},
		"Config":  {Type: "AWS::CodeDeploy::DeploymentConfig", Properties: map[string]any{"MinimumHealthyHosts": map[string]any{"Type": "FLEET_PERCENT", "Value": "40"}}},
		"FleetDG": {Type: "AWS::CodeDeploy::DeploymentGroup", Properties: fleet},
		"OneBoxDG": {Type: "AWS::CodeDeploy::DeploymentGroup", Properties: map[string]any{"ApplicationName": map[string]any{"Ref": "App"},
			"DeploymentGroupName": "svc-onebox", "AutoScalingGroups": []any{map[string]any{"Ref": "OneBox"}}}},
	}}}
}

// TestServerGroups: instances and batch sizes from the deployment
// configuration (the MinimumHealthyHosts examples: 9 instances, FLEET_PERCENT
// 40 → 5 at a time; HOST_COUNT 6 → 3).
func TestServerGroups(t *testing.T) {
	for _, tc := range []struct {
		name    string
		config  any
		batch   int
		problem string
	}{
		{"default OneAtATime", nil, 1, ""},
		{"HalfAtATime", "CodeDeployDefault.HalfAtATime", 1, ""},
		{"AllAtOnce", "CodeDeployDefault.AllAtOnce", 3, ""},
		{"custom FLEET_PERCENT 40 of 3 keeps 2", map[string]any{"Ref": "Config"}, 1, ""},
		{"unknown", "Custom.Mine", 1, `deployment configuration "Custom.Mine" is not one the simulator knows`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gs := serverGroups(fleetStack(tc.config))
			require.Len(t, gs, 2)
			assert.Equal(t, 1, gs["svc-onebox"].Instances)
			assert.Equal(t, 1, gs["svc-onebox"].Batch)
			assert.Empty(t, gs["svc-onebox"].Problem)
			f := gs["svc-fleet"]
			assert.Equal(t, 3, f.Instances)
			assert.Equal(t, tc.batch, f.Batch)
			if tc.problem == "" {
				assert.Empty(t, f.Problem)
			} else {
				assert.Contains(t, f.Problem, tc.problem)
			}
		})
	}
	nine := fleetStack(map[string]any{"Ref": "Config"})
	nine.Template.Resources["Fleet"].Properties["MinSize"] = "9"
	assert.Equal(t, 5, serverGroups(nine)["svc-fleet"].Batch, "FLEET_PERCENT 40 of 9: deploy to up to five at a time")
	nine.Template.Resources["Config"].Properties["MinimumHealthyHosts"] = map[string]any{"Type": "HOST_COUNT", "Value": "6"}
	assert.Equal(t, 3, serverGroups(nine)["svc-fleet"].Batch, "HOST_COUNT 6 of 9: up to three at a time")
}

// TestServerShare: a region's share of the new version is the share of its
// instances, one-box and zone groups together.
func TestServerShare(t *testing.T) {
	group := func(hosts, version int) *groupState {
		g := &groupState{inst: make([]int, hosts)}
		for i := range g.inst {
			g.serve(i, version)
		}
		return g
	}
	stack := func(gs ...*groupState) *stackState {
		s := &stackState{code: true, prod: true, groups: map[string]*groupState{}}
		for i, g := range gs {
			s.groups[string(rune('a'+i))] = g
			s.groupList = append(s.groupList, g)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		stacks []*stackState
		want   float64
		full   bool
	}{
		{"none", nil, 0, false},
		{"the one-box of a two-AZ region of three hosts a zone", []*stackState{stack(group(1, 1), group(3, 0)), stack(group(3, 0))}, 1.0 / 7, false},
		{"every group", []*stackState{stack(group(1, 1), group(3, 1))}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &world{byRegion: map[string][]*stackState{"eu-west-1": tc.stacks}}
			assert.InDelta(t, tc.want, w.regionShare("eu-west-1"), 1e-9)
			assert.Equal(t, tc.full, w.regionFull("eu-west-1"))
		})
	}
}

// TestActionEnvKeysAreExact: a key twice, or spelt in another case, is an
// error, not the last value or a case-folded match.
func TestActionEnvKeysAreExact(t *testing.T) {
	for _, raw := range []string{
		`[{"name":"SAFEPIPE_GROUP","name":"other","value":"g"}]`,
		`[{"NAME":"SAFEPIPE_GROUP","value":"g"}]`,
	} {
		_, err := parseActionEnv(raw)
		assert.Error(t, err, raw)
	}
}

// TestRollbackWaitsForTheStoppedDeployment: a rollback execution's server
// deploy step stops the deployment in progress in its group (here,
// CodeDeploy's own rollback after the alarm stopped the release) and
// creates its own only once that one has ended: StopDeployment may answer
// "Pending", and a group takes one deployment at a time. The rollback
// completes; a stop that never ends within the script's wait fails it.
func TestRollbackWaitsForTheStoppedDeployment(t *testing.T) {
	m := load(t, "ec2-server")
	// Batches of ten minutes: CodeDeploy's rollback of the fleet is still in
	// flight when the rollback execution reaches the fleet's step.
	res, err := Run(m, Options{Start: monday, ActionMinutes: 10, Faults: faults(t, "eu-west-1:Prod-W1+45m")})
	require.NoError(t, err)
	assert.Empty(t, res.Violations)
	stopped, ended, began := -1, -1, -1
	for i, e := range res.Events {
		switch {
		case strings.Contains(e.What, "stops the deployment in progress") && strings.Contains(e.What, "waits for it to end"):
			stopped = i
		case strings.Contains(e.What, "the stopped deployment of version"):
			ended = i
		case strings.Contains(e.What, "begins, the stopped one having ended"):
			began = i
		}
	}
	require.NotEqual(t, -1, stopped, "the rollback found a deployment in progress: %v", res.Events)
	assert.Less(t, stopped, ended)
	assert.Less(t, ended, began, "the rollback's deployment begins after the stopped one ended")
	assert.Contains(t, res.RolledBack, "eu-west-1")
}
