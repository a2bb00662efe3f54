package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fakeaws"
	"github.com/safepipe/safepipe/internal/iameval"
	pipemodel "github.com/safepipe/safepipe/model"
)

// TestServerDeployCallsAreAllowed runs each server deploy action as
// CodeBuild would — the shared project's buildspec, with the action's
// environment — against an aws stand-in, on the path that makes every call
// (a rollback execution that stops a deployment in progress), and checks
// each recorded call against the role that makes it: the project's role
// for the calls without a profile (the pipeline's state, assuming the
// deployer role), the target's deployer role for the rest. A call the
// roles do not allow fails with the action, the call and the resource.
func TestServerDeployCallsAreAllowed(t *testing.T) {
	dir, _ := synthesized(t)
	pipelinePath := filepath.Join(dir, "CatalogPipeline.template.json")
	raw := readJSON(t, pipelinePath)
	pipelineAccount, pipelineRegion := stackEnv(t, dir, pipelinePath)
	pipeTpl, err := iameval.ReadTemplate(pipelinePath)
	require.NoError(t, err)
	pipeEnv := iameval.Env{Partition: "aws", Account: pipelineAccount, Region: pipelineRegion}

	// The project: its role and its buildspec.
	var projectRole string
	var spec struct {
		Env    struct{ Variables map[string]string } `json:"env"`
		Phases struct {
			Build struct{ Commands []string } `json:"build"`
		} `json:"phases"`
	}
	for id, r := range pipeTpl.Resources {
		if r.Type == "AWS::CodeBuild::Project" && strings.Contains(id, "SafepipeServerDeploy") {
			projectRole = r.Properties["ServiceRole"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			src := r.Properties["Source"].(map[string]any)["BuildSpec"].(string)
			require.NoError(t, json.Unmarshal([]byte(src), &spec))
		}
	}
	require.NotEmpty(t, projectRole)
	require.NotEmpty(t, spec.Phases.Build.Commands)
	projectStmts, err := pipeTpl.RoleStatements(projectRole, pipeEnv)
	require.NoError(t, err)
	script := "set -e\n" + strings.Join(spec.Phases.Build.Commands, "\n")

	// The deployer roles, by ARN, in the fleet stacks.
	type deployer struct {
		stmts           []iameval.Statement
		trust           string
		account, region string
		tpl             *iameval.Template
	}
	deployers := map[string]deployer{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(p, ".template.json") || p == pipelinePath {
			return err
		}
		tpl, err := iameval.ReadTemplate(p)
		require.NoError(t, err)
		var account, region string
		for id, r := range tpl.Resources {
			name, _ := r.Properties["RoleName"].(string)
			if r.Type != "AWS::IAM::Role" || !strings.HasPrefix(name, "safepipe-deployer-") {
				continue
			}
			if account == "" {
				account, region = stackEnv(t, dir, p)
			}
			env := iameval.Env{Partition: "aws", Account: account, Region: region}
			stmts, err := tpl.RoleStatements(id, env)
			require.NoError(t, err)
			b, _ := json.Marshal(r.Properties["AssumeRolePolicyDocument"])
			// Keyed by the nested assembly (one per stage and target) too:
			// a one-box step and the first zonal step deploy one stack
			// with one role name, each granting its own group.
			deployers[filepath.Base(filepath.Dir(p))+" "+fmt.Sprintf("arn:aws:iam::%s:role/%s", account, name)] = deployer{stmts, string(b), account, region, tpl}
		}
		return nil
	}))
	require.NotEmpty(t, deployers)
	projectName := ""
	if r, ok := pipeTpl.Resources[projectRole]; ok {
		projectName, _ = r.Properties["RoleName"].(string)
	}
	require.NotEmpty(t, projectName, "the project's role has a name the deployer roles can trust")

	// Every deploy action of the pipeline.
	var stages []struct {
		Name    string   `json:"Name"`
		Actions []action `json:"Actions"`
	}
	for _, r := range raw["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == "AWS::CodePipeline::Pipeline" {
			b, _ := json.Marshal(res["Properties"].(map[string]any)["Stages"])
			require.NoError(t, json.Unmarshal(b, &stages))
		}
	}
	checked := 0
	for _, s := range stages {
		for _, a := range s.Actions {
			if !strings.Contains(a.Name, "Deploy-") || a.ActionTypeID["Provider"] != "CodeBuild" {
				continue
			}
			var vars []map[string]string
			require.NoError(t, json.Unmarshal([]byte(a.Configuration["EnvironmentVariables"].(string)), &vars))
			env := []string{"SAFEPIPE_POLL_SECONDS=0", "SAFEPIPE_STOP_WAIT_SECONDS=60"}
			for k, v := range spec.Env.Variables {
				env = append(env, k+"="+v)
			}
			byName := map[string]string{}
			for _, v := range vars {
				env = append(env, v["name"]+"="+v["value"])
				byName[v["name"]] = v["value"]
			}
			out, calls, err := fakeaws.Run(t.TempDir(), script,
				fakeaws.Scenario{Kind: "ROLLBACK", InProgress: "d-OLD", Final: "Succeeded", Key: "rev.zip", OldFinal: "Stopped"}, env)
			require.NoError(t, err, "%s/%s: %s", s.Name, a.Name, out)
			tgID := a.Name[strings.Index(a.Name, "Deploy-")+len("Deploy-"):]
			var d deployer
			found := 0
			for k, v := range deployers {
				assembly, arn, _ := strings.Cut(k, " ")
				if arn == byName["SAFEPIPE_DEPLOYER_ROLE"] && (strings.HasSuffix(assembly, "-"+s.Name) || strings.Contains(assembly, "-"+s.Name+"-") && strings.HasSuffix(assembly, "-"+tgID)) {
					d = v
					found++
				}
			}
			require.Equal(t, 1, found, "%s/%s: the deployer role %s of the stage's assembly", s.Name, a.Name, byName["SAFEPIPE_DEPLOYER_ROLE"])
			// The deployer role trusts the project's role by name
			// (aws:PrincipalArn, pipeline.NewTargetRole).
			assert.True(t, trusts(d.trust, pipelineAccount, projectName), "%s: the deployer role %s does not trust the project's role %s: %s", a.Name, byName["SAFEPIPE_DEPLOYER_ROLE"], projectName, d.trust)
			seenAPI := map[string]bool{}
			for _, c := range calls {
				reqs, err := cliRequests(c.Args, byName, pipelineAccount, d.account, groupConfig(d.tpl, byName))
				require.NoError(t, err, "%s: %s", a.Name, c.Args)
				stmts, who := d.stmts, "the deployer role"
				if c.Profile == "" {
					stmts, who = projectStmts, "the project's role"
				}
				for _, req := range reqs {
					seenAPI[req.Action] = true
					ok, why := iameval.Allowed(stmts, req)
					assert.True(t, ok, "%s/%s: %s may not %s (%s)", s.Name, a.Name, who, req, why)
				}
			}
			for _, api := range []string{"sts:AssumeRole", "codepipeline:GetPipelineState", "codedeploy:ListDeployments", "codedeploy:StopDeployment",
				"codedeploy:GetDeployment", "codedeploy:CreateDeployment", "codedeploy:UpdateDeploymentGroup", "cloudformation:DescribeStacks"} {
				assert.True(t, seenAPI[api], "%s: the rollback path calls %s", a.Name, api)
			}
			checked++
		}
	}
	assert.Greater(t, checked, 30, "every deploy action")
}

