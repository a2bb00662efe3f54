package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Integration tests run in CodeBuild in the pipeline's account; what they
// test lives in the target account. A test therefore needs a role in the
// target account that the pipeline account may assume: NewTestRole creates
// it in the service stack (the team grants it what the tests need), and
// TestStep runs commands with its credentials.

// RoleName is the name of a role safepipe has a service create in its
// target account for a pipeline step (purpose "tests", "deployer", …):
// fixed, so that the step (in the pipeline's account) can name it without
// a cross-account reference; unique per purpose, team, environment,
// region and AZ; at most 64 characters (IAM's limit), cut with a hash.
func RoleName(purpose string, d Deployment) string {
	name := fmt.Sprintf("safepipe-%s-%s-%s-%s", purpose, d.Alarms.Team, d.Environment, d.Target.Region)
	if d.Target.AZ != "" {
		name += "-" + d.Target.AZ
	}
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:55] + "-" + hex.EncodeToString(sum[:4])
}

// RoleArn is the ARN of RoleName(purpose, d) in d's account.
func RoleArn(purpose string, d Deployment) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(d.Target.Region), d.Account, RoleName(purpose, d))
}

// NewTargetRole creates RoleName(purpose, d) in scope (a construct of the
// service's stack for d), with no permission until the team grants what
// the step needs. Only the pipeline's own step roles of that purpose may
// assume it: the trust names the pipeline account with a condition on
// aws:PrincipalArn, the roles named StepRolePrefix(d.PipelineName,
// purpose)… (StepRolesArn). "Using the account ARN in the Principal element does not
// limit permissions to only the root user of the account": without the
// condition, any principal of the pipeline account allowed sts:AssumeRole
// could act as the role. A condition rather than the step role's ARN as
// Principal, because "if you delete and recreate a role referenced in a
// trust policy's Principal element, you must edit the role in the policy",
// while "AWS does not convert condition key ARNs to IDs"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html).
func NewTargetRole(scope constructs.Construct, id, purpose string, d Deployment) awsiam.Role {
	principal := d.PipelineAccount
	if principal == "" {
		principal = d.Account
	}
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		RoleName:           jsii.String(RoleName(purpose, d)),
		Description:        jsii.String(fmt.Sprintf("safepipe: %s of %s, assumed by the %s step roles of pipeline %s (account %s)", purpose, d.Name(), purpose, d.PipelineName, principal)),
		AssumedBy:          TrustStepRoles(partition(d.PipelineRegion), principal, d.PipelineRegion, d.PipelineName, purpose),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
}

// StepRolePrefix begins the name of every role a pipeline's own steps of
// one purpose run as: "safepipe-<8 hex digits of the SHA-256 of the
// pipeline's region and name>-<purpose>-" (IAM names are global to the
// account, pipeline names unique per region). A trust condition can then name exactly the roles
// of one pipeline and purpose (StepRolesArn), and only a principal allowed
// iam:CreateRole on such a name can add one (keep that permission, in the
// pipeline account, to the role that deploys the pipeline: the prefix is
// no secret). Not an IAM path: CDK's template validation (CloudFormation
// Validate, E3050) reported that a CodeBuild project's ServiceRole refers
// to such a role by Ref, which gives its name without its path.
func StepRolePrefix(pipelineRegion, pipelineName, purpose string) string {
	sum := sha256.Sum256([]byte(pipelineRegion + "/" + pipelineName))
	return "safepipe-" + hex.EncodeToString(sum[:4]) + "-" + purpose + "-"
}

// StepRolesArn matches every role named StepRolePrefix(pipelineRegion,
// pipelineName, purpose)… in account (an ArnLike pattern).
func StepRolesArn(partition, account, pipelineRegion, pipelineName, purpose string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s*", partition, account, StepRolePrefix(pipelineRegion, pipelineName, purpose))
}

// TrustStepRoles is the principal of a role that only the pipeline's step
// roles of one purpose, in the pipeline's account, may assume: the
// account, with an ArnLike condition on aws:PrincipalArn ("For IAM roles,
// the request context returns the ARN of the role, not the ARN of the user
// that assumed the role", IAM condition keys reference).
func TrustStepRoles(partition, pipelineAccount, pipelineRegion, pipelineName, purpose string) awsiam.IPrincipal {
	return awsiam.NewAccountPrincipal(jsii.String(pipelineAccount)).WithConditions(&map[string]any{
		"ArnLike": map[string]any{"aws:PrincipalArn": StepRolesArn(partition, pipelineAccount, pipelineRegion, pipelineName, purpose)},
	})
}

// TestRoleName is the name of the deployment's test role.
func TestRoleName(d Deployment) string { return RoleName(TestsPurpose, d) }

// TestRoleArn is the ARN of the deployment's test role.
func TestRoleArn(d Deployment) string { return RoleArn(TestsPurpose, d) }

// NewTestRole creates the deployment's test role in scope: grant it what
// its tests need (fn.GrantInvoke(role), table.GrantReadData(role), …).
// Only TestStep's roles of the pipeline may assume it.
func NewTestRole(scope constructs.Construct, id string, d Deployment) awsiam.Role {
	return NewTargetRole(scope, id, TestsPurpose, d)
}

