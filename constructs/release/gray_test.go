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
	"github.com/safepipe/safepipe/internal/iameval"
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
	checkMonitorRoles(t, tpl)
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

func loadReleases(t *testing.T, paths ...string) *gray.ReleaseSet {
	t.Helper()
	var sets []*gray.ReleaseSet
	for _, path := range paths {
		f, err := os.Open(path)
		require.NoError(t, err)
		_, rs, err := gray.LoadFile(f, path)
		f.Close()
		require.NoError(t, err)
		sets = append(sets, rs)
	}
	all, err := gray.Merge(sets...)
	require.NoError(t, err)
	return all
}

// Each service's flag is its part of the chain: it routes on the edge's
// decision (gray.ReleaseAttribute), so every service puts a request in the
// same release; the edge's flag holds the releases' own conditions.
func TestGrayReleaseOfAChain(t *testing.T) {
	chain := &gray.ReleaseSet{Releases: []gray.Release{
		{Name: "android", Priority: 10, Match: gray.Match{Attribute: &gray.Attribute{Name: "device", In: []string{"Android"}}},
			Services: map[string]string{"order": "order-v1.1", "email": "email-v2.1"}},
		{Name: "atlantis", Priority: 20, Match: gray.Match{Attribute: &gray.Attribute{Name: "city", In: []string{"Atlantis"}}},
			Services: map[string]string{"email": "email-v2.2", "sms": "sms-v3"}},
	}}
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Email"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}})
	alarm := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Aggregate"), jsii.String("email-aggregate-rollback"))
	email := NewGrayRelease(stack, jsii.String("Email"), &GrayReleaseProps{Releases: chain, Service: "email", Flag: "email", Alarms: []awscloudwatch.IAlarm{alarm}})
	require.NoError(t, email.Err())
	edge := NewGrayRelease(stack, jsii.String("Edge"), &GrayReleaseProps{Releases: chain, Flag: "edge", Alarms: []awscloudwatch.IAlarm{alarm}})
	require.NoError(t, edge.Err())

	tpl := assertions.Template_FromStack(stack, nil)
	got := map[string][]string{} // flag → "name:variant:rule"
	for _, v := range *tpl.FindResources(jsii.String("AWS::AppConfig::HostedConfigurationVersion"), nil) {
		var doc struct {
			Values map[string]struct {
				Variants []struct{ Name, Variant, Rule string } `json:"_variants"`
			} `json:"values"`
		}
		require.NoError(t, json.Unmarshal([]byte((*v)["Properties"].(map[string]any)["Content"].(string)), &doc))
		for flag, val := range doc.Values {
			for _, x := range val.Variants {
				got[flag] = append(got[flag], x.Name+":"+x.Variant+":"+x.Rule)
			}
		}
	}
	assert.Equal(t, []string{
		`android:email-v2.1:(eq $attr_safepipe_release "android")`,
		`atlantis:email-v2.2:(eq $attr_safepipe_release "atlantis")`,
		"default:stable:",
	}, got["email"])
	assert.Equal(t, []string{
		`android:android:(eq $attr_device_lower "android")`,
		`atlantis:atlantis:(eq $attr_city_lower "atlantis")`,
		"default:stable:",
	}, got["edge"])

	for _, tc := range []struct {
		name  string
		props GrayReleaseProps
		want  []string
	}{
		{"a shared downstream canary", GrayReleaseProps{Releases: loadReleases(t, "../../examples/gray/shared-downstream.yaml"), Service: "ledger"},
			[]string{`gray release "android": shared-canary: service ledger's canary z-prime serves 2 releases`}},
		{"a service no release names", GrayReleaseProps{Releases: chain, Service: "billing"},
			[]string{`GrayReleaseProps.Service "billing": no release names the service (releases name email, order, sms)`}},
		{"rules and releases", GrayReleaseProps{Releases: chain, Rules: load(t, "../../examples/gray/clean.yaml")},
			[]string{"set Rules or Releases, not both"}},
		{"a service without releases", GrayReleaseProps{Rules: load(t, "../../examples/gray/clean.yaml"), Service: "email"},
			[]string{`GrayReleaseProps.Service is "email" but Releases is nil`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.props
			p.Flag, p.Alarms = "f", []awscloudwatch.IAlarm{alarm}
			err := NewGrayRelease(stack, jsii.String("Bad"+strings.ReplaceAll(tc.name, " ", "")), &p).Err()
			require.Error(t, err)
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

// checkMonitorRoles: AppConfig reads each monitor's alarm with the role the
// monitor names — "AWS AppConfig requires this role so that it can monitor
// CloudWatch alarms" (setting-up-appconfig.html) — which must trust
// appconfig.amazonaws.com and may call cloudwatch:DescribeAlarms on "*"
// (the aggregate is a composite: API_DescribeAlarms returns composites
// only to a permission scoped to *). Evaluated with iameval.
func checkMonitorRoles(t *testing.T, tpl assertions.Template) {
	t.Helper()
	b, err := json.Marshal(tpl.ToJSON())
	require.NoError(t, err)
	var doc iameval.Template
	require.NoError(t, json.Unmarshal(b, &doc))
	env := iameval.Env{Partition: "aws", Account: "333333333333", Region: "eu-west-1"}
	monitors := 0
	for _, r := range doc.Resources {
		if r.Type != "AWS::AppConfig::Environment" {
			continue
		}
		ms, _ := r.Properties["Monitors"].([]any)
		for _, m := range ms {
			ref, ok := m.(map[string]any)["AlarmRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)
			require.True(t, ok, "every monitor names a role of the stack: %v", m)
			role := ref[0].(string)
			trust, _ := json.Marshal(doc.Resources[role].Properties["AssumeRolePolicyDocument"])
			assert.Contains(t, string(trust), `"Service":"appconfig.amazonaws.com"`, "%s is assumed by AppConfig", role)
			stmts, err := doc.RoleStatements(role, env)
			require.NoError(t, err)
			ok, why := iameval.Allowed(stmts, iameval.Call{Action: "cloudwatch:DescribeAlarms", Resource: "*"})
			assert.True(t, ok, "AppConfig reads the monitor's alarm with %s: %s", role, why)
			monitors++
		}
	}
	assert.Positive(t, monitors)
}
