package alarms

import (
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"
	"regexp"
	"sort"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

func newStack() awscdk.Stack {
	app := awscdk.NewApp(nil)
	return awscdk.NewStack(app, jsii.String("Svc"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")},
	})
}

// refs returns the logical IDs an alarm rule (a Fn::Join of ALARM("<arn>")
// terms) refers to.
func refs(rule any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ga, ok := x["Fn::GetAtt"].([]any); ok {
				out = append(out, ga[0].(string))
				return
			}
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(rule)
	sort.Strings(out)
	return out
}

// TestAggregateNamesEveryHighSeverityAlarm builds a team with more alarms
// than one composite may hold and checks that the aggregate, through its
// parts, ORs every high-severity alarm exactly once, within the limits.
func TestAggregateNamesEveryHighSeverityAlarm(t *testing.T) {
	stack := newStack()
	var services []ServiceSpec
	for i := range 25 { // 25 × 6 = 150 high-severity alarms
		services = append(services, ServiceSpec{
			Name: fmt.Sprintf("svc-%02d", i), Preset: PresetALB,
			Dimensions: map[string]string{"LoadBalancer": fmt.Sprintf("app/lb-%d/0123", i)},
			FaultRate:  &Threshold{Value: 1}, LatencyP50: &Threshold{Value: 100}, LatencyP90: &Threshold{Value: 300},
			LatencyP99: &Threshold{Value: 1000}, UnhealthyHosts: &Threshold{Value: 1},
			LogErrors: &LogErrors{LogGroupName: fmt.Sprintf("/svc/%d", i), Threshold: Threshold{Value: 10}},
		})
	}
	ra := NewRollbackAlarms(stack, jsii.String("Alarms"), &RollbackAlarmsProps{Names: shop, Services: services})
	require.NoError(t, ra.Err())
	require.Len(t, ra.HighSeverity(), 150)
	assert.Nil(t, ra.OneBox())

	tpl := assertions.Template_FromStack(stack, nil)
	metricAlarms := map[string]string{} // logical ID → name
	for id, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil) {
		metricAlarms[id] = (*r)["Properties"].(map[string]any)["AlarmName"].(string)
	}
	composites := map[string]map[string]any{} // name → properties
	idOf := map[string]string{}
	for id, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil) {
		p := (*r)["Properties"].(map[string]any)
		composites[p["AlarmName"].(string)] = p
		idOf[id] = p["AlarmName"].(string)
	}
	top := composites[shop.Aggregate()]
	require.NotNil(t, top, "the aggregate keeps its documented name when split")
	var covered []string
	for _, id := range refs(top["AlarmRule"]) {
		part, ok := idOf[id]
		require.True(t, ok, "the split aggregate ORs its parts")
		assert.Regexp(t, regexp.MustCompile(`^shop-prod-aggregate-rollback-part-\d+$`), part)
		children := refs(composites[part]["AlarmRule"])
		assert.LessOrEqual(t, len(children), MaxCompositeChildren)
		for _, c := range children {
			covered = append(covered, metricAlarms[c])
		}
	}
	want := ra.HighSeverity()
	sort.Strings(want)
	sort.Strings(covered)
	assert.Equal(t, want, covered, "every high-severity alarm is ORed exactly once")
	assert.Contains(t, composites, shop.Bake(false))
}

var (
	shop   = Names{Team: "shop", Environment: "prod"}
	orders = Names{Team: "orders", Environment: "prod"}
)

