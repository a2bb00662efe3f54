package shapes

import (
	"bytes"
	"encoding/json"
	"github.com/safepipe/safepipe/internal/synth"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/release"
	"github.com/safepipe/safepipe/verify"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

var env = &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}

// verifyClean runs the verify rules on a stack's template as a production
// stack: CodeDeploy alarms and auto-rollback, 67% healthy hosts, zonal
// monitor time, no alias repointed at once.
func verifyClean(t *testing.T, stack awscdk.Stack) assertions.Template {
	t.Helper()
	tpl := assertions.Template_FromStack(stack, nil)
	b, err := json.Marshal(tpl.ToJSON())
	require.NoError(t, err)
	rep, err := verify.TemplateReader(bytes.NewReader(b), *stack.StackName(), nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Findings, "%s", *stack.StackName())
	return tpl
}

var rollbackOnAlarm = map[string]any{"Enabled": true, "Events": []any{"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"}}

func alarmNamed(name string) map[string]any {
	return map[string]any{"Name": assertions.Match_AnyValue()}
}

func TestShapes(t *testing.T) {
	app := awscdk.NewApp(nil)
	// Build every stack before reading any: a template is read by
	// synthesizing the app, after which the tree is frozen.
	lambdaStack, serverStack, batchedStack, ecs, canaryStack := NewLambda(app, env), NewServerFleet(app, env), NewBatchedFleet(app, env), NewEcsService(app, env), NewCanary(app, env)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(&NagSuppressions{Name: "shapes"}, nil)
	for _, st := range []awscdk.Stack{lambdaStack, serverStack, batchedStack, ecs, canaryStack} {
		msgs := assertions.Annotations_FromStack(st).FindError(jsii.String("*"), assertions.Match_AnyValue())
		for _, m := range *msgs {
			t.Errorf("%s: %v", *m.Id, m.Entry.Data)
		}
	}

	lambda := verifyClean(t, lambdaStack)
	lambda.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentConfig"), map[string]any{
		"ComputePlatform":      "Lambda",
		"TrafficRoutingConfig": map[string]any{"Type": "TimeBasedCanary", "TimeBasedCanary": map[string]any{"CanaryPercentage": 10, "CanaryInterval": 60}},
	})
	lambda.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentGroup"), map[string]any{
		"AutoRollbackConfiguration": rollbackOnAlarm,
		// metric alarms: the one-box's fault rate and p99, the region's
		"AlarmConfiguration": map[string]any{"Enabled": true, "Alarms": []any{alarmNamed("a"), alarmNamed("b"), alarmNamed("c"), alarmNamed("d")}},
	})

	server := verifyClean(t, serverStack)
	server.ResourceCountIs(jsii.String("AWS::CodeDeploy::DeploymentGroup"), jsii.Number(2))
	server.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentGroup"), map[string]any{
		"Ec2TagSet":                 map[string]any{"Ec2TagSetList": []any{map[string]any{"Ec2TagGroup": []any{map[string]any{"Key": "safepipe:role", "Type": "KEY_AND_VALUE", "Value": "onebox"}}}}},
		"DeploymentConfigName":      map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("OneBoxConfig"))},
		"AutoRollbackConfiguration": rollbackOnAlarm,
	})
	// The one-box fails when its one instance fails (one-at-a-time would
	// report success after a failed last instance).
	server.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentConfig"), map[string]any{
		"MinimumHealthyHosts": map[string]any{"Type": "HOST_COUNT", "Value": 0},
	})
	server.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentConfig"), map[string]any{
		"MinimumHealthyHosts": map[string]any{"Type": "FLEET_PERCENT", "Value": 67},
		"ZonalConfig": map[string]any{
			"FirstZoneMonitorDurationInSeconds": 3600, "MonitorDurationInSeconds": 1800,
			"MinimumHealthyHostsPerZone": map[string]any{"Type": "FLEET_PERCENT", "Value": 67},
		},
	})

	batched := verifyClean(t, batchedStack)
	groups := batched.FindResources(jsii.String("AWS::CodeDeploy::DeploymentGroup"), nil)
	var sizes []int
	for _, id := range []string{"Batch1", "Batch2", "Batch3", "Batch4"} {
		for logical, g := range *groups {
			if bytes.Contains([]byte(logical), []byte("Deploy"+id)) {
				tags := (*g)["Properties"].(map[string]any)["Ec2TagSet"].(map[string]any)["Ec2TagSetList"].([]any)[0].(map[string]any)["Ec2TagGroup"].([]any)
				sizes = append(sizes, len(tags))
			}
		}
	}
	assert.Equal(t, []int{1, 2, 4, 4}, sizes, "doubling batches of 11 hosts")
	// Within a batch, a third at most at a time, as host counts CodeDeploy
	// can meet: 0 of 1, 1 of 2, 3 of 4.
	for _, healthy := range []int{0, 1, 3} {
		batched.HasResourceProperties(jsii.String("AWS::CodeDeploy::DeploymentConfig"), map[string]any{
			"MinimumHealthyHosts": map[string]any{"Type": "HOST_COUNT", "Value": healthy},
		})
	}
	batched.ResourceCountIs(jsii.String("AWS::CodeDeploy::DeploymentConfig"), jsii.Number(3))

	tpl := assertions.Template_FromStack(ecs, nil)
	tpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			"Alarms":                   map[string]any{"AlarmNames": assertions.Match_AnyValue(), "Enable": true, "Rollback": true},
			"MinimumHealthyPercent":    100,
			"MaximumPercent":           200,
		}),
	})

	canary := verifyClean(t, canaryStack)
	canary.HasResourceProperties(jsii.String("AWS::Lambda::Alias"), map[string]any{
		"Name":            "live",
		"FunctionVersion": "7",
		"RoutingConfig":   map[string]any{"AdditionalVersionWeights": []any{map[string]any{"FunctionVersion": assertions.Match_AnyValue(), "FunctionWeight": 0.1}}},
	})
	canary.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
	dash := canary.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil)
	for _, d := range *dash {
		body, _ := json.Marshal((*d)["Properties"])
		assert.Contains(t, string(body), "ExecutedVersion", "A and B are split by version")
		assert.Contains(t, string(body), `A Errors`)
		assert.Contains(t, string(body), `B Errors`)
	}
}

