package sim

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/safepipe/safepipe/model"
)

// EC2/on-premises ("Server") deployments made by safepipe's server deploy
// action (constructs/deploy ServerDeployScript): a CodeBuild action whose
// environment names a CodeDeploy application and deployment group
// (SAFEPIPE_APPLICATION, SAFEPIPE_GROUP, SAFEPIPE_REGION) calls
// create-deployment on the group and waits for the deployment to end. The
// stack that creates the group is a code stack: its instances serve the
// version the group last deployed to them.

// serverGroup is a Server deployment group a stack creates.
type serverGroup struct {
	ID, Name string
	// Instances is the group's instance count: its Auto Scaling groups'
	// DesiredCapacity, else MinSize.
	Instances int
	// Batch is how many instances one step of a deployment takes out of
	// service and updates (from the deployment configuration).
	Batch int
	// Config describes the deployment configuration.
	Config string
	// Alarms stop a deployment when AlarmsEnabled.
	Alarms        []AlarmKey
	AlarmsEnabled bool
	// RollbackOnAlarm: AutoRollbackConfiguration has
	// DEPLOYMENT_STOP_ON_ALARM.
	RollbackOnAlarm bool
	// Zonal: the configuration has a ZonalConfig (not modelled).
	Zonal bool
	// Problem says why the simulator cannot model the group ("" when it
	// can); a deployment to it fails.
	Problem string
}

// serverGroups reads a stack's Server deployment groups (those of an
// AWS::CodeDeploy::Application whose ComputePlatform is Server, or
// unset: "Server" is CloudFormation's default), by DeploymentGroupName.
func serverGroups(s *Stack) map[string]serverGroup {
	if s == nil {
		return nil
	}
	e := newEvaluator(s)
	res := s.Template.Resources
	var out map[string]serverGroup
	for _, id := range slices.Sorted(maps.Keys(res)) {
		r := res[id]
		if r.Type != "AWS::CodeDeploy::DeploymentGroup" {
			continue
		}
		ref, _ := r.Properties["ApplicationName"].(map[string]any)
		appID, _ := ref["Ref"].(string)
		app := res[appID]
		if app == nil || app.Type != "AWS::CodeDeploy::Application" {
			continue
		}
		if cp, _ := e.Str(app.Properties["ComputePlatform"]); cp != "" && cp != "Server" {
			continue
		}
		g := readServerGroup(e, res, id, r)
		if out == nil {
			out = map[string]serverGroup{}
		}
		out[g.Name] = g
	}
	return out
}

func readServerGroup(e *model.Evaluator, res map[string]*Resource, id string, r *Resource) serverGroup {
	g := serverGroup{ID: id}
	g.Name, _ = e.Str(r.Properties["DeploymentGroupName"])
	if g.Name == "" {
		// CloudFormation generates a name; the action cannot name it.
		g.Name = id
		g.Problem = fmt.Sprintf("deployment group %s has no DeploymentGroupName", id)
	}
	var problems []string
	asgs, _ := r.Properties["AutoScalingGroups"].([]any)
	for _, a := range asgs {
		ref, _ := a.(map[string]any)
		aid, _ := ref["Ref"].(string)
		asg := res[aid]
		if asg == nil || asg.Type != "AWS::AutoScaling::AutoScalingGroup" {
			problems = append(problems, "an Auto Scaling group that is not a resource of the stack")
			continue
		}
		n := intOf(e, asg.Properties["DesiredCapacity"], -1)
		if n < 0 {
			n = intOf(e, asg.Properties["MinSize"], -1)
		}
		if n < 0 {
			problems = append(problems, fmt.Sprintf("Auto Scaling group %s has no readable DesiredCapacity or MinSize", aid))
			continue
		}
		g.Instances += n
	}
	for _, k := range []string{"Ec2TagFilters", "Ec2TagSet", "OnPremisesInstanceTagFilters", "OnPremisesTagSet"} {
		if _, ok := r.Properties[k]; ok {
			problems = append(problems, fmt.Sprintf("instances selected by %s (their number is not in the templates)", k))
		}
	}
	if g.Instances == 0 && len(problems) == 0 {
		problems = append(problems, "no instances (no Auto Scaling group)")
	}
	g.Batch, g.Config = serverBatch(e, res, r, g.Instances, &problems)
	if ref, ok := r.Properties["DeploymentConfigName"].(map[string]any); ok {
		if id, ok := ref["Ref"].(string); ok && res[id] != nil {
			_, g.Zonal = res[id].Properties["ZonalConfig"]
		}
	}
	g.Alarms, g.AlarmsEnabled, g.RollbackOnAlarm = groupAlarms(e, r.Properties)
	if len(problems) > 0 && g.Problem == "" {
		g.Problem = fmt.Sprintf("deployment group %s: %s", g.Name, problems[0])
		for _, p := range problems[1:] {
			g.Problem += "; " + p
		}
	}
	return g
}

