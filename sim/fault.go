package sim

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/safepipe/safepipe/waves"
)

// Fault is one injected failure. The grammar (ParseFault):
//
//	REGION:STAGE+DURATION        that region's aggregate alarm fires DURATION after stage STAGE starts
//	ALARM@REGION:STAGE+DURATION  the named alarm fires DURATION after stage STAGE starts
//	org:STAGE+DURATION           the organisation alarm fires DURATION after stage STAGE starts
//	REGION@+DURATION             that region's aggregate alarm fires DURATION after the run starts
//	org@+DURATION                the organisation alarm fires DURATION after the run starts
//	fail:STAGE/ACTION            that action fails when the change's execution runs it
//	controller:STAGE+DURATION~HOLD  the gate controller stops for HOLD, DURATION after STAGE starts
//	controller@+DURATION~HOLD       the gate controller stops for HOLD, DURATION after the run starts
//
// The alarm faults are each optionally followed by ~HOLD: the alarm stays in ALARM for HOLD
// (an incident that has nothing to do with the change). Without HOLD, a
// region's or a named alarm stays in ALARM while the change is in the
// region (deploying or serving) and at least Options.ClearMinutes; the
// organisation alarm stays in ALARM to the end of the run (a freeze).
//
// DURATION and HOLD are Go durations with an optional leading day count:
// 20m, 1h30m, 2d, 1d12h. A stage "starts" when it is entered (its entry
// condition passed). "That region's aggregate alarm" is the stage's entry
// blocker in that region (the gates configuration; for REGION@+DURATION
// the first production stage's that deploys there), or else an alarm the
// stage's own rules watch there. When the alarm is a composite, the first
// metric alarm of its rule fires, so that every watcher of the alarm or of
// its children (CodeDeploy deployment groups, bakes) sees the fault.
//
// fail:STAGE/ACTION is how a scenario decides what an opaque action does:
// the simulator never runs an action's commands or code (a CodeBuild
// buildspec, a Commands action, a Lambda function it does not model), so
// such an action succeeds after Options.ActionMinutes unless a fail fault
// names it (in a rollback execution it succeeds: the earlier version's
// build or test is taken to pass, as it did before).
type Fault struct {
	// Spec is the fault as written.
	Spec string `json:"spec"`
	// Alarm is the named alarm ("" for a region's aggregate or the
	// organisation alarm).
	Alarm string `json:"alarm,omitempty"`
	// Region is the alarm's region ("" for the organisation alarm).
	Region string `json:"region,omitempty"`
	// Org is true for the organisation alarm.
	Org bool `json:"org,omitempty"`
	// Stage is the stage whose start the delay counts from ("" for the run's
	// start).
	Stage string `json:"stage,omitempty"`
	// After is the delay.
	After time.Duration `json:"after"`
	// Hold is how long the alarm stays in ALARM (0: see the type's doc).
	Hold time.Duration `json:"hold,omitempty"`
	// Action is the action a fail fault fails, in Stage ("" for an alarm
	// fault).
	Action string `json:"action,omitempty"`
	// Controller is true for a controller fault: the gate controller runs
	// no round and answers no bake job for Hold (an outage: a broken
	// deployment of the function, throttling, a regional incident).
	Controller bool `json:"controller,omitempty"`
	// Bad is true for a bad-version fault (bad:STAGE): the change is bad
	// from Stage on — wherever a stage from Stage on makes it serve, the
	// alarm that stage watches in that region goes to ALARM, and stays
	// there while the change serves. On a pipeline whose stages watch no
	// alarm nothing fires, and the result shows how far a bad change goes.
	// With a latency (bad:STAGE+DURATION, in After) the defect is latent:
	// in each region the alarm goes to ALARM only once the change has
	// served there for After (a leak, a daily job, a certificate): what a
	// bake is for.
	Bad bool `json:"bad,omitempty"`
}

var (
	faultStageRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)
)

