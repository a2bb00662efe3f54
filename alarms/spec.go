package alarms

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Signal is a kind of health measurement a high-severity alarm watches.
type Signal string

// The signals a ServiceSpec can alarm on.
const (
	// SignalRequests counts requests: the denominator of the fault rate and
	// the traffic of the anomaly guard and the minimum-traffic check.
	SignalRequests Signal = "requests"
	// SignalFaults counts failed requests (5xx, function errors).
	SignalFaults Signal = "faults"
	// SignalLatency is the request latency; alarms use p50, p90 and p99.
	SignalLatency Signal = "latency"
	// SignalCPU is CPU utilisation in percent.
	SignalCPU Signal = "cpu"
	// SignalMemory is memory utilisation in percent.
	SignalMemory Signal = "memory"
	// SignalDisk is disk utilisation in percent.
	SignalDisk Signal = "disk"
	// SignalUnhealthyHosts counts hosts failing their health check.
	SignalUnhealthyHosts Signal = "unhealthy-hosts"
)

// Metric says where a signal comes from in CloudWatch.
type Metric struct {
	// Namespace is the CloudWatch namespace, e.g. "AWS/Lambda". Required.
	Namespace string
	// Name is the metric name, e.g. "Errors". Required.
	Name string
	// Statistic is used for count and utilisation signals; latency alarms
	// use p50/p90/p99. Default: "Sum" for requests and faults, "Average"
	// for utilisation, "Maximum" for unhealthy hosts.
	Statistic string
	// Scale converts the threshold's unit into the metric's: latency
	// thresholds are in milliseconds, so a metric in seconds has Scale
	// 0.001. Default: 1.
	Scale float64
	// Dimensions are added to the spec's dimensions for this metric only.
	// Default: none.
	Dimensions map[string]string
}

// Preset is a named set of metrics for a kind of service.
type Preset struct {
	// Name identifies the preset in error messages.
	Name string
	// Metrics maps the signals the preset knows to their metrics.
	Metrics map[Signal]Metric
}

// Presets for common AWS services. Dimensions (the function, API, load
// balancer, cluster and service) come from ServiceSpec.Dimensions.
var (
	// PresetLambda reads AWS/Lambda (FunctionName, Resource for an alias,
	// ExecutedVersion for a version behind an alias).
	PresetLambda = Preset{Name: "lambda", Metrics: map[Signal]Metric{
		SignalRequests: {Namespace: "AWS/Lambda", Name: "Invocations"},
		SignalFaults:   {Namespace: "AWS/Lambda", Name: "Errors"},
		SignalLatency:  {Namespace: "AWS/Lambda", Name: "Duration"},
	}}
	// PresetAPIGateway reads AWS/ApiGateway (ApiName, Stage).
	PresetAPIGateway = Preset{Name: "apigateway", Metrics: map[Signal]Metric{
		SignalRequests: {Namespace: "AWS/ApiGateway", Name: "Count"},
		SignalFaults:   {Namespace: "AWS/ApiGateway", Name: "5XXError"},
		SignalLatency:  {Namespace: "AWS/ApiGateway", Name: "Latency"},
	}}
	// PresetALB reads AWS/ApplicationELB (LoadBalancer, TargetGroup);
	// TargetResponseTime is in seconds. Faults are the targets' 5xx; the
	// load balancer's own 5xx (HTTPCode_ELB_5XX_Count, e.g. 502/503 when
	// targets crash) need a second spec with Metrics[SignalFaults] set to
	// it.
	PresetALB = Preset{Name: "alb", Metrics: map[Signal]Metric{
		SignalRequests:       {Namespace: "AWS/ApplicationELB", Name: "RequestCount"},
		SignalFaults:         {Namespace: "AWS/ApplicationELB", Name: "HTTPCode_Target_5XX_Count"},
		SignalLatency:        {Namespace: "AWS/ApplicationELB", Name: "TargetResponseTime", Scale: 0.001},
		SignalUnhealthyHosts: {Namespace: "AWS/ApplicationELB", Name: "UnHealthyHostCount"},
	}}
	// PresetEC2 reads AWS/EC2 (AutoScalingGroupName): CPU, and the
	// number of instances failing their status checks as unhealthy hosts.
	// Memory and disk need the CloudWatch agent; set Metrics for them.
	PresetEC2 = Preset{Name: "ec2", Metrics: map[Signal]Metric{
		SignalCPU:            {Namespace: "AWS/EC2", Name: "CPUUtilization"},
		SignalUnhealthyHosts: {Namespace: "AWS/EC2", Name: "StatusCheckFailed", Statistic: "Sum"},
	}}
	// PresetECS reads AWS/ECS (ClusterName, ServiceName). ECS publishes no
	// disk utilisation in percent; set Metrics[SignalDisk] to a metric of
	// your own for Disk.
	PresetECS = Preset{Name: "ecs", Metrics: map[Signal]Metric{
		SignalCPU:    {Namespace: "AWS/ECS", Name: "CPUUtilization"},
		SignalMemory: {Namespace: "AWS/ECS", Name: "MemoryUtilization"},
	}}
)