// serverBatch is how many of n instances a deployment updates at a time.
//
// "If you don't specify a deployment configuration, CodeDeploy uses the
// CodeDeployDefault.OneAtATime deployment configuration." and the
// configuration "specifies, through the use of a 'minimum healthy hosts'
// value ..., the number or percentage of instances that must remain
// available at any time during a deployment."
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
// "In an example of nine instances, if a HOST_COUNT of six is specified,
// deploy to up to three instances at a time. ... If a FLEET_PERCENT of 40
// is specified, deploy to up to five instances at a time." (so the
// percentage of instances kept healthy is rounded up), and
// "CodeDeployDefault.OneAtATime returns a minimum healthy instance type of
// MOST_CONCURRENCY and a value of 1. This means a deployment to only one
// instance at a time."
// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_MinimumHealthyHosts.html).
// "CodeDeployDefault.AllAtOnce attempts to deploy an application revision
// to as many instance as possible at once."
// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeploymentGroup.html,
// deploymentConfigName, in its older text). HalfAtATime: we found no
// sentence; it is modelled as minimum healthy hosts FLEET_PERCENT 50 with
// the rounding above (half the instances, rounded down, at a time; see
// doc.go). A batch is at least one instance.
func serverBatch(e *model.Evaluator, res map[string]*Resource, g *Resource, n int, problems *[]string) (int, string) {
	name := "CodeDeployDefault.OneAtATime"
	if v, ok := g.Properties["DeploymentConfigName"]; ok {
		if ref, ok := v.(map[string]any); ok {
			if id, ok := ref["Ref"].(string); ok {
				if c := res[id]; c != nil && c.Type == "AWS::CodeDeploy::DeploymentConfig" {
					return customBatch(e, id, c, n, problems)
				}
			}
		}
		name, _ = e.Str(v)
	}
	atLeast1 := func(b int) int { return max(1, min(b, n)) }
	switch name {
	case "CodeDeployDefault.OneAtATime":
		return 1, name
	case "CodeDeployDefault.HalfAtATime":
		return atLeast1(n / 2), name
	case "CodeDeployDefault.AllAtOnce":
		return atLeast1(n), name
	}
	*problems = append(*problems, fmt.Sprintf("deployment configuration %q is not one the simulator knows", name))
	return 1, name
}

func customBatch(e *model.Evaluator, id string, c *Resource, n int, problems *[]string) (int, string) {
	if _, ok := c.Properties["TrafficRoutingConfig"]; ok {
		*problems = append(*problems, fmt.Sprintf("deployment configuration %s routes traffic (a Lambda or ECS configuration)", id))
		return 1, id
	}
	mh, _ := c.Properties["MinimumHealthyHosts"].(map[string]any)
	typ, _ := e.Str(mh["Type"])
	vs, _ := e.Str(mh["Value"])
	v, err := strconv.Atoi(vs)
	if err != nil || v < 0 {
		*problems = append(*problems, fmt.Sprintf("deployment configuration %s: MinimumHealthyHosts value %q", id, vs))
		return 1, id
	}
	healthy := 0
	switch typ {
	case "HOST_COUNT":
		healthy = v
	case "FLEET_PERCENT":
		if v > 100 {
			*problems = append(*problems, fmt.Sprintf("deployment configuration %s: FLEET_PERCENT %d", id, v))
			return 1, id
		}
		healthy = int(math.Ceil(float64(n) * float64(v) / 100))
	default:
		*problems = append(*problems, fmt.Sprintf("deployment configuration %s: MinimumHealthyHosts type %q", id, typ))
		return 1, id
	}
	return max(1, n-healthy), fmt.Sprintf("%s (minimum healthy hosts %s %d)", id, typ, v)
}

