// Package service is the ledger team's ECS service, and how an ECS service
// takes a one-box step: beside the main service runs a one-task canary
// service of the same task, in stacks of their own, so that the one-box
// step can put the new task on one task of the region while the main
// service keeps the version it runs.
//
// Per target, three stacks:
//
//   - base (ledger-<env>-base): the VPC, the cluster and the region's
//     rollback alarms — the main service's, the canary's (one-box) and
//     the aggregate the gates watch — built on the services' metrics by
//     their names, so that they exist before either service does;
//   - canary (ledger-<env>-canary): the one-task service, rolled by ECS
//     with the one-box alarms (a one-task service at 100% minimum healthy
//     starts the new task before it stops the old one);
//   - api (ledger-<env>-api): the main service, rolled by ECS with the
//     region's alarms.
//
// The one-box step deploys base and canary; the regional step deploys all
// three (base and canary unchanged, so only the main service moves). A
// rollback of the regional step redeploys the previous execution's
// templates of all three, so the canary goes back with the main service
// (verify SP036). An ECS service rolled by ECS in a one-box step moves the
// whole service: the pipeline refuses it at synth, verify reports it
// (SP037).
package service

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/pipeline"
)

// Team names the team's alarms, stacks and services.
const Team = "ledger"

// Image is the service's container image: a release changes it (a new tag,
// or an image built from the repository with ContainerImage_FromAsset).
const Image = "public.ecr.aws/nginx/nginx:1.27"

// Tasks is the main service's task count in each region; the canary runs
// one more task beside them, a tenth of the region.
const Tasks = 9

// Service implements pipeline.Service and pipeline.ServiceNeeds.
type Service struct{}

// New returns the service.
func New() Service { return Service{} }

func name(d pipeline.Deployment, part string) string {
	return fmt.Sprintf("%s-%s-%s", Team, d.Environment, part)
}

// NewStage returns the stage that deploys the service to d: base and
// canary on the one-box step, base, canary and api otherwise.
func (Service) NewStage(scope constructs.Construct, id string, d pipeline.Deployment) awscdk.Stage {
	stage := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
	cluster, api, canary := name(d, "cluster"), name(d, "api"), name(d, "canary")

	base := awscdk.NewStack(stage, jsii.String("Base"), &awscdk.StackProps{StackName: jsii.String(name(d, "base"))})
	vpc := awsec2.NewVpc(base, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	vpc.AddFlowLog(jsii.String("FlowLog"), nil)
	cl := awsecs.NewCluster(base, jsii.String("Cluster"), &awsecs.ClusterProps{
		ClusterName: jsii.String(cluster), Vpc: vpc, ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})
	// The services' utilisation, by their names. A service behind a load
	// balancer adds its target group's 5XX rate and latency here.
	spec := func(service string) alarms.ServiceSpec {
		return alarms.ServiceSpec{Name: "api", Preset: alarms.PresetECS,
			Dimensions: map[string]string{"ClusterName": cluster, "ServiceName": service},
			CPU:        &alarms.Threshold{Value: 90}, Memory: &alarms.Threshold{Value: 90}}
	}
	oneBox := spec(canary)
	rollback := alarms.NewRollbackAlarms(base, jsii.String("Alarms"), &alarms.RollbackAlarmsProps{
		Names:    d.Alarms,
		Services: []alarms.ServiceSpec{spec(api)},
		// The canary keeps serving after the one-box step, a tenth of the
		// region: its alarms are the region's too (Persistent), so the
		// aggregate ORs them and later bakes and blockers see it fail.
		OneBox: &alarms.OneBox{Services: []alarms.ServiceSpec{oneBox}, Persistent: true},
	})

	task := func(stack awscdk.Stack) awsecs.FargateTaskDefinition {
		t := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), nil)
		t.AddContainer(jsii.String("app"), &awsecs.ContainerDefinitionOptions{
			Image:   awsecs.ContainerImage_FromRegistry(jsii.String(Image), nil),
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{StreamPrefix: jsii.String("app")}),
		})
		return t
	}
	service := func(id, stackName, service string, count int, watch func() []awscloudwatch.IAlarm) {
		stack := awscdk.NewStack(stage, jsii.String(id), &awscdk.StackProps{StackName: jsii.String(stackName)})
		deploy.NewEcsRollingService(stack, jsii.String("Service"), &deploy.EcsRollingProps{
			Service: awsecs.FargateServiceProps{
				Cluster: cl, TaskDefinition: task(stack), DesiredCount: jsii.Number(count), ServiceName: jsii.String(service),
				VpcSubnets: &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
			},
			Alarms: func(awsecs.ICluster, string) []awscloudwatch.IAlarm { return watch() },
		})
	}
	service("Canary", name(d, "canary"), canary, 1, rollback.OneBoxMetricAlarms)
	if !d.Target.OneBox {
		service("Api", name(d, "api"), api, Tasks, rollback.MetricAlarms)
	}
	return stage
}

// RequiredServices implements pipeline.ServiceNeeds.
func (Service) RequiredServices() []string {
	return []string{"ec2", "ecs", "logs"}
}
