package alarms

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// anomalyPeriod is the datapoint length of the anomaly guard.
const anomalyPeriod = 5 * time.Minute

// serviceAlarms creates the high-severity alarms of one spec under scope
// and returns them, named, in a fixed order. The spec is valid.
func serviceAlarms(scope *rollbackAlarms, n Names, spec ServiceSpec, oneBox bool) []Child {
	prefix := n.Prefix()
	var out []Child
	base := spec.Name
	if oneBox {
		base += "-onebox"
	}
	newAlarm := func(signal string, metric awscloudwatch.IMetric, t Threshold, threshold float64, description string) {
		name := n.HighSeverity(spec.Name, oneBox, signal)
		a := awscloudwatch.NewAlarm(scope, jsii.String(base+"-"+signal), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(float64(t.EvaluationPeriods)),
			DatapointsToAlarm:  jsii.Number(float64(t.DatapointsToAlarm)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		out = append(out, Child{Alarm: a, Name: name})
	}
	for _, c := range spec.checks() {
		m, _ := spec.metric(c.source)
		desc := fmt.Sprintf("%s %s: %s above %v for %d of %d periods of %s (high severity: rolls back).",
			prefix, base, c.signal, c.threshold.Value, c.threshold.DatapointsToAlarm, c.threshold.EvaluationPeriods, c.threshold.Period)
		if c.percent {
			req, _ := spec.metric(SignalRequests)
			expr := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
				Expression: jsii.String("IF(requests > 0, 100 * faults / requests, 0)"),
				UsingMetrics: &map[string]awscloudwatch.IMetric{
					"faults":   spec.cwMetric(m, SignalFaults, "Sum", scope.seconds(c.threshold.Period)),
					"requests": spec.cwMetric(req, SignalRequests, "Sum", scope.seconds(c.threshold.Period)),
				},
				Label:  jsii.String("fault rate (%)"),
				Period: scope.seconds(c.threshold.Period),
			})
			newAlarm(c.signal, expr, c.threshold, c.threshold.Value, desc)
			continue
		}
		value := c.threshold.Value
		if c.source == SignalLatency && m.Scale != 0 {
			value *= m.Scale
		}
		newAlarm(c.signal, spec.cwMetric(m, c.source, c.statistic, scope.seconds(c.threshold.Period)), c.threshold, value, desc)
	}
	if l := spec.LogErrors; l != nil {
		t := l.Threshold.withDefaults()
		pattern := l.Pattern
		if pattern == "" {
			pattern = DefaultLogPattern
		}
		group := awslogs.LogGroup_FromLogGroupName(scope, jsii.String(base+"-log-group"), jsii.String(l.LogGroupName))
		filter := awslogs.NewMetricFilter(scope, jsii.String(base+"-log-errors-filter"), &awslogs.MetricFilterProps{
			LogGroup:        group,
			FilterPattern:   awslogs.FilterPattern_Literal(jsii.String(pattern)),
			MetricNamespace: jsii.String(n.MetricNamespace()),
			MetricName:      jsii.String(n.metricName(base + "-log-errors")),
			MetricValue:     jsii.String("1"),
			DefaultValue:    jsii.Number(0),
		})
		metric := filter.Metric(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: scope.seconds(t.Period)})
		newAlarm("log-errors", metric, t, t.Value, fmt.Sprintf("%s %s: more than %v log lines matching %q per %s.", prefix, base, t.Value, pattern, t.Period))
	}
	if a := spec.Anomaly; a != nil {
		out = append(out, anomalyAlarms(scope, n, base, spec, oneBox, *a)...)
	}
	return out
}

// anomalyAlarms creates the anomaly guard: traffic falling to (near) zero,
// and latency p99 and faults above their learned band.
func anomalyAlarms(scope *rollbackAlarms, n Names, base string, spec ServiceSpec, oneBox bool, a AnomalyGuard) []Child {
	prefix := n.Prefix()
	var out []Child
	std := a.StdDevs
	if std == 0 {
		std = DefaultStdDevs
	}
	req, _ := spec.metric(SignalRequests)
	lowName := n.HighSeverity(spec.Name, oneBox, "requests-low")
	low := awscloudwatch.NewAlarm(scope, jsii.String(base+"-requests-low"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(lowName),
		AlarmDescription:   jsii.String(fmt.Sprintf("%s %s: fewer than %v requests per 5 minutes (no data counts as none).", prefix, base, a.MinRequests)),
		Metric:             spec.cwMetric(req, SignalRequests, "Sum", scope.seconds(anomalyPeriod)),
		Threshold:          jsii.Number(a.MinRequests),
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(3),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	out = append(out, Child{Alarm: low, Name: lowName})
	for _, sc := range []struct {
		signal Signal
		stat   string
		suffix string
	}{{SignalLatency, "p99", "latency-anomaly"}, {SignalFaults, "Sum", "faults-anomaly"}} {
		m, ok := spec.metric(sc.signal)
		if !ok {
			continue
		}
		name := n.HighSeverity(spec.Name, oneBox, sc.suffix)
		al := awscloudwatch.NewAnomalyDetectionAlarm(scope, jsii.String(base+"-"+sc.suffix), &awscloudwatch.AnomalyDetectionAlarmProps{
			AlarmName:          jsii.String(name),
			AlarmDescription:   jsii.String(fmt.Sprintf("%s %s: %s %s above its anomaly band (%v standard deviations).", prefix, base, sc.signal, sc.stat, std)),
			Metric:             spec.cwMetric(m, sc.signal, sc.stat, scope.seconds(anomalyPeriod)),
			StdDevs:            jsii.Number(std),
			EvaluationPeriods:  jsii.Number(3),
			DatapointsToAlarm:  jsii.Number(2),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_UPPER_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		out = append(out, Child{Alarm: al, Name: name})
	}
	return out
}

// cwMetric renders a metric with the spec's dimensions, the metric's own
// dimensions, and a statistic (the metric's, when it sets one, for count
// and utilisation signals), over period.
func (s ServiceSpec) cwMetric(m Metric, sig Signal, stat string, period awscdk.Duration) awscloudwatch.Metric {
	if m.Statistic != "" && sig != SignalLatency {
		stat = m.Statistic
	}
	dims := map[string]*string{}
	for _, d := range []map[string]string{s.Dimensions, m.Dimensions} {
		for k, v := range d {
			dims[k] = jsii.String(v)
		}
	}
	props := &awscloudwatch.MetricProps{
		Namespace:  jsii.String(m.Namespace),
		MetricName: jsii.String(m.Name),
		Statistic:  jsii.String(stat),
		Period:     period,
	}
	if len(dims) > 0 {
		props.DimensionsMap = &dims
	}
	return awscloudwatch.NewMetric(props)
}
