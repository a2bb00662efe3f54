package main

import (
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/release"
	"github.com/safepipe/safepipe/gray"
)

// Team names the example's alarms; each shape is its own cell, so that the
// shapes' stacks, which share an account and region, never share a name.
const Team = "shapes"

func names(shape string) alarms.Names {
	return alarms.Names{Team: Team, Environment: "prod", Cell: shape}
}

// rollbackAlarms declares an API's alarms on the given preset and
// dimensions, with the one-box scoped by extra dimensions.
func rollbackAlarms(scope constructs.Construct, shape string, preset alarms.Preset, dims, oneBoxDims map[string]string) alarms.RollbackAlarms {
	api := alarms.ServiceSpec{Name: "api", Preset: preset, Dimensions: dims, FaultRate: &alarms.Threshold{Value: 1}, LatencyP99: &alarms.Threshold{Value: 1500}}
	if preset.Name == alarms.PresetECS.Name { // ECS metrics: utilisation, no requests
		api.FaultRate, api.LatencyP99 = nil, nil
		api.CPU, api.Memory = &alarms.Threshold{Value: 90}, &alarms.Threshold{Value: 90}
	}
	props := &alarms.RollbackAlarmsProps{Names: names(shape), Services: []alarms.ServiceSpec{api}}
	if oneBoxDims != nil {
		one := api
		one.Dimensions = oneBoxDims
		props.OneBox = &alarms.OneBox{Services: []alarms.ServiceSpec{one}}
	}
	return alarms.NewRollbackAlarms(scope, jsii.String("Alarms"), props)
}

func handler(stack awscdk.Stack) awslambda.Function {
	return awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_LATEST(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("exports.handler = async () => ({ status: 'ok' });")),
	})
}

// NewLambda is a Lambda service's one-box step: the version live when the
// stack deploys keeps 90% of invocations, the new one takes 10% for the
// one-box bake (the pipeline's gate watches the one-box alarm).
func NewLambda(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Lambda"), &awscdk.StackProps{Env: env})
	fn := handler(stack)
	rollbackAlarms(stack, "lambda", alarms.PresetLambda,
		map[string]string{"FunctionName": *fn.FunctionName(), "Resource": *fn.FunctionName() + ":live"},
		map[string]string{"FunctionName": *fn.FunctionName(), "Resource": *fn.FunctionName() + ":live", "ExecutedVersion": *fn.CurrentVersion().Version()})
	deploy.NewLambdaDeployment(stack, jsii.String("Deploy"), &deploy.LambdaProps{Function: fn, OneBox: true})
	return stack
}

// NewServerFleet is an EC2 fleet: the one-box instance first, then one AZ
// at a time with the plan's bakes as monitor times.
func NewServerFleet(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Server"), &awscdk.StackProps{Env: env})
	a := rollbackAlarms(stack, "server", alarms.PresetALB,
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
	a := rollbackAlarms(stack, "batched", alarms.PresetALB,
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
// with the circuit breaker, and rollback on alarms built on the service's
// own metrics. Its tasks run in private subnets with a NAT gateway, so
// they can pull their image.
func NewEcsService(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Ecs"), &awscdk.StackProps{Env: env})
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	vpc.AddFlowLog(jsii.String("FlowLog"), nil)
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc: vpc, ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
	task.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
		Image:   awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/nginx/nginx:stable"), nil),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("app")}),
	})
	deploy.NewEcsRollingService(stack, jsii.String("Api"), &deploy.EcsRollingProps{
		Service: awsecs.FargateServiceProps{
			Cluster: cluster, TaskDefinition: task, DesiredCount: jsii.Number(6), ServiceName: jsii.String("shapes-api"),
			VpcSubnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		},
		// The region's alarms on this service's own metrics (its cluster,
		// by reference, and its name), and the deployment watches exactly
		// those.
		Alarms: func(cluster awsecs.ICluster, service string) []awscloudwatch.IAlarm {
			return rollbackAlarms(stack, "ecs", alarms.PresetECS,
				map[string]string{"ClusterName": *cluster.ClusterName(), "ServiceName": service}, nil).MetricAlarms()
		},
	})
	return stack
}

// NewABTest splits invocations between the version live when the stack
// deploys (A) and the new one (B, 10%), and compares them on a dashboard.
func NewABTest(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("ABTest"), &awscdk.StackProps{Env: env})
	fn := handler(stack)
	release.NewABTest(stack, jsii.String("AB"), &release.ABTestProps{
		Alias:   release.WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 10},
		Metrics: []string{"Invocations", "Errors", "Duration"},
	})
	return stack
}

// Releases is a gray release over the order chain: Order v1.1 and Email
// v2.1 for Android users, before the Atlantis team's Email v2.2 and SMS v3
// for requests from Atlantis (safepipe gray check reports their overlap:
// Android users in Atlantis take the android release in every service).
var Releases = &gray.ReleaseSet{Releases: []gray.Release{
	{Name: "android", Priority: 10, Match: gray.Match{Attribute: &gray.Attribute{Name: "device", In: []string{"Android"}}},
		Services: map[string]string{"order": "order-v1.1", "email": "email-v2.1"}},
	{Name: "atlantis", Priority: 20, Match: gray.Match{Attribute: &gray.Attribute{Name: "city", In: []string{"Atlantis"}}},
		Services: map[string]string{"email": "email-v2.2", "sms": "sms-v3"}},
}}

// NewGray deploys two AppConfig feature flags of the release chain: the
// edge's, which decides a request's release from its labels, and the
// email service's, which routes on that decision alone, so both agree.
// Each rolls out with the doubling strategy and rolls back on the
// region's aggregate alarm.
func NewGray(scope constructs.Construct, env *awscdk.Environment) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String("Gray"), &awscdk.StackProps{Env: env})
	fn := handler(stack)
	agg := rollbackAlarms(stack, "gray", alarms.PresetLambda,
		map[string]string{"FunctionName": *fn.FunctionName()}, nil).Aggregate()
	for _, f := range []struct{ id, flag, service string }{{"Edge", "order-edge", ""}, {"Email", "email", "email"}} {
		gr := release.NewGrayRelease(stack, jsii.String(f.id), &release.GrayReleaseProps{
			Releases: Releases, Service: f.service, Flag: f.flag, Alarms: []awscloudwatch.IAlarm{agg},
		})
		suppressMonitorRole(gr)
	}
	return stack
}
