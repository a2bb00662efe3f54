package sim

import (
	"context"
	"fmt"
	"github.com/safepipe/safepipe/model"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/gates"
)

// The alarm states.
const (
	stateOK    = "OK"
	stateAlarm = "ALARM"
)

type alarmState struct {
	key      AlarmKey
	def      *AlarmDef
	external bool // not created by a stack of the assembly (the organisation alarm)
	state    string
	hist     []gates.Transition
	forced   int // active faults forcing ALARM
	// gate metric alarms: the controller's datapoints, one a minute.
	gate   bool
	stage  string
	metric string
	points []point
}

type point struct {
	v       float64
	present bool
}

func (a *alarmState) set(now time.Time, st string) bool {
	if a.state == st {
		return false
	}
	a.hist = append(a.hist, gates.Transition{At: now, From: gates.State(a.state), To: gates.State(st)})
	a.state = st
	return true
}

type stackState struct {
	key       StackKey
	exists    bool
	effective string
	version   int
	code      bool
	template  *Stack
	// traffic: cur serves 1-w, next serves w.
	cur, next int
	w         float64
	op        *stackOp
	prod      bool
	// udBefore and udVersion are the upgrade-downgrade test's record (the
	// alias controller's, in mode upgrade-half): the version live before
	// the test, and the version under test.
	udBefore, udVersion int
	udRecorded          bool // a version was live before the test
	// groups are the stack's Server deployment groups by name (server.go):
	// their instances serve the code, not the stack.
	groups map[string]*groupState
	// groupList are the groups in name order, listed once: stepServers
	// and a region's share walk them every simulated minute.
	groupList []*groupState
	// ramp is the alias's ramp under way (nil: none); rampLive is the
	// version that served when the last ramp started (rampLiveSet), which
	// a deployment then serves alone: a stage rollback.
	ramp        *rampRun
	rampLive    int
	rampLiveSet bool
	// tasks is the ECS tasks the stack's services run (their DesiredCount),
	// when every traffic unit of the stack is an ECS service rolled by
	// ECS; 0 otherwise. A region's share weighs such stacks by their
	// tasks: a one-task canary service beside a main service of nine is a
	// tenth of the region, not all of it.
	tasks int
}

// rampRun is a ramp the driver is taking a stack's alias through.
type rampRun struct {
	ramp  *model.Ramp
	step  int       // the next step
	since time.Time // when the current share began to hold (or the alarm last was not OK)
}

// busy reports whether a deployment runs in one of the stack's groups, or
// its alias is ramping.
func (s *stackState) busy() bool {
	if s.ramp != nil {
		return true
	}
	for _, gs := range s.groups {
		if gs.dep != nil {
			return true
		}
	}
	return false
}

// instances is how many of the stack's group instances there are and how
// many serve the new version.
func (s *stackState) instances() (total, onNew int) {
	for _, gs := range s.groupList {
		total += len(gs.inst)
		onNew += gs.count(1)
	}
	return total, onNew
}

// share is the new version's share of the stack's traffic.
func (s *stackState) share() float64 {
	if !s.code {
		return 0
	}
	if len(s.groups) > 0 {
		total, onNew := s.instances()
		if total == 0 {
			return 0
		}
		return float64(onNew) / float64(total)
	}
	v := 0.0
	if s.cur == 1 {
		v += 1 - s.w
	}
	if s.next == 1 {
		v += s.w
	}
	return v
}

// shareOf is version v's share of the stack's traffic.
func (s *stackState) shareOf(v int) float64 {
	out := 0.0
	if s.cur == v {
		out += 1 - s.w
	}
	if s.next == v {
		out += s.w
	}
	return out
}

// world is the simulated state the observer, the pipeline and the checks
// read.
type world struct {
	// reached records which executions entered which stages
	// ("execution\x00stage"), and deployed the release each stage runs
	// (execBefore until a run succeeds), for the controller's region
	// rollbacks.
	reached    map[string]bool
	deployed   map[string]string
	m          *Model
	p          *Pipeline
	opts       Options
	now        time.Time
	alarms     map[AlarmKey]*alarmState
	byPlace    map[Place][]*alarmState
	gateAl     []*alarmState
	comps      []*alarmState // composites in evaluation order
	stacks     map[StackKey]*stackState
	dirty      bool // an input of the gate decisions changed
	lastDec    []gates.Decision
	decByStage map[string]gates.Decision
	lastWin    [2]bool
	// down counts the controller faults in effect: while it is above
	// zero the gate controller runs no round and answers no bake job.
	down  int
	res   *Result
	notes map[string]bool
	// caches
	cal            windowCal
	calOK, calDone bool
	keys           []StackKey               // every stack, sorted
	ordered        []*stackState            // the stacks of keys, in that order
	byRegion       map[string][]*stackState // production stacks by region
	// opaqueNew is, for a region whose production stages deploy only
	// through actions the simulator does not model (CodeDeployToECS, ECS,
	// CodeDeploy, AppConfig, S3, …), whether the new version runs there:
	// true once such an action of the change's execution succeeded there,
	// false again once a rollback execution's did.
	opaqueNew map[string]bool
}