// Threshold is when a high-severity alarm fires: DatapointsToAlarm of the
// last EvaluationPeriods periods breach Value.
type Threshold struct {
	// Value is in the signal's unit: percent for fault rate and
	// utilisation, milliseconds for latency, a count for unhealthy hosts
	// and log errors. Required, > 0.
	Value float64
	// Period is the length of one datapoint. Default: 1 minute.
	Period time.Duration
	// EvaluationPeriods is how many recent periods are considered.
	// Default: 5.
	EvaluationPeriods int
	// DatapointsToAlarm is how many of them must breach. Default: 3.
	DatapointsToAlarm int
}

// LogErrors alarms on error lines in a log group, through a metric filter.
type LogErrors struct {
	// LogGroupName is the log group to filter. Required.
	LogGroupName string
	// Pattern is the CloudWatch Logs filter pattern of an error line.
	// Default: "ERROR".
	Pattern string
	// Threshold is the number of error lines per period. Required.
	Threshold Threshold
}

// AnomalyGuard catches what fixed thresholds miss: requests falling to
// (near) zero, and latency or faults far above the band CloudWatch anomaly
// detection learned for the metric.
type AnomalyGuard struct {
	// MinRequests is the request count per 5 minutes below which traffic
	// has "fallen to zero"; no data counts as zero. Required, > 0.
	MinRequests float64
	// StdDevs is the width of the anomaly band. Default: 3.
	StdDevs float64
}

// ServiceSpec declares one microservice's high-severity alarms. Every
// alarm is optional; each one set becomes a CloudWatch alarm named
// HighSeverityName(team, Name, …, signal), ORed into the aggregate.
type ServiceSpec struct {
	// Name is the microservice, part of every alarm name. Required.
	Name string
	// Preset supplies the metrics. Default: none; then every signal used
	// must be in Metrics.
	Preset Preset
	// Metrics override or add to the preset's metrics. Default: none.
	Metrics map[Signal]Metric
	// Dimensions select the service's metrics, e.g. FunctionName.
	// Default: none (the metric's account-wide aggregate).
	Dimensions map[string]string
	// FaultRate alarms on faults / requests, in percent. Default: none.
	FaultRate *Threshold
	// LatencyP50, LatencyP90 and LatencyP99 alarm on latency percentiles,
	// in milliseconds. Default: none.
	LatencyP50, LatencyP90, LatencyP99 *Threshold
	// CPU, Memory and Disk alarm on utilisation, in percent. Default: none.
	CPU, Memory, Disk *Threshold
	// UnhealthyHosts alarms on hosts failing health checks. Default: none.
	UnhealthyHosts *Threshold
	// LogErrors alarms on error lines in the service's logs. Default: none.
	LogErrors *LogErrors
	// Anomaly adds the anomaly guard. Default: none.
	Anomaly *AnomalyGuard
}

// Defaults of a Threshold.
const (
	DefaultPeriod            = time.Minute
	DefaultEvaluationPeriods = 5
	DefaultDatapointsToAlarm = 3
	DefaultStdDevs           = 3
	DefaultLogPattern        = "ERROR"
)

// check is one alarm a spec asks for, resolved against its metrics.
type check struct {
	signal    string // the alarm name's suffix
	source    Signal
	threshold Threshold
	statistic string
	percent   bool // fault rate: faults / requests
}

// metric returns the metric of a signal: the spec's override, then the
// preset's.
func (s ServiceSpec) metric(sig Signal) (Metric, bool) {
	if m, ok := s.Metrics[sig]; ok {
		return m, true
	}
	m, ok := s.Preset.Metrics[sig]
	return m, ok
}

// withDefaults returns t with its defaults applied.
func (t Threshold) withDefaults() Threshold {
	if t.Period == 0 {
		t.Period = DefaultPeriod
	}
	if t.EvaluationPeriods == 0 {
		t.EvaluationPeriods = DefaultEvaluationPeriods
	}
	if t.DatapointsToAlarm == 0 {
		t.DatapointsToAlarm = min(DefaultDatapointsToAlarm, t.EvaluationPeriods)
	}
	return t
}

