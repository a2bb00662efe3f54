package release

import (
	"encoding/json"
	"github.com/safepipe/safepipe/internal/synth"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gray"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

func load(t *testing.T, path string) *gray.RuleSet {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rs, err := gray.Load(f)
	require.NoError(t, err)
	return rs
}

func TestGrayRelease(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}})
	alarm := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Aggregate"), jsii.String("search-aggregate-rollback"))
	gr := NewGrayRelease(stack, jsii.String("Search"), &GrayReleaseProps{
		Rules:  load(t, "../../examples/gray/clean.yaml"),
		Flag:   "search",
		Alarms: []awscloudwatch.IAlarm{alarm},
	})
	require.NoError(t, gr.Err())
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::AppConfig::DeploymentStrategy"), map[string]any{
		"GrowthType": "EXPONENTIAL", "GrowthFactor": 2, "DeploymentDurationInMinutes": 30, "FinalBakeTimeInMinutes": 30,
	})
	tpl.HasResourceProperties(jsii.String("AWS::AppConfig::Environment"), map[string]any{
		"Name":     "prod",
		"Monitors": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"AlarmArn": assertions.Match_AnyValue()})}),
	})
	tpl.HasResourceProperties(jsii.String("AWS::AppConfig::ConfigurationProfile"), map[string]any{"Type": "AWS.AppConfig.FeatureFlags"})
	tpl.ResourceCountIs(jsii.String("AWS::AppConfig::Deployment"), jsii.Number(1))
	versions := tpl.FindResources(jsii.String("AWS::AppConfig::HostedConfigurationVersion"), nil)
	require.Len(t, *versions, 1)
	for _, v := range *versions {
		content := (*v)["Properties"].(map[string]any)["Content"].(string)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(content), &doc))
		variants := doc["values"].(map[string]any)["search"].(map[string]any)["_variants"].([]any)
		var names []string
		for _, x := range variants {
			names = append(names, x.(map[string]any)["name"].(string))
		}
		assert.Equal(t, []string{"staff", "first-slice", "second-slice", "default"}, names, "rules in priority order, then the default")
	}
}

func TestGrayReleaseRefusesUnsafeRules(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Svc"), nil)
	gr := NewGrayRelease(stack, jsii.String("Checkout"), &GrayReleaseProps{
		Rules: load(t, "../../examples/gray/checkout.yaml"),
		Flag:  "Checkout!",
	})
	err := gr.Err()
	require.Error(t, err)
	for _, want := range []string{"Alarms is empty", `gray rule "ios-pilot-shanghai": shadowed`, "flag name"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Nil(t, gr.Configuration())
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("shadowed")))
	assert.NotEmpty(t, *msgs)
	assert.False(t, strings.Contains(err.Error(), "split-order"), "warnings do not fail synth")
}
