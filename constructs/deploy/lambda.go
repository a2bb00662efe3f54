package deploy

import (
	"errors"
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"
	"math"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
)

// Rest is how traffic shifts after the one-box share.
type Rest string

// Ways to shift the rest of the traffic.
const (
	// RestLinear shifts 10% more every minute.
	RestLinear Rest = "linear"
	// RestAllAtOnce shifts the rest in one step.
	RestAllAtOnce Rest = "all-at-once"
)

// LambdaProps configure a Lambda function's regional deployment.
type LambdaProps struct {
	// Function is the function; each deployment publishes its current
	// version. Required.
	Function awslambda.Function
	// Alarms are the region's rollback alarms; CodeDeploy stops and rolls
	// back on the one-box and regional high-severity alarms. Required, with
	// a one-box alarm.
	Alarms alarms.RollbackAlarms
	// OneBox says whether this deployment is the one-box step: then the new
	// version takes OneBoxPercent of invocations for OneBoxBake, and the
	// rest at once. Default: false (the regional step shifts by Rest).
	OneBox bool
	// OneBoxPercent is the one-box share. Default: 10.
	OneBoxPercent float64
	// OneBoxBake is how long the one-box share is held. Default: 1 hour
	// (waves.FloorOneBox); use the plan's Deployment.Bake.
	OneBoxBake time.Duration
	// Rest is how the regional step shifts traffic. Default: RestLinear.
	Rest Rest
	// AliasName is the alias callers invoke. Default: "live".
	AliasName string
	// PreTraffic and PostTraffic are CodeDeploy hook functions. Default:
	// none.
	PreTraffic, PostTraffic awslambda.IFunction
	// CompositeAlarms gives CodeDeploy the composite one-box and aggregate
	// alarms instead of their metric alarms. Default: false (the metric
	// alarms, at most MaxDeploymentAlarms: CodeDeploy documents metric
	// alarms; check composites in your account before turning this on).
	CompositeAlarms bool
}

// LambdaDeployment is a function version behind an alias, shifted by a
// CodeDeploy deployment group that rolls back by itself.
type LambdaDeployment interface {
	constructs.Construct
	Alias() awslambda.Alias
	DeploymentGroup() awscodedeploy.LambdaDeploymentGroup
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type lambdaDeployment struct {
	constructs.Construct
	alias awslambda.Alias
	group awscodedeploy.LambdaDeploymentGroup
	err   error
}

func (l *lambdaDeployment) Alias() awslambda.Alias                               { return l.alias }
func (l *lambdaDeployment) DeploymentGroup() awscodedeploy.LambdaDeploymentGroup { return l.group }
func (l *lambdaDeployment) Err() error                                           { return l.err }

// NewLambdaDeployment creates the alias and its deployment group.
func NewLambdaDeployment(scope constructs.Construct, id *string, props *LambdaProps) LambdaDeployment {
	l := &lambdaDeployment{}
	constructs.NewConstruct_Override(l, scope, id)
	var p LambdaProps
	if props != nil {
		p = *props
	}
	if p.OneBoxPercent == 0 {
		p.OneBoxPercent = 10
	}
	if p.OneBoxBake == 0 {
		p.OneBoxBake = time.Hour
	}
	if p.Rest == "" {
		p.Rest = RestLinear
	}
	if p.AliasName == "" {
		p.AliasName = "live"
	}
	watch, err := []awscloudwatch.IAlarm(nil), p.validate()
	if err == nil {
		watch, err = deploymentAlarms("LambdaProps.Alarms", p.Alarms, true, p.CompositeAlarms)
	}
	if l.err = err; l.err != nil {
		synth.Report(l, l.err)
		return l
	}
	l.alias = awslambda.NewAlias(l, jsii.String("Alias"), &awslambda.AliasProps{
		AliasName: jsii.String(p.AliasName),
		Version:   p.Function.CurrentVersion(),
	})
	var config awscodedeploy.ILambdaDeploymentConfig
	switch {
	case p.OneBox:
		config = awscodedeploy.NewLambdaDeploymentConfig(l, jsii.String("OneBox"), &awscodedeploy.LambdaDeploymentConfigProps{
			TrafficRouting: awscodedeploy.NewTimeBasedCanaryTrafficRouting(&awscodedeploy.TimeBasedCanaryTrafficRoutingProps{
				Percentage: jsii.Number(p.OneBoxPercent),
				Interval:   awscdk.Duration_Minutes(jsii.Number(max(1, p.OneBoxBake.Minutes()))),
			}),
		})
	case p.Rest == RestAllAtOnce:
		config = awscodedeploy.LambdaDeploymentConfig_ALL_AT_ONCE()
	default:
		config = awscodedeploy.LambdaDeploymentConfig_LINEAR_10PERCENT_EVERY_1MINUTE()
	}
	l.group = awscodedeploy.NewLambdaDeploymentGroup(l, jsii.String("Deployment"), &awscodedeploy.LambdaDeploymentGroupProps{
		Alias:            l.alias,
		DeploymentConfig: config,
		Alarms:           refs(watch),
		AutoRollback:     autoRollback(),
		PreHook:          p.PreTraffic,
		PostHook:         p.PostTraffic,
	})
	return l
}

func (p LambdaProps) validate() error {
	var errs []error
	if p.Function == nil {
		errs = append(errs, errors.New("deploy: LambdaProps.Function is nil"))
	}
	if p.Alarms == nil || p.Alarms.Aggregate() == nil || p.Alarms.OneBox() == nil {
		errs = append(errs, errors.New("deploy: LambdaProps.Alarms needs the aggregate and one-box alarms (alarms.NewRollbackAlarms with OneBox)"))
	}
	if p.OneBoxPercent <= 0 || p.OneBoxPercent >= 100 || p.OneBoxPercent != math.Trunc(p.OneBoxPercent) {
		errs = append(errs, fmt.Errorf("deploy: LambdaProps.OneBoxPercent is %v; it must be a whole percentage between 0 and 100, exclusive", p.OneBoxPercent))
	}
	if p.OneBoxBake < time.Minute || p.OneBoxBake > 48*time.Hour || p.OneBoxBake%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("deploy: LambdaProps.OneBoxBake is %s; CodeDeploy canaries hold whole minutes, 1 minute to 2 days", p.OneBoxBake))
	}
	if p.Rest != RestLinear && p.Rest != RestAllAtOnce {
		errs = append(errs, fmt.Errorf("deploy: LambdaProps.Rest %q is not %q or %q", p.Rest, RestLinear, RestAllAtOnce))
	}
	return errors.Join(errs...)
}

// autoRollback rolls back on failure, on alarm and when stopped.
func autoRollback() *awscodedeploy.AutoRollbackConfig {
	return &awscodedeploy.AutoRollbackConfig{
		FailedDeployment:  jsii.Bool(true),
		DeploymentInAlarm: jsii.Bool(true),
		StoppedDeployment: jsii.Bool(true),
	}
}
