package sim

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/safepipe/safepipe/model"
)

// shiftConfig is how a deployment moves traffic to the new version.
//
// "A configuration that shifts traffic from one version of a Lambda
// function or Amazon ECS task set to another in two increments." (canary)
// and "in equal increments, with an equal number of minutes between each
// increment" (linear)
// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TimeBasedCanary.html,
// https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TimeBasedLinear.html);
// "CodeDeployDefault.LambdaCanary10Percent5Minutes | Shifts 10 percent of
// traffic in the first increment. The remaining 90 percent is deployed
// five minutes later." and "CodeDeployDefault.LambdaLinear10PercentEvery1Minute
// | Shifts 10 percent of traffic every minute until all traffic is
// shifted." (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html;
// docs/aws-semantics.md Q9). The first increment shifts when the
// deployment starts.
type shiftConfig struct {
	Name     string
	Kind     string // Canary, Linear, AllAtOnce, Rolling
	Percent  float64
	Interval int // minutes
}

// weight is the new version's share elapsed minutes into the deployment.
func (c shiftConfig) weight(elapsed int) float64 {
	switch c.Kind {
	case "Canary":
		if elapsed < c.Interval {
			return c.Percent / 100
		}
		return 1
	case "Linear":
		w := float64(elapsed/c.Interval+1) * c.Percent / 100
		return math.Min(1, w)
	case "Rolling":
		if c.Interval <= 0 {
			return 1
		}
		return math.Min(1, float64(elapsed+1)/float64(c.Interval))
	}
	return 1
}

// minutes is how long the shifting takes.
func (c shiftConfig) minutes() int {
	switch c.Kind {
	case "Canary":
		return c.Interval
	case "Linear":
		steps := int(math.Ceil(100/c.Percent)) - 1
		return steps * c.Interval
	case "Rolling":
		return c.Interval
	}
	return 0
}

func (c shiftConfig) String() string {
	switch c.Kind {
	case "Canary":
		return fmt.Sprintf("%s (canary %g%%, the rest after %d min)", c.Name, c.Percent, c.Interval)
	case "Linear":
		return fmt.Sprintf("%s (linear %g%% every %d min)", c.Name, c.Percent, c.Interval)
	case "Rolling":
		return fmt.Sprintf("%s (rolling over %d min)", c.Name, c.Interval)
	}
	return c.Name + " (all at once)"
}

// predefinedLambda are CodeDeploy's predefined Lambda configurations
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
var predefinedLambda = map[string]shiftConfig{
	"CodeDeployDefault.LambdaAllAtOnce":                     {Kind: "AllAtOnce"},
	"CodeDeployDefault.LambdaCanary10Percent5Minutes":       {Kind: "Canary", Percent: 10, Interval: 5},
	"CodeDeployDefault.LambdaCanary10Percent10Minutes":      {Kind: "Canary", Percent: 10, Interval: 10},
	"CodeDeployDefault.LambdaCanary10Percent15Minutes":      {Kind: "Canary", Percent: 10, Interval: 15},
	"CodeDeployDefault.LambdaCanary10Percent30Minutes":      {Kind: "Canary", Percent: 10, Interval: 30},
	"CodeDeployDefault.LambdaLinear10PercentEvery1Minute":   {Kind: "Linear", Percent: 10, Interval: 1},
	"CodeDeployDefault.LambdaLinear10PercentEvery2Minutes":  {Kind: "Linear", Percent: 10, Interval: 2},
	"CodeDeployDefault.LambdaLinear10PercentEvery3Minutes":  {Kind: "Linear", Percent: 10, Interval: 3},
	"CodeDeployDefault.LambdaLinear10PercentEvery10Minutes": {Kind: "Linear", Percent: 10, Interval: 10},
}

// trafficUnit is something in a stack that serves traffic from a version
// of the code and moves it when the code changes.
type trafficUnit struct {
	ID   string // logical ID
	Kind string // lambda-codedeploy, lambda-alias, alias-controller, ecs-rolling, unmodelled
	// Mode and Percent are an alias controller's (Custom::SafepipeAlias).
	Mode    string
	Percent float64
	// Ramp is an alias controller's ramp, as its driver runs it (nil: none).
	Ramp *model.Ramp
	// Shift is how traffic moves to a new version.
	Shift shiftConfig
	// Alarms stop the deployment (CodeDeploy deployment group alarms, ECS
	// deployment alarms) when Enabled.
	Alarms        []AlarmKey
	AlarmsEnabled bool
	// RollbackOnAlarm: a stopped deployment moves traffic back.
	RollbackOnAlarm bool
	// IgnoreAlarmsInAlarmAtStart: ECS's documented behaviour.
	IgnoreAlarmsInAlarmAtStart bool
	Note                       string
}

// hasCode reports whether a stack carries the code the change updates: a
// Lambda function or an ECS task definition.
func hasCode(s *Stack) bool {
	for _, r := range s.Template.Resources {
		switch r.Type {
		case "AWS::Lambda::Function", "AWS::ECS::TaskDefinition", "AWS::Serverless::Function":
			return true
		}
	}
	return false
}