// faultGrammar is the grammar, for errors.
const faultGrammar = "want REGION:STAGE+DURATION, ALARM@REGION:STAGE+DURATION, org:STAGE+DURATION or REGION@+DURATION, with an optional ~HOLD, fail:STAGE/ACTION, bad:STAGE with an optional +LATENCY, or controller:STAGE+DURATION~HOLD or controller@+DURATION~HOLD"

// ParseFault reads one fault spec; the error names the spec.
func ParseFault(spec string) (Fault, error) {
	f := Fault{Spec: spec}
	bad := func(format string, args ...any) (Fault, error) {
		return Fault{}, fmt.Errorf("fault %q: %s (%s)", spec, fmt.Sprintf(format, args...), faultGrammar)
	}
	s := spec
	if stage, ok := strings.CutPrefix(s, "bad:"); ok {
		if i := strings.LastIndex(stage, "+"); i >= 0 {
			d, err := parseSimDuration(stage[i+1:])
			if err != nil || d <= 0 {
				return bad("latency %q is not a positive duration", stage[i+1:])
			}
			f.After, stage = d, stage[:i]
		}
		if !faultStageRE.MatchString(stage) {
			return bad("stage %q is not a stage name", stage)
		}
		f.Stage, f.Bad = stage, true
		return f, nil
	}
	if rest, ok := strings.CutPrefix(s, "fail:"); ok {
		stage, action, ok := strings.Cut(rest, "/")
		if !ok {
			return bad("no /ACTION")
		}
		// Stage and action names: CodePipeline's pattern [A-Za-z0-9.@\-_]+,
		// at most 100 characters (API_StageDeclaration, API_ActionDeclaration).
		if !faultStageRE.MatchString(stage) {
			return bad("stage %q is not a stage name", stage)
		}
		if !faultStageRE.MatchString(action) {
			return bad("action %q is not an action name", action)
		}
		f.Stage, f.Action = stage, action
		return f, nil
	}
	if i := strings.LastIndex(s, "~"); i >= 0 {
		h, err := parseSimDuration(s[i+1:])
		if err != nil || h <= 0 {
			return bad("hold %q is not a positive duration", s[i+1:])
		}
		f.Hold, s = h, s[:i]
	}
	i := strings.LastIndex(s, "+")
	if i < 0 {
		return bad("no +DURATION")
	}
	d, err := parseSimDuration(s[i+1:])
	if err != nil {
		return bad("duration %q: %v", s[i+1:], err)
	}
	f.After, s = d, s[:i]
	if strings.HasSuffix(s, "@") && !strings.Contains(s, ":") { // REGION@+D or org@+D
		target := strings.TrimSuffix(s, "@")
		if target == "org" {
			f.Org = true
			return f, nil
		}
		if target == "controller" {
			if f.Hold == 0 {
				return bad("a controller fault needs ~HOLD (how long the controller is down)")
			}
			f.Controller = true
			return f, nil
		}
		if !waves.IsRegionCode(target) {
			return bad("%q is not a region code", target)
		}
		f.Region = target
		return f, nil
	}
	j := strings.LastIndex(s, ":")
	if j < 0 {
		return bad("no :STAGE")
	}
	f.Stage, s = s[j+1:], s[:j]
	if !faultStageRE.MatchString(f.Stage) {
		return bad("stage %q is not a stage name", f.Stage)
	}
	if s == "org" {
		f.Org = true
		return f, nil
	}
	if s == "controller" {
		if f.Hold == 0 {
			return bad("a controller fault needs ~HOLD (how long the controller is down)")
		}
		f.Controller = true
		return f, nil
	}
	if k := strings.LastIndex(s, "@"); k >= 0 {
		f.Alarm, s = s[:k], s[k+1:]
		if f.Alarm == "" || len(f.Alarm) > 255 {
			return bad("alarm name must be 1–255 characters")
		}
	}
	if !waves.IsRegionCode(s) {
		return bad("%q is not a region code", s)
	}
	f.Region = s
	return f, nil
}

