package sim

import (
	"fmt"

	"github.com/safepipe/safepipe/gates"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/model"
)

// The safety properties, each a Violation.Property.
const (
	// PropWaveOrder: no production region runs the new version before the
	// previous wave's bake has ended.
	PropWaveOrder = "wave-bake-order"
	// PropOneBoxShare: during a one-box bake the new version serves at most
	// the one-box share of the region's traffic.
	PropOneBoxShare = "onebox-share"
	// PropContainment: a fault in region R during stage S never lets the
	// new version reach a region of a later stage, and every region of S
	// that ran it is rolled back.
	PropContainment = "fault-containment"
	// PropRollbackCompletes: every rollback execution completes and no gate
	// holds it.
	PropRollbackCompletes = "rollback-completes"
	// PropNoOp: no stage redeploys what is already deployed.
	PropNoOp = "no-op-stage"
	// PropStart: no stage starts outside its window, on a holiday, or while
	// an alarm it watches is in ALARM.
	PropStart = "start-window"
	// PropAlarmsExist: every alarm a gate or a deployment watches exists in
	// that account and region.
	PropAlarmsExist = "alarms-exist"
	// PropUniqueNames: no two stacks create the same named resource in one
	// account and region.
	PropUniqueNames = "unique-names"
	// PropBakeHolds: every production stage the change passes baked for
	// at least its bake (the gate configuration's, or its OnSuccess alarm
	// rules' WaitTime) before the change went on.
	PropBakeHolds = "bake-holds"
)

// Properties lists the properties in the order they are documented.
var Properties = []string{PropWaveOrder, PropOneBoxShare, PropContainment, PropRollbackCompletes, PropNoOp, PropStart, PropAlarmsExist, PropUniqueNames, PropBakeHolds}

