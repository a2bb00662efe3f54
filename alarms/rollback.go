package alarms

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/internal/synth"
)

// Traffic is the minimum traffic a region (or its one-box) must serve
// before the pipeline promotes the change: fewer than MinRequests in the
// trailing Window puts the bake alarm in ALARM, so too little traffic fails
// promotion instead of passing silently.
//
// The bake watches the alarm from the moment the stage deploys, so the
// metric must count traffic that exists then: requests to the region or
// alias, not to the new version (a version-scoped count is zero when the
// bake starts and would fail every bake).
type Traffic struct {
	// Metric counts requests (its statistic and period are replaced by Sum
	// over Window). Required.
	Metric awscloudwatch.Metric
	// MinRequests is the least traffic that proves anything, e.g. the
	// plan's Stage.MinDatapoints. Required, > 0.
	MinRequests float64
	// Window is the trailing window, normally the bake time; it is clamped
	// to CloudWatch's 1 minute … 1 day. Default: 1 hour.
	Window time.Duration
}

// OneBox declares the one-box alarms: the same kinds of alarms, on metrics
// scoped to the one-box (an alias version, a one-box deployment group's
// instance, a canary target group).
type OneBox struct {
	// Services are the one-box-scoped specs. Required, at least one.
	Services []ServiceSpec
	// Extra alarms are ORed into the one-box alarm. Default: none.
	Extra []Child
	// Traffic is the one-box's minimum traffic. Default: none (the one-box
	// bake alarm is the one-box alarm alone).
	Traffic *Traffic
	// Persistent says the one-box keeps serving after its step: an EC2
	// instance or group that stays in the fleet, which later steps deploy
	// with the rest. Its alarms then watch the region's traffic too, so the
	// aggregate ORs them (the region's later bakes and blockers see a
	// failing one-box host). Default: false (a one-box that ends with its
	// deployment: a Lambda version's share, a canary task set).
	Persistent bool
}

// RollbackAlarmsProps configure a team's alarms in one region.
type RollbackAlarmsProps struct {
	// Names names every alarm: pass the pipeline's Deployment.Alarms, the
	// value the pipeline's gates watch. Required.
	Names Names
	// Services are the team's microservices' high-severity alarm specs.
	// Required, at least one.
	Services []ServiceSpec
	// Extra alarms are ORed into the aggregate, e.g. the canary (synthetic
	// traffic) alarm. Default: none.
	Extra []Child
	// Traffic is the region's minimum traffic for promotion. Default: none
	// (the bake alarm is the aggregate alone; verify reports it).
	Traffic *Traffic
	// OneBox adds the one-box alarm and the one-box bake alarm. Default:
	// none.
	OneBox *OneBox
}

// RollbackAlarms are a team's alarms in one region: the high-severity
// alarms, the aggregate rollback alarm, the bake alarm, and optionally the
// one-box alarm and one-box bake alarm, all named by the functions of this
// package.
type RollbackAlarms interface {
	constructs.Construct
	// Aggregate ORs every high-severity alarm: the pipeline blocks on it
	// and AppConfig rolls back on it.
	Aggregate() awscloudwatch.IAlarm
	// Bake ORs the aggregate and the low-traffic alarm: the pipeline's bake
	// watches it.
	Bake() awscloudwatch.IAlarm
	// OneBox is the one-box alarm (one-box alarms OR the aggregate), or
	// nil.
	OneBox() awscloudwatch.IAlarm
	// OneBoxBake is the one-box bake alarm, or nil.
	OneBoxBake() awscloudwatch.IAlarm
	// HighSeverity are the names of the aggregate's direct children.
	HighSeverity() []string
	// MetricAlarms are the region's high-severity metric alarms (the
	// aggregate's children except Extra), for services that take metric
	// alarms only.
	MetricAlarms() []awscloudwatch.IAlarm
	// OneBoxMetricAlarms are the one-box-scoped metric alarms (nil without
	// OneBox).
	OneBoxMetricAlarms() []awscloudwatch.IAlarm
	// Err reports invalid props (also a synth error on the construct);
	// the alarms are then nil.
	Err() error
}

