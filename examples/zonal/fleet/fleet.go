// Package fleet is the catalog team's service: an EC2 fleet behind
// CodeDeploy, deployed one Availability Zone at a time. Every production
// target of the zonal plan is one AZ of one region: it deploys the AZ's
// fleet stack, then pushes the revision to that AZ's CodeDeploy group —
// the one-box instance's group on the one-box step, the zone's fleet
// after. The region's network (subnets placed by AZ ID, so that the
// catalog's AZ IDs mean the same zones in every account) deploys with the
// region's first step and is imported by name by the AZ stacks, so that a
// global pipeline does not redeploy it at every step.
// Each AZ stack names its alarms with the AZ (Deployment.Alarms carries
// it), so the AZ stacks of a region never collide.
package fleet

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/pipeline"
)

// Team names the catalog team's alarms.
const Team = "catalog"

// HostsPerZone is the fleet's size in each AZ: with the one-box instance,
// a region of two AZs has eleven, so the one-box serves at most a tenth of
// its region (the design's one-box: "≤10% of the region's or AZ's
// traffic"; safepipe simulate checks it, and three a zone gave 1 of 7).
const HostsPerZone = 5

// ActionsPerTarget is what one target deploys: two stacks (a Prepare and
// a Deploy action each) and the revision's deploy step. The pre-production
// regional targets deploy the same: the network and one regional fleet.
const ActionsPerTarget = 5

// revisionDir is the revision's directory, found from this file so that
// synth works from any working directory.
func revisionDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "revision")
}

// Fleet implements pipeline.Service and pipeline.Deployer: it remembers
// each deployment's revision, to hand its deploy step to the pipeline.
type Fleet struct {
	revisions map[string]deploy.ServerRevision
}

// New returns the catalog fleet service.
func New() *Fleet { return &Fleet{revisions: map[string]deploy.ServerRevision{}} }

// NewStage deploys the region's network and the target's fleet: one AZ's
// (with the one-box instance in the first AZ), or, for a pre-production
// regional target, the whole region's, deployed zone by zone by CodeDeploy.
func (f *Fleet) NewStage(scope constructs.Construct, id string, d pipeline.Deployment) awscdk.Stage {
	stage := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
	name := fmt.Sprintf("catalog-%s", d.Environment)
	if d.Target.AZ != "" {
		name += "-" + d.Target.AZ
	}
	stack := awscdk.NewStack(stage, jsii.String("Fleet"), &awscdk.StackProps{
		StackName:   jsii.String(name),
		Description: jsii.String(fmt.Sprintf("catalog fleet (%s)", d.Name())),
	})
	if d.Target.OneBox || d.Target.AZ == "" {
		net := newNetwork(stage, d)
		stack.AddStackDependency(net, jsii.String("the fleet runs in the network's subnets"))
	}
	zones := d.Region.AZs
	if d.Target.AZ != "" {
		zones = []string{d.Target.AZ}
	}
	vpc, subnets := importNetwork(stack, d, zones)
	role := awsiam.NewRole(stack, jsii.String("InstanceRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
		ManagedPolicies: &[]awsiam.IManagedPolicy{
			awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("AmazonSSMManagedInstanceCore")),
		},
	})
	fleet := autoScaling(stack, "Fleet", vpc, subnets, role, HostsPerZone*len(zones))
	var oneBox awsautoscaling.AutoScalingGroup
	if d.Target.OneBox || (d.Target.AZ != "" && d.Target.AZ == d.Region.AZs[0] && d.Environment == pipeline.Prod) {
		// The one-box lives in the region's first AZ: its stack carries the
		// one-box instance whichever step deploys it, so that the one-box
		// step and the first zonal step deploy the same template.
		oneBox = autoScaling(stack, "OneBox", vpc, subnets[:1], role, 1)
	}
	rollback := newAlarms(stack, d, fleet, oneBox)
	groups := deploy.NewServerDeployment(stack, jsii.String("Deploy"), &deploy.ServerProps{
		Name:              d.Alarms.Prefix(),
		OneBoxGroups:      asgs(oneBox),
		AutoScalingGroups: []awsautoscaling.IAutoScalingGroup{fleet},
		Alarms:            rollback,
		FirstZoneMonitor:  d.Bake,
		ZoneMonitor:       d.Bake,
	})
	f.revisions[d.Name()] = deploy.NewServerRevision(stack, jsii.String("Revision"), &deploy.ServerRevisionProps{
		Deployment: d, Path: revisionDir(), Servers: groups, OneBox: d.Target.OneBox,
	})
	suppress(role, fleet, oneBox) // after every grant to the role
	return stage
}

// RequiredServices implements pipeline.ServiceNeeds: the instances and
// their network, the Auto Scaling groups, CodeDeploy, the flow logs.
func (f *Fleet) RequiredServices() []string {
	return []string{"autoscaling", "codedeploy", "ec2", "logs"}
}

