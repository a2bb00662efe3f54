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
// service's stack for d), assumable from the pipeline's account only, with
// no permission until the team grants what the step needs.
func NewTargetRole(scope constructs.Construct, id, purpose string, d Deployment) awsiam.Role {
	principal := d.PipelineAccount
	if principal == "" {
		principal = d.Account
	}
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		RoleName:           jsii.String(RoleName(purpose, d)),
		Description:        jsii.String(fmt.Sprintf("safepipe: %s of %s, assumed from the pipeline account %s", purpose, d.Name(), principal)),
		AssumedBy:          awsiam.NewAccountPrincipal(jsii.String(principal)),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
}

// TestRoleName is the name of the deployment's test role.
func TestRoleName(d Deployment) string { return RoleName("tests", d) }

// TestRoleArn is the ARN of the deployment's test role.
func TestRoleArn(d Deployment) string { return RoleArn("tests", d) }

// NewTestRole creates the deployment's test role in scope: grant it what
// its tests need (fn.GrantInvoke(role), table.GrantReadData(role), …).
func NewTestRole(scope constructs.Construct, id string, d Deployment) awsiam.Role {
	return NewTargetRole(scope, id, "tests", d)
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
	return pipelines.NewCodeBuildStep(jsii.String(id), &pipelines.CodeBuildStepProps{
		Commands:             jsii.Strings(commands...),
		Env:                  &env,
		EnvFromCfnOutputs:    &outputs,
		BuildEnvironment:     &awscodebuild.BuildEnvironment{ComputeType: awscodebuild.ComputeType_SMALL},
		RolePolicyStatements: &statements,
	})
}