type rollbackAlarms struct {
	constructs.Construct
	aggregate, bake, oneBox, oneBoxBake awscloudwatch.IAlarm
	high                                []string
	metric, oneBoxMetric                []awscloudwatch.IAlarm
	err                                 error
	// durations holds one CDK Duration per period: a Duration is an
	// immutable value, and making one is a jsii round trip (there were
	// 1,295 in the reference app for a handful of distinct periods).
	durations map[time.Duration]awscdk.Duration
}

// seconds returns d as a CDK Duration in seconds, made once per r.
func (r *rollbackAlarms) seconds(d time.Duration) awscdk.Duration {
	if v, ok := r.durations[d]; ok {
		return v
	}
	if r.durations == nil {
		r.durations = map[time.Duration]awscdk.Duration{}
	}
	v := awscdk.Duration_Seconds(jsii.Number(d.Seconds()))
	r.durations[d] = v
	return v
}

func (r *rollbackAlarms) MetricAlarms() []awscloudwatch.IAlarm {
	return append([]awscloudwatch.IAlarm(nil), r.metric...)
}
func (r *rollbackAlarms) OneBoxMetricAlarms() []awscloudwatch.IAlarm {
	return append([]awscloudwatch.IAlarm(nil), r.oneBoxMetric...)
}

func (r *rollbackAlarms) Aggregate() awscloudwatch.IAlarm  { return r.aggregate }
func (r *rollbackAlarms) Bake() awscloudwatch.IAlarm       { return r.bake }
func (r *rollbackAlarms) OneBox() awscloudwatch.IAlarm     { return r.oneBox }
func (r *rollbackAlarms) OneBoxBake() awscloudwatch.IAlarm { return r.oneBoxBake }
func (r *rollbackAlarms) HighSeverity() []string           { return append([]string(nil), r.high...) }
func (r *rollbackAlarms) Err() error                       { return r.err }

// NewRollbackAlarms creates a team's alarms in the region of scope's stack.
// Invalid props are reported all at once, as a synth error on the construct
// and by Err.
func NewRollbackAlarms(scope constructs.Construct, id *string, props *RollbackAlarmsProps) RollbackAlarms {
	var p RollbackAlarmsProps
	if props != nil {
		p = *props
	}
	r := &rollbackAlarms{}
	constructs.NewConstruct_Override(r, scope, id)
	if err := p.Validate(); err != nil {
		r.err = err
		synth.Report(r, err)
		return r
	}
	var children []Child
	for _, s := range p.Services {
		children = append(children, serviceAlarms(r, p.Names, s, false)...)
	}
	for _, c := range children {
		r.metric = append(r.metric, c.Alarm)
	}
	var obMetric []Child // the one-box-scoped alarms
	if ob := p.OneBox; ob != nil {
		for _, s := range ob.Services {
			obMetric = append(obMetric, serviceAlarms(r, p.Names, s, true)...)
		}
		for _, c := range obMetric {
			r.oneBoxMetric = append(r.oneBoxMetric, c.Alarm)
		}
		if ob.Persistent {
			children = append(children, obMetric...)
		}
	}
	children = append(children, p.Extra...)
	for _, c := range children {
		r.high = append(r.high, c.Name)
	}
	agg := NewAggregateAlarm(r, jsii.String("Aggregate"), &AggregateAlarmProps{
		Name:        p.Names.Aggregate(),
		Description: fmt.Sprintf("%s aggregate rollback alarm: ORs the %d high-severity alarms of the team in this region.", p.Names.Prefix(), len(children)),
		Children:    children,
	})
	r.aggregate = agg.Alarm()
	r.bake = bakeAlarm(r, "Bake", p.Names, false, Child{Alarm: r.aggregate, Name: p.Names.Aggregate()}, p.Traffic)
	if ob := p.OneBox; ob != nil {
		obChildren := append(slices.Clip(obMetric), ob.Extra...)
		// A regression the one-box causes region-wide must stop it too.
		obChildren = append(obChildren, Child{Alarm: r.aggregate, Name: p.Names.Aggregate()})
		one := NewAggregateAlarm(r, jsii.String("OneBox"), &AggregateAlarmProps{
			Name:        p.Names.OneBox(),
			Description: fmt.Sprintf("%s one-box alarm: ORs the %d alarms on one-box metrics and the aggregate in this region.", p.Names.Prefix(), len(obChildren)-1),
			Children:    obChildren,
		})
		r.oneBox = one.Alarm()
		r.oneBoxBake = bakeAlarm(r, "OneBoxBake", p.Names, true, Child{Alarm: r.oneBox, Name: p.Names.OneBox()}, ob.Traffic)
	}
	return r
}