// groupState is a Server deployment group in the simulated world.
type groupState struct {
	g    serverGroup
	inst []int // the version each instance serves; set through serve
	// onNew counts the instances serving the new version (1), kept by
	// serve: a region's share is read every simulated minute.
	onNew int
	rev   int // the revision of the group's last successful deployment
	dep   *serverDeploy
	// waiting is a rollback's deployment, created once dep (stopping)
	// has ended, if it ends by waitUntil (the script's
	// SAFEPIPE_STOP_WAIT_SECONDS).
	waiting   *serverDeploy
	waitUntil time.Time
}

// newVersionShare is the share of the group's instances on the new version.
func (gs *groupState) count(v int) int {
	if v == 1 {
		return gs.onNew
	}
	n := 0
	for _, x := range gs.inst {
		if x == v {
			n++
		}
	}
	return n
}

// serve makes instance i serve version v.
func (gs *groupState) serve(i, v int) {
	if gs.inst[i] == 1 {
		gs.onNew--
	}
	if v == 1 {
		gs.onNew++
	}
	gs.inst[i] = v
}

// serverDeploy is one CodeDeploy deployment to a group.
type serverDeploy struct {
	ar       *actionRun // the action waiting for it; nil for an automatic rollback
	stage    string
	target   int
	from     int  // the revision to roll back to
	alarms   bool // alarm polling on
	inFlight []int
	nextAt   time.Time
	deadline time.Time
	// stopping: StopDeployment answered "Pending: The stop operation is
	// pending." (API_StopDeployment); the batch in flight ends, then the
	// deployment.
	stopping bool
}

// actionEnv merges a CodeBuild action's own environment variables over its
// project's: CodePipeline passes them as the build's overrides, which
// replace "for this build only, the latest ones already defined in the
// build project" (StartBuild, environmentVariablesOverride,
// https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html).
// The action's EnvironmentVariables is a JSON list of {name, value, type}
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html),
// read strictly by parseActionEnv; what it read is merged even when it
// also found a problem, which the error names.
func actionEnv(a *Action) error {
	raw, ok := a.Config["EnvironmentVariables"]
	if !ok {
		return nil
	}
	vars, err := parseActionEnv(raw)
	if a.Env == nil {
		a.Env = map[string]string{}
	}
	for _, v := range vars {
		a.Env[v.Name] = v.Value
	}
	if err != nil {
		return fmt.Errorf("action %s: %w", a.Name, err)
	}
	return nil
}

// isServerDeploy: a CodeBuild action whose environment names a CodeDeploy
// deployment group (safepipe's server deploy step).
func isServerDeploy(a *Action) bool {
	if a.Provider != "CodeBuild" {
		return false
	}
	_, g := a.Env["SAFEPIPE_GROUP"]
	_, app := a.Env["SAFEPIPE_APPLICATION"]
	return g || app
}

