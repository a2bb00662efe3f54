package sim

import (
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

// serverStage is a stage that deploys stack fleet (a deployment group over
// an Auto Scaling group of three instances, and a one-box group of one),
// then pushes a revision to group.
func serverStage(group string) *Stage {
	tpl := &Stack{Name: "fleet", Account: "333333333333", Region: "eu-west-1", Template: &Template{Resources: map[string]*Resource{
		"Fleet":     {Type: "AWS::AutoScaling::AutoScalingGroup", Properties: map[string]any{"MinSize": "3", "MaxSize": "3"}},
		"OneBox":    {Type: "AWS::AutoScaling::AutoScalingGroup", Properties: map[string]any{"MinSize": "1", "MaxSize": "1"}},
		"FleetDG":   {Type: "AWS::CodeDeploy::DeploymentGroup", Properties: map[string]any{"DeploymentGroupName": "svc-fleet", "AutoScalingGroups": []any{map[string]any{"Ref": "Fleet"}}}},
		"OneBoxDG":  {Type: "AWS::CodeDeploy::DeploymentGroup", Properties: map[string]any{"DeploymentGroupName": "svc-onebox", "AutoScalingGroups": []any{map[string]any{"Ref": "OneBox"}}}},
		"Unrelated": {Type: "AWS::CodeDeploy::DeploymentGroup", Properties: map[string]any{"DeploymentGroupName": map[string]any{"Ref": "X"}}},
	}}}
	return &Stage{Name: "Prod-W1-Z1", Production: true, Actions: []*Action{
		{Name: "fleet.Deploy", Provider: "CloudFormation", Mode: "CREATE_UPDATE", StackName: "fleet", Template: tpl, RunOrder: 1,
			Place: Place{Account: "333333333333", Region: "eu-west-1"}},
		{Name: "Deploy-eu-west-1", Provider: "CodeBuild", RunOrder: 2, Place: Place{Account: "111111111111", Region: "us-west-2"},
			Env: map[string]string{"SAFEPIPE_APPLICATION": "svc", "SAFEPIPE_GROUP": group, "SAFEPIPE_REGION": "eu-west-1"}},
	}}
}

func TestBindServerDeploys(t *testing.T) {
	for _, tc := range []struct {
		group string
		hosts int
		note  string
	}{
		{"svc-fleet", 3, ""},
		{"svc-onebox", 1, ""},
		{"svc-missing", 0, "stage Prod-W1-Z1: action Deploy-eu-west-1 deploys to CodeDeploy group svc-missing in eu-west-1, which no stack of the stage creates"},
	} {
		t.Run(tc.group, func(t *testing.T) {
			st := serverStage(tc.group)
			notes := bindServerDeploys(&Pipeline{Stages: []*Stage{st}})
			sd := st.Actions[1].Server
			if tc.note != "" {
				require.Len(t, notes, 1)
				assert.Contains(t, notes[0], tc.note)
				assert.Nil(t, sd)
				return
			}
			assert.Empty(t, notes)
			require.NotNil(t, sd)
			assert.Equal(t, ServerDeploy{Application: "svc", Group: tc.group, Stack: StackKey{"333333333333", "eu-west-1", "fleet"}, Hosts: tc.hosts}, *sd)
		})
	}
}

func TestServerShare(t *testing.T) {
	group := func(hosts, version int) *serverGroup {
		return &serverGroup{sd: &ServerDeploy{Hosts: hosts}, version: version}
	}
	for _, tc := range []struct {
		name   string
		groups []*serverGroup
		want   float64
		any    bool
	}{
		{"none", nil, 0, false},
		{"the one-box of a two-AZ region of three hosts a zone", []*serverGroup{group(1, 1), group(3, 0), group(3, 0)}, 1.0 / 7, true},
		{"every group", []*serverGroup{group(1, 1), group(3, 1)}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := serverShare(tc.groups, 1)
			assert.Equal(t, tc.any, ok)
			assert.InDelta(t, tc.want, got, 1e-9)
		})
	}
}
