package deploy

import (
	"errors"
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/waves"
)

// MinHealthyFleetPercent is the least share of a fleet that stays in
// service during a deployment: at most a third is replaced at a time.
const MinHealthyFleetPercent = 67

// Tag selects EC2 instances by tag.
type Tag struct {
	Key, Value string
}

// ServerProps configure an EC2 / Auto Scaling fleet's deployment: a one-box
// deployment group of one instance first, then the fleet one AZ at a time.
type ServerProps struct {
	// Name names the application ("<Name>") and the deployment groups
	// ("<Name>-onebox", "<Name>-fleet"), so that a pipeline step in
	// another account can name them; unique per account and region (pass
	// the deployment's Alarms.Prefix(), which is). Default: names
	// CloudFormation generates (then ServerRevision cannot deploy them).
	Name string
	// Application is the CodeDeploy application. Default: a new one
	// (named Name).
	Application awscodedeploy.IServerApplication
	// OneBox selects the one-box instance by tag: tag exactly one instance
	// (in the region's first AZ) with it. At most one of OneBox and
	// OneBoxGroups. Default: none.
	OneBox Tag
	// OneBoxGroups are the one-box's Auto Scaling groups (one instance in
	// all). At most one of OneBox and OneBoxGroups. Default: none — then
	// the deployment has no one-box group (the stack of an AZ that does
	// not hold the region's one-box).
	OneBoxGroups []awsautoscaling.IAutoScalingGroup
	// Fleet selects the fleet by tag. Required unless AutoScalingGroups is
	// set (exactly one of the two).
	Fleet *Tag
	// AutoScalingGroups are the fleet's groups. Required unless Fleet is
	// set (exactly one of the two). The deployment groups install the
	// CodeDeploy agent through each group's user data (CDK's InstallAgent:
	// "add User Data that installs the CodeDeploy agent on the
	// instances"), so a group built on a launch template needs the
	// template to carry user data: awsec2.UserData_ForLinux(nil) in
	// LaunchTemplateProps.UserData (examples/zonal/fleet does).
	AutoScalingGroups []awsautoscaling.IAutoScalingGroup
	// Alarms are the region's (or the AZ's) rollback alarms. Required,
	// with a one-box alarm when there is a one-box.
	Alarms alarms.RollbackAlarms
	// MinHealthyPercent is the fleet share kept healthy. Default: 67; less
	// is an error unless OverrideReason is set.
	MinHealthyPercent float64
	// MinHealthyPerZonePercent is the share of each zone kept healthy.
	// Default: 67.
	MinHealthyPerZonePercent float64
	// FirstZoneMonitor is how long CodeDeploy watches the first AZ before
	// the next. Default: the plan's one-box floor, 1 hour.
	FirstZoneMonitor time.Duration
	// ZoneMonitor is how long it watches each later AZ. Default: the
	// plan's zonal floor, 30 minutes.
	ZoneMonitor time.Duration
	// CompositeAlarms gives CodeDeploy the composite alarms instead of their
	// metric alarms. Default: false (see LambdaProps.CompositeAlarms).
	CompositeAlarms bool
	// OverrideReason allows MinHealthyPercent under 67; it is recorded in
	// the deployment config's template metadata (safepipe:overrideReason).
	// Default: none.
	OverrideReason string
}

