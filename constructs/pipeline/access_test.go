package pipeline

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/iameval"
)

// resourcesOf returns a stack's resources by logical ID.
func resourcesOf(t *testing.T, stack awscdk.Stack) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for lid, r := range (*assertions.Template_FromStack(stack, nil).ToJSON())["Resources"].(map[string]any) {
		out[lid] = r.(map[string]any)
	}
	return out
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

// TestWatchRoles: by default the controller reads every target account
// through the pipeline's watch role there, which the SafepipeAccess stage
// creates before any gated stage: exactly the controller's reads, in the
// watched regions, and only the controller's role may assume it (the
// pipeline account with a condition on aws:PrincipalArn, never the root
// alone). The controller's role lives under that path and may assume
// exactly the watch roles.
func TestWatchRoles(t *testing.T) {
	_, stack := toolchain()
	p := NewBasePipeline(stack, jsii.String("Pipeline"), smallProps())
	require.NoError(t, p.Err())
	oncall := awsiam.NewRole(stack, jsii.String("OnCall"), &awsiam.RoleProps{AssumedBy: awsiam.NewAccountRootPrincipal()})
	p.GrantOverride(oncall)
	out := synthesize(t, stack)
	assert.Equal(t, []string{StageAccess, "Alpha"}, p.StageNames()[:2], "the watch roles exist before any gated stage reads through them")
	// The override grant: OverrideStageCondition on the gated stages, no other.
	var overridable []string
	for _, r := range out.resources {
		if r["Type"] != "AWS::IAM::Policy" || !strings.Contains(fmt.Sprint(props(r)["Roles"]), "OnCall") {
			continue
		}
		for _, st := range props(r)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			stmt := st.(map[string]any)
			if stmt["Action"] == "codepipeline:OverrideStageCondition" {
				for _, res := range stmt["Resource"].([]any) {
					overridable = append(overridable, res.(string))
				}
			}
		}
	}
	want := []string{}
	for _, s := range out.gates.Stages {
		want = append(want, "arn:aws:codepipeline:eu-west-1:111111111111:Toolchain-Pipeline/"+s.Name)
	}
	assert.ElementsMatch(t, want, overridable, "the gated stages' entries, no other stage")
	for _, s := range out.gates.Stages {
		assert.Equal(t, strings.HasPrefix(s.Name, "Prod-"), s.RollbackTarget, "%s: production stages wait for a rollback target", s.Name)
	}
	i := slices.Index(out.order, StageAccess)
	require.Positive(t, i)
	assert.Equal(t, "Alpha", out.order[i+1], "the access stage comes right before alpha")

	watch := WatchRoleArn("aws", "333333333333", out.gates.Pipeline)
	assert.Equal(t, "arn:aws:iam::333333333333:role/safepipe-watch-Toolchain-Pipeline", watch)
	for _, s := range out.gates.Stages {
		for _, a := range append(s.Blockers, s.Bake...) {
			if a.Account == "333333333333" {
				assert.Equal(t, watch, a.Role, "%s reads %s through the watch role", s.Name, a.Name)
			}
		}
	}

	// The controller's role: the one "gates" step role, assuming the watch roles.
	prefix := StepRolePrefix("eu-west-1", "Toolchain-Pipeline", GatesPurpose)
	assert.Regexp(t, `^safepipe-[0-9a-f]{8}-gates-$`, prefix)
	var controller map[string]any
	for _, r := range out.resources {
		if name, _ := props(r)["RoleName"].(string); r["Type"] == "AWS::IAM::Role" && strings.HasPrefix(name, prefix) {
			require.Nil(t, controller, "one gates step role")
			controller = r
		}
	}
	require.NotNil(t, controller, "the controller's role is named as the pipeline's gates step roles")
	checkPolicies(t, out)

	// The access stack of the production account.
	access, ok := p.Node().TryFindChild(jsii.String(StageAccess)).(awscdk.Stage)
	require.True(t, ok, "the access stage")
	accessStack, ok := access.Node().TryFindChild(jsii.String("Watch-333333333333")).(awscdk.Stack)
	require.True(t, ok, "one access stack per account")
	assert.Equal(t, "safepipe-access-Toolchain-Pipeline", *accessStack.StackName())
	assert.Equal(t, "333333333333", *accessStack.Account())
	res := resourcesOf(t, accessStack)
	var role, policy map[string]any
	for _, r := range res {
		switch r["Type"] {
		case "AWS::IAM::Role":
			role = r
		case "AWS::IAM::Policy":
			policy = r
		default:
			t.Errorf("the access stack creates only the role and its policy, not %s", r["Type"])
		}
	}
	require.NotNil(t, role)
	require.NotNil(t, policy)
	assert.Equal(t, "safepipe-watch-Toolchain-Pipeline", props(role)["RoleName"])
	trust := props(role)["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)
	require.Len(t, trust, 1)
	assert.Equal(t, map[string]any{"ArnLike": map[string]any{"aws:PrincipalArn": "arn:aws:iam::111111111111:role/" + prefix + "*"}},
		trust[0].(map[string]any)["Condition"], "only the controller's role may assume the watch role")

	statements := map[string]map[string]any{}
	for _, s := range props(policy)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		statements[st["Sid"].(string)] = st
	}
	regions := map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": []any{"eu-north-1", "eu-west-1", "us-east-1"}}}
	assert.Equal(t, []any{"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"}, statements["ReadAlarms"]["Action"])
	assert.Equal(t, "*", statements["ReadAlarms"]["Resource"], "composite alarms are returned only to DescribeAlarms on *")
	assert.Equal(t, regions, statements["ReadAlarms"]["Condition"], "reads stay in the watched regions")
	assert.Equal(t, "cloudformation:DescribeStacks", statements["ReadStacks"]["Action"])
	assert.Equal(t, "arn:aws:cloudformation:*:333333333333:stack/svc-prod/*", statements["ReadStacks"]["Resource"], "the stacks the gates name, no other")
	assert.Equal(t, regions, statements["ReadStacks"]["Condition"])
	assert.NotContains(t, statements, "ReadLedgers", "no stage waits for a two-phase change")
	assert.Len(t, statements, 2)
	checkControllerCalls(t, out, res, "svc-prod", "")

	// The metadata verify recognises the access stack by.
	meta := (*assertions.Template_FromStack(accessStack, nil).ToJSON())["Metadata"].(map[string]any)
	assert.Contains(t, meta, "safepipe:access")
}