func TestOneBoxAndTraffic(t *testing.T) {
	stack := newStack()
	api := ServiceSpec{Name: "api", Preset: PresetLambda, Dimensions: map[string]string{"FunctionName": "fn"}, FaultRate: &Threshold{Value: 1}, Anomaly: &AnomalyGuard{MinRequests: 5}}
	one := api
	one.Dimensions = map[string]string{"FunctionName": "fn", "ExecutedVersion": "7"}
	one.Anomaly = nil
	traffic := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("Invocations")})
	ra := NewRollbackAlarms(stack, jsii.String("Alarms"), &RollbackAlarmsProps{
		Names: orders, Services: []ServiceSpec{api},
		Traffic: &Traffic{Metric: traffic, MinRequests: 100, Window: 0},
		OneBox:  &OneBox{Services: []ServiceSpec{one}, Traffic: &Traffic{Metric: traffic, MinRequests: 10, Window: 90 * 60e9}},
	})
	require.NoError(t, ra.Err())
	require.NotNil(t, ra.OneBox())
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmName": "orders-prod-low-traffic", "ComparisonOperator": "LessThanThreshold", "Threshold": 100,
		"Period": 3600, "Statistic": "Sum", "TreatMissingData": "breaching",
	})
	tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmName": "orders-prod-onebox-low-traffic", "Threshold": 10, "Period": 5400,
	})
	tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmName":  "orders-prod-api-onebox-fault-rate",
		"Metrics":    assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Id": "faults", "MetricStat": assertions.Match_ObjectLike(&map[string]any{"Metric": assertions.Match_ObjectLike(&map[string]any{"Dimensions": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "ExecutedVersion", "Value": "7"}})})})})}),
		"Threshold":  1,
		"Statistic":  assertions.Match_Absent(),
		"MetricName": assertions.Match_Absent(),
	})
	tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"AlarmName": "orders-prod-api-latency-anomaly", "ComparisonOperator": "GreaterThanUpperThreshold",
	})
	for _, name := range []string{orders.Aggregate(), orders.OneBox(), orders.Bake(false), orders.Bake(true)} {
		tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::CompositeAlarm"), map[string]any{"AlarmName": name})
	}
	// The one-box alarm ORs the aggregate: a region-wide regression stops
	// the one-box too.
	var aggregateID string
	for id, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil) {
		if (*r)["Properties"].(map[string]any)["AlarmName"] == orders.Aggregate() {
			aggregateID = id
		}
	}
	for _, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil) {
		p := (*r)["Properties"].(map[string]any)
		if p["AlarmName"] == orders.OneBox() {
			assert.Contains(t, refs(p["AlarmRule"]), aggregateID)
		}
	}
}

func TestInvalidPropsAreReportedNotPanicked(t *testing.T) {
	stack := newStack()
	ra := NewRollbackAlarms(stack, jsii.String("Alarms"), &RollbackAlarmsProps{
		Names:    Names{Team: "Bad Team", Environment: "prod"},
		Services: []ServiceSpec{{Name: "api", Preset: PresetLambda}, {Name: "api", Preset: PresetLambda, FaultRate: &Threshold{Value: 1}}},
		Traffic:  &Traffic{},
	})
	err := ra.Err()
	require.Error(t, err)
	for _, want := range []string{`Names.Team "Bad Team"`, `two Services are named "api"`, "declares no alarm", "Traffic.Metric is nil", "Traffic.MinRequests is 0"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Nil(t, ra.Aggregate())
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("Bad Team")))
	assert.NotEmpty(t, *msgs, "the problem is a synth error too")
}

// TestPersistentOneBoxJoinsTheAggregate: an EC2 one-box (a group that
// stays in the fleet after its step) serves the region's traffic from then
// on, so its high-severity alarms are the region's: the aggregate ORs them
// (and the one-box alarm still ORs the aggregate). A one-box that ends with
// its deployment (a Lambda version) stays out of the aggregate.
func TestPersistentOneBoxJoinsTheAggregate(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		stack := newStack()
		hosts := func(group string) ServiceSpec {
			return ServiceSpec{Name: "hosts", Preset: PresetEC2, Dimensions: map[string]string{"AutoScalingGroupName": group}, CPU: &Threshold{Value: 90}, UnhealthyHosts: &Threshold{Value: 1}}
		}
		ra := NewRollbackAlarms(stack, jsii.String("Alarms"), &RollbackAlarmsProps{
			Names: shop, Services: []ServiceSpec{hosts("fleet")},
			OneBox: &OneBox{Services: []ServiceSpec{hosts("onebox")}, Persistent: persistent},
		})
		require.NoError(t, ra.Err())
		tpl := assertions.Template_FromStack(stack, nil)
		names := map[string]string{} // logical ID → name
		for id, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::Alarm"), nil) {
			names[id] = (*r)["Properties"].(map[string]any)["AlarmName"].(string)
		}
		var aggregate []string
		for _, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil) {
			p := (*r)["Properties"].(map[string]any)
			if p["AlarmName"] == shop.Aggregate() {
				for _, id := range refs(p["AlarmRule"]) {
					aggregate = append(aggregate, names[id])
				}
			}
		}
		sort.Strings(aggregate)
		want := []string{"shop-prod-hosts-cpu", "shop-prod-hosts-unhealthy-hosts"}
		if persistent {
			want = []string{"shop-prod-hosts-cpu", "shop-prod-hosts-onebox-cpu", "shop-prod-hosts-onebox-unhealthy-hosts", "shop-prod-hosts-unhealthy-hosts"}
		}
		assert.Equal(t, want, aggregate, "persistent %v", persistent)
		high := ra.HighSeverity()
		sort.Strings(high)
		assert.Equal(t, want, high, "HighSeverity names what the aggregate ORs")
	}
}

