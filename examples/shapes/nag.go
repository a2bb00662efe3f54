package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// NagSuppressions is the example's cdk-nag policy: it accepts, with its
// reason, only the AWS-managed policies AWS scopes to their service.
// (jsii registers each aspect by address, so it must not be a zero-size
// value.)
type NagSuppressions struct{ Name string }

// Visit implements awscdk.IAspect.
func (*NagSuppressions) Visit(node constructs.IConstruct) {
	if !*awscdk.Stack_IsStack(node) {
		return
	}
	applies := []any{&cdknag.RegexAppliesTo{Regex: jsii.String(`/^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/(AWSLambdaBasicExecutionRole|AWSCodeDeployRole|AWSCodeDeployRoleForLambda.*)$/`)}}
	cdknag.NagSuppressions_AddStackSuppressions(awscdk.Stack_Of(node), &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM4"),
		Reason:    jsii.String("AWS-managed service-role policies scoped by AWS to their service: Lambda basic execution (its own logs) and CodeDeploy's roles for EC2 and Lambda deployments."),
		AppliesTo: &applies,
	}}, jsii.Bool(true))
}

// suppressMonitorRole accepts, with its reason, the wildcard resource of
// the role AppConfig assumes to read a gray release's monitor alarms:
// the aggregate is a composite alarm, and "to use this operation and return
// information about composite alarms, you must be signed on with the
// cloudwatch:DescribeAlarms permission that is scoped to *"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
func suppressMonitorRole(release constructs.IConstruct) {
	applies := []any{jsii.String("Resource::*")}
	cdknag.NagSuppressions_AddResourceSuppressions(release, &[]*cdknag.NagPackSuppression{{
		Id:        jsii.String("AwsSolutions-IAM5"),
		Reason:    jsii.String("AppConfig reads the monitor alarms with cloudwatch:DescribeAlarms, which returns composite alarms (the aggregate is one) only when scoped to *."),
		AppliesTo: &applies,
	}}, jsii.Bool(true))
}