// ServerDeployment is the one-box and fleet deployment groups.
type ServerDeployment interface {
	constructs.Construct
	Application() awscodedeploy.IServerApplication
	// OneBox deploys to the one-box instance (nil without a one-box).
	OneBox() awscodedeploy.ServerDeploymentGroup
	// Fleet deploys to the fleet, zone by zone.
	Fleet() awscodedeploy.ServerDeploymentGroup
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type serverDeployment struct {
	constructs.Construct
	name          string
	app           awscodedeploy.IServerApplication
	oneBox, fleet awscodedeploy.ServerDeploymentGroup
	// asgs are the Auto Scaling groups of both groups; byTags is true
	// when a group selects its instances by tag.
	asgs   []awsautoscaling.IAutoScalingGroup
	byTags bool
	err    error
}

// instanceRoles are the roles of the groups' instances (their Auto
// Scaling groups' roles), which the CodeDeploy agent on each instance uses
// to download a revision. Instances selected by tag have no role known
// here.
func (s *serverDeployment) instanceRoles() (roles []awsiam.IRole, err error) {
	if s.byTags {
		return nil, errors.New("deploy: the deployment groups select their instances by tag, so the instances' role is not known here: set ServerRevisionProps.InstanceRoles")
	}
	seen := map[string]bool{}
	for _, g := range s.asgs {
		role, rerr := asgRole(g)
		if rerr != nil {
			return nil, rerr
		}
		if id := *role.Node().Addr(); !seen[id] {
			seen[id] = true
			roles = append(roles, role)
		}
	}
	return roles, nil
}

// asgRole is an Auto Scaling group's instance role; CDK refuses it (a
// panic through jsii) for a group whose launch template has none, or an
// imported group.
func asgRole(g awsautoscaling.IAutoScalingGroup) (role awsiam.IRole, err error) {
	defer func() {
		if r := recover(); r != nil {
			role, err = nil, fmt.Errorf("deploy: Auto Scaling group %s does not expose its instance role (%v): set ServerRevisionProps.InstanceRoles", *g.Node().Path(), r)
		}
	}()
	asg, ok := g.(awsautoscaling.AutoScalingGroup)
	if !ok {
		return nil, fmt.Errorf("deploy: Auto Scaling group %s is imported, so its instance role is not known: set ServerRevisionProps.InstanceRoles", *g.Node().Path())
	}
	return asg.Role(), nil
}

// names are the application's and groups' names when set (Name).
func (s *serverDeployment) names() (app, oneBox, fleet string) {
	if s.name == "" {
		return "", "", ""
	}
	return s.name, s.name + "-onebox", s.name + "-fleet"
}

func (s *serverDeployment) Application() awscodedeploy.IServerApplication { return s.app }
func (s *serverDeployment) OneBox() awscodedeploy.ServerDeploymentGroup   { return s.oneBox }
func (s *serverDeployment) Fleet() awscodedeploy.ServerDeploymentGroup    { return s.fleet }
func (s *serverDeployment) Err() error                                    { return s.err }

// NewServerDeployment creates the deployment groups and the zonal config.
func NewServerDeployment(scope constructs.Construct, id *string, props *ServerProps) ServerDeployment {
	s := &serverDeployment{}
	constructs.NewConstruct_Override(s, scope, id)
	var p ServerProps
	if props != nil {
		p = *props
	}
	if p.MinHealthyPercent == 0 {
		p.MinHealthyPercent = MinHealthyFleetPercent
	}
	if p.MinHealthyPerZonePercent == 0 {
		p.MinHealthyPerZonePercent = MinHealthyFleetPercent
	}
	if p.FirstZoneMonitor == 0 {
		p.FirstZoneMonitor = waves.FloorOneBox
	}
	if p.ZoneMonitor == 0 {
		p.ZoneMonitor = waves.FloorZonal
	}
	err := p.validate()
	hasOneBox := p.OneBox != (Tag{}) || len(p.OneBoxGroups) > 0
	var oneBoxWatch, fleetWatch []awscloudwatch.IAlarm
	if err == nil && hasOneBox {
		oneBoxWatch, err = deploymentAlarms("ServerProps.Alarms (one-box)", p.Alarms, true, p.CompositeAlarms)
	}
	if err == nil {
		fleetWatch, err = deploymentAlarms("ServerProps.Alarms (fleet)", p.Alarms, false, p.CompositeAlarms)
	}
	if s.err = err; s.err != nil {
		synth.Report(s, s.err)
		return s
	}
	s.name = p.Name
	appName, oneBoxName, fleetName := s.names()
	s.app = p.Application
	if s.app == nil {
		s.app = awscodedeploy.NewServerApplication(s, jsii.String("Application"), &awscodedeploy.ServerApplicationProps{ApplicationName: strOrNil(appName)})
	} else if p.Name != "" {
		s.name = "" // an application of the team's: its name is not known here
	}
	tags := func(t Tag) awscodedeploy.InstanceTagSet {
		return awscodedeploy.NewInstanceTagSet(&map[string]*[]*string{t.Key: jsii.Strings(t.Value)})
	}
	if hasOneBox {
		// One instance: CodeDeploy's one-at-a-time config reports success
		// even when its last (here: only) instance fails: "if the deployment
		// to the last instance fails, the overall deployment is still
		// successful" (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
		// "Zero must stay healthy" fails the deployment when the instance
		// does.
		oneBoxConfig := awscodedeploy.NewServerDeploymentConfig(s, jsii.String("OneBoxConfig"), &awscodedeploy.ServerDeploymentConfigProps{
			MinimumHealthyHosts: awscodedeploy.MinimumHealthyHosts_Count(jsii.Number(0)),
		})
		one := &awscodedeploy.ServerDeploymentGroupProps{
			DeploymentGroupName: strOrNil(oneBoxName),
			Application:         s.app,
			DeploymentConfig:    oneBoxConfig,
			Alarms:              refs(oneBoxWatch),
			AutoRollback:        autoRollback(),
			InstallAgent:        jsii.Bool(true),
		}
		if len(p.OneBoxGroups) > 0 {
			groups := append([]awsautoscaling.IAutoScalingGroup(nil), p.OneBoxGroups...)
			one.AutoScalingGroups = &groups
			s.asgs = append(s.asgs, groups...)
		} else {
			one.Ec2InstanceTags = tags(p.OneBox)
			s.byTags = true
		}
		s.oneBox = awscodedeploy.NewServerDeploymentGroup(s, jsii.String("OneBox"), one)
	}
	config := awscodedeploy.NewServerDeploymentConfig(s, jsii.String("Zonal"), &awscodedeploy.ServerDeploymentConfigProps{
		MinimumHealthyHosts: awscodedeploy.MinimumHealthyHosts_Percentage(jsii.Number(p.MinHealthyPercent)),
		ZonalConfig: &awscodedeploy.ZonalConfig{
			FirstZoneMonitorDuration:   awscdk.Duration_Minutes(jsii.Number(p.FirstZoneMonitor.Minutes())),
			MonitorDuration:            awscdk.Duration_Minutes(jsii.Number(p.ZoneMonitor.Minutes())),
			MinimumHealthyHostsPerZone: awscodedeploy.MinimumHealthyHostsPerZone_Percentage(jsii.Number(p.MinHealthyPerZonePercent)),
		},
	})
	if p.OverrideReason != "" {
		// Visible in the template, next to the setting it excuses.
		config.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("safepipe:overrideReason"), p.OverrideReason)
	}
	fleet := &awscodedeploy.ServerDeploymentGroupProps{
		DeploymentGroupName: strOrNil(fleetName),
		Application:         s.app,
		DeploymentConfig:    config,
		Alarms:              refs(fleetWatch),
		AutoRollback:        autoRollback(),
		InstallAgent:        jsii.Bool(true),
	}
	if p.Fleet != nil {
		fleet.Ec2InstanceTags = tags(*p.Fleet)
		s.byTags = true
	} else {
		asgs := append([]awsautoscaling.IAutoScalingGroup(nil), p.AutoScalingGroups...)
		fleet.AutoScalingGroups = &asgs
		s.asgs = append(s.asgs, asgs...)
	}
	s.fleet = awscodedeploy.NewServerDeploymentGroup(s, jsii.String("Fleet"), fleet)
	for _, g := range []awscodedeploy.ServerDeploymentGroup{s.oneBox, s.fleet} {
		if g != nil {
			synth.NagSuppress(g.Role(), "AwsSolutions-IAM4", "CodeDeploy's service role uses AWSCodeDeployRole, the managed policy AWS scopes to CodeDeploy's EC2 deployments.")
		}
	}
	return s
}

