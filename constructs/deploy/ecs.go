package deploy

import (
	"errors"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
)

// EcsRolling returns a copy of props set up for ECS's own rolling
// deployment, made safe: the deployment circuit breaker with rollback,
// rollback when the region's aggregate alarm fires during the deployment,
// and at least MinHealthyFleetPercent of the tasks kept running (100% and
// 200% unless props set them). The caller's props are not modified.
// Settings that would replace more than a third of the tasks at a time are
// errors.
//
// ECS watches the region's high-severity metric alarms (at most
// MaxDeploymentAlarms); composite=true gives it the composite aggregate
// instead, once checked in your account.
func EcsRolling(props awsecs.FargateServiceProps, rollback alarms.RollbackAlarms, composite bool) (*awsecs.FargateServiceProps, error) {
	p := props
	var errs []error
	if rollback == nil || rollback.Aggregate() == nil {
		errs = append(errs, errors.New("deploy: EcsRolling needs the region's rollback alarms"))
	}
	if p.MinHealthyPercent == nil {
		p.MinHealthyPercent = jsii.Number(100)
	}
	if p.MaxHealthyPercent == nil {
		p.MaxHealthyPercent = jsii.Number(200)
	}
	if *p.MinHealthyPercent < MinHealthyFleetPercent {
		errs = append(errs, fmt.Errorf("deploy: FargateServiceProps.MinHealthyPercent is %v: it would stop %v%% of the tasks at a time, over a third; keep it at %d or more", *p.MinHealthyPercent, 100-*p.MinHealthyPercent, MinHealthyFleetPercent))
	}
	if p.CircuitBreaker != nil && (p.CircuitBreaker.Rollback == nil || !*p.CircuitBreaker.Rollback) {
		errs = append(errs, errors.New("deploy: FargateServiceProps.CircuitBreaker must roll back"))
	}
	var names []*string
	if len(errs) == 0 {
		watch, err := deploymentAlarms("EcsRolling", rollback, false, composite)
		errs = append(errs, err)
		for _, w := range watch {
			names = append(names, w.AlarmName())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	p.CircuitBreaker = &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)}
	p.DeploymentAlarms = &awsecs.DeploymentAlarmConfig{
		AlarmNames: &names,
		Behavior:   awsecs.AlarmBehavior_ROLLBACK_ON_ALARM,
	}
	return &p, nil
}