// ecsTasks is the tasks the stack's ECS services run, when every traffic
// unit of the stack is an ECS service rolled by ECS (their DesiredCount;
// "if a desired count is not specified, a default value of 1 is used",
// AWS::ECS::Service); 0 otherwise (stackState.tasks).
func ecsTasks(s *Stack) int {
	units := trafficUnits(s)
	if len(units) == 0 {
		return 0
	}
	e := newEvaluator(s)
	tasks := 0
	for _, u := range units {
		if u.Kind != "ecs-rolling" {
			return 0
		}
		n := 1
		if v, ok := e.Str(s.Template.Resources[u.ID].Properties["DesiredCount"]); ok {
			if d, err := strconv.Atoi(v); err == nil && d >= 0 {
				n = min(d, maxTasks)
			}
		}
		tasks += n
	}
	return tasks
}

// maxTasks bounds the tasks one service counts for (ECS's own quota is
// 5,000 tasks per service), so that a hostile DesiredCount cannot
// overflow a region's sum.
const maxTasks = 1_000_000

// trafficUnits reads what serves traffic in a stack.
func trafficUnits(s *Stack) []trafficUnit {
	e := newEvaluator(s)
	res := s.Template.Resources
	var out []trafficUnit
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r := res[id]
		switch r.Type {
		case "AWS::Lambda::Alias":
			u := trafficUnit{ID: id, Kind: "lambda-alias", Shift: shiftConfig{Name: "alias update", Kind: "AllAtOnce"}}
			// "To perform an CodeDeploy deployment when the version changes
			// on an AWS::Lambda::Alias resource, use the
			// CodeDeployLambdaAliasUpdate update policy."
			// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatepolicy.html)
			if up, ok := r.UpdatePolicy["CodeDeployLambdaAliasUpdate"].(map[string]any); ok {
				u.Kind = "lambda-codedeploy"
				ref, _ := up["DeploymentGroupName"].(map[string]any)
				gid, _ := ref["Ref"].(string)
				g := res[gid]
				if g == nil || g.Type != "AWS::CodeDeploy::DeploymentGroup" {
					u.Kind, u.Note = "unmodelled", fmt.Sprintf("alias %s: its deployment group is not a resource of the stack", id)
					out = append(out, u)
					continue
				}
				readGroup(e, res, g, &u)
			}
			out = append(out, u)
		case "Custom::SafepipeAlias":
			// safepipe's alias controller (constructs/deploy): when its
			// stack deploys it points the alias at the new version, all of
			// it ("full") or, keeping the version the alias serves then,
			// Percent of it ("canary"; all of it when the alias is new or
			// already serves that version). Its own code is tested against
			// moto (constructs/deploy/lambda_controller_test.go); this is
			// the same rule.
			mode, _ := e.Str(r.Properties["Mode"])
			pct, _ := e.Str(r.Properties["Percent"])
			percent, err := strconv.ParseFloat(pct, 64)
			u := trafficUnit{ID: id, Kind: "alias-controller", Mode: mode, Percent: percent, Shift: shiftConfig{Name: "alias controller", Kind: "AllAtOnce"}}
			known := map[string]bool{"full": true, "canary": true, "upgrade-half": true, "downgrade-half": true, "downgrade": true}
			if !known[mode] || err != nil || percent < 0 || percent > 100 {
				u.Kind, u.Note = "unmodelled", fmt.Sprintf("alias controller %s: mode %q, percent %q", id, mode, pct)
			}
			// A ramp (constructs/deploy, Ramp): its driver raises the
			// share step by step; read as the driver runs it, and a ramp
			// that cannot be read is not modelled, never guessed.
			if rs := r.Properties["RampState"]; rs != nil && u.Kind == "alias-controller" {
				functions := map[string]map[string]any{}
				for fid, fr := range res {
					if fr.Type == "AWS::Lambda::Function" {
						functions[fid] = fr.Properties
					}
				}
				ramp, rerr := model.ReadRamp(rs, functions, e)
				switch {
				case rerr != nil:
					u.Kind, u.Note = "unmodelled", fmt.Sprintf("alias controller %s: %v", id, rerr)
				case mode == "canary":
					u.Ramp = ramp
				}
			}
			out = append(out, u)
		case "AWS::ECS::Service":
			u := trafficUnit{ID: id, Kind: "ecs-rolling", Shift: shiftConfig{Name: "ECS rolling update", Kind: "Rolling"}}
			ctl, _ := r.Properties["DeploymentController"].(map[string]any)
			if t, _ := e.Str(ctl["Type"]); t != "" && t != "ECS" {
				u.Kind, u.Note = "unmodelled", fmt.Sprintf("ECS service %s uses the %s deployment controller, which the simulator does not model", id, t)
				out = append(out, u)
				continue
			}
			// "If an alarm is in the ALARM state at the beginning of a
			// deployment, Amazon ECS will not monitor alarms for the duration
			// of that deployment" and "A rollback occurs when you use the
			// rollback option for the method that initiated the deployment
			// failure."
			// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-alarm-failure.html)
			dc, _ := r.Properties["DeploymentConfiguration"].(map[string]any)
			al, _ := dc["Alarms"].(map[string]any)
			u.AlarmsEnabled = boolOf(e, al["Enable"])
			u.RollbackOnAlarm = boolOf(e, al["Rollback"])
			u.IgnoreAlarmsInAlarmAtStart = true
			names, _ := al["AlarmNames"].([]any)
			for _, n := range names {
				name, _ := e.Str(n)
				u.Alarms = append(u.Alarms, AlarmKey{Account: s.Account, Region: s.Region, Name: name})
			}
			out = append(out, u)
		}
	}
	return out
}