var deployNameRE = regexp.MustCompile(`^[A-Za-z0-9._+=,@-]{1,90}$`)

func (p ServerProps) validate() error {
	var errs []error
	if p.Name != "" && !deployNameRE.MatchString(p.Name) {
		errs = append(errs, fmt.Errorf("deploy: ServerProps.Name %q must match %s", p.Name, deployNameRE))
	}
	if p.OneBox != (Tag{}) && (p.OneBox.Key == "" || p.OneBox.Value == "") {
		errs = append(errs, errors.New("deploy: ServerProps.OneBox needs a tag key and value; without both the one-box group is empty"))
	}
	if p.OneBox != (Tag{}) && len(p.OneBoxGroups) > 0 {
		errs = append(errs, errors.New("deploy: ServerProps: set OneBox or OneBoxGroups, not both"))
	}
	if (p.Fleet == nil) == (len(p.AutoScalingGroups) == 0) {
		errs = append(errs, errors.New("deploy: ServerProps: set exactly one of Fleet and AutoScalingGroups"))
	}
	if p.Fleet != nil && *p.Fleet == p.OneBox {
		errs = append(errs, errors.New("deploy: ServerProps.Fleet is the one-box tag; the fleet must be selected separately"))
	}
	if p.Alarms == nil || p.Alarms.Aggregate() == nil {
		errs = append(errs, errors.New("deploy: ServerProps.Alarms needs the aggregate alarm"))
	} else if (p.OneBox != (Tag{}) || len(p.OneBoxGroups) > 0) && p.Alarms.OneBox() == nil {
		errs = append(errs, errors.New("deploy: ServerProps.Alarms needs the one-box alarm: the deployment has a one-box"))
	}
	if p.MinHealthyPercent > 100 {
		errs = append(errs, fmt.Errorf("deploy: ServerProps.MinHealthyPercent is %v; it must be at most 100", p.MinHealthyPercent))
	}
	if p.MinHealthyPercent < MinHealthyFleetPercent && strings.TrimSpace(p.OverrideReason) == "" {
		errs = append(errs, fmt.Errorf("deploy: ServerProps.MinHealthyPercent is %v: it would replace %v%% of the fleet at a time, over a third; keep it at %d or more, or set OverrideReason", p.MinHealthyPercent, 100-p.MinHealthyPercent, MinHealthyFleetPercent))
	}
	for _, f := range []struct {
		field string
		v     float64
	}{{"MinHealthyPercent", p.MinHealthyPercent}, {"MinHealthyPerZonePercent", p.MinHealthyPerZonePercent}} {
		if f.v != math.Trunc(f.v) {
			errs = append(errs, fmt.Errorf("deploy: ServerProps.%s is %v; CodeDeploy takes whole percentages", f.field, f.v))
		}
	}
	if p.MinHealthyPerZonePercent < 0 || p.MinHealthyPerZonePercent > 100 {
		errs = append(errs, fmt.Errorf("deploy: ServerProps.MinHealthyPerZonePercent is %v; it must be 0–100", p.MinHealthyPerZonePercent))
	}
	for _, m := range []struct {
		field string
		d     time.Duration
	}{{"FirstZoneMonitor", p.FirstZoneMonitor}, {"ZoneMonitor", p.ZoneMonitor}} {
		if m.d < time.Minute || m.d%time.Minute != 0 {
			errs = append(errs, fmt.Errorf("deploy: ServerProps.%s is %s; a zonal config needs monitor time in whole minutes (0 means the plan's floor)", m.field, m.d))
		}
	}
	return errors.Join(errs...)
}