// ParseFaults reads every spec and reports every bad one at once.
func ParseFaults(specs []string) ([]Fault, error) {
	var out []Fault
	var errs []error
	for _, s := range specs {
		f, err := ParseFault(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// parseSimDuration reads a Go duration with an optional leading "Nd".
func parseSimDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 366 {
			return 0, fmt.Errorf("%q: days must be 0–366", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return days + d, nil
}

// resolvedFault is a fault bound to the model.
type resolvedFault struct {
	Fault
	watched AlarmKey // the alarm the spec names (or resolves to)
	force   AlarmKey // the alarm set to ALARM (watched, or its first metric child)
	stage   *Stage   // nil: relative to the run's start
	fired   time.Time
	cleared time.Time
	during  *Stage // the stage in progress when it fired
	active  bool
	done    bool
	gone    time.Time // when the change left the region (zero while there)
	// A bad-version fault: when the change first served in each region,
	// and the alarm forced there while it serves.
	badAt    map[string]time.Time
	forcedAt map[string]AlarmKey
	// noted: regions where no alarm can see it (said once).
	noted map[string]bool
}

// resolveFaults binds every alarm fault to the model's alarms and stages,
// and checks that every fail fault names an action of its stage.
func resolveFaults(m *Model, faults []Fault) (alarmFaults []*resolvedFault, failing []Fault, err error) {
	p := m.Pipeline
	var out []*resolvedFault
	var errs []error
	for _, f := range faults {
		rf := &resolvedFault{Fault: f}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("fault %q: %s", f.Spec, fmt.Sprintf(format, args...)))
		}
		if f.Stage != "" {
			for _, st := range p.Stages {
				if st.Name == f.Stage {
					rf.stage = st
				}
			}
			if rf.stage == nil {
				var names []string
				for _, st := range p.Stages {
					names = append(names, st.Name)
				}
				fail("stage %q is not in the pipeline (stages: %s)", f.Stage, strings.Join(names, ", "))
				continue
			}
		}
		if f.Action != "" {
			found := false
			var names []string
			for _, a := range rf.stage.Actions {
				found = found || a.Name == f.Action
				names = append(names, a.Name)
			}
			if !found {
				fail("stage %s has no action %q (actions: %s)", f.Stage, f.Action, strings.Join(names, ", "))
				continue
			}
			if i := slices.IndexFunc(rf.stage.Actions, func(a *Action) bool { return a.Name == f.Action }); !opaque(rf.stage.Actions[i]) {
				fail("action %s of stage %s is modelled by what it does (a stack or server deployment): inject an alarm fault (REGION:%s+DURATION) instead", f.Action, f.Stage, f.Stage)
				continue
			}
			failing = append(failing, f)
			continue
		}
		switch {
		case f.Bad:
			rf.badAt, rf.forcedAt, rf.noted = map[string]time.Time{}, map[string]AlarmKey{}, map[string]bool{}
			out = append(out, rf)
			continue
		case f.Controller:
			if p.Gates == nil {
				fail("the pipeline has no gate controller")
				continue
			}
			out = append(out, rf)
			continue
		case f.Org:
			if p.Gates == nil || p.Gates.Organization == nil {
				fail("the pipeline has no organisation alarm")
				continue
			}
			o := p.Gates.Organization
			rf.watched = AlarmKey{Account: o.Account, Region: o.Region, Name: o.Name}
		case f.Alarm != "":
			key, ok := m.findAlarm(f.Alarm, f.Region, rf.stage)
			if !ok {
				fail("no stack creates an alarm named %q in %s", f.Alarm, f.Region)
				continue
			}
			rf.watched = key
		default:
			st := rf.stage
			if st == nil {
				for _, s := range p.Stages {
					if s.Production && slices.Contains(s.Regions(), f.Region) {
						st = s
						break
					}
				}
				if st == nil {
					fail("no production stage deploys to %s", f.Region)
					continue
				}
			} else if !slices.Contains(st.Regions(), f.Region) {
				fail("stage %s does not deploy to %s (it deploys to %s)", st.Name, f.Region, strings.Join(st.Regions(), ", "))
				continue
			}
			key, ok := m.aggregateAlarm(st, f.Region)
			if !ok {
				fail("stage %s watches no alarm in %s; name one with ALARM@%s:%s+DURATION", st.Name, f.Region, f.Region, st.Name)
				continue
			}
			rf.watched = key
		}
		rf.force = rf.watched
		if d := m.Alarms[rf.watched]; d != nil && d.Composite {
			if child, ok := m.firstMetricChild(d, 0); ok {
				rf.force = child
			}
		}
		out = append(out, rf)
	}
	return out, failing, errors.Join(errs...)
}

// findAlarm finds a named alarm in a region, preferring the account the
// stage deploys to there.
func (m *Model) findAlarm(name, region string, st *Stage) (AlarmKey, bool) {
	var found []AlarmKey
	for k := range m.Alarms {
		if k.Name == name && k.Region == region {
			found = append(found, k)
		}
	}
	slices.SortFunc(found, compareAlarmKeys)
	if st != nil {
		for _, k := range found {
			for _, sk := range st.DeployKeys() {
				if sk.Account == k.Account && sk.Region == k.Region {
					return k, true
				}
			}
		}
	}
	if len(found) > 0 {
		return found[0], true
	}
	return AlarmKey{}, false
}

// aggregateAlarm is the alarm a stage's entry gate watches in a region (its
// blocker in the gates configuration), else an alarm its own rules watch
// there, else the first alarm a deployment group of its stacks there
// watches.
func (m *Model) aggregateAlarm(st *Stage, region string) (AlarmKey, bool) {
	if st.Gate != nil {
		for _, a := range st.Gate.Blockers {
			if a.Region == region {
				return AlarmKey{Account: a.Account, Region: a.Region, Name: a.Name}, true
			}
		}
	}
	for _, c := range []*Condition{st.BeforeEntry, st.OnSuccess} {
		if c == nil {
			continue
		}
		for _, r := range c.Rules {
			if r.Provider == "CloudWatchAlarm" && r.Alarm.Region == region {
				if _, ok := m.Alarms[r.Alarm]; ok {
					return r.Alarm, true
				}
			}
		}
	}
	for _, a := range st.Actions {
		if a.Deploys() && a.Place.Region == region && a.Template != nil {
			for _, u := range trafficUnits(a.Template) {
				if len(u.Alarms) > 0 {
					return u.Alarms[0], true
				}
			}
		}
	}
	return AlarmKey{}, false
}

// firstMetricChild is the first metric alarm in a composite's rule, depth
// first.
func (m *Model) firstMetricChild(d *AlarmDef, depth int) (AlarmKey, bool) {
	if depth > 16 {
		return AlarmKey{}, false
	}
	var kids []AlarmKey
	d.Rule.children(func(k AlarmKey) { kids = append(kids, k) })
	for _, k := range kids {
		c := m.Alarms[k]
		if c == nil {
			continue
		}
		if !c.Composite {
			return k, true
		}
		if k2, ok := m.firstMetricChild(c, depth+1); ok {
			return k2, true
		}
	}
	return AlarmKey{}, false
}

// checkUnprepared checks Options.Unprepared against the model: every
// region must be one a stage deploys to. It returns a note for each region
// that changes nothing because no stage's gate waits for a two-phase change
// to be prepared (the release activates none).
func checkUnprepared(m *Model, regions []string) ([]string, error) {
	deployed := map[string]bool{}
	waits := false
	for _, st := range m.Pipeline.Stages {
		for _, r := range st.Regions() {
			deployed[r] = true
		}
		if st.Gate != nil && len(st.Gate.Prepared) > 0 {
			waits = true
		}
	}
	var errs []error
	var notes []string
	for _, r := range regions {
		switch {
		case !deployed[r]:
			errs = append(errs, fmt.Errorf("sim: unprepared region %s: no stage of the pipeline deploys there", r))
		case !waits:
			notes = append(notes, fmt.Sprintf("unprepared %s changes nothing: no stage of this release waits for a two-phase change to be prepared (it activates none)", r))
		}
	}
	return notes, errors.Join(errs...)
}
