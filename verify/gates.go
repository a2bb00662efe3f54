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
func (s Stage) Bakes() []Watch {
	var out []Watch
	if s.OnSuccess != nil {
		for _, r := range s.OnSuccess.Rules {
			if r.Provider != "CloudWatchAlarm" {
				continue
			}
			m, _ := strconv.Atoi(r.Configuration["WaitTime"])
			out = append(out, Watch{Region: r.Region, Alarm: r.Configuration["AlarmName"], Minutes: m, Via: "rule " + r.Name})
		}
	}
	for _, a := range s.Actions {
		if m, ws := watchAction(a); m > 0 {
			out = append(out, ws...)
		}
	}
	return out
}

// Blockers returns the alarms checked before the stage deploys:
// CloudWatchAlarm rules of its BeforeEntry condition and safepipe watch
// actions with SAFEPIPE_MINUTES 0.
func (s Stage) Blockers() []Watch {
	var out []Watch
	if s.BeforeEntry != nil {
		for _, r := range s.BeforeEntry.Rules {
			if r.Provider == "CloudWatchAlarm" {
				out = append(out, Watch{Region: r.Region, Alarm: r.Configuration["AlarmName"], Via: "rule " + r.Name})
			}
		}
	}
	for _, a := range s.Actions {
		if m, ws := watchAction(a); m == 0 {
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
