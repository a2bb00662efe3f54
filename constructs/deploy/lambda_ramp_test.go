package deploy

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/twophase"
)

// TestLambdaRampTakesTheRegionalStep: LambdaProps.Ramp ramps the regional
// step from the one-box share, and leaves the one-box step and the
// upgrade-downgrade test's steps as they are; a ramp that does not end at
// 100, or that comes with two-phase changes, is refused with every other
// problem.
func TestLambdaRampTakesTheRegionalStep(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")},
	})
	fn := awslambda.NewFunction(stack, jsii.String("Orders"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_LATEST(), Handler: jsii.String("index.h"),
		Code: awslambda.Code_FromInline(jsii.String("exports.h=async()=>1")),
	})
	alarm := awscloudwatch.NewAlarm(stack, jsii.String("Aggregate"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String("orders-aggregate"), Metric: fn.MetricErrors(nil), Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
	})
	ramp := &Ramp{Steps: []RampStep{{After: time.Hour, Percent: 50}, {After: time.Hour, Percent: 100}}, Alarm: alarm}
	for _, c := range []struct {
		id string
		p  LambdaProps
	}{
		{"Regional", LambdaProps{Function: fn, AliasName: "regional", OneBoxPercent: 5, Ramp: ramp}},
		{"OneBox", LambdaProps{Function: fn, AliasName: "onebox", OneBox: true, Ramp: ramp}},
		{"UpDown", LambdaProps{Function: fn, AliasName: "updown", UpgradeDowngrade: pipeline.UpgradeFull, Ramp: ramp}},
	} {
		d := NewLambdaDeployment(stack, jsii.String(c.id), &c.p)
		require.NoError(t, d.Err(), c.id)
	}
	tpl := assertions.Template_FromStack(stack, nil)
	var aliases map[string]map[string]any
	b, err := json.Marshal(tpl.FindResources(jsii.String(AliasControllerType), nil))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &aliases))
	require.Len(t, aliases, 3)
	for _, c := range []struct {
		alias, mode, pct string
		ramp             bool
	}{{"regional", "canary", "5", true}, {"onebox", "canary", "10", false}, {"updown", "full", "50", false}} {
		found := false
		for _, r := range aliases {
			props := r["Properties"].(map[string]any)
			if props["AliasName"] != c.alias {
				continue
			}
			found = true
			assert.Equal(t, c.mode, props["Mode"], c.alias)
			assert.Equal(t, c.pct, props["Percent"], c.alias)
			_, has := props["RampState"]
			assert.Equal(t, c.ramp, has, "%s ramps: %v", c.alias, c.ramp)
		}
		assert.True(t, found, c.alias)
	}
	drivers := tpl.FindResources(jsii.String("AWS::Lambda::Function"), assertions.Match_ObjectLike(&map[string]any{
		"Properties": map[string]any{"Environment": map[string]any{"Variables": map[string]any{"STEPS": `[{"after":3600,"percent":50},{"after":3600,"percent":100}]`}}},
	}))
	assert.Len(t, *drivers, 1, "one driver, the regional step's")

	bad := LambdaProps{Function: fn, Ramp: &Ramp{Steps: []RampStep{{After: time.Hour, Percent: 50}}, Alarm: alarm},
		Changes: []twophase.Change{{Name: "c", Phase: twophase.ChangePrepare}}, OneBoxPercent: 20}
	err = bad.validate()
	require.Error(t, err)
	for _, want := range []string{"LambdaProps.Ramp is set with 1 Changes", "LambdaProps.Ramp.Steps[0].Percent is 50; a regional step's ramp ends at 100", "LambdaProps.OneBoxPercent is 20"} {
		assert.Contains(t, err.Error(), want)
	}
}
