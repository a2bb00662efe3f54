package sim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/gates"
)

// Execution types (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PipelineExecution.html:
// "executionType ... Valid Values: STANDARD | ROLLBACK").
const (
	execStandard = "STANDARD"
	execRollback = "ROLLBACK"
)

type execution struct {
	id      string
	kind    string
	version int // the artifacts: 1 the change, 0 what ran before
	status  string
	stage   int // rollback: the stage it rolls back
}

const (
	phaseEntry = iota
	phaseActions
	phaseBake
	phaseDone
)

type ruleRun struct {
	r      *Rule
	status string // "", "Succeeded", "Failed"
	first  time.Time
	why    string
}

type actionRun struct {
	a         *Action
	startedAt time.Time
	doneAt    time.Time
	status    string // InProgress, Succeeded, Failed
	op        *stackOp
	why       string
	server    bool // a server deploy action (server.go)
	failAt    bool // an opaque action a fail fault fails at doneAt
	bake      *bakeRun
}

// bakeRun is a bake action in progress: when its part started, and when
// the controller last replied.
type bakeRun struct {
	start, lastReply time.Time
}

type stageRun struct {
	st       *Stage
	exec     *execution
	phase    int
	arrived  time.Time
	entered  time.Time
	baking   time.Time
	ended    time.Time
	result   string
	detail   string
	rules    []*ruleRun
	condFrom time.Time
	order    int
	actions  []*actionRun
	holdWhy  string
	// bakedByAction: a bake action of the stage passed after baking.
	bakedByAction bool
	// overridden: an operator overrode the entry condition (Overrides).
	overridden bool
}

// inBake reports whether the stage run is baking: a bake action or its
// OnSuccess condition holds it.
func (sr *stageRun) inBake() bool {
	return sr.phase == phaseBake || (sr.phase == phaseActions && !sr.baking.IsZero())
}

// stackOp is one stack update in flight.
type stackOp struct {
	key        StackKey
	act        *actionRun
	kind       string // identical, create, config, code
	tmpl       *Stack
	version    int
	resDone    time.Time
	shifting   bool
	shiftStart time.Time
	unit       trafficUnit
	ignored    map[AlarmKey]bool
	prev       stackState
	failedAt   time.Time
	why        string
	moved      bool // the update moved traffic between versions
}

type runner struct {
	*world
	execs []*execution
	// quietRounds counts the minutes in a row nothing was at work.
	quietRounds int
	std         *execution
	runs        []*stageRun
	faults      []*resolvedFault
	stageSt     map[string]gates.StageState
	// stageSpare is refreshStages' other map: the stage states are built
	// there every simulated minute, compared and swapped in, instead of a
	// new map each minute (38% of a run's allocation on the reference).
	// Nothing holds stageSt beyond the minute it is read in.
	stageSpare map[string]gates.StageState
	stChange   bool
	// property bookkeeping
	firstV1   map[string]time.Time
	fullAt    map[string]time.Time
	waveBaked map[int]time.Time
	prodWave  map[string]int
	oneboxMax map[string]float64 // stage|region → max share during its bake
	shareLog  map[string][]SharePoint
	lastShare map[string]float64
	violated  map[string]bool
	regions   []string // production regions, sorted
	failing   []Fault  // fail:STAGE/ACTION faults
}

// Run simulates the model's pipeline taking one change (new code in every
// stack it deploys) from opts.Start, with opts.Faults, and checks the
// safety properties.
func Run(m *Model, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	faults, failing, err := resolveFaults(m, opts.Faults)
	if err != nil {
		return nil, err
	}
	unpreparedNotes, err := checkUnprepared(m, opts.Unprepared)
	if err != nil {
		return nil, err
	}
	var oerrs []error
	for _, name := range opts.Overrides {
		i := slices.IndexFunc(m.Pipeline.Stages, func(st *Stage) bool { return st.Name == name })
		switch {
		case i < 0:
			oerrs = append(oerrs, fmt.Errorf("sim: override %q: no such stage", name))
		case m.Pipeline.Stages[i].BeforeEntry == nil:
			oerrs = append(oerrs, fmt.Errorf("sim: override %q: the stage has no entry condition to override", name))
		}
	}
	if err := errors.Join(oerrs...); err != nil {
		return nil, err
	}
	res := &Result{Pipeline: m.Pipeline.Name, Start: opts.Start.UTC(), Reached: []string{}, RolledBack: []string{}, BlastRadius: []string{},
		Violations: []Violation{}, Faults: []FaultResult{}, Regions: []RegionResult{}, Closed: []Interval{}, Events: []Event{}, Notes: []string{},
		Options: RunOptions{DeployMinutes: opts.DeployMinutes, ActionMinutes: opts.ActionMinutes,
			RollbackConditions: opts.RollbackConditions, BakeWatch: opts.BakeWatch, AlarmAtStart: opts.AlarmAtStart, RuleTimeout: opts.RuleTimeout, OneBoxShare: opts.OneBoxShare}}
	r := &runner{world: newWorld(m, opts, res), faults: faults, failing: failing, stageSt: map[string]gates.StageState{},
		firstV1: map[string]time.Time{}, fullAt: map[string]time.Time{}, waveBaked: map[int]time.Time{}, prodWave: map[string]int{},
		oneboxMax: map[string]float64{}, shareLog: map[string][]SharePoint{}, lastShare: map[string]float64{}, violated: map[string]bool{}}
	for _, n := range append(slices.Clip(m.Notes), unpreparedNotes...) {
		r.note(n)
	}
	r.note(fmt.Sprintf("readings: stage conditions during a rollback execution %s; an OnSuccess alarm rule %s; a CodeDeploy alarm already in ALARM when a deployment starts %s; a rule %s",
		opts.RollbackConditions, map[Reading]string{BakeContinuous: "watches continuously over its WaitTime", BakeAtEnd: "checks once at the end of its WaitTime", BakeImmediate: "succeeds at once when its alarm is OK at the first check"}[opts.BakeWatch],
		opts.AlarmAtStart, map[Reading]string{RuleTimeoutNone: "waits its WaitTime (or for its window)", RuleTimeoutMinimum: "times out after 5 minutes"}[opts.RuleTimeout]))
	r.baseline()
	r.loop()
	r.finish()
	return res, nil
}