func newWorld(m *Model, opts Options, res *Result) *world {
	w := &world{m: m, p: m.Pipeline, opts: opts, alarms: map[AlarmKey]*alarmState{}, byPlace: map[Place][]*alarmState{},
		stacks: map[StackKey]*stackState{}, dirty: true, res: res, notes: map[string]bool{}, opaqueNew: map[string]bool{}, reached: map[string]bool{}, deployed: map[string]string{}}
	for _, st := range m.Pipeline.Stages {
		w.deployed[st.Name] = execBefore
	}
	for _, k := range slices.SortedFunc(maps.Keys(m.Alarms), compareAlarmKeys) {
		d := m.Alarms[k]
		a := &alarmState{key: k, def: d, state: stateOK}
		if !d.Composite && d.Namespace == gates.Namespace {
			a.gate, a.stage, a.metric = true, d.Dimensions["Stage"], d.MetricName
			if pl := d.Dimensions["Pipeline"]; w.p.Gates != nil && pl != w.p.Gates.Pipeline {
				a.gate = false
			}
			if a.gate {
				w.gateAl = append(w.gateAl, a)
			}
		}
		w.alarms[k] = a
	}
	if g := w.p.Gates; g != nil && g.Organization != nil {
		k := AlarmKey{Account: g.Organization.Account, Region: g.Organization.Region, Name: g.Organization.Name}
		if _, ok := w.alarms[k]; !ok {
			w.alarms[k] = &alarmState{key: k, external: true, state: stateOK}
			w.note(fmt.Sprintf("the organisation alarm %s is created outside the assembly: assumed to exist, in OK unless a fault fires it", k))
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(w.alarms), compareAlarmKeys) {
		a := w.alarms[k]
		pl := Place{k.Account, k.Region}
		w.byPlace[pl] = append(w.byPlace[pl], a)
	}
	w.orderComposites()
	return w
}

func (w *world) note(s string) {
	if !w.notes[s] {
		w.notes[s] = true
		w.res.Notes = append(w.res.Notes, s)
	}
}

// orderComposites sorts composite alarms children first (Kahn's
// algorithm: no recursion, so a chain of any depth is ordered); the
// composites of a cycle (which CloudWatch allows to be created, Q8) come
// last, in name order.
func (w *world) orderComposites() {
	var keys []AlarmKey
	for _, k := range slices.SortedFunc(maps.Keys(w.alarms), compareAlarmKeys) {
		if a := w.alarms[k]; a.def != nil && a.def.Composite {
			keys = append(keys, k)
		}
	}
	waiting := map[AlarmKey]int{}
	parents := map[AlarmKey][]AlarmKey{}
	for _, k := range keys {
		seen := map[AlarmKey]bool{}
		w.alarms[k].def.Rule.children(func(c AlarmKey) {
			if ca := w.alarms[c]; ca != nil && ca.def != nil && ca.def.Composite && !seen[c] {
				seen[c] = true
				waiting[k]++
				parents[c] = append(parents[c], k)
			}
		})
	}
	var queue []AlarmKey
	for _, k := range keys {
		if waiting[k] == 0 {
			queue = append(queue, k)
		}
	}
	placed := map[AlarmKey]bool{}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		placed[k] = true
		w.comps = append(w.comps, w.alarms[k])
		for _, p := range parents[k] {
			if waiting[p]--; waiting[p] == 0 {
				queue = append(queue, p)
			}
		}
	}
	for _, k := range keys {
		if !placed[k] {
			w.comps = append(w.comps, w.alarms[k])
		}
	}
}

// exists reports whether an alarm exists now: created by a stack that
// exists, or external.
func (w *world) exists(a *alarmState) bool {
	if a.external {
		return true
	}
	for _, sk := range a.def.Stacks {
		if s := w.stacks[sk]; s == nil || s.exists {
			return true // a stack outside the pipeline (deployed by cdk deploy) exists
		}
	}
	return false
}

// state returns the alarm's state, "" when it does not exist.
func (w *world) state(k AlarmKey) string {
	a := w.alarms[k]
	if a == nil || !w.exists(a) {
		return ""
	}
	return a.state
}

