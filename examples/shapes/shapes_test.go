package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/release"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/verify"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

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
	st := New(app)
	for _, stack := range []awscdk.Stack{st.Lambda, st.Server, st.Batched, st.Ecs, st.ABTest, st.Gray} {
		an := assertions.Annotations_FromStack(stack)
		for _, m := range append(*an.FindError(jsii.String("*"), assertions.Match_AnyValue()), *an.FindWarning(jsii.String("*"), assertions.Match_AnyValue())...) {
			t.Errorf("%s: %v", *m.Id, m.Entry.Data)
		}
		for _, m := range *an.FindInfo(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("circular dependency"))) {
			t.Errorf("%s: %v", *m.Id, m.Entry.Data)
		}
	}
	// The app synthesizes without lookups: `cdk synth` needs no AWS
	// credentials (a context lookup makes the CLI call AWS).
	if missing := app.Synth(nil).Manifest().Missing; missing != nil {
		for _, m := range *missing {
			t.Errorf("context the CLI would have to look up in an AWS account: %s", *m.Key)
		}
	}

	// Lambda: the alias controller keeps the live version and gives the
	// new one 10%; no deployment service can stop a rollback.
	lambda := assertions.Template_FromStack(st.Lambda, nil)
	lambda.HasResourceProperties(jsii.String(deploy.AliasControllerType), map[string]any{
		"AliasName": "live", "Mode": "canary", "Percent": "10",
		"Version": map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("HandlerCurrentVersion")), "Version"}},
	})
	lambda.ResourceCountIs(jsii.String("AWS::Lambda::Alias"), jsii.Number(0))
	lambda.ResourceCountIs(jsii.String("AWS::CodeDeploy::DeploymentGroup"), jsii.Number(0))

	server := verifyClean(t, st.Server)
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

	batched := verifyClean(t, st.Batched)
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

	// ECS: the deployment watches alarms on the service's own metrics, by
	// the names CloudFormation gives them, and the tasks can reach the
	// image registry.
	ecs := assertions.Template_FromStack(st.Ecs, nil)
	ecs.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
		"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			"Alarms":                   map[string]any{"AlarmNames": assertions.Match_AnyValue(), "Enable": true, "Rollback": true},
			"MinimumHealthyPercent":    100,
			"MaximumPercent":           200,
		}),
	})
	ecs.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
	var clusterID string
	for id := range *ecs.FindResources(jsii.String("AWS::ECS::Cluster"), nil) {
		clusterID = id
	}
	alarmsByID := ecs.FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil)
	require.NotEmpty(t, *alarmsByID)
	for id, a := range *alarmsByID {
		dims, _ := json.Marshal((*a)["Properties"].(map[string]any)["Dimensions"])
		assert.Contains(t, string(dims), clusterID, "%s watches the cluster CloudFormation creates, not a literal name", id)
		assert.Contains(t, string(dims), `"shapes-api"`, "%s watches the service by the name it is given", id)
	}
	ecs.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{"ServiceName": "shapes-api"})
	for _, svc := range *ecs.FindResources(jsii.String("AWS::ECS::Service"), nil) {
		names := (*svc)["Properties"].(map[string]any)["DeploymentConfiguration"].(map[string]any)["Alarms"].(map[string]any)["AlarmNames"].([]any)
		assert.Len(t, names, len(*alarmsByID), "the deployment watches the service's alarms")
		// By literal name, as CDK's aws-ecs documents for alarms on the
		// service's own metrics (a Ref would make the service depend on
		// the alarm, which depends on the service).
		literal := map[string]bool{}
		for _, a := range *alarmsByID {
			literal[(*a)["Properties"].(map[string]any)["AlarmName"].(string)] = true
		}
		for _, n := range names {
			name, ok := n.(string)
			assert.True(t, ok && literal[name], "deployment alarm %v is one of the service's alarms, by literal name", n)
		}
		net, _ := json.Marshal((*svc)["Properties"].(map[string]any)["NetworkConfiguration"])
		assert.Contains(t, string(net), "PrivateSubnet")
	}

	// The chain's flags: the edge decides from the labels, email follows
	// the decision; both roll out doubling and roll back on the aggregate.
	g := verifyClean(t, st.Gray)
	g.ResourceCountIs(jsii.String("AWS::AppConfig::HostedConfigurationVersion"), jsii.Number(2))
	g.HasResourceProperties(jsii.String("AWS::AppConfig::DeploymentStrategy"), map[string]any{"GrowthType": "EXPONENTIAL", "GrowthFactor": 2})
	g.HasResourceProperties(jsii.String("AWS::AppConfig::Environment"), map[string]any{
		"Monitors": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"AlarmArn": assertions.Match_AnyValue()})}),
	})
	var contents []string
	for _, v := range *g.FindResources(jsii.String("AWS::AppConfig::HostedConfigurationVersion"), nil) {
		contents = append(contents, (*v)["Properties"].(map[string]any)["Content"].(string))
	}
	assert.Contains(t, strings.Join(contents, "\n"), `(eq $attr_safepipe_release \"android\")`, "email routes on the edge's decision")
	assert.Contains(t, strings.Join(contents, "\n"), `(eq $attr_device_lower \"android\")`, "the edge routes on the labels")

	ab := assertions.Template_FromStack(st.ABTest, nil)
	ab.HasResourceProperties(jsii.String(deploy.AliasControllerType), map[string]any{"Mode": "canary", "Percent": "10"})
	ab.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
	for _, d := range *ab.FindResources(jsii.String("AWS::CloudWatch::Dashboard"), nil) {
		body, _ := json.Marshal((*d)["Properties"])
		assert.Contains(t, string(body), "ExecutedVersion", "A and B are split by version")
		assert.Contains(t, string(body), "LiveVersion", "A is the version live when the stack deployed")
		assert.Contains(t, string(body), `A Errors`)
		assert.Contains(t, string(body), `B Errors`)
	}
}