// TestLookupRoleIsAnOptIn: LookupRoleWatch reads through the CDK bootstrap
// lookup roles, named with the bootstrap qualifier the app's context sets
// (never a literal), and then the pipeline creates no watch roles.
func TestLookupRoleIsAnOptIn(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"@aws-cdk/core:bootstrapQualifier": "org1"}})
	stack := awscdk.NewStack(app, jsii.String("Toolchain"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("eu-west-1")},
	})
	q, err := BootstrapQualifier(stack)
	require.NoError(t, err)
	assert.Equal(t, "org1", q)
	pp := smallProps()
	pp.Gates = []Gate{SafetyGates{WatchRole: LookupRoleWatch(q)}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), pp)
	require.NoError(t, p.Err())
	assert.NotContains(t, p.StageNames(), StageAccess)
	out := synthesize(t, stack)
	assert.NotContains(t, out.order, StageAccess)
	seen := 0
	for _, s := range out.gates.Stages {
		for _, a := range s.Blockers {
			assert.Equal(t, "arn:aws:iam::"+a.Account+":role/cdk-org1-lookup-role-"+a.Account+"-"+a.Region, a.Role)
			seen++
		}
	}
	assert.NotZero(t, seen)
	checkPolicies(t, out)
}

// TestTargetRolesTrustTheirStepRolesOnly: a test role trusts the
// pipeline account only with a condition naming the pipeline's test step
// roles, and TestStep's project runs as a role under that path.
func TestTargetRolesTrustTheirStepRolesOnly(t *testing.T) {
	_, stack := toolchain()
	pp := smallProps()
	var testRole awscdk.Stack
	pp.Service = testedService{Service: alarmedService, onStack: func(s awscdk.Stack, d Deployment) {
		if d.Environment == Alpha {
			NewTestRole(s, "TestRole", d)
			testRole = s
		}
	}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), pp)
	require.NoError(t, p.Err())
	require.NotNil(t, testRole)
	for _, r := range resourcesOf(t, testRole) {
		if r["Type"] != "AWS::IAM::Role" {
			continue
		}
		st := props(r)["AssumeRolePolicyDocument"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
		assert.Equal(t, map[string]any{"ArnLike": map[string]any{"aws:PrincipalArn": "arn:aws:iam::111111111111:role/" + StepRolePrefix("eu-west-1", "Toolchain-Pipeline", TestsPurpose) + "*"}}, st["Condition"])
	}
	out := synthesize(t, stack)
	steps := 0
	for _, r := range out.resources {
		if name, _ := props(r)["RoleName"].(string); r["Type"] == "AWS::IAM::Role" && strings.HasPrefix(name, StepRolePrefix("eu-west-1", "Toolchain-Pipeline", TestsPurpose)) {
			steps++
			b, _ := json.Marshal(props(r)["AssumeRolePolicyDocument"])
			assert.Contains(t, string(b), "codebuild.amazonaws.com")
		}
	}
	assert.Equal(t, 2, steps, "alpha's and beta's test steps run as the pipeline's tests step roles")

	// Each test project's role may assume the test role its buildspec
	// names (sts assume-role --role-arn …), and no other.
	b, err := json.Marshal(map[string]any{"Resources": out.resources})
	require.NoError(t, err)
	var tpl iameval.Template
	require.NoError(t, json.Unmarshal(b, &tpl))
	env := iameval.Env{Partition: "aws", Account: "111111111111", Region: "eu-west-1"}
	roleArnRE := regexp.MustCompile(`--role-arn (arn:aws:iam::[0-9]{12}:role/safepipe-tests-[A-Za-z0-9-]+)`)
	assumed := 0
	for _, r := range out.resources {
		if r["Type"] != "AWS::CodeBuild::Project" {
			continue
		}
		spec, _ := props(r)["Source"].(map[string]any)["BuildSpec"].(string)
		m := roleArnRE.FindStringSubmatch(spec)
		if m == nil {
			continue
		}
		roleID := props(r)["ServiceRole"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		stmts, err := tpl.RoleStatements(roleID, env)
		require.NoError(t, err)
		ok, why := iameval.Allowed(stmts, iameval.Call{Action: "sts:AssumeRole", Resource: m[1]})
		assert.True(t, ok, "%s may not assume %s: %s", roleID, m[1], why)
		ok, _ = iameval.Allowed(stmts, iameval.Call{Action: "sts:AssumeRole", Resource: strings.Replace(m[1], "safepipe-tests-", "safepipe-deployer-", 1)})
		assert.False(t, ok, "%s assumes its test role only", roleID)
		assumed++
	}
	assert.Equal(t, 2, assumed, "both test steps")
}

// testedService is a Service with test steps in alpha and beta, which
// calls onStack with each stack it makes.
type testedService struct {
	Service
	onStack func(awscdk.Stack, Deployment)
}

func (s testedService) NewStage(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
	st := s.Service.NewStage(scope, id, d)
	if stack, ok := st.Node().TryFindChild(jsii.String("Svc")).(awscdk.Stack); ok && s.onStack != nil {
		s.onStack(stack, d)
	}
	return st
}

func (s testedService) Tests(d Deployment) []pipelines.Step {
	if d.Environment != Alpha && d.Environment != Beta {
		return nil
	}
	return []pipelines.Step{TestStep("IntegrationTest", d, &TestStepProps{Commands: []string{"true"}})}
}

// checkControllerCalls: every call of gates.ControllerCalls is allowed to
// the role that makes it — the controller's own role, on any resource or
// on this pipeline, or the watch role of account 333333333333 in
// eu-west-1 on the stack its gates name and, when ledger is not empty, on
// that two-phase ledger — evaluated with iameval.
func checkControllerCalls(t *testing.T, out synthesized, access map[string]map[string]any, stack, ledger string) {
	t.Helper()
	template := func(res map[string]map[string]any) *iameval.Template {
		b, err := json.Marshal(map[string]any{"Resources": res})
		require.NoError(t, err)
		var tpl iameval.Template
		require.NoError(t, json.Unmarshal(b, &tpl))
		return &tpl
	}
	refs := map[string]string{}
	for id, r := range out.resources {
		if r["Type"] == "AWS::CodePipeline::Pipeline" {
			refs[id] = out.gates.Pipeline
		}
	}
	env := iameval.Env{Partition: "aws", Account: "111111111111", Region: "eu-west-1", Refs: refs}
	own := template(out.resources)
	var id string
	for rid, r := range out.resources {
		if r["Type"] == "AWS::Lambda::Function" && r["Metadata"].(map[string]any)[MetadataGates] != nil {
			id = r["Properties"].(map[string]any)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			_ = rid
		}
	}
	require.NotEmpty(t, id, "the controller's role")
	ownStmts, err := own.RoleStatements(id, env)
	require.NoError(t, err)

	watchEnv := iameval.Env{Partition: "aws", Account: "333333333333", Region: "eu-west-1"}
	watched := template(access)
	wid, ok := watched.RoleByName(WatchRoleName(out.gates.Pipeline), watchEnv)
	require.True(t, ok, "the watch role")
	watchStmts, err := watched.RoleStatements(wid, watchEnv)
	require.NoError(t, err)

	pipelineArn := "arn:aws:codepipeline:eu-west-1:111111111111:" + out.gates.Pipeline
	watchSamples := map[string]string{
		"cloudwatch:DescribeAlarms":       "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:any",
		"cloudwatch:DescribeAlarmHistory": "arn:aws:cloudwatch:eu-west-1:333333333333:alarm:any",
		"cloudformation:DescribeStacks":   "arn:aws:cloudformation:eu-west-1:333333333333:stack/" + stack + "/0a1b2c3d",
	}
	if ledger != "" {
		watchSamples["ssm:GetParameter"] = "arn:aws:ssm:eu-west-1:333333333333:parameter" + ledger
	}
	for _, c := range gates.ControllerCalls {
		for _, w := range c.Where {
			var call iameval.Call
			stmts := ownStmts
			switch w {
			case gates.InPipeline:
				call = iameval.Call{Action: c.Action, Resource: "*", Context: map[string]string{"cloudwatch:namespace": gates.Namespace}}
			case gates.OnPipeline:
				call = iameval.Call{Action: c.Action, Resource: pipelineArn}
			case gates.ToWatchRoles:
				call = iameval.Call{Action: c.Action, Resource: WatchRoleArn("aws", "333333333333", out.gates.Pipeline)}
			case gates.OnRolledBackStages:
				var rolled, others []string
				for _, s := range out.gates.Stages {
					rolled = append(rolled, s.RollsBack...)
				}
				for _, s := range out.gates.Stages {
					if !slices.Contains(rolled, s.Name) {
						others = append(others, s.Name)
					}
				}
				for _, name := range rolled {
					ok, why := iameval.Allowed(ownStmts, iameval.Call{Action: c.Action, Resource: pipelineArn + "/" + name})
					assert.True(t, ok, "%s on %s: %s", c.Action, name, why)
				}
				for _, name := range others {
					ok, _ := iameval.Allowed(ownStmts, iameval.Call{Action: c.Action, Resource: pipelineArn + "/" + name})
					assert.False(t, ok, "%s on %s, which no later stage rolls back", c.Action, name)
				}
				continue
			case gates.Watched:
				sample, ok := watchSamples[c.Action]
				if !ok {
					// A ledger read, and no stage of this pipeline waits
					// for a two-phase change
					// (TestActivationWaitsForEveryPreparedTarget).
					require.Equal(t, "ssm:GetParameter", c.Action)
					continue
				}
				stmts = watchStmts
				call = iameval.Call{Action: c.Action, Resource: sample, Context: map[string]string{"aws:RequestedRegion": "eu-west-1"}}
			default:
				t.Fatalf("%s: where %d", c.Action, w)
			}
			ok, why := iameval.Allowed(stmts, call)
			assert.True(t, ok, "%s (%d): %s", call, w, why)
		}
	}
	// And not on another pipeline.
	ok, _ = iameval.Allowed(ownStmts, iameval.Call{Action: "codepipeline:GetPipelineState", Resource: pipelineArn + "-other"})
	assert.False(t, ok, "the controller reads its own pipeline only")
}