func TestBadSettingsNameTheField(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Bad"), &awscdk.StackProps{Env: env})
	a := rollbackAlarms(stack, alarms.PresetLambda, map[string]string{"FunctionName": "f"}, map[string]string{"FunctionName": "f", "ExecutedVersion": "1"})
	fn := handler(stack)
	stable := awslambda.Version_FromVersionAttributes(stack, jsii.String("Stable"), &awslambda.VersionAttributes{Lambda: fn, Version: jsii.String("7")})
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"weight out of range", release.NewWeightedAlias(stack, jsii.String("W1"), &release.WeightedAliasProps{Function: fn, Stable: stable, Candidate: fn.CurrentVersion(), Weight: 120}).Err(),
			[]string{"WeightedAliasProps.Weight is 120"}},
		{"no old version", release.NewWeightedAlias(stack, jsii.String("W2"), &release.WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Weight: 10}).Err(),
			[]string{"WeightedAliasProps.Stable is nil"}},
		{"same version twice", release.NewWeightedAlias(stack, jsii.String("W3"), &release.WeightedAliasProps{Function: fn, Stable: stable, Candidate: stable, Weight: 10}).Err(),
			[]string{"Stable and Candidate are both version 7"}},
		{"A/B without a split", release.NewABTest(stack, jsii.String("AB"), &release.ABTestProps{Alias: release.WeightedAliasProps{Function: fn, Stable: stable, Candidate: fn.CurrentVersion(), Weight: 100}}).Err(),
			[]string{"ABTestProps.Alias.Weight is 100"}},
		{"more than a third at a time, no one-box", deploy.NewServerDeployment(stack, jsii.String("S1"), &deploy.ServerProps{Fleet: &deploy.Tag{Key: "k", Value: "v"}, Alarms: a, MinHealthyPercent: 50}).Err(),
			[]string{"ServerProps.MinHealthyPercent is 50: it would replace 50% of the fleet", "ServerProps.OneBox needs a tag"}},
		{"zonal config without monitor time", deploy.NewServerDeployment(stack, jsii.String("S2"), &deploy.ServerProps{OneBox: deploy.Tag{Key: "k", Value: "one"}, Fleet: &deploy.Tag{Key: "k", Value: "v"}, Alarms: a, ZoneMonitor: 10 * time.Second}).Err(),
			[]string{"ServerProps.ZoneMonitor is 10s"}},
		{"lambda one-box share", deploy.NewLambdaDeployment(stack, jsii.String("L1"), &deploy.LambdaProps{Function: fn, Alarms: a, OneBoxPercent: 100}).Err(),
			[]string{"LambdaProps.OneBoxPercent is 100"}},
		{"fractions CodeDeploy cannot take", deploy.NewLambdaDeployment(stack, jsii.String("L2"), &deploy.LambdaProps{Function: fn, Alarms: a, OneBoxPercent: 2.5, OneBoxBake: 90 * time.Second}).Err(),
			[]string{"LambdaProps.OneBoxPercent is 2.5", "LambdaProps.OneBoxBake is 1m30s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Error(t, c.err)
			for _, w := range c.want {
				assert.Contains(t, c.err.Error(), w)
			}
		})
	}
	// More metric alarms than a deployment group takes: an error, unless
	// the team opts into composite alarms.
	var many []alarms.ServiceSpec
	for _, name := range []string{"api", "web"} {
		many = append(many, alarms.ServiceSpec{Name: name, Preset: alarms.PresetALB, Dimensions: map[string]string{"LoadBalancer": name},
			FaultRate: &alarms.Threshold{Value: 1}, LatencyP50: &alarms.Threshold{Value: 1}, LatencyP90: &alarms.Threshold{Value: 1},
			LatencyP99: &alarms.Threshold{Value: 1}, UnhealthyHosts: &alarms.Threshold{Value: 1}, Anomaly: &alarms.AnomalyGuard{MinRequests: 1}})
	}
	big := alarms.NewRollbackAlarms(stack, jsii.String("Many"), &alarms.RollbackAlarmsProps{Names: alarms.Names{Team: "many", Environment: "prod"}, Services: many,
		OneBox: &alarms.OneBox{Services: []alarms.ServiceSpec{{Name: "api", Preset: alarms.PresetALB, Dimensions: map[string]string{"TargetGroup": "one"}, FaultRate: &alarms.Threshold{Value: 1}}}}})
	require.NoError(t, big.Err())
	tags := &deploy.ServerProps{OneBox: deploy.Tag{Key: "k", Value: "one"}, Fleet: &deploy.Tag{Key: "k", Value: "v"}, Alarms: big}
	assert.ErrorContains(t, deploy.NewServerDeployment(stack, jsii.String("S3"), tags).Err(), "over the 10 a deployment takes")
	withComposite := *tags
	withComposite.CompositeAlarms = true
	assert.NoError(t, deploy.NewServerDeployment(stack, jsii.String("S4"), &withComposite).Err(), "composites have no such limit")

	_, err := deploy.EcsRolling(awsecs.FargateServiceProps{MinHealthyPercent: jsii.Number(50)}, a, false)
	assert.ErrorContains(t, err, "FargateServiceProps.MinHealthyPercent is 50")
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Weight is 120")))
	assert.NotEmpty(t, *msgs, "bad settings fail synth")
}
