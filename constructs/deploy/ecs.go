package deploy

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/internal/synth"
)

// EcsRollingProps configure a Fargate service deployed by ECS's own
// rolling deployment, made safe.
type EcsRollingProps struct {
	// Service are the service's props: cluster, task definition, desired
	// count, networking, and its name. The circuit breaker and the
	// deployment alarms are set here; MinHealthyPercent and
	// MaxHealthyPercent default to 100 and 200. Required: Cluster,
	// TaskDefinition and ServiceName (set explicitly, so that the alarms
	// can watch this service's metrics while the service names its
	// deployment alarms: with a generated name the two would depend on
	// each other).
	Service awsecs.FargateServiceProps
	// Alarms returns the alarms the deployment watches, given the cluster
	// and the service's name: build them on the service's own metrics
	// (AWS/ECS CPUUtilization and MemoryUtilization with the dimensions
	// ClusterName and ServiceName, its load balancer's target group, …).
	// At most MaxDeploymentAlarms. Required.
	Alarms func(cluster awsecs.ICluster, serviceName string) []awscloudwatch.IAlarm
}

// EcsRollingService is the service and the alarms its deployments watch.
type EcsRollingService interface {
	constructs.Construct
	// Service is the Fargate service (nil on error).
	Service() awsecs.FargateService
	// DeploymentAlarms are the alarms ECS watches during a deployment.
	DeploymentAlarms() []awscloudwatch.IAlarm
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type ecsRolling struct {
	constructs.Construct
	service awsecs.FargateService
	alarms  []awscloudwatch.IAlarm
	err     error
}

func (e *ecsRolling) Service() awsecs.FargateService { return e.service }
func (e *ecsRolling) DeploymentAlarms() []awscloudwatch.IAlarm {
	return append([]awscloudwatch.IAlarm(nil), e.alarms...)
}
func (e *ecsRolling) Err() error { return e.err }

// NewEcsRollingService creates the service with the deployment circuit
// breaker (with rollback), at least MinHealthyFleetPercent of its tasks
// kept running, and rollback when any of the alarms fires during a
// deployment.
//
// ECS documents both mechanisms: "If you use the deployment circuit
// breaker and the Amazon CloudWatch alarms to detect failures, either one
// can initiate a deployment failure as soon as the criteria for either
// method is met. A rollback occurs when you use the rollback option for the
// method that initiated the deployment failure."
// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html).
// The same page: "If an alarm is in the ALARM state at the beginning of a
// deployment, Amazon ECS will not monitor alarms for the duration of that
// deployment" — which is why a pipeline rollback (the previous task
// definition) is not held back by the alarm that caused it, and why the
// pipeline's entry gate, not ECS, keeps a forward deployment from starting
// while the region is in alarm.
func NewEcsRollingService(scope constructs.Construct, id *string, props *EcsRollingProps) EcsRollingService {
	e := &ecsRolling{}
	constructs.NewConstruct_Override(e, scope, id)
	var p EcsRollingProps
	if props != nil {
		p = *props
	}
	sp := p.Service
	if sp.MinHealthyPercent == nil {
		sp.MinHealthyPercent = jsii.Number(100)
	}
	if sp.MaxHealthyPercent == nil {
		sp.MaxHealthyPercent = jsii.Number(200)
	}
	var errs []error
	if sp.Cluster == nil {
		errs = append(errs, errors.New("deploy: EcsRollingProps.Service.Cluster is nil"))
	}
	if sp.TaskDefinition == nil {
		errs = append(errs, errors.New("deploy: EcsRollingProps.Service.TaskDefinition is nil"))
	}
	if sp.ServiceName == nil || *sp.ServiceName == "" {
		errs = append(errs, errors.New("deploy: EcsRollingProps.Service.ServiceName is empty; name the service, so that its alarms can watch it by name"))
	}
	if p.Alarms == nil {
		errs = append(errs, errors.New("deploy: EcsRollingProps.Alarms is nil; say which alarms the deployment watches"))
	}
	if *sp.MinHealthyPercent < MinHealthyFleetPercent {
		errs = append(errs, fmt.Errorf("deploy: EcsRollingProps.Service.MinHealthyPercent is %v: it would stop %v%% of the tasks at a time, over a third; keep it at %d or more", *sp.MinHealthyPercent, 100-*sp.MinHealthyPercent, MinHealthyFleetPercent))
	}
	if *sp.MaxHealthyPercent < 100 {
		errs = append(errs, fmt.Errorf("deploy: EcsRollingProps.Service.MaxHealthyPercent is %v; a rolling deployment needs at least 100", *sp.MaxHealthyPercent))
	}
	if sp.CircuitBreaker != nil && (sp.CircuitBreaker.Rollback == nil || !*sp.CircuitBreaker.Rollback) {
		errs = append(errs, errors.New("deploy: EcsRollingProps.Service.CircuitBreaker must roll back"))
	}
	if sp.DeploymentController != nil && sp.DeploymentController.Type != "" && sp.DeploymentController.Type != awsecs.DeploymentControllerType_ECS {
		errs = append(errs, fmt.Errorf("deploy: EcsRollingProps.Service.DeploymentController is %v; ECS deployment alarms need the ECS (rolling) controller", sp.DeploymentController.Type))
	}
	if e.err = errors.Join(errs...); e.err != nil {
		synth.Report(e, e.err)
		return e
	}
	sp.CircuitBreaker = &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)}
	e.alarms = p.Alarms(sp.Cluster, *sp.ServiceName)
	e.service = awsecs.NewFargateService(e, jsii.String("Service"), &sp)
	var names []*string
	for i, a := range e.alarms {
		if a == nil {
			errs = append(errs, fmt.Errorf("deploy: EcsRollingProps.Alarms returned a nil alarm at %d", i))
			continue
		}
		names = append(names, literalAlarmName(a))
	}
	switch {
	case len(e.alarms) == 0:
		errs = append(errs, errors.New("deploy: EcsRollingProps.Alarms returned no alarm; a deployment that watches nothing cannot roll itself back"))
	case len(e.alarms) > MaxDeploymentAlarms:
		errs = append(errs, fmt.Errorf("deploy: EcsRollingProps.Alarms returned %d alarms, over the %d a deployment takes", len(e.alarms), MaxDeploymentAlarms))
	}
	if e.err = errors.Join(errs...); e.err != nil {
		synth.Report(e, e.err)
		return e
	}
	e.service.EnableDeploymentAlarms(&names, &awsecs.DeploymentAlarmOptions{Behavior: awsecs.AlarmBehavior_ROLLBACK_ON_ALARM})
	return e
}

// literalAlarmName is the name an alarm was given, when it was created in
// this app with a literal AlarmName, and its AlarmName token otherwise.
// aws-cdk-lib's aws-ecs documents deployment alarms on a service's own
// metrics by passing the alarm's literal name to enableDeploymentAlarms
// ("Defining a deployment alarm after the service has been created: const
// cpuAlarmName = 'MyCpuMetricAlarm'; new cw.Alarm(this, 'CPUAlarm', {
// alarmName: cpuAlarmName, metric: service.metricCpuUtilization(), ...});
// service.enableDeploymentAlarms([cpuAlarmName], ...)"): a Ref to the
// alarm would make the service depend on an alarm that depends on the
// service, a circular dependency CloudFormation refuses.
func literalAlarmName(a awscloudwatch.IAlarm) *string {
	if cfn, ok := a.Node().DefaultChild().(awscloudwatch.CfnAlarm); ok {
		if n := cfn.AlarmName(); n != nil && !*awscdk.Token_IsUnresolved(n) {
			return n
		}
	}
	return a.AlarmName()
}