// TestChildRuleIsFromAlarm: a child alarm is ORed by the rule
// AlarmRule.fromAlarm(child, ALARM) renders, whatever kind of alarm it is:
// a metric alarm, an anomaly alarm and a composite of aws-cdk-lib's, and an
// alarm imported by name or by ARN, each an AlarmBase passed as its own
// rule. (Any other IAlarm goes through fromAlarm itself; jsii's Go runtime
// takes no partial Go implementation of IAlarm to test it with.) The
// reference composite is built beside it with
// AlarmRule.anyOf(fromAlarm(…)…).
func TestChildRuleIsFromAlarm(t *testing.T) {
	stack := newStack()
	metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("Errors")})
	plain := awscloudwatch.NewAlarm(stack, jsii.String("Plain"), &awscloudwatch.AlarmProps{
		AlarmName: jsii.String("plain"), Metric: metric, Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
	})
	anomaly := awscloudwatch.NewAnomalyDetectionAlarm(stack, jsii.String("Anomaly"), &awscloudwatch.AnomalyDetectionAlarmProps{
		AlarmName: jsii.String("anomaly"), Metric: metric, EvaluationPeriods: jsii.Number(1),
	})
	nested := awscloudwatch.NewCompositeAlarm(stack, jsii.String("Nested"), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String("nested"), AlarmRule: awscloudwatch.AlarmRule_FromAlarm(plain, awscloudwatch.AlarmState_ALARM),
	})
	byName := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("ByName"), jsii.String("elsewhere"))
	byArn := awscloudwatch.Alarm_FromAlarmArn(stack, jsii.String("ByArn"), jsii.String("arn:aws:cloudwatch:eu-west-1:333333333333:alarm:other"))
	children := []awscloudwatch.IAlarm{plain, anomaly, nested, byName, byArn}

	rules := make([]awscloudwatch.IAlarmRule, len(children))
	cs := make([]Child, len(children))
	for i, c := range children {
		rules[i] = awscloudwatch.AlarmRule_FromAlarm(c, awscloudwatch.AlarmState_ALARM)
		cs[i] = Child{Alarm: c}
	}
	for i, c := range children {
		_, ok := c.(awscloudwatch.AlarmBase)
		assert.True(t, ok, "child %d is passed as its own rule", i)
	}
	awscloudwatch.NewCompositeAlarm(stack, jsii.String("Reference"), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String("reference"), AlarmRule: awscloudwatch.AlarmRule_AnyOf(rules...),
	})
	agg := NewAggregateAlarm(stack, jsii.String("Agg"), &AggregateAlarmProps{Name: "agg", Children: cs})
	require.NoError(t, agg.Err())

	tpl := assertions.Template_FromStack(stack, nil)
	byAlarmName := map[string]any{}
	for _, r := range *tpl.FindResources(jsii.String("AWS::CloudWatch::CompositeAlarm"), nil) {
		p := (*r)["Properties"].(map[string]any)
		byAlarmName[p["AlarmName"].(string)] = p["AlarmRule"]
	}
	require.NotNil(t, byAlarmName["reference"])
	assert.Equal(t, byAlarmName["reference"], byAlarmName["agg"])
	assert.Len(t, refs(byAlarmName["agg"]), 3, "the alarms of this stack are referenced by Fn::GetAtt")
}