// baseline is the world before the run: one earlier successful execution
// deployed the previous version (0) through every stage, so every stack the
// pipeline deploys exists with the template of the last stage that deploys
// it, and that execution is every stage's rollback target.
func (r *runner) baseline() {
	var opaqueActions []string
	for _, st := range r.p.Stages {
		for _, a := range st.Actions {
			if a.DeploysRegion() && !a.Deploys() && st.Production {
				// An opaque deploy's region is a production region too.
				if _, ok := r.prodWave[a.Place.Region]; !ok {
					r.prodWave[a.Place.Region] = st.Wave
				}
			}
			if !a.Deploys() {
				continue
			}
			k := a.Key()
			s := r.stacks[k]
			if s == nil {
				s = &stackState{key: k, exists: true}
				r.stacks[k] = s
			}
			if a.Template != nil {
				s.template, s.effective, s.code = a.Template, a.Template.Template.Effective, hasCode(a.Template)
				s.tasks = ecsTasks(a.Template)
				if s.groups == nil {
					for name, g := range serverGroups(a.Template) {
						if s.groups == nil {
							s.groups = map[string]*groupState{}
						}
						s.groups[name] = &groupState{g: g, inst: make([]int, g.Instances)}
					}
					for _, name := range slices.Sorted(maps.Keys(s.groups)) {
						s.groupList = append(s.groupList, s.groups[name])
					}
				}
				s.code = s.code || len(s.groups) > 0
			}
			if st.Production {
				s.prod = true
				if _, ok := r.prodWave[k.Region]; !ok {
					r.prodWave[k.Region] = st.Wave
				}
			}
			if a.Template == nil {
				r.note(fmt.Sprintf("stage %s: action %s deploys a template not in the assembly (%s): modelled as a configuration change", st.Name, a.Name, a.Config["TemplatePath"]))
			}
		}
		for _, a := range st.Actions {
			switch a.Provider {
			case "CodeDeploy", "CodeDeployToECS":
				r.note(fmt.Sprintf("stage %s: action %s (%s) deploys a revision outside CloudFormation; EC2 and ECS blue/green deployments by pipeline actions are not modelled (it succeeds after %d min, and its traffic is not tracked)", st.Name, a.Name, a.Provider, r.opts.ActionMinutes))
			case "Manual":
				r.note(fmt.Sprintf("stage %s: manual approval %s is assumed approved at once", st.Name, a.Name))
			case "CodeBuild":
				if a.EnvErr != "" && !strings.Contains(a.Config["EnvironmentVariables"], "SAFEPIPE_") {
					r.note(fmt.Sprintf("stage %s: action %s: %s (it names no safepipe step: opaque)", st.Name, a.Name, a.EnvErr))
				}
			}
			if opaque(a) && a.Category != "Source" {
				opaqueActions = append(opaqueActions, st.Name+"/"+a.Name)
			}
		}
	}
	if len(opaqueActions) > 0 {
		r.note(fmt.Sprintf("%d action(s) are opaque (%s): the simulator never runs what an action carries (build commands, scripts, functions); each succeeds after %d min unless a fail:STAGE/ACTION fault fails it", len(opaqueActions), summarize(opaqueActions, 5), r.opts.ActionMinutes))
	}
	var zonal []string
	for _, k := range slices.SortedFunc(maps.Keys(r.stacks), compareStackKeys) {
		s := r.stacks[k]
		if s.template == nil {
			continue
		}
		for _, u := range trafficUnits(s.template) {
			if u.Note != "" {
				r.note(fmt.Sprintf("%s: %s; its traffic is modelled as moving at once", k, u.Note))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(s.groups)) {
			if s.groups[name].g.Zonal {
				zonal = append(zonal, name)
			}
		}
	}
	if len(zonal) > 0 {
		r.note(fmt.Sprintf("%d deployment group(s) (%s first) have a ZonalConfig (zone by zone, monitor durations, minimum healthy hosts per zone), which is not modelled: their instances move by their minimum healthy hosts alone", len(zonal), zonal[0]))
	}
	for _, reg := range slices.Sorted(maps.Keys(r.prodWave)) {
		r.shareLog[reg] = []SharePoint{{At: fmtTime(r.opts.Start), Share: 0}}
		r.regions = append(r.regions, reg)
	}
	r.keys = slices.SortedFunc(maps.Keys(r.stacks), compareStackKeys)
	r.byRegion = map[string][]*stackState{}
	for _, k := range r.keys {
		r.ordered = append(r.ordered, r.stacks[k])
	}
	for _, k := range r.keys {
		if s := r.stacks[k]; s.prod {
			r.byRegion[k.Region] = append(r.byRegion[k.Region], s)
		}
	}
	r.std = &execution{id: "exec-change", kind: execStandard, version: 1, status: "InProgress"}
	r.execs = append(r.execs, r.std)
}

func (r *runner) event(stage, format string, args ...any) {
	r.res.Events = append(r.res.Events, Event{At: fmtTime(r.now), Stage: stage, What: fmt.Sprintf(format, args...)})
}

func (r *runner) violate(v Violation) {
	key := v.Property + "|" + v.Stage + "|" + v.Region + "|" + v.Detail
	if r.violated[key] {
		return
	}
	r.violated[key] = true
	r.res.Violations = append(r.res.Violations, v)
}

const warmUp = 10 * time.Minute

func (r *runner) loop() {
	start := r.opts.Start.Truncate(time.Minute)
	end := start.Add(time.Duration(r.opts.MaxDays) * 24 * time.Hour)
	for r.now = start.Add(-warmUp); !r.now.After(end); r.now = r.now.Add(time.Minute) {
		if r.now.Equal(start) {
			r.arrive(r.std, 0)
		}
		r.stepFaults()
		r.stepStacks()
		r.stepRamps()
		r.stepServers()
		r.refreshStages()
		r.controller(r.stageSt, r.stChange)
		r.rollBackRegions()
		r.evalGateAlarms()
		r.stepPipeline()
		r.sample()
		if !r.now.Before(start) && r.quiet() {
			// The gate controller sees a stage's rollback end at its next
			// round, and may then roll a region's earlier steps back
			// (gates.Stage.RollsBack): one more quiet minute first.
			r.quietRounds++
			if r.quietRounds > 1 || !r.rollsBack() {
				break
			}
		} else {
			r.quietRounds = 0
		}
	}
	if r.now.After(end) {
		r.now = end
		r.note(fmt.Sprintf("the simulation stopped after %d days with work still in progress", r.opts.MaxDays))
	}
}

// quiet reports whether nothing more can happen: the change's execution
// and every rollback ended and no stack or script is still at work (a
// fault that fires or clears later changes nothing any more), and no
// latent bad version still serving is yet to show (its alarm firing after
// the pipeline is done is how far the change went unseen).
func (r *runner) quiet() bool {
	for _, e := range r.execs {
		if e.status == "InProgress" {
			return false
		}
	}
	for _, f := range r.faults {
		if !f.Bad || f.After == 0 {
			continue
		}
		for _, st := range r.p.Stages[f.stage.Index:] {
			if !r.entered(st) {
				continue
			}
			for _, reg := range st.Regions() {
				if r.regionShare(reg) == 0 {
					continue
				}
				if at, seen := f.badAt[reg]; !seen || r.now.Before(at.Add(f.After)) {
					return false
				}
			}
		}
	}
	for _, s := range r.stacks {
		if s.op != nil || s.busy() {
			return false
		}
	}
	return true
}

// --- faults ---

func (r *runner) stepFaults() {
	for _, f := range r.faults {
		if f.Bad {
			r.stepBad(f)
			continue
		}
		if f.done {
			continue
		}
		if !f.active {
			var at time.Time
			if f.stage == nil {
				at = r.opts.Start.Add(f.After)
			} else if sr := r.firstRun(f.stage, execStandard); sr != nil && !sr.entered.IsZero() {
				at = sr.entered.Add(f.After)
			}
			if at.IsZero() || r.now.Before(at) {
				continue
			}
			f.active, f.fired = true, r.now
			f.during = r.inProgress()
			if f.Controller {
				r.down++
				r.event(stageName(f.during), "fault %s: the gate controller stops", f.Spec)
				continue
			}
			r.setForced(f.force, 1)
			r.event(stageName(f.during), "fault %s: %s goes to ALARM", f.Spec, f.watched)
			continue
		}
		if !r.faultOver(f) {
			continue
		}
		f.active, f.done, f.cleared = false, true, r.now
		if f.Controller {
			r.down--
			r.event(stageName(f.during), "fault %s: the gate controller runs again", f.Spec)
			continue
		}
		r.setForced(f.force, -1)
		r.event(stageName(f.during), "fault %s: %s returns to OK", f.Spec, f.watched)
	}
}

// stepBad follows a bad-version fault: in every region a stage from the
// fault's on makes the change serve, the alarm that stage watches there
// (its aggregate, or the first it watches) goes to ALARM for as long as
// the change serves; a region where it watches none is noted.
func (r *runner) stepBad(f *resolvedFault) {
	for _, st := range r.p.Stages[f.stage.Index:] {
		if !r.entered(st) {
			continue // the change serves there from an earlier stage: not bad yet
		}
		for _, reg := range st.Regions() {
			serving := r.regionShare(reg) > 0
			if key, ok := f.forcedAt[reg]; ok {
				if !serving {
					r.setForced(key, -1)
					delete(f.forcedAt, reg)
					r.event(st.Name, "fault %s: the bad version no longer serves in %s; %s returns to OK", f.Spec, reg, key)
				}
				continue
			}
			if !serving {
				continue
			}
			if _, seen := f.badAt[reg]; !seen {
				f.badAt[reg] = r.now
			}
			if r.now.Before(f.badAt[reg].Add(f.After)) {
				continue // latent: not seen yet
			}
			if f.fired.IsZero() {
				f.fired, f.during, f.active = r.now, st, true
			}
			if f.noted[reg] {
				continue
			}
			key, ok := r.m.aggregateAlarm(st, reg)
			if !ok {
				f.noted[reg] = true
				r.note(fmt.Sprintf("fault %s: stage %s watches no alarm in %s: nothing can see the bad version there", f.Spec, st.Name, reg))
				continue
			}
			force := key
			if d := r.m.Alarms[key]; d != nil && d.Composite {
				if child, ok := r.m.firstMetricChild(d, 0); ok {
					force = child
				}
			}
			r.setForced(force, 1)
			f.forcedAt[reg] = force
			r.event(st.Name, "fault %s: the bad version serves in %s; %s goes to ALARM", f.Spec, reg, key)
		}
	}
}

// entered reports whether the change's execution has entered the stage.
func (r *runner) entered(st *Stage) bool {
	sr := r.firstRun(st, execStandard)
	return sr != nil && !sr.entered.IsZero()
}

func stageName(s *Stage) string {
	if s == nil {
		return ""
	}
	return s.Name
}

// faultOver: a fault with a hold lasts that long; the organisation's
// lasts to the end; a region's lasts while the change is in the region.
func (r *runner) faultOver(f *resolvedFault) bool {
	min := time.Duration(r.opts.ClearMinutes) * time.Minute
	switch {
	case f.Hold > 0:
		return !r.now.Before(f.fired.Add(f.Hold))
	case f.Org:
		return false
	}
	in := false
	for _, s := range r.stacks {
		if s.key.Region == f.watched.Region && s.key.Account == f.watched.Account && (s.op != nil || s.busy() || s.share() > 0) {
			in = true
		}
	}
	if in {
		f.gone = time.Time{}
		return false
	}
	if f.gone.IsZero() {
		f.gone = r.now
	}
	return !r.now.Before(f.fired.Add(min)) && !r.now.Before(f.gone.Add(min))
}

// inProgress is the stage the change's execution is in (entered and not
// ended), nil between stages.
func (r *runner) inProgress() *Stage {
	for _, sr := range r.runs {
		if sr.exec == r.std && sr.phase != phaseDone && !sr.entered.IsZero() {
			return sr.st
		}
	}
	return nil
}

func (r *runner) firstRun(st *Stage, kind string) *stageRun {
	for _, sr := range r.runs {
		if sr.st == st && sr.exec.kind == kind {
			return sr
		}
	}
	return nil
}

// --- CloudFormation and CodeDeploy ---

// startDeploy starts a stack update. "CloudFormation ... performs an
// CodeDeploy deployment when the version changes on the alias"
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-updatepolicy.html),
// and the stack update waits for it: CodeDeploy "report[s] a failure to
// CloudFormation" (SAM safe deployments; docs/aws-semantics.md Q9, safe
// assumption 3). An update whose template (Metadata aside) and code are
// what is deployed changes nothing and succeeds (Q13's safe assumption).
func (r *runner) startDeploy(ar *actionRun, version int) {
	a := ar.a
	k := a.Key()
	s := r.stacks[k]
	op := &stackOp{key: k, act: ar, tmpl: a.Template, version: version, prev: *s}
	ar.op = op
	s.op = op
	code := a.Template != nil && hasCode(a.Template)
	effective := ""
	if a.Template != nil {
		effective = a.Template.Template.Effective
	}
	switch {
	case !s.exists:
		op.kind = "create"
	case effective == s.effective && (!code || s.version == version):
		op.kind = "identical"
	case code && s.version != version:
		op.kind = "code"
	default:
		op.kind = "config"
	}
	d := time.Duration(r.opts.DeployMinutes) * time.Minute
	if op.kind == "identical" {
		d = time.Minute
	}
	op.resDone = r.now.Add(d)
	r.event(ar.st(r), "%s: %s update of %s begins", a.Name, op.kind, k)
}

