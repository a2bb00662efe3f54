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
	// Alarm is the alarm's name.
	Alarm string
	// Minutes is how long the alarm is watched (0: checked once).
	Minutes int
	// Via names the rule or action that watches: "rule Bake-us-east-1",
	// "action Bake".
	Via string
}

// Bakes returns the stage's bake watches: CloudWatchAlarm rules of its
// OnSuccess condition (watched for WaitTime minutes) and safepipe watch
// actions (CodeBuild actions with SAFEPIPE_WATCH and SAFEPIPE_MINUTES > 0).
//
// A rule counts only if it fails on ALARM (AlarmStates includes ALARM) and
// its condition rolls back or fails; an action counts only if it runs
// after every deploy action of the stage.
func (s Stage) Bakes() []Watch {
	var out []Watch
	if s.OnSuccess != nil && (s.OnSuccess.Result == "ROLLBACK" || s.OnSuccess.Result == "FAIL") {
		for _, r := range s.OnSuccess.Rules {
			if r.Provider != "CloudWatchAlarm" || !watchesAlarm(r) {
				continue
			}
			m, _ := strconv.Atoi(r.Configuration["WaitTime"])
			out = append(out, Watch{Region: r.Region, Alarm: r.Configuration["AlarmName"], Minutes: m, Via: "rule " + r.Name})
		}
	}
	first, last := s.deployOrder()
	for _, a := range s.Actions {
		if m, ws := watchAction(a); m > 0 && a.RunOrder > last && first > 0 {
			out = append(out, ws...)
		}
	}
	return out
}

// deployOrder returns the first and last RunOrder of the stage's
// CloudFormation actions (0, 0 without any).
func (s Stage) deployOrder() (first, last int) {
	for _, a := range s.Actions {
		if a.Provider != "CloudFormation" {
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
// CloudWatchAlarm rules (on ALARM) of a BeforeEntry condition that fails,
// and safepipe watch actions with SAFEPIPE_MINUTES 0 that run before every
// deploy action. Alarm rules in a condition that also waits for a
// DeploymentWindow are not counted: CodePipeline does not re-check them
// when the window opens.
func (s Stage) Blockers() []Watch {
	var out []Watch
	if s.BeforeEntry != nil && s.BeforeEntry.Result == "FAIL" {
		_, windowed := s.WindowRule()
		for _, r := range s.BeforeEntry.Rules {
			if r.Provider == "CloudWatchAlarm" && watchesAlarm(r) && !windowed {
				out = append(out, Watch{Region: r.Region, Alarm: r.Configuration["AlarmName"], Via: "rule " + r.Name})
			}
		}
	}
	first, _ := s.deployOrder()
	for _, a := range s.Actions {
		if m, ws := watchAction(a); m == 0 && (first == 0 || a.RunOrder < first) {
			out = append(out, ws...)
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

// watchAction reads a safepipe watch action: SAFEPIPE_WATCH holds one
// "role region alarm" line per region. It returns minutes -1 for other
// actions.
func watchAction(a Action) (int, []Watch) {
	lines, ok := a.Env["SAFEPIPE_WATCH"]
	if !ok {
		return -1, nil
	}
	m, err := strconv.Atoi(a.Env["SAFEPIPE_MINUTES"])
	if err != nil {
		return -1, nil
	}
	var out []Watch
	for _, l := range strings.Split(lines, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		out = append(out, Watch{Region: f[1], Alarm: f[2], Minutes: m, Via: "action " + a.Name})
	}
	return m, out
}
