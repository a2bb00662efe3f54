package orgbase

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// The organisation runs cdk-nag's AWS Solutions checks on every stack. The
// pipeline's own resources (CDK Pipelines' and safepipe's) carry their
// reasons from the library; what the organisation accepts in its teams'
// service stacks, it suppresses here, each with its reason, narrowed with
// appliesTo where the finding names a resource or action.

func regex(re string) *cdknag.RegexAppliesTo { return &cdknag.RegexAppliesTo{Regex: jsii.String(re)} }

func suppression(id, reason string, appliesTo ...any) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		s.AppliesTo = &appliesTo
	}
	return s
}

// serviceSuppressions applies to the service stacks of every stage.
type serviceSuppressions struct{ name string }

// Visit implements awscdk.IAspect.
func (*serviceSuppressions) Visit(node constructs.IConstruct) {
	if !*awscdk.Stack_IsStack(node) {
		return
	}
	cdknag.NagSuppressions_AddStackSuppressions(awscdk.Stack_Of(node), &[]*cdknag.NagPackSuppression{
		suppression("AwsSolutions-IAM4", "AWS-managed policies scoped by AWS to their service: Lambda basic execution (its own log group) and CodeDeploy's role for Lambda deployments.",
			regex(`/^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/(AWSLambdaBasicExecutionRole|AWSCodeDeployRoleForLambda.*)$/`)),
		suppression("AwsSolutions-IAM5", "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.", "Resource::*"),
	}, jsii.Bool(true))
}