func (ar *actionRun) st(r *runner) string {
	for _, sr := range r.runs {
		if slices.Contains(sr.actions, ar) {
			return sr.st.Name
		}
	}
	return ""
}

func (r *runner) stepStacks() {
	for _, k := range r.keys {
		s := r.stacks[k]
		op := s.op
		if op == nil {
			continue
		}
		if !op.failedAt.IsZero() { // CloudFormation rolls the stack back
			if !r.now.Before(op.failedAt.Add(time.Duration(r.opts.ActionMinutes) * time.Minute)) {
				prev := op.prev
				s.effective, s.version, s.template, s.cur, s.next, s.w, s.exists = prev.effective, prev.version, prev.template, prev.cur, prev.next, 0, prev.exists
				s.ramp = nil
				s.op = nil
				op.act.status, op.act.why = "Failed", op.why
				r.event(op.act.st(r), "%s: stack %s rolled back by CloudFormation (%s)", op.act.a.Name, k, op.why)
			}
			continue
		}
		if !op.shifting {
			if r.now.Before(op.resDone) {
				continue
			}
			r.applyResources(s, op)
			if !op.failedAt.IsZero() {
				continue // refused: CloudFormation rolls the stack back
			}
			if !op.shifting {
				r.completeOp(s, op)
				continue
			}
		}
		r.stepShift(s, op)
	}
}