// evalComposites re-evaluates composite alarms: "ALARM" while the rule is
// true. A forced alarm (a fault) is in ALARM whatever its rule.
func (w *world) evalComposites() {
	for pass := 0; pass < 2; pass++ {
		changed := false
		for _, a := range w.comps {
			st := stateOK
			if a.forced > 0 || a.def.Rule.eval(func(k AlarmKey) string { return w.state(k) }) {
				st = stateAlarm
			}
			if a.set(w.now, st) {
				changed, w.dirty = true, true
			}
		}
		if !changed {
			return
		}
	}
}

// setForced applies a fault to an alarm.
func (w *world) setForced(k AlarmKey, delta int) {
	a := w.alarms[k]
	if a == nil {
		return
	}
	a.forced += delta
	if a.def == nil || !a.def.Composite {
		st := stateOK
		if a.forced > 0 {
			st = stateAlarm
		}
		if a.set(w.now, st) {
			w.dirty = true
		}
	}
	w.evalComposites()
}

// --- gates.Observer over the world ---

type observer struct {
	w      *world
	stages map[string]gates.StageState
}

func (o *observer) Alarms(_ context.Context, p gates.Place, names []string) (map[string]gates.State, error) {
	out := map[string]gates.State{}
	for _, n := range names {
		if st := o.w.state(AlarmKey{Account: p.Account, Region: p.Region, Name: n}); st != "" {
			out[n] = gates.State(st)
		}
	}
	return out, nil
}

func (o *observer) History(_ context.Context, p gates.Place, name string, since time.Time) ([]gates.Transition, error) {
	a := o.w.alarms[AlarmKey{Account: p.Account, Region: p.Region, Name: name}]
	if a == nil {
		return nil, nil
	}
	i, _ := slices.BinarySearchFunc(a.hist, since, func(t gates.Transition, s time.Time) int { return t.At.Compare(s) })
	return a.hist[i:], nil
}

func (o *observer) StackExists(_ context.Context, p gates.Place, stack string) (bool, error) {
	s := o.w.stacks[StackKey{Account: p.Account, Region: p.Region, Name: stack}]
	return s == nil || s.exists, nil
}

func (o *observer) Stages(context.Context) (map[string]gates.StageState, error) {
	return o.stages, nil
}

// RollbackTargetOf implements gates.StageRoller: every rollback goes back
// to the execution that deployed what ran before the change.
func (o *observer) RollbackTargetOf(context.Context, string) (string, error) {
	return execBefore, nil
}

// Deployed implements gates.StageRoller: the release of the stage's last
// run that succeeded (a rollback's: the execution before the change), or
// the execution before the change when none has.
func (o *observer) Deployed(_ context.Context, stage string) (string, error) {
	return o.w.deployed[stage], nil
}

// Reached implements gates.StageRoller: whether the execution entered the
// stage.
func (o *observer) Reached(_ context.Context, execution, stage string) (bool, error) {
	return o.w.reached[execution+"\x00"+stage], nil
}

// HasRollbackTarget implements gates.RollbackTargeter: the execution that
// deployed what runs before the change passed every stage, in the current
// structure version unless Options.StructureChanged (then no earlier
// execution is a target, and the change's own cannot be its own).
func (o *observer) HasRollbackTarget(context.Context, string) (bool, error) {
	return !o.w.opts.StructureChanged, nil
}

// controller runs the real gate decisions (gates.Evaluate) and publishes
// them as the gate metrics' datapoints for this minute, like the gate
// controller Lambda that EventBridge runs "rate(1 minute)". The decisions
// are a function of the alarm states and histories, the stack states, the
// pipeline's stage states and the window; they are recomputed whenever one
// of those changed (and every minute while a watched alarm lacks data).
// controllerDown is how many controller faults are in effect.
func (w *world) controllerDown() int { return w.down }