// checkNames finds named resources created by two stacks in one scope, and
// watched alarms no stack creates.
func (m *Model) checkNames() {
	type owner struct {
		stack StackKey
		id    string
	}
	seen := map[string][]owner{}
	for _, s := range m.Assembly.Stacks {
		e := newEvaluator(s)
		for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
			r := s.Template.Resources[id]
			nt, ok := model.NamedTypes[r.Type]
			if !ok {
				continue
			}
			v, ok := r.Properties[nt.Prop]
			if !ok {
				continue
			}
			name, known := e.Str(v)
			if !known {
				continue
			}
			var scope string
			switch nt.Scope {
			case model.ScopeRegion:
				scope = s.Account + "/" + s.Region
			case model.ScopeAccount:
				scope = s.Account
			}
			key := r.Type + "|" + scope + "|" + name
			o := owner{stack: stackKey(s), id: id}
			if !slices.ContainsFunc(seen[key], func(x owner) bool { return x.stack == o.stack }) {
				seen[key] = append(seen[key], o)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(seen)) {
		os := seen[key]
		if len(os) < 2 {
			continue
		}
		parts := strings.SplitN(key, "|", 3)
		var who []string
		for _, o := range os {
			who = append(who, o.stack.String())
		}
		m.problems = append(m.problems, Violation{Property: PropUniqueNames, Region: os[0].stack.Region,
			Detail: fmt.Sprintf("%s %q is created by %d stacks in %s: %s; the second one fails (\"Resource names must be unique across all of your active stacks\")", parts[0], parts[2], len(os), orAll(parts[1]), strings.Join(who, ", "))})
	}
	m.checkWatched()
}

func orAll(s string) string {
	if s == "" {
		return "every account"
	}
	return s
}

// checkWatched reports every alarm a gate or a deployment watches that no
// stack of the assembly creates in that account and region. The
// organisation alarm is created outside the app and is exempt.
func (m *Model) checkWatched() {
	p := m.Pipeline
	if p == nil {
		return
	}
	lone := map[Place]bool{}
	if m.Assembly.Lone {
		for _, s := range m.Assembly.Stacks {
			lone[Place{s.Account, s.Region}] = true
		}
	}
	missing := func(k AlarmKey, stage, what string) {
		if _, ok := m.Alarms[k]; ok {
			return
		}
		if m.Assembly.Lone && !lone[Place{k.Account, k.Region}] {
			m.Notes = append(m.Notes, fmt.Sprintf("%s watches alarm %s, outside the one template given: not checked (give the cloud assembly)", what, k))
			return
		}
		m.problems = append(m.problems, Violation{Property: PropAlarmsExist, Stage: stage, Region: k.Region,
			Detail: fmt.Sprintf("%s watches alarm %q in account %s, region %s, which no stack of the assembly creates", what, k.Name, k.Account, k.Region)})
	}
	for _, st := range p.Stages {
		if st.Gate != nil {
			for _, a := range st.Gate.Blockers {
				k := AlarmKey{Account: a.Account, Region: a.Region, Name: a.Name}
				missing(k, st.Name, "the entry gate")
				if d, ok := m.Alarms[k]; ok && a.Stack != "" && !slices.Contains(d.Stacks, StackKey{Account: a.Account, Region: a.Region, Name: a.Stack}) {
					m.problems = append(m.problems, Violation{Property: PropAlarmsExist, Stage: st.Name, Region: a.Region,
						Detail: fmt.Sprintf("the gates configuration says stack %s creates alarm %q in %s/%s, but it does not", a.Stack, a.Name, a.Account, a.Region)})
				}
			}
			for _, a := range st.Gate.Bake {
				missing(AlarmKey{Account: a.Account, Region: a.Region, Name: a.Name}, st.Name, "the bake")
			}
		}
		for _, c := range []*Condition{st.BeforeEntry, st.OnSuccess, st.OnFailure} {
			if c == nil {
				continue
			}
			for _, r := range c.Rules {
				if r.Provider == "CloudWatchAlarm" {
					missing(r.Alarm, st.Name, "rule "+r.Name)
				}
			}
		}
		for _, k := range st.DeployKeys() {
			for _, a := range st.Actions {
				if !a.Deploys() || a.Key() != k || a.Template == nil {
					continue
				}
				for _, u := range trafficUnits(a.Template) {
					for _, ak := range u.Alarms {
						missing(ak, st.Name, fmt.Sprintf("the deployment of %s in stack %s", u.ID, k.Name))
					}
				}
				break
			}
		}
	}
}

// checkStart: no stage starts outside its window, on a holiday, or while an
// alarm it watches is in ALARM.
func (r *runner) checkStart(sr *stageRun) {
	st := sr.st
	if !st.Production && st.Gate == nil {
		return
	}
	if sr.overridden {
		// A person decided this start (OverrideStageCondition); what it
		// skips is theirs to answer for, and the notes say so.
		r.note(fmt.Sprintf("stage %s: an operator overrode its entry for the change's execution; the start-window property does not judge that start", st.Name))
		return
	}
	windowed := st.Gate != nil && st.Gate.Window
	if st.BeforeEntry != nil {
		for _, rl := range st.BeforeEntry.Rules {
			if rl.Provider == "DeploymentWindow" {
				windowed = true
				if rl.Window != nil && !rl.Window.Open(r.now) {
					r.violate(Violation{Property: PropStart, Stage: st.Name, Detail: fmt.Sprintf("started at %s, outside its DeploymentWindow %s", fmtTime(r.now), rl.Window.Expr)})
				}
			}
		}
	}
	if cal, ok := r.window(); ok && (windowed || st.Production) {
		switch {
		case cal.IsHoliday(r.now):
			r.violate(Violation{Property: PropStart, Stage: st.Name, Detail: fmt.Sprintf("started at %s on a holiday (%s)", fmtTime(r.now), cal.TimeZone)})
		case !cal.open(r.now):
			r.violate(Violation{Property: PropStart, Stage: st.Name, Detail: fmt.Sprintf("started at %s, outside the deployment window %s", fmtTime(r.now), cal.String())})
		}
	}
	for _, k := range r.watchedAtEntry(st) {
		if r.state(k) == stateAlarm {
			r.violate(Violation{Property: PropStart, Stage: st.Name, Region: k.Region, Detail: fmt.Sprintf("started at %s while alarm %s, which it watches, was in ALARM", fmtTime(r.now), k)})
		}
	}
}

// watchedAtEntry are the alarms a stage's entry watches: its blockers and
// the organisation alarm (through the gate), and the alarms of its own
// entry rules other than the gate's.
func (r *runner) watchedAtEntry(st *Stage) []AlarmKey {
	var out []AlarmKey
	if st.Gate != nil {
		if o := r.p.Gates.Organization; o != nil {
			out = append(out, AlarmKey{Account: o.Account, Region: o.Region, Name: o.Name})
		}
		for _, a := range st.Gate.Blockers {
			out = append(out, AlarmKey{Account: a.Account, Region: a.Region, Name: a.Name})
		}
	}
	if st.BeforeEntry != nil {
		for _, rl := range st.BeforeEntry.Rules {
			if a := r.alarms[rl.Alarm]; rl.Provider == "CloudWatchAlarm" && (a == nil || !a.gate) {
				out = append(out, rl.Alarm)
			}
		}
	}
	return out
}

// checkWaveOrder: region reg first serves the new version now; the waves
// before its own must have finished baking.
func (r *runner) checkWaveOrder(reg string) {
	wave := r.prodWave[reg]
	for w := 1; w < wave; w++ {
		baked, ok := r.waveBaked[w]
		if !ok || baked.After(r.now) {
			why := fmt.Sprintf("before wave %d's bake ended", w)
			if !ok && r.waveDone(w) {
				why = fmt.Sprintf("after wave %d, which ended without a bake", w)
			}
			r.violate(Violation{Property: PropWaveOrder, Region: reg, Stage: r.waveLastStage(wave),
				Detail: fmt.Sprintf("%s (wave %d) runs the new version at %s %s", reg, wave, fmtTime(r.now), why)})
			return
		}
	}
}

// waveDone reports whether every stage of wave w succeeded in the change's
// execution.
func (r *runner) waveDone(w int) bool {
	for _, st := range r.p.Stages {
		if st.Wave != w {
			continue
		}
		sr := r.firstRun(st, execStandard)
		if sr == nil || sr.result != "Succeeded" {
			return false
		}
	}
	return true
}

func (r *runner) waveLastStage(w int) string {
	name := ""
	for _, st := range r.p.Stages {
		if st.Wave == w && name == "" {
			name = st.Name
		}
	}
	return name
}

var gatesWindowUTC = gates.Window{TimeZone: "UTC", Days: []string{"MON", "TUE", "WED", "THU", "FRI"}, StartHour: 0, EndHour: 24}

// finish computes the outcome, the remaining properties and the report.
func (r *runner) finish() {
	res := r.res
	res.End = r.now.UTC()
	res.Violations = append(res.Violations, r.m.problems...)
	r.checkNoOp()
	r.checkOneBox()
	r.checkRollbacks()
	// A bad version that came to serve in the run's last minute.
	for _, f := range r.faults {
		if f.Bad {
			r.stepBad(f)
		}
	}
	r.checkContainment()
	r.checkBakeHolds()
	// regions
	var regions []string
	for reg := range r.prodWave {
		regions = append(regions, reg)
	}
	slices.Sort(regions)
	for _, reg := range regions {
		if _, ok := r.firstV1[reg]; ok {
			res.BlastRadius = append(res.BlastRadius, reg)
			if r.regionFull(reg) {
				res.Reached = append(res.Reached, reg)
			} else if r.regionShare(reg) == 0 {
				res.RolledBack = append(res.RolledBack, reg)
			}
		}
		res.Regions = append(res.Regions, RegionResult{Region: reg, Wave: r.prodWave[reg], Share: r.shareLog[reg]})
	}
	// stages
	for _, sr := range r.runs {
		res.Stages = append(res.Stages, r.stageResult(sr))
	}
	for _, st := range r.p.Stages {
		if r.firstRun(st, execStandard) == nil {
			s := r.describe(st)
			s.Execution, s.Result = execStandard, "NotReached"
			res.Stages = append(res.Stages, s)
		}
	}
	for _, f := range r.faults {
		fr := FaultResult{Spec: f.Spec, Alarm: f.watched.String(), Fired: fmtTime(f.fired), Cleared: fmtTime(f.cleared), During: stageName(f.during)}
		if f.Controller {
			fr.Alarm = "the gate controller (down)"
		}
		if f.Bad {
			fr.Alarm = "the change (bad from " + f.Stage + " on)"
		}
		if f.fired.IsZero() {
			switch st := r.stageNamed(f.Stage); {
			case f.Bad && st != nil && r.firstRun(st, execStandard) != nil && len(st.Regions()) == 0:
				r.note(fmt.Sprintf("fault %s never fired: stage %s deploys nothing the simulator reads, so the change serves nowhere from it", f.Spec, f.Stage))
			case f.Stage != "" && (st == nil || r.firstRun(st, execStandard) == nil):
				r.note(fmt.Sprintf("fault %s never fired: its stage never started", f.Spec))
			default:
				r.note(fmt.Sprintf("fault %s never fired", f.Spec))
			}
		}
		res.Faults = append(res.Faults, fr)
	}
	if cal, ok := r.window(); ok {
		res.Closed = cal.closed(r.opts.Start, res.End)
		if res.Closed == nil {
			res.Closed = []Interval{}
		}
	}
	// The change reached every production region, or — on a pipeline in
	// which no stage reads as production — passed every stage.
	reachedAll := r.std.status == "Succeeded" && len(res.Reached) == len(regions)
	if len(regions) == 0 && r.std.status == "Succeeded" {
		r.note("no stage reads as production (by name in any case and language, a production tag, a deployment window, or where it deploys): the change passed every stage, and no production region is counted")
	}
	switch {
	case len(res.Violations) > 0:
		res.Outcome, res.ExitCode = "violated", ExitViolated
	case reachedAll:
		res.Outcome, res.ExitCode = "reached", ExitReached
	default:
		res.Outcome, res.ExitCode = "stopped", ExitStopped
	}
	if reachedAll && len(regions) > 0 {
		var last time.Time
		for _, reg := range regions {
			if t := r.fullAt[reg]; t.After(last) {
				last = t
			}
		}
		h := float64(last.Sub(r.opts.Start)) / float64(time.Hour)
		h = float64(int(h*10+0.5)) / 10
		res.TimeToGlobalHours = &h
		cal, ok := r.window()
		if !ok { // no window: count Monday–Friday in the pipeline's zone
			cal, _ = newWindowCal(gatesWindowUTC)
			cal.loc = r.m.Location()
		}
		d := cal.businessDays(r.opts.Start, last)
		res.BusinessDays = &d
	}
	res.Summary = r.summary(regions)
	slices.SortStableFunc(res.Violations, func(a, b Violation) int {
		return slices.Index(Properties, a.Property) - slices.Index(Properties, b.Property)
	})
}

func (r *runner) summary(regions []string) string {
	res := r.res
	var stop *stageRun
	for _, sr := range r.runs {
		if sr.exec == r.std && sr.result != "" && sr.result != "Succeeded" && sr.result != "Skipped" {
			stop = sr
		}
	}
	switch {
	case r.std.status == "Succeeded" && len(regions) == 0:
		return "the change passed every stage (no stage reads as production)"
	case r.std.status == "Succeeded":
		return fmt.Sprintf("the change reached %d of %d production regions", len(res.Reached), len(regions))
	case stop != nil:
		s := fmt.Sprintf("the change stopped at %s (%s: %s); %d region(s) ran it, %d rolled back", stop.st.Name, stop.result, stop.detail, len(res.BlastRadius), len(res.RolledBack))
		return s
	}
	cur := ""
	for _, sr := range r.runs {
		if sr.exec == r.std && sr.phase != phaseDone {
			cur = sr.st.Name
		}
	}
	return fmt.Sprintf("the change was still in progress at %s when the simulation ended", cur)
}

func (r *runner) describe(st *Stage) StageResult {
	s := StageResult{Name: st.Name, Production: st.Production, Wave: st.Wave, OneBox: isOneBox(st), Regions: st.Regions()}
	cond := func(what string, c *Condition) {
		if c == nil {
			return
		}
		var rules []string
		for _, rl := range c.Rules {
			switch rl.Provider {
			case "CloudWatchAlarm":
				d := rl.Alarm.Name
				if rl.Wait > 0 {
					d += fmt.Sprintf(" (%d min)", rl.Wait)
				}
				rules = append(rules, d)
			case "DeploymentWindow":
				rules = append(rules, "window "+rl.Config["Cron"]+" "+rl.Config["TimeZone"])
			default:
				rules = append(rules, rl.Provider+" "+rl.Name)
			}
		}
		g := what + " " + c.Result
		if len(rules) > 0 {
			g += ": " + strings.Join(rules, ", ")
		}
		s.Gates = append(s.Gates, g)
	}
	cond("entry", st.BeforeEntry)
	cond("success", st.OnSuccess)
	cond("failure", st.OnFailure)
	if st.Gate != nil {
		s.Gates = append(s.Gates, fmt.Sprintf("controller: %d blocker(s), %d bake alarm(s) for %d min", len(st.Gate.Blockers), len(st.Gate.Bake), st.Gate.BakeMinutes))
	}
	return s
}

func (r *runner) stageResult(sr *stageRun) StageResult {
	s := r.describe(sr.st)
	s.Execution = sr.exec.kind
	s.Arrived, s.Start, s.Baking, s.End = fmtTime(sr.arrived), fmtTime(sr.entered), fmtTime(sr.baking), fmtTime(sr.ended)
	s.Result, s.Detail = sr.result, sr.detail
	if sr.phase != phaseDone {
		s.Result = "InProgress"
		if sr.phase == phaseEntry {
			s.Detail = "waiting at entry: " + sr.holdWhy
		}
	}
	return s
}

// checkNoOp: a stage of the change's execution whose deployments change
// no code anywhere, although its stacks carry code, is a no-op: its
// deployment configuration (a canary, a linear shift, alarms) never runs.
func (r *runner) checkNoOp() {
	for _, sr := range r.runs {
		if sr.exec != r.std || sr.entered.IsZero() {
			continue
		}
		var ops []*stackOp
		for _, ar := range sr.actions {
			if ar.op != nil {
				ops = append(ops, ar.op)
			}
		}
		if len(ops) == 0 {
			continue
		}
		carries, changes := false, false
		var why []string
		for _, op := range ops {
			if op.tmpl != nil && hasCode(op.tmpl) {
				carries = true
			}
			switch op.kind {
			case "code", "create":
				changes = true
			case "config":
				// A configuration change that moves traffic (an alias
				// controller's mode or share) is the stage's deployment.
				if op.moved {
					changes = true
					continue
				}
				why = append(why, fmt.Sprintf("%s changes only configuration: its code is already the new version, so no new version is published and no deployment runs", op.key))
			case "identical":
				why = append(why, fmt.Sprintf("%s is identical to what is deployed", op.key))
			}
		}
		if carries && !changes {
			r.violate(Violation{Property: PropNoOp, Stage: sr.st.Name, Region: strings.Join(sr.st.Regions(), " "),
				Detail: fmt.Sprintf("the stage deploys nothing new: %s", strings.Join(why, "; "))})
		}
	}
}

func (r *runner) checkOneBox() {
	for _, k := range slices.Sorted(maps.Keys(r.oneboxMax)) {
		sh := r.oneboxMax[k]
		if sh <= r.opts.OneBoxShare+1e-9 {
			continue
		}
		stage, reg, _ := strings.Cut(k, "|")
		r.violate(Violation{Property: PropOneBoxShare, Stage: stage, Region: reg,
			Detail: fmt.Sprintf("during the one-box bake the new version served %.0f%% of the region's traffic (at most %.0f%%): the deployment shifted it before the bake began", sh*100, r.opts.OneBoxShare*100)})
	}
}

func (r *runner) checkRollbacks() {
	for _, e := range r.execs {
		if e.kind != execRollback || e.status == "Succeeded" {
			continue
		}
		st := r.p.Stages[e.stage]
		why := "it had not finished when the simulation ended"
		for _, sr := range r.runs {
			if sr.exec == e {
				if sr.phase == phaseEntry {
					why = "it was still held at the stage's entry: " + sr.holdWhy
				} else if sr.result != "" {
					why = fmt.Sprintf("it ended %s: %s", sr.result, sr.detail)
				}
			}
		}
		r.violate(Violation{Property: PropRollbackCompletes, Stage: st.Name, Region: strings.Join(st.Regions(), " "),
			Detail: "the rollback execution did not complete: " + why})
	}
}

// checkContainment: for each fault that fired while the change was in its
// region during a stage S, no region of a later stage may run the change
// afterwards, and S's regions must no longer run it at the end.
func (r *runner) checkContainment() {
	for _, f := range r.faults {
		if f.fired.IsZero() || f.during == nil || f.Org || f.Hold > 0 || f.Controller {
			continue
		}
		s := f.during
		if !f.Bad && !slices.Contains(s.Regions(), f.watched.Region) {
			continue
		}
		for _, st := range r.p.Stages[s.Index+1:] {
			if !st.Production {
				continue
			}
			var reached []string
			first := time.Time{}
			for _, reg := range st.Regions() {
				if slices.Contains(s.Regions(), reg) {
					continue
				}
				if t, ok := r.firstV1[reg]; ok && !t.Before(f.fired) {
					reached = append(reached, reg)
					if first.IsZero() || t.Before(first) {
						first = t
					}
				}
			}
			if len(reached) > 0 {
				what := fmt.Sprintf("fault %s fired at %s during %s", f.Spec, fmtTime(f.fired), s.Name)
				if f.Bad {
					what = fmt.Sprintf("the change, bad from %s on (fault %s), first served at %s during %s", f.Stage, f.Spec, fmtTime(f.fired), s.Name)
				}
				r.violate(Violation{Property: PropContainment, Stage: st.Name, Region: strings.Join(reached, " "),
					Detail: fmt.Sprintf("%s, yet %d region(s) of %s ran the new version from %s", what, len(reached), st.Name, fmtTime(first))})
			}
		}
		for _, reg := range s.Regions() {
			if sh := r.regionShare(reg); sh > 0 && s.Production {
				r.violate(Violation{Property: PropContainment, Stage: s.Name, Region: reg,
					Detail: fmt.Sprintf("fault %s fired at %s during %s, and %s still serves %.0f%% of its traffic from the new version at the end", f.Spec, fmtTime(f.fired), s.Name, reg, sh*100)})
			}
		}
	}
}

// checkBakeHolds: a production stage that the change's execution passed
// must have baked — from its bake's start (its first bake action, or its
// actions' end) to the stage's end — for at least its bake: the gate
// configuration's bake, or the longest WaitTime of its OnSuccess alarm
// rules. Under the reading that an OnSuccess alarm rule succeeds at once
// when its alarm is OK, a bake held only by such a rule lasts nothing.
func (r *runner) checkBakeHolds() {
	for _, sr := range r.runs {
		st := sr.st
		if !st.Production || sr.exec.kind != execStandard || sr.result != "Succeeded" {
			continue
		}
		want := 0
		if st.Gate != nil {
			want = st.Gate.BakeMinutes
		}
		if st.OnSuccess != nil {
			for _, rl := range st.OnSuccess.Rules {
				if rl.Provider == "CloudWatchAlarm" {
					want = max(want, rl.Wait)
				}
			}
		}
		if want == 0 || sr.baking.IsZero() {
			continue
		}
		if got := sr.ended.Sub(sr.baking); got < time.Duration(want)*time.Minute {
			r.violate(Violation{Property: PropBakeHolds, Stage: st.Name, Region: strings.Join(st.Regions(), " "),
				Detail: fmt.Sprintf("the stage baked %s of its %d min before the change went on", fmtDur(got), want)})
		}
	}
}

// stageNamed is the pipeline's stage of that name, nil when there is none.
func (r *runner) stageNamed(name string) *Stage {
	for _, st := range r.p.Stages {
		if st.Name == name {
			return st
		}
	}
	return nil
}
