package orgbase

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/safepipe/safepipe/constructs/pipeline"
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

// suppressedService is the team's Service with the organisation's
// suppressions added to each stack of every stage it builds, once, when the
// stage is built. (An aspect on the stage would do the same, but jsii calls a
// Go aspect back for every construct of the stage: in the reference app that
// was 5,618 callbacks, each with a Stack.isStack call, a third of the app's
// jsii round trips, to find 72 stacks.) CDK Pipelines synthesizes the stage
// as soon as the pipeline adds it, right after NewStage, so no stack can
// join the stage later. It keeps the team's optional capabilities
// (pipeline.Tester, pipeline.Deployer, pipeline.ServiceNeeds): without
// them it returns no steps and needs nothing, as the pipeline does for a
// Service without them.
type suppressedService struct{ svc pipeline.Service }

// NewStage implements pipeline.Service.
func (s suppressedService) NewStage(scope constructs.Construct, id string, d pipeline.Deployment) awscdk.Stage {
	st := s.svc.NewStage(scope, id, d)
	if st != nil {
		suppressServiceStacks(st)
	}
	return st
}

// Tests implements pipeline.Tester.
func (s suppressedService) Tests(d pipeline.Deployment) []pipelines.Step {
	if t, ok := s.svc.(pipeline.Tester); ok {
		return t.Tests(d)
	}
	return nil
}

// DeploySteps implements pipeline.Deployer.
func (s suppressedService) DeploySteps(d pipeline.Deployment) []pipelines.Step {
	if t, ok := s.svc.(pipeline.Deployer); ok {
		return t.DeploySteps(d)
	}
	return nil
}

// RequiredServices implements pipeline.ServiceNeeds.
func (s suppressedService) RequiredServices() []string {
	if n, ok := s.svc.(pipeline.ServiceNeeds); ok {
		return n.RequiredServices()
	}
	return nil
}

// suppressServiceStacks adds the organisation's suppressions to every stack
// of stage st (nested stacks included), but not to the stacks of a stage
// nested in st: the stacks an aspect on st would visit. It asks jsii for the
// stage's constructs once and tells stacks apart in Go.
func suppressServiceStacks(st awscdk.Stage) {
	path := *st.Node().Path()
	for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		stack, ok := c.(awscdk.Stack)
		if !ok || *awscdk.Stage_Of(stack).Node().Path() != path {
			continue
		}
		cdknag.NagSuppressions_AddStackSuppressions(stack, &[]*cdknag.NagPackSuppression{
			suppression("AwsSolutions-IAM4", "AWS-managed policies scoped by AWS to their service: Lambda basic execution (its own log group) and CodeDeploy's role for Lambda deployments.",
				regex(`/^Policy::arn:<AWS::Partition>:iam::aws:policy\/service-role\/(AWSLambdaBasicExecutionRole|AWSCodeDeployRoleForLambda.*)$/`)),
			suppression("AwsSolutions-IAM5", "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.", "Resource::*"),
		}, jsii.Bool(true))
	}
}