// startServer runs the server deploy script's logic. In a rollback
// execution it stops the deployment still in progress in the group and
// deploys the earlier revision with alarm polling off; otherwise it
// deploys the execution's revision. The action waits for the deployment
// and fails when it is stopped or fails, or at SAFEPIPE_DEADLINE_MINUTES.
// Whatever the simulator cannot resolve fails the action, with a note.
func (r *runner) startServer(ar *actionRun, sr *stageRun) {
	a := ar.a
	ar.server = true
	fail := func(why string) {
		ar.status, ar.why = "Failed", why
		r.note(fmt.Sprintf("stage %s: server deploy action %s is not modelled: %s; it fails", sr.st.Name, a.Name, why))
	}
	if a.EnvErr != "" {
		fail(a.EnvErr)
		return
	}
	region, name := a.Env["SAFEPIPE_REGION"], a.Env["SAFEPIPE_GROUP"]
	if region == "" || name == "" {
		fail("its environment names no SAFEPIPE_REGION or SAFEPIPE_GROUP")
		return
	}
	accounts := map[string]bool{}
	for _, k := range sr.st.DeployKeys() {
		if k.Region == region {
			accounts[k.Account] = true
		}
	}
	var found []*groupState
	var where []StackKey
	for _, k := range r.keys {
		if !accounts[k.Account] || k.Region != region {
			continue
		}
		if gs := r.stacks[k].groups[name]; gs != nil {
			found, where = append(found, gs), append(where, k)
		}
	}
	switch {
	case len(found) == 0:
		fail(fmt.Sprintf("no stack the stage deploys in %s creates the deployment group %q", region, name))
		return
	case len(found) > 1:
		fail(fmt.Sprintf("the deployment group %q is created by %d stacks in %s", name, len(found), region))
		return
	}
	gs := found[0]
	if gs.g.Problem != "" {
		fail(gs.g.Problem)
		return
	}
	if app := a.Env["SAFEPIPE_APPLICATION"]; app != "" && !groupOfApp(r.stacks[where[0]].template, gs.g.ID, app) {
		fail(fmt.Sprintf("the deployment group %q is not in the application %q", name, app))
		return
	}
	d := &serverDeploy{ar: ar, stage: sr.st.Name, target: sr.exec.version, from: gs.rev, alarms: true, nextAt: r.now}
	if m, err := strconv.Atoi(a.Env["SAFEPIPE_DEADLINE_MINUTES"]); err == nil && m > 0 {
		d.deadline = r.now.Add(time.Duration(m) * time.Minute)
	}
	if sr.exec.kind == execRollback {
		// The script: "a rollback execution: deploying the earlier
		// revision with alarm polling off", after stop-deployment
		// --no-auto-rollback-enabled of any deployment in progress, and
		// only once that deployment has ended: StopDeployment may answer
		// "Pending: The stop operation is pending." (API_StopDeployment),
		// and the group takes one deployment at a time. The simulator
		// takes a pending stop to end with the batch in flight (an
		// assumption: the docs give no duration), and the script waits
		// SAFEPIPE_STOP_WAIT_SECONDS (15 minutes) for it.
		d.alarms = false
		if gs.dep != nil {
			r.event(sr.st.Name, "%s: stops the deployment in progress in %s and waits for it to end", a.Name, name)
			old := gs.dep
			if old.ar != nil && old.ar.status == "InProgress" {
				old.ar.status, old.ar.why, old.ar.doneAt = "Failed", "stopped by the rollback execution", r.now
			}
			old.ar, old.stopping = nil, true
			wait := 900 * time.Second
			if sec, err := strconv.Atoi(a.Env["SAFEPIPE_STOP_WAIT_SECONDS"]); err == nil && sec > 0 {
				wait = time.Duration(sec) * time.Second
			}
			if w := gs.waiting; w != nil && w.ar != nil && w.ar.status == "InProgress" {
				// A later rollback's step takes the group: the earlier
				// one, still waiting, never creates its deployment.
				w.ar.status, w.ar.why, w.ar.doneAt = "Failed", "a later rollback's deployment took the group", r.now
			}
			gs.waiting, gs.waitUntil = d, r.now.Add(wait)
			return
		}
	} else if gs.dep != nil {
		// CreateDeployment's "DeploymentLimitExceededException The number
		// of allowed deployments was exceeded."
		// (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html)
		// does not say how many run per group; that a second one is
		// refused is an assumption (doc.go), the one the script makes
		// when it stops the deployment in progress before a rollback's.
		ar.status, ar.why = "Failed", fmt.Sprintf("a deployment is already in progress in %s", name)
		return
	}
	if d.alarms && gs.g.AlarmsEnabled && r.opts.AlarmAtStart == AlarmAtStartIgnored {
		r.note(fmt.Sprintf("the reading %q applies to Lambda deployments: the alarms of an EC2 (Server) deployment group stop its deployments from their start", AlarmAtStartIgnored))
	}
	gs.dep = d
	r.event(sr.st.Name, "%s: deployment of version %d to %s (%s) begins: %d instance(s), %d at a time, %s", a.Name, d.target, name, where[0], len(gs.inst), gs.g.Batch, gs.g.Config)
}

func groupOfApp(s *Stack, groupID, app string) bool {
	e := newEvaluator(s)
	g := s.Template.Resources[groupID]
	v, _ := e.Str(g.Properties["ApplicationName"])
	return v == app
}