// BatchedServerProps configure a fleet deployed in doubling batches: the
// hosts, in order, are split into batches of 1, 2, 4, 8, … (the last
// takes the rest), one deployment group per batch, to be deployed one
// after the other.
type BatchedServerProps struct {
	// Application is the CodeDeploy application. Default: a new one.
	Application awscodedeploy.IServerApplication
	// TagKey is the instance tag that names a host (e.g. "Name"). Required.
	TagKey string
	// Hosts are the hosts' tag values, in deployment order. Required.
	Hosts []string
	// Alarms are the region's rollback alarms. Required.
	Alarms alarms.RollbackAlarms
	// CompositeAlarms gives CodeDeploy the composite aggregate instead of
	// its metric alarms. Default: false (see LambdaProps.CompositeAlarms).
	CompositeAlarms bool
}

// NewBatchedServerDeployment creates one deployment group per doubling
// batch, named "Batch1", "Batch2", …, each replacing at most a third of its
// batch at a time and rolling back on the aggregate alarm; deploy them in
// order (for example as consecutive CodeDeploy
// actions). It returns the groups in order; on invalid props it reports a
// synth error and returns none.
func NewBatchedServerDeployment(scope constructs.Construct, id *string, props *BatchedServerProps) []awscodedeploy.ServerDeploymentGroup {
	c := constructs.NewConstruct(scope, id)
	var p BatchedServerProps
	if props != nil {
		p = *props
	}
	var errs []error
	if p.TagKey == "" {
		errs = append(errs, errors.New("deploy: BatchedServerProps.TagKey is empty"))
	}
	if len(p.Hosts) == 0 {
		errs = append(errs, errors.New("deploy: BatchedServerProps.Hosts is empty"))
	}
	seen := map[string]bool{}
	for _, h := range p.Hosts {
		if seen[h] {
			errs = append(errs, fmt.Errorf("deploy: BatchedServerProps.Hosts lists %q twice", h))
		}
		seen[h] = true
	}
	if p.Alarms == nil || p.Alarms.Aggregate() == nil {
		errs = append(errs, errors.New("deploy: BatchedServerProps.Alarms needs the aggregate alarm"))
	}
	var watch []awscloudwatch.IAlarm
	if len(errs) == 0 {
		w, err := deploymentAlarms("BatchedServerProps.Alarms", p.Alarms, false, p.CompositeAlarms)
		watch = w
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		synth.Report(c, err)
		return nil
	}
	app := p.Application
	if app == nil {
		app = awscodedeploy.NewServerApplication(c, jsii.String("Application"), nil)
	}
	// Inside a batch, at most a third of its hosts are replaced at a time,
	// as a host count: CodeDeploy rounds a percentage up and fails at once
	// when the healthy minimum is not below the batch size (67% of 1, 2 or
	// 3 hosts), so small batches keep n-1 healthy, and a one-host batch 0.
	configs := map[int]awscodedeploy.IServerDeploymentConfig{}
	configFor := func(n int) awscodedeploy.IServerDeploymentConfig {
		if cfg, ok := configs[n]; ok {
			return cfg
		}
		healthy := min(int(math.Ceil(float64(n)*MinHealthyFleetPercent/100)), n-1)
		configs[n] = awscodedeploy.NewServerDeploymentConfig(c, jsii.String(fmt.Sprintf("Keep%dOf%d", healthy, n)), &awscodedeploy.ServerDeploymentConfigProps{
			MinimumHealthyHosts: awscodedeploy.MinimumHealthyHosts_Count(jsii.Number(float64(healthy))),
		})
		return configs[n]
	}
	var groups []awscodedeploy.ServerDeploymentGroup
	for i, batch := range waves.Batches(p.Hosts) {
		hosts := append([]string(nil), batch...)
		sort.Strings(hosts)
		groups = append(groups, awscodedeploy.NewServerDeploymentGroup(c, jsii.String(fmt.Sprintf("Batch%d", i+1)), &awscodedeploy.ServerDeploymentGroupProps{
			Application:      app,
			Ec2InstanceTags:  awscodedeploy.NewInstanceTagSet(&map[string]*[]*string{p.TagKey: jsii.Strings(hosts...)}),
			DeploymentConfig: configFor(len(batch)),
			Alarms:           refs(watch),
			AutoRollback:     autoRollback(),
		}))
	}
	return groups
}

// autoRollback rolls back on failure, on alarm and when stopped.
func autoRollback() *awscodedeploy.AutoRollbackConfig {
	return &awscodedeploy.AutoRollbackConfig{
		FailedDeployment:  jsii.Bool(true),
		DeploymentInAlarm: jsii.Bool(true),
		StoppedDeployment: jsii.Bool(true),
	}
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}