func (t Threshold) validate(field string) error {
	var errs []error
	if !(t.Value > 0) || math.IsInf(t.Value, 0) {
		errs = append(errs, fmt.Errorf("%s.Value is %v; it must be a positive number", field, t.Value))
	}
	t = t.withDefaults()
	if t.Period < 10*time.Second || (t.Period > time.Minute && t.Period%time.Minute != 0) || (t.Period < time.Minute && t.Period%(10*time.Second) != 0) {
		errs = append(errs, fmt.Errorf("%s.Period is %s; CloudWatch takes 10s, 20s, 30s or a multiple of 1m", field, t.Period))
	}
	if t.EvaluationPeriods < 1 {
		errs = append(errs, fmt.Errorf("%s.EvaluationPeriods is %d; it must be at least 1", field, t.EvaluationPeriods))
	}
	if t.DatapointsToAlarm < 1 || t.DatapointsToAlarm > t.EvaluationPeriods {
		errs = append(errs, fmt.Errorf("%s.DatapointsToAlarm is %d; it must be between 1 and EvaluationPeriods (%d)", field, t.DatapointsToAlarm, t.EvaluationPeriods))
	}
	// CloudWatch evaluates at most 1 day of datapoints, or 7 days for
	// periods of an hour or more.
	limit := 24 * time.Hour
	if t.Period >= time.Hour {
		limit = 7 * 24 * time.Hour
	}
	if w := time.Duration(t.EvaluationPeriods) * t.Period; w > limit {
		errs = append(errs, fmt.Errorf("%s: EvaluationPeriods × Period is %s, over CloudWatch's %s", field, w, limit))
	}
	return errors.Join(errs...)
}

// checks lists the alarms the spec asks for, in a fixed order.
func (s ServiceSpec) checks() []check {
	var out []check
	add := func(name string, src Signal, t *Threshold, stat string, percent bool) {
		if t != nil {
			out = append(out, check{signal: name, source: src, threshold: t.withDefaults(), statistic: stat, percent: percent})
		}
	}
	add("fault-rate", SignalFaults, s.FaultRate, "Sum", true)
	add("latency-p50", SignalLatency, s.LatencyP50, "p50", false)
	add("latency-p90", SignalLatency, s.LatencyP90, "p90", false)
	add("latency-p99", SignalLatency, s.LatencyP99, "p99", false)
	add("cpu", SignalCPU, s.CPU, "Average", false)
	add("memory", SignalMemory, s.Memory, "Average", false)
	add("disk", SignalDisk, s.Disk, "Average", false)
	add("unhealthy-hosts", SignalUnhealthyHosts, s.UnhealthyHosts, "Maximum", false)
	return out
}

// Validate reports every problem of the spec at once, each naming the
// service and the field.
func (s ServiceSpec) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("alarms: service %q: %w", s.Name, err))
		}
	}
	add(checkName("Name", s.Name))
	for _, c := range s.checks() {
		field := fieldOf(c.signal)
		add(c.threshold.validate(field))
		if _, ok := s.metric(c.source); !ok {
			add(fmt.Errorf("%s is set but preset %q has no %q metric; add Metrics[%q]", field, s.Preset.Name, c.source, c.source))
		}
		if c.percent {
			if _, ok := s.metric(SignalRequests); !ok {
				add(fmt.Errorf("%s needs a %q metric; preset %q has none; add Metrics[%q]", field, SignalRequests, s.Preset.Name, SignalRequests))
			}
		}
	}
	for _, sig := range slices.Sorted(maps.Keys(s.Metrics)) {
		m := s.Metrics[sig]
		if m.Namespace == "" || m.Name == "" {
			add(fmt.Errorf("Metrics[%q] needs both Namespace and Name (got %q, %q)", sig, m.Namespace, m.Name))
		}
		if m.Scale < 0 {
			add(fmt.Errorf("Metrics[%q].Scale is %v; it must not be negative", sig, m.Scale))
		}
	}
	if l := s.LogErrors; l != nil {
		if l.LogGroupName == "" {
			add(errors.New("LogErrors.LogGroupName is empty"))
		}
		add(l.Threshold.validate("LogErrors.Threshold"))
	}
	if a := s.Anomaly; a != nil {
		if !(a.MinRequests > 0) {
			add(fmt.Errorf("Anomaly.MinRequests is %v; it must be positive", a.MinRequests))
		}
		if a.StdDevs < 0 {
			add(fmt.Errorf("Anomaly.StdDevs is %v; it must not be negative", a.StdDevs))
		}
		if _, ok := s.metric(SignalRequests); !ok {
			add(fmt.Errorf("Anomaly needs a %q metric; preset %q has none", SignalRequests, s.Preset.Name))
		}
	}
	if len(s.checks()) == 0 && s.LogErrors == nil && s.Anomaly == nil {
		add(errors.New("declares no alarm: set at least one of FaultRate, LatencyP50/P90/P99, CPU, Memory, Disk, UnhealthyHosts, LogErrors, Anomaly"))
	}
	return errors.Join(errs...)
}

func fieldOf(signal string) string {
	return map[string]string{
		"fault-rate": "FaultRate", "latency-p50": "LatencyP50", "latency-p90": "LatencyP90",
		"latency-p99": "LatencyP99", "cpu": "CPU", "memory": "Memory", "disk": "Disk",
		"unhealthy-hosts": "UnhealthyHosts",
	}[signal]
}
