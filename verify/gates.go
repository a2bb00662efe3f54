package verify

import (
	"strconv"
	"strings"
)

// Watch is one region's alarm that a stage watches: before entry (a
// blocker, Minutes 0) or after it deploys (a bake for Minutes).
type Watch struct {
	// Region is where the alarm is.
	Region string
	// Account is the alarm's account when the gate says (the role it
	// assumes); "" means the pipeline's.
	Account string
	// Alarm is the alarm's name.
	Alarm string
	// Minutes is how long the alarm is watched (0: checked once).
	Minutes int
	// Via names the rule or action that watches: "rule Bake-us-east-1",
	// "action Bake".
	Via string
}

// Bakes returns the stage's bake watches: CloudWatchAlarm rules of its
// OnSuccess condition (watched for WaitTime minutes), fan-in rules of that
// condition (LambdaInvoke or Commands) and watch actions whose watches
// verify can read (see safepipe_gates.go), the actions only when they run
// after every deploy action of the stage.
//
// A rule counts only if its condition rolls back or fails and, for a
// CloudWatchAlarm rule, it watches the ALARM state: "The desired
// CloudWatch alarm states for the rule to monitor"
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html).
func (s Stage) Bakes() []Watch {
	var out []Watch
	if s.OnSuccess != nil && (s.OnSuccess.Result == "ROLLBACK" || s.OnSuccess.Result == "FAIL") {
		for _, r := range s.OnSuccess.Rules {
			switch {
			case r.Provider == "CloudWatchAlarm" && watchesAlarm(r):
				m, _ := strconv.Atoi(r.Configuration["WaitTime"])
				out = append(out, Watch{Region: r.Region, Account: arnAccount(r.RoleArn), Alarm: r.Configuration["AlarmName"], Minutes: m, Via: "rule " + r.Name})
			case r.Provider == "LambdaInvoke" || r.Provider == "Commands":
				if m, ws, ok := gateWatches(r.Env, "rule "+r.Name); ok && m > 0 {
					out = append(out, ws...)
				}
			}
		}
	}
	first, last := s.deployOrder()
	for _, a := range s.Actions {
		if m, ws, ok := gateWatches(a.Env, "action "+a.Name); ok && m > 0 && a.RunOrder > last && first > 0 {
			out = append(out, ws...)
		}
	}
	return out
}

// deployOrder returns the first and last RunOrder of the stage's deploy
// actions and of the CloudFormation actions that prepare them (0, 0
// without any).
func (s Stage) deployOrder() (first, last int) {
	for _, a := range s.Actions {
		if !a.Deploys() && a.Provider != "CloudFormation" {
			continue
		}
		if first == 0 || a.RunOrder < first {
			first = a.RunOrder
		}
		last = max(last, a.RunOrder)
	}
	return first, last
}

// watchesAlarm reports whether a CloudWatchAlarm rule fails on ALARM.
func watchesAlarm(r Rule) bool {
	for _, st := range strings.Split(r.Configuration["AlarmStates"], ",") {
		if strings.TrimSpace(st) == "ALARM" {
			return true
		}
	}
	return false
}

// Blockers returns the alarms checked before the stage deploys:
// CloudWatchAlarm rules (on ALARM) and readable fan-in rules of a
// BeforeEntry condition that fails, and readable watch actions with no
// watch time that run before every deploy action. Alarm rules in a
// condition that also waits for a DeploymentWindow are not counted: "In
// cases where the DeploymentWindow rule and the CloudWatchAlarm rule are
// contained together in an entry condition, it is possible that the
// CloudWatchAlarm alarm might succeed before the deployment window for the
// DeploymentWindow rule opens. After the deployment window opens,
// CodePipeline does not check the CloudWatchAlarm alarm again."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
func (s Stage) Blockers() []Watch {
	var out []Watch
	if s.BeforeEntry != nil && s.BeforeEntry.Result == "FAIL" {
		_, windowed := s.WindowRule()
		for _, r := range s.BeforeEntry.Rules {
			switch {
			case windowed:
			case r.Provider == "CloudWatchAlarm" && watchesAlarm(r):
				out = append(out, Watch{Region: r.Region, Account: arnAccount(r.RoleArn), Alarm: r.Configuration["AlarmName"], Via: "rule " + r.Name})
			case r.Provider == "LambdaInvoke" || r.Provider == "Commands":
				if _, ws, ok := gateWatches(r.Env, "rule "+r.Name); ok {
					out = append(out, ws...)
				}
			}
		}
	}
	first, _ := s.deployOrder()
	for _, a := range s.Actions {
		if m, ws, ok := gateWatches(a.Env, "action "+a.Name); ok && m == 0 && (first == 0 || a.RunOrder < first) {
			out = append(out, ws...)
		}
	}
	return out
}

// GateActions returns the actions that hold the stage before it deploys:
// manual approvals and readable watch actions with no watch time that run
// before the stage's first deploy action.
func (s Stage) GateActions() []Action {
	first, _ := s.deployOrder()
	var out []Action
	for _, a := range s.Actions {
		if first != 0 && a.RunOrder >= first {
			continue
		}
		if strings.EqualFold(a.Category, "Approval") {
			out = append(out, a)
			continue
		}
		if m, _, ok := gateWatches(a.Env, ""); ok && m == 0 {
			out = append(out, a)
		}
	}
	return out
}

// WindowRule returns the stage's DeploymentWindow entry rule.
func (s Stage) WindowRule() (Rule, bool) {
	if s.BeforeEntry != nil {
		for _, r := range s.BeforeEntry.Rules {
			if r.Provider == "DeploymentWindow" {
				return r, true
			}
		}
	}
	return Rule{}, false
}