// releaseServer ends a group's deployment and the wait of the action on it.
func (r *runner) releaseServer(gs *groupState, status, why string) {
	d := gs.dep
	gs.dep = nil
	if d.ar != nil && d.ar.status == "InProgress" {
		d.ar.status, d.ar.why, d.ar.doneAt = status, why, r.now
	}
}

// stepServers advances every group's deployment by a minute.
//
// Time: a batch of instances takes Options.ActionMinutes to update (the
// docs give no duration; the instances of a batch are out of service
// meanwhile and serve the new version when it ends). Alarms are polled
// every minute: "If any of the specified alarms are activated, the
// deployment stops, and the status is updated to Stopped."
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html);
// an alarm that does not exist stops it too ("ignorePollAlarmFailure ...
// false: The deployment stops if alarm status information can't be
// retrieved from Amazon CloudWatch."
// https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_AlarmConfiguration.html).
// With DEPLOYMENT_STOP_ON_ALARM, "CodeDeploy implements rollbacks by
// redeploying, as a new deployment, a previously deployed revision."
// (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html):
// a new deployment of the group's last successful revision, with the
// same configuration; that it polls no alarm is an assumption (doc.go).
func (r *runner) stepServers() {
	for _, s := range r.ordered {
		for _, gs := range s.groupList {
			if gs.dep != nil {
				r.stepServer(s.key, gs)
			}
		}
	}
}

func (r *runner) stepServer(k StackKey, gs *groupState) {
	d := gs.dep
	if d.stopping {
		if w := gs.waiting; w != nil && w.ar != nil && w.ar.status == "InProgress" && !r.now.Before(gs.waitUntil) {
			w.ar.status, w.ar.why, w.ar.doneAt = "Failed", fmt.Sprintf("the deployment in progress in %s did not stop in time; no other started", gs.g.Name), r.now
			gs.waiting = nil
		}
		if r.now.Before(d.nextAt) {
			return
		}
		for _, i := range d.inFlight {
			gs.serve(i, d.target)
		}
		gs.dep = nil
		r.event(d.stage, "the stopped deployment of version %d to %s (%s) has ended", d.target, gs.g.Name, k)
		if w := gs.waiting; w != nil {
			gs.waiting = nil
			w.nextAt = r.now
			gs.dep = w
			r.event(w.stage, "deployment of version %d to %s (%s) begins, the stopped one having ended", w.target, gs.g.Name, k)
		}
		return
	}
	if d.ar != nil && d.ar.status == "InProgress" && !d.deadline.IsZero() && !r.now.Before(d.deadline) {
		// The script gives up at its deadline; the deployment goes on.
		d.ar.status, d.ar.why, d.ar.doneAt = "Failed", fmt.Sprintf("deployment to %s still in progress at the deadline", gs.g.Name), r.now
	}
	if d.alarms && gs.g.AlarmsEnabled {
		for _, ak := range gs.g.Alarms {
			st := r.state(ak)
			if st != stateAlarm && st != "" {
				continue
			}
			why := fmt.Sprintf("deployment to %s stopped: alarm %s is in ALARM", gs.g.Name, ak.Name)
			if st == "" {
				why = fmt.Sprintf("deployment to %s stopped: alarm %s does not exist", gs.g.Name, ak.Name)
			}
			r.releaseServer(gs, "Failed", why)
			r.event(d.stage, "%s (%s)", why, k)
			if gs.g.RollbackOnAlarm {
				gs.dep = &serverDeploy{stage: d.stage, target: d.from, from: d.from, nextAt: r.now}
				r.event(d.stage, "CodeDeploy rolls %s back to version %d", gs.g.Name, d.from)
			}
			return
		}
	}
	if r.now.Before(d.nextAt) {
		return
	}
	for _, i := range d.inFlight {
		gs.serve(i, d.target)
	}
	d.inFlight = d.inFlight[:0]
	for i, v := range gs.inst {
		if v != d.target && len(d.inFlight) < gs.g.Batch {
			d.inFlight = append(d.inFlight, i)
		}
	}
	if len(d.inFlight) == 0 {
		gs.rev = d.target
		r.event(d.stage, "deployment of version %d to %s (%s) succeeded", d.target, gs.g.Name, k)
		r.releaseServer(gs, "Succeeded", "")
		return
	}
	d.nextAt = r.now.Add(time.Duration(r.opts.ActionMinutes) * time.Minute)
}