func (w *world) controller(stages map[string]gates.StageState, stagesChanged bool) {
	g := w.p.Gates
	if g == nil {
		return
	}
	if w.down > 0 {
		// No round: no datapoint reaches the gate alarms, which treat
		// missing data as breaching.
		for _, a := range w.gateAl {
			if a.points != nil {
				a.points = append(a.points[1:], point{})
			}
		}
		w.dirty = true
		return
	}
	win := w.windowState()
	if w.dirty || stagesChanged || win != w.lastWin || w.lastDec == nil {
		w.lastDec = gates.Evaluate(context.Background(), g, &observer{w: w, stages: stages}, w.now)
		w.dirty, w.lastWin = false, win
		w.decByStage = make(map[string]gates.Decision, len(w.lastDec))
		for _, d := range w.lastDec {
			w.decByStage[d.Stage] = d
		}
	}
	dec := w.decByStage
	for _, a := range w.gateAl {
		d, ok := dec[a.stage]
		p := point{}
		if ok {
			p.present = true
			switch a.metric {
			case gates.MetricEntryBlocked:
				p.v = b2f(d.EntryBlocked)
			case gates.MetricBakeBreached:
				p.v = b2f(d.BakeBreached)
			default:
				p.present = false
			}
		}
		if a.points == nil { // the controller has been publishing since long before the run
			n := max(a.def.EvaluationPeriods*max(a.def.Period/60, 1), 1)
			a.points = make([]point, n)
			for i := range a.points {
				a.points[i] = p
			}
		}
		a.points = append(a.points[1:], p)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// windowState is what the window contributes to the decisions: open, and
// a holiday.
func (w *world) windowState() [2]bool {
	ww, ok := w.window()
	if !ok {
		return [2]bool{}
	}
	return [2]bool{ww.open(w.now), ww.holiday(w.now)}
}

// evalGateAlarms evaluates the gate metric alarms on the controller's
// datapoints: "the alarm goes to ALARM state if at least M [Datapoints to
// Alarm] datapoints out of N [Evaluation Periods] are breaching", and with
// TreatMissingData breaching "missing data points are treated as
// breaching the threshold"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html).
// Each period's value is the Maximum of its datapoints; the alarm is
// evaluated every minute on the periods ending now.
func (w *world) evalGateAlarms() {
	for _, a := range w.gateAl {
		d := a.def
		per := max(d.Period/60, 1)
		breaching, missing := 0, 0
		for i := 0; i < d.EvaluationPeriods; i++ {
			end := len(a.points) - i*per
			val, present := 0.0, false
			for j := max(end-per, 0); j < end; j++ {
				if a.points[j].present {
					if !present || a.points[j].v > val {
						val = a.points[j].v
					}
					present = true
				}
			}
			switch {
			case !present && d.TreatMissing == "breaching":
				breaching++
			case !present:
				missing++
			case compare(d.Comparison, val, d.Threshold):
				breaching++
			}
		}
		st := a.state
		switch {
		case breaching >= max(d.DatapointsToAlarm, 1):
			st = stateAlarm
		case missing == d.EvaluationPeriods && d.TreatMissing == "ignore":
		case missing == d.EvaluationPeriods:
			st = "INSUFFICIENT_DATA"
		default:
			st = stateOK
		}
		if a.forced > 0 {
			st = stateAlarm
		}
		a.set(w.now, st)
	}
}

func compare(op string, v, th float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= th
	case "GreaterThanThreshold":
		return v > th
	case "LessThanThreshold":
		return v < th
	case "LessThanOrEqualToThreshold":
		return v <= th
	}
	return false
}

// window is the deployment window of production stages: the gates
// configuration's (days, hours, holidays, zone).
func (w *world) window() (windowCal, bool) {
	if w.p.Gates == nil {
		return windowCal{}, false
	}
	if !w.calDone {
		w.cal, w.calOK = newWindowCal(w.p.Gates.Window)
		w.calDone = true
	}
	return w.cal, w.calOK
}

// modelled reports whether the simulator models what runs in a region:
// a production stack with code or server groups there.
func (w *world) modelled(region string) bool {
	for _, st := range w.byRegion[region] {
		if st.code || len(st.groups) > 0 {
			return true
		}
	}
	return false
}

// regionShare is the new version's share of a region's production traffic
// (the most of its production stacks); in a region deployed only by
// opaque actions, all of it once such an action of the change succeeded
// there (opaqueNew).
func (w *world) regionShare(region string) float64 {
	if !w.modelled(region) {
		if w.opaqueNew[region] {
			return 1
		}
		return 0
	}
	s := 0.0
	total, onNew := 0, 0
	tasks, onNewTasks := 0, 0.0
	for _, st := range w.byRegion[region] {
		if len(st.groups) > 0 {
			// Server stacks: the share of the region's instances.
			t, n := st.instances()
			total, onNew = total+t, onNew+n
			continue
		}
		if st.tasks > 0 && st.code {
			// ECS stacks: the share of the region's tasks.
			tasks += st.tasks
			onNewTasks += float64(st.tasks) * st.share()
			continue
		}
		s = max(s, st.share())
	}
	if total > 0 {
		s = max(s, float64(onNew)/float64(total))
	}
	if tasks > 0 {
		s = max(s, onNewTasks/float64(tasks))
	}
	return s
}

// regionFull reports whether every production stack of a region with code
// serves only the new version.
func (w *world) regionFull(region string) bool {
	if !w.modelled(region) {
		return w.opaqueNew[region]
	}
	any := false
	for _, st := range w.byRegion[region] {
		if st.code {
			any = true
			if st.share() < 1 {
				return false
			}
		}
	}
	return any
}

func joinKeys(ks []AlarmKey) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.Name)
	}
	return strings.Join(s, ", ")
}