// DeploySteps returns the step that pushes the revision to the target's
// group and waits for CodeDeploy.
func (f *Fleet) DeploySteps(d pipeline.Deployment) []pipelines.Step {
	r := f.revisions[d.Name()]
	if r == nil || r.Step() == nil {
		return nil
	}
	return []pipelines.Step{r.Step()}
}

// suppress records the team's cdk-nag decisions on its own resources,
// each with its reason.
func suppress(role awsiam.Role, groups ...awsautoscaling.AutoScalingGroup) {
	nag := func(c constructs.IConstruct, id, reason string) {
		cdknag.NagSuppressions_AddResourceSuppressions(c, &[]*cdknag.NagPackSuppression{{Id: jsii.String(id), Reason: jsii.String(reason)}}, jsii.Bool(true))
	}
	nag(role, "AwsSolutions-IAM4", "AmazonSSMManagedInstanceCore: the instances are managed through Systems Manager (no SSH); AWS scopes the policy to that.")
	nag(role, "AwsSolutions-IAM5", "The CodeDeploy agent reads revisions from the region's CodeDeploy and CDK asset buckets (object prefixes, as CodeDeploy's installAgent grants them).")
	for _, g := range groups {
		if g != nil {
			nag(g, "AwsSolutions-AS3", "Scaling events are watched through the fleet's alarms and CodeDeploy, not notifications.")
		}
	}
}

func asgs(g awsautoscaling.AutoScalingGroup) []awsautoscaling.IAutoScalingGroup {
	if g == nil {
		return nil
	}
	return []awsautoscaling.IAutoScalingGroup{g}
}

// autoScaling is a group of n instances in subnets, with the CodeDeploy
// agent (installed by the deployment group) and encrypted volumes.
func autoScaling(stack awscdk.Stack, id string, vpc awsec2.IVpc, subnets []awsec2.ISubnet, role awsiam.IRole, n int) awsautoscaling.AutoScalingGroup {
	template := awsec2.NewLaunchTemplate(stack, jsii.String(id+"Template"), &awsec2.LaunchTemplateProps{
		InstanceType:       awsec2.NewInstanceType(jsii.String("t4g.small")),
		MachineImage:       awsec2.MachineImage_LatestAmazonLinux2023(&awsec2.AmazonLinux2023ImageSsmParameterProps{CpuType: awsec2.AmazonLinuxCpuType_ARM_64}),
		Role:               role,
		RequireImdsv2:      jsii.Bool(true),
		DetailedMonitoring: jsii.Bool(true),
		UserData:           awsec2.UserData_ForLinux(nil),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume:     awsec2.BlockDeviceVolume_Ebs(jsii.Number(16), &awsec2.EbsDeviceOptions{Encrypted: jsii.Bool(true)}),
		}},
	})
	return awsautoscaling.NewAutoScalingGroup(stack, jsii.String(id), &awsautoscaling.AutoScalingGroupProps{
		Vpc:            vpc,
		VpcSubnets:     &awsec2.SubnetSelection{Subnets: &subnets},
		LaunchTemplate: template,
		MinCapacity:    jsii.Number(float64(n)),
		MaxCapacity:    jsii.Number(float64(n)),
	})
}

// newAlarms declares the fleet's alarms, named for the deployment (its AZ
// included): CPU and failing status checks of the fleet, and of the one-box
// instance when the stack has it.
func newAlarms(stack awscdk.Stack, d pipeline.Deployment, fleet, oneBox awsautoscaling.AutoScalingGroup) alarms.RollbackAlarms {
	spec := func(name string, g awsautoscaling.AutoScalingGroup) alarms.ServiceSpec {
		return alarms.ServiceSpec{
			Name: name, Preset: alarms.PresetEC2,
			Dimensions:     map[string]string{"AutoScalingGroupName": *g.AutoScalingGroupName()},
			CPU:            &alarms.Threshold{Value: 90},
			UnhealthyHosts: &alarms.Threshold{Value: 1},
		}
	}
	props := &alarms.RollbackAlarmsProps{Names: d.Alarms, Services: []alarms.ServiceSpec{spec("hosts", fleet)}}
	if oneBox != nil {
		// The one-box instance stays in the zone's fleet after its step:
		// its alarms are the zone's too.
		props.OneBox = &alarms.OneBox{Services: []alarms.ServiceSpec{spec("hosts", oneBox)}, Persistent: true}
	}
	return alarms.NewRollbackAlarms(stack, jsii.String("Alarms"), props)
}

// exportName names one of the network's exports.
func exportName(d pipeline.Deployment, what string) string {
	return fmt.Sprintf("catalog-%s-%s", d.Environment, what)
}

