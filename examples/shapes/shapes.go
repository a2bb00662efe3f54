// Package shapes shows each deployment shape of constructs/deploy and
// constructs/release in a few lines, as a team's service stage factory
// would call them: a Lambda function, an EC2 fleet (one-box, then zone by
// zone), an EC2 fleet in doubling batches, an ECS service rolling safely,
// and a Lambda weighted canary with an A/B dashboard.
package shapes

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/release"
)

// Team names the example's alarms.
const Team = "shapes"

// rollbackAlarms declares an API's alarms on the given preset and
// dimensions, with the one-box scoped by extra dimensions.
func rollbackAlarms(stack awscdk.Stack, preset alarms.Preset, dims, oneBoxDims map[string]string) alarms.RollbackAlarms {
	api := alarms.ServiceSpec{Name: "api", Preset: preset, Dimensions: dims, FaultRate: &alarms.Threshold{Value: 1}, LatencyP99: &alarms.Threshold{Value: 1500}}
	if preset.Name == alarms.PresetECS.Name { // ECS metrics: utilisation, no requests
		api.FaultRate, api.LatencyP99 = nil, nil
		api.CPU, api.Memory = &alarms.Threshold{Value: 90}, &alarms.Threshold{Value: 90}
	}
	one := api
	one.Dimensions = oneBoxDims
	return alarms.NewRollbackAlarms(stack, jsii.String("Alarms"), &alarms.RollbackAlarmsProps{
		Names: alarms.Names{Team: Team, Environment: "prod"}, Services: []alarms.ServiceSpec{api}, OneBox: &alarms.OneBox{Services: []alarms.ServiceSpec{one}},
	})
}

func handler(stack awscdk.Stack) awslambda.Function {
	return awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_24_X(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("exports.handler = async () => ({ status: 'ok' });")),
	})
}

// NewLambda is a Lambda service's one-box step: 10% of invocations on the
// new version for the one-box bake, then the rest.
func NewLambda(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Lambda"), &awscdk.StackProps{Env: env})
	fn := handler(stack)
	a := rollbackAlarms(stack, alarms.PresetLambda,
		map[string]string{"FunctionName": *fn.FunctionName()},
		map[string]string{"FunctionName": *fn.FunctionName(), "ExecutedVersion": *fn.CurrentVersion().Version()})
	deploy.NewLambdaDeployment(stack, jsii.String("Deploy"), &deploy.LambdaProps{
		Function: fn, Alarms: a, OneBox: true, OneBoxBake: time.Hour,
	})
	return stack
}

// NewServerFleet is an EC2 fleet: the one-box instance first, then one AZ
// at a time with the plan's bakes as monitor times.
func NewServerFleet(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Server"), &awscdk.StackProps{Env: env})
	a := rollbackAlarms(stack, alarms.PresetALB,
		map[string]string{"LoadBalancer": "app/orders/0123456789abcdef"},
		map[string]string{"LoadBalancer": "app/orders/0123456789abcdef", "TargetGroup": "targetgroup/orders-onebox/0123456789abcdef"})
	deploy.NewServerDeployment(stack, jsii.String("Deploy"), &deploy.ServerProps{
		OneBox: deploy.Tag{Key: "safepipe:role", Value: "onebox"},
		Fleet:  &deploy.Tag{Key: "safepipe:role", Value: "fleet"},
		Alarms: a, FirstZoneMonitor: time.Hour, ZoneMonitor: 30 * time.Minute,
	})
	return stack
}

// NewBatchedFleet deploys eleven named hosts in doubling batches: 1, 2, 4,
// then the remaining 4.
func NewBatchedFleet(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Batched"), &awscdk.StackProps{Env: env})
	a := rollbackAlarms(stack, alarms.PresetALB,
		map[string]string{"LoadBalancer": "app/cells/0123456789abcdef"},
		map[string]string{"LoadBalancer": "app/cells/0123456789abcdef", "TargetGroup": "targetgroup/cell-1/0123456789abcdef"})
	var hosts []string
	for _, h := range "abcdefghijk" {
		hosts = append(hosts, "cell-"+string(h))
	}
	deploy.NewBatchedServerDeployment(stack, jsii.String("Deploy"), &deploy.BatchedServerProps{TagKey: "Name", Hosts: hosts, Alarms: a})
	return stack
}

// NewEcsService is a Fargate service deployed by ECS's rolling deployment,
// with the circuit breaker and alarm rollback.
func NewEcsService(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Ecs"), &awscdk.StackProps{Env: env})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(0)})
	vpc.AddFlowLog(jsii.String("FlowLog"), nil)
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc: vpc, ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:   awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/nginx/nginx:stable"), nil),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("app")}),
	})
	a := rollbackAlarms(stack, alarms.PresetECS,
		map[string]string{"ClusterName": "shapes", "ServiceName": "api"},
		map[string]string{"ClusterName": "shapes", "ServiceName": "api-onebox"})
	if err := a.Err(); err != nil {
		awscdk.Annotations_Of(stack).AddError(jsii.String(err.Error()))
		return stack
	}
	props, err := deploy.EcsRolling(awsecs.FargateServiceProps{Cluster: cluster, TaskDefinition: task, DesiredCount: jsii.Number(6)}, a, false)
	if err != nil {
		awscdk.Annotations_Of(stack).AddError(jsii.String(err.Error()))
		return stack
	}
	awsecs.NewFargateService(stack, jsii.String("Service"), props)
	return stack
}

// NewCanary serves version 7 (published earlier) and the new version with
// a 10% weight, and compares them on an A/B dashboard.
func NewCanary(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Canary"), &awscdk.StackProps{Env: env})
	fn := handler(stack)
	stable := awslambda.Version_FromVersionAttributes(stack, jsii.String("Stable"), &awslambda.VersionAttributes{Lambda: fn, Version: jsii.String("7")})
	release.NewABTest(stack, jsii.String("AB"), &release.ABTestProps{
		Alias:   release.WeightedAliasProps{Function: fn, Stable: stable, Candidate: fn.CurrentVersion(), Weight: 10},
		Metrics: []string{"Invocations", "Errors", "Duration"},
	})
	return stack
}