// bakeAlarm ORs the watched alarm and, when traffic is set, a low-traffic
// alarm.
func bakeAlarm(scope *rollbackAlarms, id string, n Names, oneBox bool, watched Child, t *Traffic) awscloudwatch.IAlarm {
	children := []Child{watched}
	what := "region"
	if oneBox {
		what = "one-box"
	}
	if t != nil {
		w := clampWindow(t.Window)
		name := n.LowTraffic(oneBox)
		metric := t.Metric.With(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: scope.seconds(w)})
		low := awscloudwatch.NewAlarm(scope, jsii.String(id+"LowTraffic"), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(name),
			AlarmDescription:   jsii.String(fmt.Sprintf("%s: the %s served fewer than %v requests in the last %s; promotion needs at least that (no data counts as none).", n.Prefix(), what, t.MinRequests, w)),
			Metric:             metric,
			Threshold:          jsii.Number(t.MinRequests),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
		})
		children = append(children, Child{Alarm: low, Name: name})
	}
	return composite(scope, id, n.Bake(oneBox),
		fmt.Sprintf("%s bake alarm (%s): the pipeline promotes only while this stays out of ALARM for the bake time.", n.Prefix(), what), children)
}

// clampWindow bounds a traffic window to what one CloudWatch period can
// be: whole minutes, 1 minute to 1 day.
func clampWindow(w time.Duration) time.Duration {
	if w == 0 {
		w = time.Hour
	}
	w = w.Truncate(time.Minute)
	return min(max(w, time.Minute), 24*time.Hour)
}

// Validate reports every problem of the props at once.
func (p RollbackAlarmsProps) Validate() error {
	var errs []error
	errs = append(errs, p.Names.Validate())
	if len(p.Services) == 0 {
		errs = append(errs, errors.New("alarms: Services is empty; the aggregate needs at least one microservice's alarms"))
	}
	seen := map[string]bool{}
	for _, s := range p.Services {
		if seen[s.Name] || strings.HasSuffix(s.Name, "-onebox") {
			errs = append(errs, fmt.Errorf("alarms: two Services are named %q, or the name ends in -onebox (reserved for one-box alarms)", s.Name))
		}
		seen[s.Name] = true
		errs = append(errs, s.Validate())
	}
	errs = append(errs, validateExtra("Extra", p.Extra), p.Traffic.validate("Traffic"))
	if ob := p.OneBox; ob != nil {
		if len(ob.Services) == 0 {
			errs = append(errs, errors.New("alarms: OneBox.Services is empty; the one-box alarm needs one-box-scoped alarms"))
		}
		for _, s := range ob.Services {
			if err := s.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("OneBox: %w", err))
			}
			// One-box alarms are named <service>-onebox-…: they must not
			// collide with each other or with a service of that name.
			if seen[s.Name+"-onebox"] || seen["onebox:"+s.Name] {
				errs = append(errs, fmt.Errorf("alarms: OneBox service %q collides with another service's alarm names", s.Name))
			}
			seen["onebox:"+s.Name] = true
		}
		errs = append(errs, validateExtra("OneBox.Extra", ob.Extra), ob.Traffic.validate("OneBox.Traffic"))
	}
	return errors.Join(errs...)
}

func validateExtra(field string, cs []Child) error {
	var errs []error
	for i, c := range cs {
		if c.Alarm == nil {
			errs = append(errs, fmt.Errorf("alarms: %s[%d].Alarm is nil", field, i))
		}
	}
	return errors.Join(errs...)
}

func (t *Traffic) validate(field string) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.Metric == nil {
		errs = append(errs, fmt.Errorf("alarms: %s.Metric is nil", field))
	}
	if !(t.MinRequests > 0) {
		errs = append(errs, fmt.Errorf("alarms: %s.MinRequests is %v; it must be positive", field, t.MinRequests))
	}
	if t.Window < 0 {
		errs = append(errs, fmt.Errorf("alarms: %s.Window is %s; it must not be negative", field, t.Window))
	}
	return errors.Join(errs...)
}