// newNetwork is the region's network stack: one public subnet per catalog
// AZ, placed by AZ ID, exported by name.
func newNetwork(stage awscdk.Stage, d pipeline.Deployment) awscdk.Stack {
	stack := awscdk.NewStack(stage, jsii.String("Network"), &awscdk.StackProps{
		StackName:   jsii.String(fmt.Sprintf("catalog-network-%s", d.Environment)),
		Description: jsii.String("catalog network: one subnet per Availability Zone ID of the region"),
	})
	cfnVpc := awsec2.NewCfnVPC(stack, jsii.String("Vpc"), &awsec2.CfnVPCProps{CidrBlock: jsii.String("10.40.0.0/16"), EnableDnsHostnames: jsii.Bool(true), EnableDnsSupport: jsii.Bool(true)})
	igw := awsec2.NewCfnInternetGateway(stack, jsii.String("Gateway"), nil)
	attach := awsec2.NewCfnVPCGatewayAttachment(stack, jsii.String("Attach"), &awsec2.CfnVPCGatewayAttachmentProps{VpcId: cfnVpc.Ref(), InternetGatewayId: igw.Ref()})
	routes := awsec2.NewCfnRouteTable(stack, jsii.String("Routes"), &awsec2.CfnRouteTableProps{VpcId: cfnVpc.Ref()})
	def := awsec2.NewCfnRoute(stack, jsii.String("InternetRoute"), &awsec2.CfnRouteProps{RouteTableId: routes.Ref(), DestinationCidrBlock: jsii.String("0.0.0.0/0"), GatewayId: igw.Ref()})
	def.AddResourceDependency(attach, jsii.String("the route needs the gateway attached"))
	logs := awslogs.NewLogGroup(stack, jsii.String("FlowLogs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_THREE_MONTHS, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	awscdk.NewCfnOutput(stack, jsii.String("VpcId"), &awscdk.CfnOutputProps{Value: cfnVpc.Ref(), ExportName: jsii.String(exportName(d, "vpc"))})
	var ids, zones []*string
	for i, az := range d.Region.AZs {
		// AvailabilityZoneId, not a zone name: names map to different zones
		// in different accounts, AZ IDs are "the same across accounts"
		// (https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html).
		sn := awsec2.NewCfnSubnet(stack, jsii.String("Subnet-"+az), &awsec2.CfnSubnetProps{
			VpcId: cfnVpc.Ref(), AvailabilityZoneId: jsii.String(az), CidrBlock: jsii.String(fmt.Sprintf("10.40.%d.0/24", i)), MapPublicIpOnLaunch: jsii.Bool(true),
		})
		awsec2.NewCfnSubnetRouteTableAssociation(stack, jsii.String("Route-"+az), &awsec2.CfnSubnetRouteTableAssociationProps{SubnetId: sn.Ref(), RouteTableId: routes.Ref()})
		awscdk.NewCfnOutput(stack, jsii.String("Subnet-"+az+"-Id"), &awscdk.CfnOutputProps{Value: sn.Ref(), ExportName: jsii.String(exportName(d, "subnet-"+az))})
		awscdk.NewCfnOutput(stack, jsii.String("Subnet-"+az+"-Zone"), &awscdk.CfnOutputProps{Value: sn.AttrAvailabilityZone(), ExportName: jsii.String(exportName(d, "zone-"+az))})
		ids = append(ids, sn.Ref())
		zones = append(zones, sn.AttrAvailabilityZone())
	}
	vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("VpcRef"), &awsec2.VpcAttributes{VpcId: cfnVpc.Ref(), AvailabilityZones: &zones, PublicSubnetIds: &ids})
	awsec2.NewFlowLog(stack, jsii.String("FlowLog"), &awsec2.FlowLogProps{
		ResourceType: awsec2.FlowLogResourceType_FromVpc(vpc),
		Destination:  awsec2.FlowLogDestination_ToCloudWatchLogs(logs, nil),
	})
	return stack
}

// importNetwork is the network as the fleet stack sees it: imported by
// export name, the zones' subnets only.
func importNetwork(stack awscdk.Stack, d pipeline.Deployment, zones []string) (awsec2.IVpc, []awsec2.ISubnet) {
	var subnets []awsec2.ISubnet
	var ids, names []*string
	for _, az := range zones {
		id := awscdk.Fn_ImportValue(jsii.String(exportName(d, "subnet-"+az)))
		zone := awscdk.Fn_ImportValue(jsii.String(exportName(d, "zone-"+az)))
		subnets = append(subnets, awsec2.Subnet_FromSubnetAttributes(stack, jsii.String("Subnet-"+az), &awsec2.SubnetAttributes{SubnetId: id, AvailabilityZone: zone}))
		ids = append(ids, id)
		names = append(names, zone)
	}
	vpc := awsec2.Vpc_FromVpcAttributes(stack, jsii.String("Vpc"), &awsec2.VpcAttributes{
		VpcId: awscdk.Fn_ImportValue(jsii.String(exportName(d, "vpc"))), AvailabilityZones: &names, PublicSubnetIds: &ids,
	})
	return vpc, subnets
}