// TestStepProps configure a test step.
type TestStepProps struct {
	// Commands run with the test role's credentials (AWS_PROFILE=target).
	// Required.
	Commands []string
	// Env are plain environment variables. Default: none.
	Env map[string]string
	// EnvFromCfnOutputs set environment variables from the outputs of the
	// stacks the stage just deployed ("ShellSteps following stack or stage
	// deployments may access the CfnOutputs of those stacks",
	// https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.pipelines.ShellStepProps.html).
	// Default: none.
	EnvFromCfnOutputs map[string]awscdk.CfnOutput
}

// TestProfile is the AWS CLI profile that TestStep's commands run with:
// the test role's credentials.
const TestProfile = "safepipe-target"

// TestCredentialsCommand assumes the deployment's test role with the
// build's own credentials and stores the temporary credentials as the
// AWS CLI profile TestProfile, so that every later command (each may run
// in its own shell) finds them through AWS_PROFILE. AssumeRole returns
// temporary credentials ("Returns a set of temporary security credentials that you
// can use to access Amazon Web Services resources"), valid for
// DurationSeconds (at most the role's maximum
// session, one hour here)
// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
func TestCredentialsCommand(d Deployment) string {
	return AssumeRoleCommand(TestRoleArn(d), d.Target.Region, TestProfile)
}

// AssumeRoleCommand is a shell command that assumes role with the build's
// own credentials and stores the temporary credentials as the AWS CLI
// profile profile, with region as its region.
func AssumeRoleCommand(role, region, profile string) string {
	return strings.Join([]string{
		`creds=$(env -u AWS_PROFILE aws sts assume-role --role-arn ` + role + ` --role-session-name safepipe --duration-seconds 3600 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)`,
		`set -- $creds`,
		`test "$#" -eq 3`,
		`aws configure set aws_access_key_id "$1" --profile ` + profile,
		`aws configure set aws_secret_access_key "$2" --profile ` + profile,
		`aws configure set aws_session_token "$3" --profile ` + profile,
		`aws configure set region ` + region + ` --profile ` + profile,
	}, " && ")
}

// TestStep is a CodeBuild step, run after the deployment d, whose commands
// run as d's test role: the step's own role may assume exactly that role,
// TestCredentialsCommand runs first, and AWS_PROFILE names the profile it
// writes.
func TestStep(id string, d Deployment, props *TestStepProps) pipelines.Step {
	var p TestStepProps
	if props != nil {
		p = *props
	}
	env := map[string]*string{
		"AWS_REGION":   jsii.String(d.Target.Region),
		"AWS_PROFILE":  jsii.String(TestProfile),
		"SAFEPIPE_ENV": jsii.String(string(d.Environment)),
	}
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		env[k] = jsii.String(p.Env[k])
	}
	outputs := map[string]awscdk.CfnOutput{}
	maps.Copy(outputs, p.EnvFromCfnOutputs)
	commands := append([]string{TestCredentialsCommand(d)}, p.Commands...)
	statements := []awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: jsii.Strings(TestRoleArn(d)),
	})}
	step := &pipelines.CodeBuildStepProps{
		Commands:             jsii.Strings(commands...),
		Env:                  &env,
		EnvFromCfnOutputs:    &outputs,
		BuildEnvironment:     &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL},
		RolePolicyStatements: &statements,
	}
	// The step's project runs as one of the pipeline's "tests" step roles,
	// the only roles the test role trusts (NewTargetRole). A Deployment
	// the pipeline did not make has no pipeline to put it in: the project
	// then gets CDK's role, which the test role does not trust.
	if d.pipeline != nil {
		step.Role = NewStepRole(d.pipeline, "TestStepRole-"+strings.ReplaceAll(d.StageName+"-"+d.Target.ID()+"-"+id, "/", "-"),
			d.PipelineName, TestsPurpose, "codebuild.amazonaws.com", "safepipe: the test step "+id+" of "+d.Name()+" (assumes its test role)")
	}
	return pipelines.NewCodeBuildStep(jsii.String(id), step)
}

// TestsPurpose is the purpose of test roles and of the step roles that
// assume them (RoleName, StepRolePrefix).
const TestsPurpose = "tests"

// NewStepRole is a role in scope (the pipeline's stack), named
// StepRolePrefix(pipelineName, purpose) and a hash of id, assumed by the
// AWS service (codebuild.amazonaws.com, …): the roles a target role of
// that purpose trusts. One per id: a second call with the same id returns
// the first role.
func NewStepRole(scope constructs.Construct, id, pipelineName, purpose, service, description string) awsiam.IRole {
	if r, ok := scope.Node().TryFindChild(jsii.String(id)).(awsiam.IRole); ok {
		return r
	}
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String(service), nil),
		RoleName:    jsii.String(stepRoleName(*awscdk.Stack_Of(scope).Region(), pipelineName, purpose, id)),
		Description: jsii.String(description),
	})
}

// stepRoleName is the name of one step role: StepRolePrefix and 8 hex
// digits of the SHA-256 of the role's id in the pipeline's stack.
func stepRoleName(pipelineRegion, pipelineName, purpose, id string) string {
	sum := sha256.Sum256([]byte(id))
	return capName(StepRolePrefix(pipelineRegion, pipelineName, purpose)+hex.EncodeToString(sum[:4]), 64)
}