func (r *runner) applyResources(s *stackState, op *stackOp) {
	prevCur := s.cur
	s.exists = true
	if op.tmpl != nil {
		s.template, s.effective, s.code = op.tmpl, op.tmpl.Template.Effective, hasCode(op.tmpl) || len(s.groups) > 0
		s.tasks = ecsTasks(op.tmpl)
	}
	if op.tmpl != nil && op.kind != "identical" {
		for _, u := range trafficUnits(op.tmpl) {
			if u.Kind == "alias-controller" {
				r.applyAliasController(s, op, u, prevCur)
				return
			}
		}
	}
	switch op.kind {
	case "create":
		s.version, s.cur, s.next, s.w = op.version, op.version, op.version, 0
	case "code":
		s.version = op.version
		units := trafficUnits(op.tmpl)
		var primary *trafficUnit
		for i := range units {
			if units[i].Kind == "lambda-codedeploy" || units[i].Kind == "ecs-rolling" {
				primary = &units[i]
				break
			}
		}
		if primary == nil {
			s.cur, s.next, s.w = op.version, op.version, 0
			return
		}
		op.unit = *primary
		if op.unit.Kind == "ecs-rolling" {
			op.unit.Shift.Interval = r.opts.DeployMinutes
		}
		op.shifting, op.shiftStart = true, r.now
		s.cur, s.next, s.w = prevCur, op.version, 0
		op.ignored = map[AlarmKey]bool{}
		if op.unit.IgnoreAlarmsInAlarmAtStart || r.opts.AlarmAtStart == AlarmAtStartIgnored {
			for _, ak := range op.unit.Alarms {
				if r.state(ak) == stateAlarm {
					op.ignored[ak] = true
				}
			}
		}
		r.event(op.act.st(r), "%s: %s shifts traffic to the new version: %s", op.act.a.Name, s.key, op.unit.Shift)
	}
}

// applyAliasController applies safepipe's alias controller at once, with
// no alarm to stop it: a first deployment or mode "full" serves the
// deployed version alone; mode "canary" keeps the version the alias
// served and gives the deployed one Percent. The upgrade-downgrade test's
// modes: "upgrade-half" gives the deployed version half and records the
// version served before; "downgrade-half" gives that version half back;
// "downgrade" serves it alone. The controller refuses both for a version
// the test did not record, and fails the stack update — except for the
// version live before the test, which a stage rollback redeploys: that
// one serves alone (constructs/deploy, TestUpgradeDowngradeRollsBack).
func (r *runner) applyAliasController(s *stackState, op *stackOp, u trafficUnit, prevCur int) {
	before, beforeCur, beforeW := s.shareOf(op.version), s.cur, s.w
	s.version = op.version
	// A deployment moves the alias: a ramp under way stops (its driver
	// finds the alias no longer serving the ramp's versions).
	s.ramp = nil
	defer func() {
		op.moved = s.shareOf(op.version) != before || s.cur != beforeCur || s.w != beforeW || s.ramp != nil
	}()
	switch {
	case u.Mode == "upgrade-half":
		s.udVersion, s.udBefore, s.udRecorded = op.version, 0, false
		if op.kind != "create" && prevCur != op.version {
			s.udBefore, s.udRecorded = prevCur, true
			s.cur, s.next, s.w = prevCur, op.version, 0.5
		} else {
			s.cur, s.next, s.w = op.version, op.version, 0
		}
	case (u.Mode == "downgrade-half" || u.Mode == "downgrade") && s.udRecorded && s.udVersion != op.version && op.version == s.udBefore:
		// A stage rollback: the template of the execution rolled back to
		// carries the version live before the test; the controller serves
		// it alone.
		s.cur, s.next, s.w = op.version, op.version, 0
		r.event(op.act.st(r), "%s: %s: rolling back the upgrade-downgrade test: the version live before it serves alone", op.act.a.Name, s.key)
	case u.Mode == "downgrade-half" || u.Mode == "downgrade":
		if s.udVersion != op.version {
			// "no upgrade-half of version … is recorded": the controller
			// fails the stack update and CloudFormation rolls it back.
			op.failedAt, op.why = r.now, fmt.Sprintf("the alias controller refuses mode %s: no upgrade-half of this version is recorded", u.Mode)
			r.event(op.act.st(r), "%s: %s: %s", op.act.a.Name, s.key, op.why)
			return
		}
		if !s.udRecorded {
			r.event(op.act.st(r), "%s: %s: no version was live before the upgrade-downgrade test: nothing to downgrade to", op.act.a.Name, s.key)
			s.cur, s.next, s.w = op.version, op.version, 0
			break
		}
		if u.Mode == "downgrade" {
			s.cur, s.next, s.w = s.udBefore, s.udBefore, 0
		} else {
			s.cur, s.next, s.w = op.version, s.udBefore, 0.5
		}
	case op.kind == "create" || u.Mode == "full" || prevCur == op.version:
		s.cur, s.next, s.w = op.version, op.version, 0
	case u.Ramp != nil && s.rampLiveSet && op.version == s.rampLive:
		// The code live when the last ramp started: a stage rollback. The
		// controller serves it alone (constructs/deploy,
		// TestRampRollsBackAtOnce).
		s.cur, s.next, s.w = op.version, op.version, 0
		s.rampLiveSet = false
		r.event(op.act.st(r), "%s: %s: the version live before the ramp serves alone again", op.act.a.Name, s.key)
	default:
		s.cur, s.next, s.w = prevCur, op.version, u.Percent/100
		if u.Ramp != nil {
			s.ramp = &rampRun{ramp: u.Ramp, since: r.now}
			s.rampLive, s.rampLiveSet = prevCur, true
			r.event(op.act.st(r), "%s: %s: the ramp starts (%s to 100%%, alarm %s)", op.act.a.Name, s.key, u.Ramp.Duration(), u.Ramp.Alarm)
		}
	}
	r.event(op.act.st(r), "%s: %s: the alias controller gives the deployed version %.0f%%", op.act.a.Name, s.key, 100*s.shareOf(op.version))
}

// stepRamps takes each ramping alias one tick of its driver further
// (constructs/deploy, rampDriverCode): the alarm in ALARM, or missing,
// gives the new version nothing and ends the ramp; an alarm not OK
// restarts the hold; a hold over raises the share to the next step, and
// 100 ends the ramp with the new version alone.
func (r *runner) stepRamps() {
	for _, s := range r.ordered {
		if s.ramp == nil || s.op != nil {
			continue
		}
		k := s.key
		rr := s.ramp
		st := r.state(AlarmKey{Account: k.Account, Region: k.Region, Name: rr.ramp.Alarm})
		switch {
		case st == stateAlarm || st == "":
			why := "is in ALARM"
			if st == "" {
				why = "does not exist"
			}
			s.next, s.w, s.ramp = s.cur, 0, nil
			r.event("", "ramp of %s halted: alarm %s %s; the version live before it serves alone", k, rr.ramp.Alarm, why)
		case st != stateOK:
			rr.since = r.now
		case !r.now.Before(rr.since.Add(rr.ramp.Steps[rr.step].After)):
			pct := rr.ramp.Steps[rr.step].Percent
			rr.step++
			rr.since = r.now
			if pct >= 100 {
				s.cur, s.w, s.ramp = s.next, 0, nil
			} else {
				s.w = float64(pct) / 100
			}
			r.event("", "ramp of %s: the new version takes %d%%", k, pct)
		}
	}
}

