package verify

import (
	"strconv"
	"strings"
)

// This file is everything verify knows about how safepipe's own
// constructs (constructs/pipeline) render their gates. The rest of the
// package reads gates from CodePipeline semantics alone: CloudWatchAlarm
// and DeploymentWindow rules, rule results, action order. When the gate
// design changes, this is the one file to update.
//
// A fan-in gate watches more alarms than a condition's five rules can: a
// CodeBuild action (its project's variables, or action-level
// EnvironmentVariables), a Commands action or rule, or a LambdaInvoke
// action or rule (its function's variables) whose environment carries
//
//	SAFEPIPE_WATCH    one "ROLE REGION ALARM" line per alarm watched (ROLE is
//	                  "-" or the role ARN the gate assumes to read the alarm)
//	SAFEPIPE_MINUTES  how long it watches: 0 for a blocker (checked once
//	                  before the deploy), more for a bake
//
// verify counts such a gate as a blocker when it runs before the stage's
// deploy actions (or sits in a BeforeEntry condition that fails) and as a
// bake when it runs after them (or sits in an OnSuccess condition that
// rolls back or fails).
const (
	envWatch   = "SAFEPIPE_WATCH"
	envMinutes = "SAFEPIPE_MINUTES"
)

// gateWatches reads a fan-in gate's watches from its environment. ok is
// false when env is not a readable gate.
func gateWatches(env map[string]string, via string) (minutes int, out []Watch, ok bool) {
	lines, found := env[envWatch]
	if !found {
		return 0, nil, false
	}
	m, err := strconv.Atoi(env[envMinutes])
	if err != nil || m < 0 {
		return 0, nil, false
	}
	for _, l := range strings.Split(lines, "\n") {
		f := strings.Fields(l)
		var w Watch
		switch len(f) {
		case 3:
			w = Watch{Account: arnAccount(f[0]), Region: f[1], Alarm: f[2]}
		case 2:
			w = Watch{Region: f[0], Alarm: f[1]}
		default:
			continue
		}
		w.Minutes, w.Via = m, via
		out = append(out, w)
	}
	return m, out, true
}
