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

// TestRoleName is the name of the test role of a deployment: fixed, so that
// the pipeline's test step (in another account) can name it without a
// cross-account reference. At most 64 characters (IAM's limit), unique per
// team, environment and region.
func TestRoleName(d Deployment) string {
	name := fmt.Sprintf("safepipe-tests-%s-%s-%s", d.Alarms.Team, d.Environment, d.Target.Region)
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:55] + "-" + hex.EncodeToString(sum[:4])
}

// TestRoleArn is the ARN of the deployment's test role.
func TestRoleArn(d Deployment) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(d.Target.Region), d.Account, TestRoleName(d))
}

// NewTestRole creates the deployment's test role in scope (a construct of
// the service's stack for d): named TestRoleName(d), assumable from the
// pipeline's account only, with no permission until the team grants what
// its tests need (fn.GrantInvoke(role), table.GrantReadData(role), …).
func NewTestRole(scope constructs.Construct, id string, d Deployment) awsiam.Role {
	principal := d.PipelineAccount
	if principal == "" {
		principal = d.Account
	}
	return awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		RoleName:           jsii.String(TestRoleName(d)),
		Description:        jsii.String(fmt.Sprintf("safepipe: integration tests of %s, assumed from the pipeline account %s", d.Name(), principal)),
		AssumedBy:          awsiam.NewAccountPrincipal(jsii.String(principal)),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
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
	return strings.Join([]string{
		`creds=$(env -u AWS_PROFILE aws sts assume-role --role-arn ` + TestRoleArn(d) + ` --role-session-name safepipe-tests --duration-seconds 3600 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)`,
		`set -- $creds`,
		`test "$#" -eq 3`,
		`aws configure set aws_access_key_id "$1" --profile ` + TestProfile,
		`aws configure set aws_secret_access_key "$2" --profile ` + TestProfile,
		`aws configure set aws_session_token "$3" --profile ` + TestProfile,
		`aws configure set region ` + d.Target.Region + ` --profile ` + TestProfile,
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