func (r *runner) stepShift(s *stackState, op *stackOp) {
	u := op.unit
	if u.AlarmsEnabled {
		for _, ak := range u.Alarms {
			st := r.state(ak)
			// "ignorePollAlarmFailure ... false: The deployment stops if
			// alarm status information can't be retrieved from Amazon
			// CloudWatch." (API_AlarmConfiguration): a missing alarm stops it.
			if (st == stateAlarm && !op.ignored[ak]) || st == "" {
				why := fmt.Sprintf("alarm %s is in ALARM", ak.Name)
				if st == "" {
					why = fmt.Sprintf("alarm %s does not exist", ak.Name)
				}
				if u.RollbackOnAlarm {
					s.w = 0
					why += "; the deployment stopped and traffic went back to the previous version"
				} else {
					why += "; the deployment stopped"
				}
				op.failedAt, op.why = r.now, why
				r.event(op.act.st(r), "%s: %s %s", op.act.a.Name, s.key, why)
				return
			}
		}
	}
	elapsed := int(r.now.Sub(op.shiftStart) / time.Minute)
	s.w = u.Shift.weight(elapsed)
	if elapsed >= u.Shift.minutes() {
		s.cur, s.next, s.w = op.version, op.version, 0
		op.shifting = false
		r.completeOp(s, op)
	}
}

func (r *runner) completeOp(s *stackState, op *stackOp) {
	s.op = nil
	op.act.status = "Succeeded"
	op.act.doneAt = r.now
	// A region whose stacks carry no code the simulator models (only
	// configuration or infrastructure) runs what the execution shipped
	// once its stack updates succeeded, as with an opaque deploy.
	if sr := r.runOf(op.act); sr != nil && sr.st.Production && !r.modelled(op.key.Region) {
		r.opaqueNew[op.key.Region] = sr.exec.kind == execStandard
	}
}

// runOf is the stage run an action run belongs to.
func (r *runner) runOf(ar *actionRun) *stageRun {
	for _, sr := range r.runs {
		if slices.Contains(sr.actions, ar) {
			return sr
		}
	}
	return nil
}

// --- CodePipeline ---

// arrive puts an execution at a stage.
func (r *runner) arrive(e *execution, idx int) {
	st := r.p.Stages[idx]
	sr := &stageRun{st: st, exec: e, arrived: r.now, phase: phaseEntry}
	r.runs = append(r.runs, sr)
	r.stChange = true
	if e.kind == execStandard && slices.Contains(r.opts.Overrides, st.Name) && st.BeforeEntry != nil {
		// OverrideStageCondition: "Used to override a stage condition."
		// The condition's status becomes Overridden; the stage starts.
		sr.overridden = true
		r.event(st.Name, "an operator overrides the entry condition for the change's execution")
		return
	}
	if r.conditionsApply(sr) && st.BeforeEntry != nil {
		sr.condFrom = r.now
		for _, rl := range st.BeforeEntry.Rules {
			sr.rules = append(sr.rules, &ruleRun{r: rl})
		}
	}
}

// conditionsApply: "AWS CodePipeline V2 type pipelines now support stage
// level conditions"
// (https://aws.amazon.com/about-aws/whats-new/2024/08/aws-codepipeline-stage-level-conditions-implement-pipeline-gates;
// docs/aws-semantics.md Q6), and whether a rollback execution passes
// through them is the RollbackConditions reading (Q5: not documented).
func (r *runner) conditionsApply(sr *stageRun) bool {
	if r.p.Type != "V2" {
		return false
	}
	return sr.exec.kind == execStandard || r.opts.RollbackConditions == RollbackConditionsEvaluated
}

func (r *runner) stepPipeline() {
	for i := 0; i < len(r.runs); i++ {
		sr := r.runs[i]
		switch sr.phase {
		case phaseEntry:
			r.stepEntry(sr)
		case phaseActions:
			r.stepActions(sr)
		case phaseBake:
			r.stepBake(sr)
		}
	}
}

func (r *runner) refreshStages() {
	out := r.stageSpare
	if out == nil {
		out = make(map[string]gates.StageState, len(r.p.Stages))
	}
	clear(out)
	// Each stage's latest execution, as GetPipelineState's latestExecution
	// shows it: the execution that ran before the change until one enters.
	for _, st := range r.p.Stages {
		out[st.Name] = gates.StageState{Execution: execBefore, ExecutionType: gates.ExecutionStandard, Status: gates.StatusSucceeded}
	}
	for _, sr := range r.runs {
		if sr.entered.IsZero() && sr.phase != phaseDone {
			continue
		}
		s := out[sr.st.Name]
		s.Execution, s.ExecutionType, s.Status = sr.exec.id, sr.exec.kind, gates.StatusInProgress
		if sr.phase == phaseDone {
			s.Status = gates.StatusSucceeded
			if sr.result != "Succeeded" {
				s.Status = "Failed"
			}
		}
		out[sr.st.Name] = s
	}
	for _, sr := range r.runs {
		if sr.phase == phaseDone {
			continue
		}
		s := out[sr.st.Name]
		if sr.exec.kind == execRollback {
			s.Rollback = true
			s.RollbackEntered = sr.phase != phaseEntry
		}
		if sr.phase == phaseBake {
			s.BakeStart = sr.baking
		}
		// In progress: entered (past its entry condition), as
		// GetPipelineState's latestExecution shows a stage once it runs.
		if sr.phase != phaseEntry {
			s.Running = true
		}
		out[sr.st.Name] = s
	}
	r.stChange = !maps.Equal(out, r.stageSt)
	r.stageSt, r.stageSpare = out, r.stageSt
}

// stepEntry evaluates the BeforeEntry condition. "A condition state will
// be Failed if any of the rules in the condition are failed and Succeeded
// if all the rules succeed."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works-conditions.html).
// CloudWatchAlarm: "For the Entry condition, this is the amount of time
// CodePipeline will wait if the alarm is in ALARM state when it is first
// evaluated. If the alarm is in OK state when the rule is first checked,
// the rule will immediately succeed." (rule-reference-CloudWatchAlarm; Q1)
// — re-checked every minute while waiting, and not again once it
// succeeded: "After the deployment window opens, CodePipeline does not
// check the CloudWatchAlarm alarm again." (rule-reference-DeploymentWindow).
func (r *runner) stepEntry(sr *stageRun) {
	var failed, pending []string
	for _, rr := range sr.rules {
		if rr.status == "" {
			r.evalEntryRule(sr, rr)
		}
		switch rr.status {
		case "Failed":
			failed = append(failed, rr.r.Name+": "+rr.why)
		case "":
			pending = append(pending, rr.r.Name+": "+rr.why)
		}
	}
	if len(failed) > 0 {
		res := sr.st.BeforeEntry.Result
		r.endRun(sr, "Refused", "entry condition failed ("+strings.Join(failed, "; ")+")"+r.controllerWhy(sr.st))
		if res == "SKIP" {
			sr.result = "Skipped"
			r.next(sr)
			return
		}
		sr.exec.status = "Failed"
		r.event(sr.st.Name, "%s execution refused at entry: %s", sr.exec.kind, strings.Join(failed, "; "))
		return
	}
	if len(pending) > 0 {
		sr.holdWhy = strings.Join(pending, "; ")
		return
	}
	r.enter(sr)
}