func TestBadSettingsNameTheField(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Bad"), &awscdk.StackProps{Env: Env})
	a := rollbackAlarms(stack, "bad", alarms.PresetLambda, map[string]string{"FunctionName": "f"}, map[string]string{"FunctionName": "f", "ExecutedVersion": "1"})
	fn := handler(stack)
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"percent out of range", release.NewWeightedAlias(stack, jsii.String("W1"), &release.WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 120}).Err(),
			[]string{"WeightedAliasProps.Percent is 120; it is the candidate's share in whole percent, 0–100"}},
		{"no candidate", release.NewWeightedAlias(stack, jsii.String("W2"), &release.WeightedAliasProps{Function: fn, Percent: 10}).Err(),
			[]string{"WeightedAliasProps.Candidate is nil"}},
		{"A/B without a split", release.NewABTest(stack, jsii.String("AB"), &release.ABTestProps{Alias: release.WeightedAliasProps{Function: fn, Candidate: fn.CurrentVersion(), Percent: 100}}).Err(),
			[]string{"ABTestProps.Alias.Percent is 100"}},
		{"more than a third at a time, half a one-box tag", deploy.NewServerDeployment(stack, jsii.String("S1"), &deploy.ServerProps{OneBox: deploy.Tag{Key: "k"}, Fleet: &deploy.Tag{Key: "k", Value: "v"}, Alarms: a, MinHealthyPercent: 50}).Err(),
			[]string{"ServerProps.MinHealthyPercent is 50: it would replace 50% of the fleet", "ServerProps.OneBox needs a tag key and value"}},
		{"zonal config without monitor time", deploy.NewServerDeployment(stack, jsii.String("S2"), &deploy.ServerProps{OneBox: deploy.Tag{Key: "k", Value: "one"}, Fleet: &deploy.Tag{Key: "k", Value: "v"}, Alarms: a, ZoneMonitor: 10 * time.Second}).Err(),
			[]string{"ServerProps.ZoneMonitor is 10s"}},
		{"lambda one-box share", deploy.NewLambdaDeployment(stack, jsii.String("L1"), &deploy.LambdaProps{Function: fn, OneBoxPercent: 30, AliasName: "123"}).Err(),
			[]string{"LambdaProps.OneBoxPercent is 30; the one-box takes 1 to 10 percent", `LambdaProps.AliasName "123" is not an alias name`}},
		{"ecs replacing half the tasks, watching nothing", deploy.NewEcsRollingService(stack, jsii.String("E1"), &deploy.EcsRollingProps{Service: awsecs.FargateServiceProps{MinHealthyPercent: jsii.Number(50)}}).Err(),
			[]string{"EcsRollingProps.Service.MinHealthyPercent is 50", "EcsRollingProps.Service.Cluster is nil", "EcsRollingProps.Alarms is nil", "EcsRollingProps.Service.ServiceName is empty"}},
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

	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Percent is 120")))
	assert.NotEmpty(t, *msgs, "bad settings fail synth")
}