// trusts reports whether a role's trust policy lets a role named name in
// account assume it: the account as principal, and an ArnLike condition on
// aws:PrincipalArn that the role's ARN matches.
func trusts(doc, account, name string) bool {
	var d struct {
		Statement []struct {
			Effect    string
			Action    any
			Principal struct{ AWS any }
			Condition map[string]map[string]any
		}
	}
	if json.Unmarshal([]byte(doc), &d) != nil {
		return false
	}
	arn := "arn:aws:iam::" + account + ":role/" + name
	for _, s := range d.Statement {
		if s.Effect != "Allow" || !strings.Contains(fmt.Sprint(s.Principal.AWS), account) {
			continue
		}
		pattern, _ := s.Condition["ArnLike"]["aws:PrincipalArn"].(string)
		re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
		if pattern != "" && regexp.MustCompile(re).MatchString(arn) {
			return true
		}
	}
	return false
}

// cliRequests are the IAM requests an aws CLI call of the server deploy
// step makes, with the resources the CodeDeploy permissions reference
// names for each (docs/aws-semantics.md Q23): CreateDeployment also needs
// GetDeploymentConfig and GetApplicationRevision (or
// RegisterApplicationRevision), and UpdateDeploymentGroup when it
// overrides the alarm configuration. Local commands (configure) make none.
func cliRequests(args string, vars map[string]string, pipelineAccount, account, config string) ([]iameval.Call, error) {
	f := strings.Fields(args)
	if len(f) < 2 {
		return nil, fmt.Errorf("not an aws call: %q", args)
	}
	region := vars["SAFEPIPE_REGION"]
	group := fmt.Sprintf("arn:aws:codedeploy:%s:%s:deploymentgroup:%s/%s", region, account, vars["SAFEPIPE_APPLICATION"], vars["SAFEPIPE_GROUP"])
	call := func(action, resource string) iameval.Call { return iameval.Call{Action: action, Resource: resource} }
	switch f[0] + " " + f[1] {
	case "configure set":
		return nil, nil
	case "sts assume-role":
		return []iameval.Call{call("sts:AssumeRole", vars["SAFEPIPE_DEPLOYER_ROLE"])}, nil
	case "codepipeline get-pipeline-state":
		return []iameval.Call{call("codepipeline:GetPipelineState", fmt.Sprintf("arn:aws:codepipeline:%s:%s:%s", vars["SAFEPIPE_PIPELINE_REGION"], pipelineAccount, vars["SAFEPIPE_PIPELINE"]))}, nil
	case "deploy list-deployments":
		return []iameval.Call{call("codedeploy:ListDeployments", group)}, nil
	case "deploy stop-deployment":
		return []iameval.Call{call("codedeploy:StopDeployment", group)}, nil
	case "deploy get-deployment":
		return []iameval.Call{call("codedeploy:GetDeployment", group)}, nil
	case "deploy create-deployment":
		out := []iameval.Call{
			call("codedeploy:CreateDeployment", group),
			call("codedeploy:GetDeploymentConfig", fmt.Sprintf("arn:aws:codedeploy:%s:%s:deploymentconfig:%s", region, account, config)),
			call("codedeploy:GetApplicationRevision", fmt.Sprintf("arn:aws:codedeploy:%s:%s:application:%s", region, account, vars["SAFEPIPE_APPLICATION"])),
		}
		if strings.Contains(args, "--override-alarm-configuration") {
			out = append(out, call("codedeploy:UpdateDeploymentGroup", group))
		}
		return out, nil
	case "cloudformation describe-stacks":
		return []iameval.Call{call("cloudformation:DescribeStacks", fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab", region, account, vars["SAFEPIPE_STACK"]))}, nil
	}
	return nil, fmt.Errorf("no IAM mapping for aws %s %s (add it, with the permissions reference's resource)", f[0], f[1])
}

// groupConfig is the deployment configuration of the group the action
// deploys to, as its template names it (a Ref to a configuration of the
// stack resolves to that configuration's name), or CodeDeploy's default
// when the group names none ("CodeDeployDefault.OneAtATime is the default
// deployment configuration", AWS::CodeDeploy::DeploymentGroup).
func groupConfig(tpl *iameval.Template, vars map[string]string) string {
	ev := pipemodel.NewEvaluator(pipemodel.Scope{StackName: vars["SAFEPIPE_STACK"], Region: vars["SAFEPIPE_REGION"],
		Resource: func(id string) (string, map[string]any, bool) {
			r, ok := tpl.Resources[id]
			return r.Type, r.Properties, ok
		}})
	for _, r := range tpl.Resources {
		if r.Type != "AWS::CodeDeploy::DeploymentGroup" {
			continue
		}
		if name, _ := ev.Str(r.Properties["DeploymentGroupName"]); name != vars["SAFEPIPE_GROUP"] {
			continue
		}
		if c, ok := r.Properties["DeploymentConfigName"]; ok {
			name, _ := ev.Str(c)
			return name
		}
	}
	return "CodeDeployDefault.OneAtATime"
}