func (r *runner) evalEntryRule(sr *stageRun, rr *ruleRun) {
	if rr.first.IsZero() {
		rr.first = r.now
	}
	switch rr.r.Provider {
	case "CloudWatchAlarm":
		st := r.state(rr.r.Alarm)
		if st == "" {
			// Q2 (DOCS SILENT): a rule on a missing alarm fails.
			rr.status, rr.why = "Failed", fmt.Sprintf("alarm %s does not exist", rr.r.Alarm)
			return
		}
		if !inStates(rr.r, st) {
			rr.status = "Succeeded"
			return
		}
		rr.why = fmt.Sprintf("alarm %s is in %s", rr.r.Alarm.Name, st)
		if r.now.Sub(rr.first) >= time.Duration(rr.r.Wait)*time.Minute {
			rr.status, rr.why = "Failed", rr.why+fmt.Sprintf(" after waiting %d min", rr.r.Wait)
		} else if r.ruleTimedOut(rr) {
			rr.status, rr.why = "Failed", rr.why+" when the rule timed out (5 min)"
		}
	case "DeploymentWindow":
		if rr.r.Window == nil || rr.r.Window.Open(r.now) {
			rr.status = "Succeeded"
			return
		}
		rr.why = "outside the deployment window " + rr.r.Window.Expr
		if r.ruleTimedOut(rr) {
			rr.status, rr.why = "Failed", rr.why+" when the rule timed out (5 min)"
		}
	default:
		r.note(fmt.Sprintf("stage %s: %s rule %s is not simulated; it is taken to pass", sr.st.Name, rr.r.Provider, rr.r.Name))
		rr.status = "Succeeded"
	}
}

// ruleTimedOut: under the rule-timeout reading that a rule times out
// after timeoutInMinutes' minimum, a rule still waiting 5 minutes after it
// was first checked fails.
func (r *runner) ruleTimedOut(rr *ruleRun) bool {
	return r.opts.RuleTimeout == RuleTimeoutMinimum && r.now.Sub(rr.first) >= 5*time.Minute
}

func inStates(rl *Rule, st string) bool {
	states := rl.Config["AlarmStates"]
	if states == "" {
		states = stateAlarm
	}
	for _, s := range strings.Split(states, ",") {
		if strings.TrimSpace(s) == st {
			return true
		}
	}
	return false
}

func (r *runner) enter(sr *stageRun) {
	sr.entered, sr.phase, sr.rules = r.now, phaseActions, nil
	r.reached[sr.exec.id+"\x00"+sr.st.Name] = true
	sr.order = 0
	r.stChange = true
	if sr.exec.kind == execStandard {
		r.checkStart(sr)
	} else if waited := r.now.Sub(sr.arrived); waited > time.Duration(r.opts.RollbackHoldMinutes)*time.Minute {
		r.violate(Violation{Property: PropRollbackCompletes, Stage: sr.st.Name, Region: strings.Join(sr.st.Regions(), " "),
			Detail: fmt.Sprintf("the rollback execution waited %s at the stage's entry (%s) while the new version kept serving", fmtDur(waited), sr.holdWhy)})
	}
	r.event(sr.st.Name, "%s execution enters the stage", sr.exec.kind)
	r.startOrder(sr)
}

func (r *runner) startOrder(sr *stageRun) {
	next := math.MaxInt
	for _, a := range sr.st.Actions {
		if a.RunOrder > sr.order && a.RunOrder < next {
			next = a.RunOrder
		}
	}
	if next == math.MaxInt {
		r.actionsDone(sr)
		return
	}
	sr.order = next
	for _, a := range sr.st.Actions {
		if a.RunOrder != next {
			continue
		}
		ar := &actionRun{a: a, status: "InProgress", startedAt: r.now}
		sr.actions = append(sr.actions, ar)
		switch {
		case isServerDeploy(a) || (a.Provider == "CodeBuild" && a.EnvErr != "" && strings.Contains(a.Config["EnvironmentVariables"], "SAFEPIPE_")):
			r.startServer(ar, sr)
		case a.Bake != nil:
			ar.bake = &bakeRun{start: r.now, lastReply: r.now}
			if sr.baking.IsZero() {
				sr.baking = r.now
			}
			r.event(sr.st.Name, "%s: the bake action starts (%d min)", a.Name, a.Bake.Minutes)
		case a.Deploys():
			r.startDeploy(ar, sr.exec.version)
		case a.Provider == "CloudFormation":
			ar.doneAt = r.now.Add(time.Minute)
		default:
			// Opaque: the simulator never runs what an action carries
			// (commands, code); it succeeds, or fails where a fail fault
			// names it in the change's execution.
			ar.doneAt = r.now.Add(time.Duration(r.opts.ActionMinutes) * time.Minute)
			if sr.exec.kind == execStandard && r.failsByScenario(sr.st, a) {
				ar.failAt = true
			}
		}
	}
}

func (r *runner) stepActions(sr *stageRun) {
	var failed []string
	for _, ar := range sr.actions {
		if ar.a.RunOrder != sr.order {
			continue
		}
		switch {
		case ar.bake != nil:
			if ar.status == "InProgress" {
				r.stepBakeAction(sr, ar)
			}
		case ar.op == nil && !ar.server && ar.status == "InProgress" && !r.now.Before(ar.doneAt):
			ar.status = "Succeeded"
			if ar.failAt {
				ar.status, ar.why = "Failed", "the scenario fails it (fail:"+sr.st.Name+"/"+ar.a.Name+")"
			}
			if ar.status == "Succeeded" && ar.a.DeploysRegion() && !ar.a.Deploys() && sr.st.Production && !r.modelled(ar.a.Place.Region) {
				// An opaque deploy: the region runs what this execution
				// shipped — the change, or after a rollback the version
				// before it.
				r.opaqueNew[ar.a.Place.Region] = sr.exec.kind == execStandard
				r.note(fmt.Sprintf("%s deploys by %s in %s, which the simulator does not model: the region counts as running the change once such an action of its execution succeeded, and the version before it once a rollback's did", sr.st.Name, ar.a.Provider, ar.a.Place.Region))
			}
		}
		switch ar.status {
		case "InProgress":
			return
		case "Failed":
			failed = append(failed, ar.a.Name+": "+ar.why)
		}
	}
	if len(failed) > 0 {
		r.fail(sr, "action failed ("+strings.Join(failed, "; ")+")")
		return
	}
	r.startOrder(sr)
}

// opaque reports whether the simulator treats the action as a black box:
// it models stack deployments (CloudFormation) and safepipe's server deploy
// step by what they do, and runs nothing else.
func opaque(a *Action) bool {
	return a.Provider != "CloudFormation" && !isServerDeploy(a) && a.Bake == nil &&
		!(a.Provider == "CodeBuild" && a.EnvErr != "" && strings.Contains(a.Config["EnvironmentVariables"], "SAFEPIPE_"))
}