func boolOf(e *model.Evaluator, v any) bool {
	s, _ := e.Str(v)
	b, _ := strconv.ParseBool(s)
	return b
}

// readGroup reads a CodeDeploy deployment group's configuration and alarms.
//
// "You can associate up to ten CloudWatch alarms with a CodeDeploy
// deployment group. If any of the specified alarms are activated, the
// deployment stops, and the status is updated to Stopped."
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html);
// "CodeDeploy implements rollbacks by redeploying, as a new deployment, a
// previously deployed revision."
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html);
// for Lambda, "CodeDeploy will immediately flip the Alias back to old
// version and report a failure to CloudFormation"
// (https://github.com/aws/serverless-application-model/blob/develop/docs/safe_lambda_deployments.rst).
func readGroup(e *model.Evaluator, res map[string]*Resource, g *Resource, u *trafficUnit) {
	cfgName := "CodeDeployDefault.LambdaAllAtOnce" // CodeDeploy's default for Lambda groups
	if v, ok := g.Properties["DeploymentConfigName"]; ok {
		if ref, ok := v.(map[string]any); ok {
			if id, ok := ref["Ref"].(string); ok {
				if c := res[id]; c != nil && c.Type == "AWS::CodeDeploy::DeploymentConfig" {
					u.Shift = readTrafficRouting(e, id, c)
					goto alarms
				}
			}
		}
		cfgName, _ = e.Str(v)
	}
	if c, ok := predefinedLambda[cfgName]; ok {
		c.Name = cfgName
		u.Shift = c
	} else {
		u.Kind, u.Note = "unmodelled", fmt.Sprintf("deployment configuration %q is not one the simulator knows", cfgName)
	}
alarms:
	u.Alarms, u.AlarmsEnabled, u.RollbackOnAlarm = groupAlarms(e, g.Properties)
}

// groupAlarms reads a CodeDeploy deployment group's alarms, whether they
// are enabled, and whether a stop on alarm rolls back
// (AutoRollbackConfiguration Events DEPLOYMENT_STOP_ON_ALARM).
func groupAlarms(e *model.Evaluator, props map[string]any) (alarms []AlarmKey, enabled, rollbackOnAlarm bool) {
	ac, _ := props["AlarmConfiguration"].(map[string]any)
	enabled = boolOf(e, ac["Enabled"])
	list, _ := ac["Alarms"].([]any)
	for _, a := range list {
		am, _ := a.(map[string]any)
		name, _ := e.Str(am["Name"])
		alarms = append(alarms, AlarmKey{Account: e.Scope().Account, Region: e.Scope().Region, Name: name})
	}
	arc, _ := props["AutoRollbackConfiguration"].(map[string]any)
	if boolOf(e, arc["Enabled"]) {
		events, _ := arc["Events"].([]any)
		for _, ev := range events {
			if s, _ := ev.(string); s == "DEPLOYMENT_STOP_ON_ALARM" {
				rollbackOnAlarm = true
			}
		}
	}
	return alarms, enabled, rollbackOnAlarm
}

func readTrafficRouting(e *model.Evaluator, id string, c *Resource) shiftConfig {
	tr, _ := c.Properties["TrafficRoutingConfig"].(map[string]any)
	typ, _ := e.Str(tr["Type"])
	out := shiftConfig{Name: id, Kind: "AllAtOnce"}
	num := func(m map[string]any, k string) float64 {
		s, _ := e.Str(m[k])
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	switch typ {
	case "TimeBasedCanary":
		m, _ := tr["TimeBasedCanary"].(map[string]any)
		out.Kind, out.Percent, out.Interval = "Canary", num(m, "CanaryPercentage"), int(num(m, "CanaryInterval"))
	case "TimeBasedLinear":
		m, _ := tr["TimeBasedLinear"].(map[string]any)
		out.Kind, out.Percent, out.Interval = "Linear", num(m, "LinearPercentage"), int(num(m, "LinearInterval"))
	}
	if (out.Kind == "Canary" || out.Kind == "Linear") && (out.Percent <= 0 || out.Percent > 100 || out.Interval < 0) {
		out.Kind = "AllAtOnce"
	}
	if out.Kind == "Linear" && out.Interval == 0 {
		out.Kind = "AllAtOnce"
	}
	return out
}
