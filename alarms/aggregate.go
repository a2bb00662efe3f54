package alarms

import (
	"fmt"
	"github.com/safepipe/safepipe/internal/synth"

	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Child is one alarm an aggregate ORs, with its name when known (the
// composite is split by estimated rule length, and a token name is
// assumed to be as long as possible).
type Child struct {
	// Alarm is the child alarm. Required.
	Alarm awscloudwatch.IAlarm
	// Name is the alarm's name. Default: "" (unknown; counted as 255
	// characters).
	Name string
}

// AggregateAlarmProps configure an aggregate (composite OR) alarm.
type AggregateAlarmProps struct {
	// Name is the composite alarm's name. Required.
	Name string
	// Description is the alarm description. Default: a sentence naming
	// the number of children.
	Description string
	// Children are ORed: the aggregate is in ALARM while any child is.
	// Required, at least one.
	Children []Child
}

// AggregateAlarm is a composite alarm that ORs its children. Past
// CloudWatch's limits (MaxCompositeChildren children, a rule of
// MaxCompositeRuleLength characters) it is transparently split into
// nested composites named "<Name>-part-N", ORed by the top alarm, which
// keeps Name.
type AggregateAlarm interface {
	constructs.Construct
	// Alarm is the top composite alarm.
	Alarm() awscloudwatch.IAlarm
	// Name is the top alarm's name.
	Name() string
	// Parts are the nested composites, in order; empty when not split.
	Parts() []string
	// Err reports invalid props (also a synth error on the construct); the
	// aggregate then has no alarm.
	Err() error
}

type aggregateAlarm struct {
	constructs.Construct
	alarm awscloudwatch.IAlarm
	name  string
	parts []string
	err   error
}

func (a *aggregateAlarm) Alarm() awscloudwatch.IAlarm { return a.alarm }
func (a *aggregateAlarm) Name() string                { return a.name }
func (a *aggregateAlarm) Parts() []string             { return append([]string(nil), a.parts...) }
func (a *aggregateAlarm) Err() error                  { return a.err }

// NewAggregateAlarm creates the composite. Invalid props are a synth error
// on the construct and are returned by Err.
func NewAggregateAlarm(scope constructs.Construct, id *string, props *AggregateAlarmProps) AggregateAlarm {
	p := AggregateAlarmProps{}
	if props != nil {
		p = *props
	}
	a := &aggregateAlarm{name: p.Name}
	constructs.NewConstruct_Override(a, scope, id)
	if err := validateAggregate(p); err != nil {
		a.err = err
		synth.Report(a, err)
		return a
	}
	children := p.Children
	for level := 0; ; level++ {
		lengths := make([]int, len(children))
		for i, c := range children {
			lengths[i] = termLength(c.Name)
		}
		groups := split(lengths, MaxCompositeChildren, MaxCompositeRuleLength)
		if len(groups) == 1 {
			a.alarm = composite(a, "Alarm", p.Name, describe(p, len(children)), children)
			return a
		}
		next := make([]Child, len(groups))
		for g, idx := range groups {
			name := fmt.Sprintf("%s-part-%d", p.Name, len(a.parts)+1)
			members := make([]Child, len(idx))
			for j, i := range idx {
				members[j] = children[i]
			}
			next[g] = Child{Name: name, Alarm: composite(a, fmt.Sprintf("Part%d", len(a.parts)+1), name,
				fmt.Sprintf("Part %d of %s: ORs %d alarms (CloudWatch allows %d per composite).", len(a.parts)+1, p.Name, len(members), MaxCompositeChildren), members)}
			a.parts = append(a.parts, name)
		}
		children = next
	}
}

func describe(p AggregateAlarmProps, n int) string {
	if p.Description != "" {
		return p.Description
	}
	return fmt.Sprintf("safepipe aggregate: in ALARM while any of its %d alarms is.", n)
}

func composite(scope constructs.Construct, id, name, description string, children []Child) awscloudwatch.IAlarm {
	rules := make([]awscloudwatch.IAlarmRule, len(children))
	for i, c := range children {
		rules[i] = alarmRule(c.Alarm)
	}
	return awscloudwatch.NewCompositeAlarm(scope, jsii.String(id), &awscloudwatch.CompositeAlarmProps{
		CompositeAlarmName: jsii.String(name),
		AlarmDescription:   jsii.String(description),
		AlarmRule:          awscloudwatch.AlarmRule_AnyOf(rules...),
	})
}

// alarmRule is the rule "in ALARM" of a child. An alarm of aws-cdk-lib's
// (an Alarm, AnomalyDetectionAlarm or CompositeAlarm, or one imported by
// ARN or name: an AlarmBase) is its own rule: AlarmBase.renderAlarmRule
// renders ALARM("<alarmArn>"), the string AlarmRule.fromAlarm(alarm,
// AlarmState.ALARM) renders from alarm.alarmRef.alarmArn, which
// AlarmBase.alarmRef takes from alarmArn (aws-cdk-lib 2.270, aws-cloudwatch
// alarm-base.ts and alarm-rule.ts; no subclass overrides either). Passing the
// alarm saves a jsii round trip per child (there were 1,070 in the
// reference app); the template is the same. Any other IAlarm goes through
// AlarmRule.fromAlarm.
func alarmRule(a awscloudwatch.IAlarm) awscloudwatch.IAlarmRule {
	if b, ok := a.(awscloudwatch.AlarmBase); ok {
		return b
	}
	return awscloudwatch.AlarmRule_FromAlarm(a, awscloudwatch.AlarmState_ALARM)
}

func validateAggregate(p AggregateAlarmProps) error {
	if p.Name == "" {
		return fmt.Errorf("alarms: AggregateAlarmProps.Name is empty")
	}
	if len(p.Children) == 0 {
		return fmt.Errorf("alarms: aggregate %q has no Children", p.Name)
	}
	for i, c := range p.Children {
		if c.Alarm == nil {
			return fmt.Errorf("alarms: aggregate %q: Children[%d].Alarm is nil", p.Name, i)
		}
	}
	return nil
}