// summarize lists at most n items and how many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// failsByScenario reports whether a fail fault names the action.
func (r *runner) failsByScenario(st *Stage, a *Action) bool {
	for _, f := range r.failing {
		if f.Stage == st.Name && f.Action == a.Name {
			return true
		}
	}
	return false
}

// stepBakeAction advances a bake action by a minute: the controller's
// function (gates.EvaluateBake, the code it runs) replies, unless a
// controller fault stops it. "If the Lambda function has sent no reply
// after 20 minutes, the action times out" and "If not successful after 24
// hours, CodePipeline sets the Lambda invoke action state to failed"
// (CodePipeline quotas): both fail the action, and the stage.
func (r *runner) stepBakeAction(sr *stageRun, ar *actionRun) {
	b := ar.bake
	switch {
	case r.now.Sub(ar.startedAt) >= 24*time.Hour:
		ar.status, ar.why = "Failed", "the Lambda invoke action did not succeed within 24 hours"
		return
	case r.controllerDown() > 0:
		if r.now.Sub(b.lastReply) >= 20*time.Minute {
			ar.status, ar.why = "Failed", "the controller sent no reply for 20 minutes: CodePipeline timed the action out"
		}
		return
	case r.p.Gates == nil:
		ar.status, ar.why = "Failed", "the pipeline has no gate configuration for the bake"
		return
	}
	// The function looks every minute and replies "in progress" every
	// ten (cmd/safepipe-gates, jobWatch): an outage starts the 20-minute
	// timer from the last reply, up to ten minutes before it.
	if r.now.Sub(b.lastReply) >= 10*time.Minute {
		b.lastReply = r.now
	}
	times := gates.BakeTimes{PartStart: b.start, BakeStart: sr.baking, Rollback: sr.exec.kind == execRollback}
	v := gates.EvaluateBake(context.Background(), r.p.Gates, *ar.a.Bake, &bakeObserver{observer{w: r.world, stages: r.stageSt}, times}, b.start, r.now, gates.Options{})
	switch v.Status {
	case gates.BakePassed:
		ar.status = "Succeeded"
		if sr.exec.kind == execStandard && ar.a.Bake.Minutes > 0 {
			sr.bakedByAction = true
		}
		r.event(sr.st.Name, "%s: the bake passed (%d min)%s", ar.a.Name, ar.a.Bake.Minutes, bakeNotes(v))
	case gates.BakeBreachedStatus:
		ar.status, ar.why = "Failed", "bake breached ("+strings.Join(v.Reasons, "; ")+")"
	}
}

// bakeObserver is the world seen by one bake action: the times
// CodePipeline records for it (gates.BakeTimer).
type bakeObserver struct {
	observer
	times gates.BakeTimes
}

func (o *bakeObserver) BakeTimes(context.Context, gates.BakeRequest) (gates.BakeTimes, error) {
	return o.times, nil
}

func bakeNotes(v gates.BakeVerdict) string {
	if len(v.Notes) == 0 {
		return ""
	}
	return ": " + strings.Join(v.Notes, "; ")
}

func (r *runner) actionsDone(sr *stageRun) {
	if sr.baking.IsZero() {
		sr.baking = r.now
	}
	sr.phase = phaseBake
	r.stChange = true
	sr.condFrom = r.now
	if r.conditionsApply(sr) && sr.st.OnSuccess != nil {
		for _, rl := range sr.st.OnSuccess.Rules {
			sr.rules = append(sr.rules, &ruleRun{r: rl, first: r.now})
		}
	}
	r.stepBake(sr)
}

// stepBake evaluates the OnSuccess condition. "For On Success conditions,
// OK and INSUFFICIENT_DATA meet the criteria." (concepts page); with a
// WaitTime the rule watches the alarm over the wait (BakeContinuous) or
// checks it once at its end (BakeAtEnd): docs/aws-semantics.md Q2.
func (r *runner) stepBake(sr *stageRun) {
	var failed []string
	pending := false
	for _, rr := range sr.rules {
		if rr.status != "" {
			continue
		}
		end := rr.first.Add(time.Duration(rr.r.Wait) * time.Minute)
		switch rr.r.Provider {
		case "CloudWatchAlarm":
			st := r.state(rr.r.Alarm)
			bad := st == "" || inStates(rr.r, st)
			atEnd := !r.now.Before(end)
			switch r.opts.BakeWatch {
			case BakeImmediate:
				// As the Entry condition: OK at the first check succeeds
				// at once; otherwise wait up to WaitTime for it to clear.
				switch {
				case !bad:
					rr.status = "Succeeded"
				case atEnd:
					rr.status, rr.why = "Failed", fmt.Sprintf("alarm %s is in %s after waiting %d min", rr.r.Alarm.Name, orMissing(st), rr.r.Wait)
				}
			default:
				check := r.opts.BakeWatch == BakeContinuous || atEnd
				if check && bad {
					rr.status, rr.why = "Failed", fmt.Sprintf("alarm %s is in %s", rr.r.Alarm.Name, orMissing(st))
				} else if atEnd {
					rr.status = "Succeeded"
				}
			}
			if rr.status == "" && r.ruleTimedOut(rr) {
				rr.status, rr.why = "Failed", fmt.Sprintf("the rule on alarm %s timed out (5 min)", rr.r.Alarm.Name)
			}
		case "DeploymentWindow":
			// Q3: in OnSuccess it may fail at once outside the window.
			if rr.r.Window == nil || rr.r.Window.Open(r.now) {
				rr.status = "Succeeded"
			} else {
				rr.status, rr.why = "Failed", "outside the deployment window"
			}
		default:
			r.note(fmt.Sprintf("stage %s: %s rule %s is not simulated; it is taken to pass", sr.st.Name, rr.r.Provider, rr.r.Name))
			rr.status = "Succeeded"
		}
		switch rr.status {
		case "Failed":
			failed = append(failed, rr.r.Name+": "+rr.why)
		case "":
			pending = true
		}
	}
	if len(failed) > 0 {
		why := "bake failed (" + strings.Join(failed, "; ") + ")"
		if sr.st.OnSuccess.Result == "ROLLBACK" {
			r.rollback(sr, why)
			return
		}
		r.fail(sr, why)
		return
	}
	if pending {
		return
	}
	r.endRun(sr, "Succeeded", "")
	if sr.exec.kind == execRollback {
		sr.exec.status = "Succeeded"
		r.event(sr.st.Name, "rollback execution succeeded")
		return
	}
	if sr.st.Production {
		baked := sr.bakedByAction
		for _, rr := range sr.rules {
			baked = baked || (rr.r.Provider == "CloudWatchAlarm" && rr.r.Wait > 0 && r.opts.BakeWatch != BakeImmediate)
		}
		if baked {
			r.waveBaked[sr.st.Wave] = r.now
		} else {
			delete(r.waveBaked, sr.st.Wave)
		}
	}
	r.next(sr)
}

func orMissing(st string) string {
	if st == "" {
		return "no state (it does not exist)"
	}
	return st
}

func (r *runner) next(sr *stageRun) {
	if sr.st.Index+1 >= len(r.p.Stages) {
		sr.exec.status = "Succeeded"
		r.event("", "the change's execution succeeded")
		return
	}
	r.arrive(sr.exec, sr.st.Index+1)
}

