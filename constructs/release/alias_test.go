package release

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/constructs/deploy"
)

// TestWeightedAliasRamp: a canary with a ramp renders the alias controller
// with the ramp's state, and a driver that runs every minute, one tick at a
// time, watching the alarm by its literal name.
func TestWeightedAliasRamp(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}})
	fn := awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_LATEST(), Handler: jsii.String("index.h"), Code: awslambda.Code_FromInline(jsii.String("exports.h=async()=>1")),
	})
	alarm := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Aggregate"), jsii.String("orders-aggregate-rollback"))
	ramp := &deploy.Ramp{Steps: []deploy.RampStep{{After: time.Hour, Percent: 50}, {After: time.Hour, Percent: 100}}, Alarm: alarm}
	w := NewWeightedAlias(stack, jsii.String("Live"), &WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 10, Ramp: ramp})
	require.NoError(t, w.Err())

	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String(deploy.AliasControllerType), map[string]any{
		"Mode": "canary", "Percent": "10", "RampState": assertions.Match_AnyValue(),
	})
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"ReservedConcurrentExecutions": 1,
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"ALARM_NAME": "orders-aggregate-rollback",
			"ALIAS_NAME": "live",
			"STEPS":      `[{"after":3600,"percent":50},{"after":3600,"percent":100}]`,
		})},
	})
	tpl.HasResourceProperties(jsii.String("AWS::Events::Rule"), map[string]any{"ScheduleExpression": "rate(1 minute)"})
	tpl.HasResourceProperties(jsii.String("AWS::SSM::Parameter"), map[string]any{"Type": "String", "Value": `{"status":"idle"}`})
	tpl.HasResourceProperties(jsii.String("AWS::IAM::Policy"), map[string]any{
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{
			assertions.Match_ObjectLike(&map[string]any{"Action": "cloudwatch:DescribeAlarms", "Resource": "*"}),
		})},
	})
	assert.Equal(t, 2*time.Hour, ramp.Duration())
}

// TestWeightedAliasRefuses: every problem of the props at once, naming the
// field and the value.
func TestWeightedAliasRefuses(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), nil)
	fn := awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_LATEST(), Handler: jsii.String("index.h"), Code: awslambda.Code_FromInline(jsii.String("exports.h=async()=>1")),
	})
	cases := []struct {
		name  string
		props WeightedAliasProps
		want  []string
	}{
		{"a ramp on a full switch", WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 100,
			Ramp: &deploy.Ramp{Steps: []deploy.RampStep{{After: time.Hour, Percent: 100}}}}, []string{"Ramp is set with Percent 100"}},
		{"a ramp without an alarm or steps", WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 10,
			Ramp: &deploy.Ramp{}}, []string{"Ramp.Steps is empty", "Ramp.Alarm is nil"}},
		{"a share over 100", WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 150}, []string{"Percent is 150"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := NewWeightedAlias(stack, jsii.String("Bad"+strings.Repeat("x", i)), &c.props)
			require.Error(t, w.Err())
			for _, s := range c.want {
				assert.Contains(t, w.Err().Error(), s)
			}
		})
	}
}