func (r *runner) endRun(sr *stageRun, result, detail string) {
	sr.phase, sr.ended, sr.result, sr.detail = phaseDone, r.now, result, detail
	r.stChange = true
	if result == "Succeeded" {
		r.deployed[sr.st.Name] = sr.exec.id
		if sr.exec.kind == execRollback {
			r.deployed[sr.st.Name] = execBefore
		}
	}
}

// fail handles a failed stage: "configuring this field for rollback will
// roll back a failed stage automatically to the last successful pipeline
// execution in the stage" (API_StageDeclaration onFailure).
func (r *runner) fail(sr *stageRun, why string) {
	if r.p.Type == "V2" && sr.st.OnFailure != nil && sr.st.OnFailure.Result == "ROLLBACK" && sr.exec.kind == execStandard {
		r.rollback(sr, why)
		return
	}
	r.endRun(sr, "Failed", why)
	sr.exec.status = "Failed"
	r.event(sr.st.Name, "%s execution failed: %s", sr.exec.kind, why)
}

// rollback starts a rollback execution of the stage: "The rolled back
// operation will result in a new execution. The target pipeline execution
// chosen for rollback is used to retrieve source revisions and variables."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).
// The target is the baseline execution (the previous version). A rollback
// execution that fails is not rolled back again ("You cannot roll back to
// a target execution ID that is a rollback execution type"); the docs are
// silent on what follows, and the simulator stops there.
func (r *runner) rollback(sr *stageRun, why string) {
	if sr.exec.kind == execRollback {
		r.endRun(sr, "Failed", why)
		sr.exec.status = "Failed"
		r.event(sr.st.Name, "rollback execution failed: %s", why)
		return
	}
	if r.opts.StructureChanged {
		// No execution of the current structure version passed the stage
		// before this one: there is nothing to roll back to.
		r.endRun(sr, "Failed", why+"; no execution of the current pipeline structure version to roll back to")
		sr.exec.status = "Failed"
		r.event(sr.st.Name, "stage fails (%s); it cannot roll back: no execution of the current structure version passed it", why)
		return
	}
	r.endRun(sr, "RolledBack", why)
	sr.exec.status = "Failed"
	rb := &execution{id: fmt.Sprintf("exec-rollback-%d", len(r.execs)), kind: execRollback, version: 0, status: "InProgress", stage: sr.st.Index}
	r.execs = append(r.execs, rb)
	r.event(sr.st.Name, "stage fails (%s); a rollback execution starts", why)
	r.arrive(rb, sr.st.Index)
}

// rollsBack reports whether a stage's rollback takes earlier stages back
// with it (gates.Stage.RollsBack).
func (r *runner) rollsBack() bool {
	return r.p.Gates != nil && slices.ContainsFunc(r.p.Gates.Stages, func(s gates.Stage) bool { return len(s.RollsBack) > 0 })
}

// execBefore is the execution that deployed what runs before the change:
// every stage's rollback target.
const execBefore = "exec-before"

// rollBackRegions carries out the gate controller's orders to roll a
// stage back (gates.Decision.RollBackTo: a later step of its region rolled
// back, gates.Stage.RollsBack), as RollbackStage does: "The rolled back
// operation will result in a new execution" of that stage
// (stage-rollback.html), with the target's artifacts. An order for a stage
// that runs an execution waits (the controller orders it again).
func (r *runner) rollBackRegions() {
	if r.p.Gates == nil || r.down > 0 {
		return
	}
	for _, d := range r.lastDec {
		if d.RollBackTo == "" {
			continue
		}
		st := r.stageNamed(d.Stage)
		if st == nil || slices.ContainsFunc(r.runs, func(sr *stageRun) bool { return sr.st == st && sr.phase != phaseDone }) {
			continue // RollbackStage refuses a stage that runs: the next round orders it again
		}
		rb := &execution{id: fmt.Sprintf("exec-rollback-%d", len(r.execs)), kind: execRollback, version: 0, status: "InProgress", stage: st.Index}
		r.execs = append(r.execs, rb)
		r.event(st.Name, "the gate controller rolls the stage back to %s (a later step of its region rolled back)", d.RollBackTo)
		r.arrive(rb, st.Index)
		r.dirty = true // the controller's next round sees the rollback
	}
}

// --- sampling for the properties ---

func (r *runner) sample() {
	if r.now.Before(r.opts.Start) {
		return
	}
	for _, reg := range r.regions {
		sh := r.regionShare(reg)
		if sh > 0 {
			if _, ok := r.firstV1[reg]; !ok {
				r.firstV1[reg] = r.now
				r.checkWaveOrder(reg)
			}
		}
		if r.regionFull(reg) {
			if _, ok := r.fullAt[reg]; !ok {
				r.fullAt[reg] = r.now
			}
		} else {
			delete(r.fullAt, reg)
		}
		if sh != r.lastShare[reg] {
			r.lastShare[reg] = sh
			r.shareLog[reg] = append(r.shareLog[reg], SharePoint{At: fmtTime(r.now), Share: math.Round(sh*1000) / 1000})
		}
	}
	for _, sr := range r.runs {
		if !sr.inBake() || sr.exec.kind != execStandard || !isOneBox(sr.st) {
			continue
		}
		for _, k := range sr.st.DeployKeys() {
			if s := r.stacks[k]; s != nil {
				key := sr.st.Name + "|" + k.Region
				sh := s.share()
				if len(s.groups) > 0 || s.tasks > 0 {
					// A server stack's one-box is a share of the region's
					// instances; an ECS stack's, of the region's tasks.
					sh = r.regionShare(k.Region)
				}
				r.oneboxMax[key] = max(r.oneboxMax[key], sh)
			}
		}
	}
}

// isOneBox: a stage whose bake watches one-box alarms (the alarm naming
// contract of package alarms: "<prefix>-onebox-bake"), in the gates
// configuration or in its own rules.
func isOneBox(st *Stage) bool {
	if st.Gate != nil {
		for _, a := range st.Gate.Bake {
			if strings.Contains(a.Name, "-onebox-") {
				return true
			}
		}
	}
	if st.OnSuccess != nil {
		for _, rl := range st.OnSuccess.Rules {
			if strings.Contains(rl.Alarm.Name, "-onebox-") {
				return true
			}
		}
	}
	return false
}

func fmtDur(d time.Duration) string {
	h := int(d / time.Hour)
	m := int(d%time.Hour) / int(time.Minute)
	if h == 0 {
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%dh%02d", h, m)
}

var errNoPipeline = errors.New("sim: no pipeline")

// controllerWhy is what the gate controller last gave as the reasons a
// stage's entry is closed, for a refusal's detail.
func (r *runner) controllerWhy(st *Stage) string {
	d, ok := r.decByStage[st.Name]
	if !ok || !d.EntryBlocked || len(d.EntryReasons) == 0 {
		return ""
	}
	why := d.EntryReasons[0]
	if n := len(d.EntryReasons) - 1; n > 0 {
		why += fmt.Sprintf(" (and %d more)", n)
	}
	return "; the gate controller: " + why
}
