package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/waves"
)

// Reading names one of two readings of a behaviour the AWS documentation
// leaves open; the simulator runs either (see the package documentation).
type Reading string

// Readings of whether stage conditions run during a rollback execution
// (docs/aws-semantics.md Q5: DOCS SILENT).
const (
	// RollbackConditionsEvaluated: a rollback execution passes through the
	// stage's BeforeEntry and OnSuccess conditions like any execution. The
	// default: the reading under which a gate can block a rollback.
	RollbackConditionsEvaluated Reading = "evaluated"
	// RollbackConditionsSkipped: a rollback execution runs the stage's
	// actions without its conditions.
	RollbackConditionsSkipped Reading = "skipped"
)

// Readings of an OnSuccess CloudWatchAlarm rule with a WaitTime
// (docs/aws-semantics.md Q2: DOCS AMBIGUOUS; the rule reference defines
// WaitTime for the Entry condition only).
const (
	// BakeContinuous: the rule fails as soon as the alarm is in one of its
	// AlarmStates during the wait (the use-case sentence "roll back the
	// changes if a CloudWatch alarm goes into ALARM state within 60
	// minutes"). The default.
	BakeContinuous Reading = "continuous"
	// BakeAtEnd: the rule checks the alarm once, when the wait ends (the
	// parameter text "The wait time ... before running the rule result").
	BakeAtEnd Reading = "at-end"
	// BakeImmediate: as the rule reference says of the Entry condition —
	// "If the alarm is in OK state when the rule is first checked, the
	// rule will immediately succeed"; WaitTime is only how long it waits
	// for an alarm in ALARM at the first check to leave it. A bake held
	// by such a rule lasts no time at all.
	BakeImmediate Reading = "immediate"
)

// Readings of a rule's timeout (RuleDeclaration.timeoutInMinutes: "The
// action timeout for the rule", 5–86,400, no documented default, and not
// settable in CloudFormation).
const (
	// RuleTimeoutNone: a rule waits as long as its WaitTime (or, for a
	// DeploymentWindow rule, until the window opens). The default.
	RuleTimeoutNone Reading = "none"
	// RuleTimeoutMinimum: a rule fails after 5 minutes, the least
	// timeoutInMinutes can be.
	RuleTimeoutMinimum Reading = "5"
)

// Question is a behaviour the AWS documentation leaves open, and the
// readings the simulator runs of it (docs/aws-semantics.md).
type Question struct {
	// Name is how --reading names it.
	Name string `json:"name"`
	// Doc is the entry of docs/aws-semantics.md.
	Doc string `json:"doc"`
	// About says what is open.
	About string `json:"about"`
	// Readings are its readings; the first is the default.
	Readings []Reading `json:"readings"`
}

// Questions are the open questions the simulator models.
var Questions = []Question{
	{"rollback-conditions", "Q5", "whether a rollback execution passes through the stage's BeforeEntry and OnSuccess conditions", []Reading{RollbackConditionsEvaluated, RollbackConditionsSkipped}},
	{"onsuccess-alarm", "Q2", "how an OnSuccess CloudWatchAlarm rule with a WaitTime checks its alarm", []Reading{BakeContinuous, BakeAtEnd, BakeImmediate}},
	{"alarm-at-start", "Q9", "whether a CodeDeploy deployment that starts while one of its alarms is in ALARM stops", []Reading{AlarmAtStartStops, AlarmAtStartIgnored}},
	{"rule-timeout", "Q6", "how long a stage condition's rule may wait (timeoutInMinutes has no documented default)", []Reading{RuleTimeoutNone, RuleTimeoutMinimum}},
}

// field is where a question's reading lives in Options.
func (o *Options) field(question string) (*Reading, bool) {
	switch question {
	case "rollback-conditions":
		return &o.RollbackConditions, true
	case "onsuccess-alarm":
		return &o.BakeWatch, true
	case "alarm-at-start":
		return &o.AlarmAtStart, true
	case "rule-timeout":
		return &o.RuleTimeout, true
	}
	return nil, false
}

// SetReading sets a question's reading ("onsuccess-alarm", "immediate").
func (o *Options) SetReading(question, reading string) error {
	f, ok := o.field(question)
	if !ok {
		var names []string
		for _, q := range Questions {
			names = append(names, q.Name)
		}
		return fmt.Errorf("sim: no question %q (questions: %s)", question, strings.Join(names, ", "))
	}
	for _, q := range Questions {
		if q.Name == question {
			for _, r := range q.Readings {
				if string(r) == reading {
					*f = r
					return nil
				}
			}
			return fmt.Errorf("sim: question %s has no reading %q (readings: %s)", question, reading, joinReadings(q.Readings))
		}
	}
	return fmt.Errorf("sim: no question %q", question)
}

// Readings returns the reading of every question in o (defaults filled
// in).
func (o Options) Readings() map[string]Reading {
	o = o.withDefaults()
	out := map[string]Reading{}
	for _, q := range Questions {
		f, _ := o.field(q.Name)
		out[q.Name] = *f
	}
	return out
}

func joinReadings(rs []Reading) string {
	var ss []string
	for _, r := range rs {
		ss = append(ss, string(r))
	}
	return strings.Join(ss, ", ")
}

// Readings of a CodeDeploy deployment that starts while one of its alarms
// is in ALARM (docs/aws-semantics.md Q9: DOCS SILENT).
const (
	// AlarmAtStartStops: CodeDeploy stops the deployment at its first
	// alarm poll (the digest's safe assumption). The default.
	AlarmAtStartStops Reading = "stops"
	// AlarmAtStartIgnored: an alarm already in ALARM when the deployment
	// starts is ignored for that deployment (what ECS documents for its own
	// deployment alarms, Q11).
	AlarmAtStartIgnored Reading = "ignored"
)

// Options configure a run.
type Options struct {
	// Start is when the execution starts at the first stage. Required.
	Start time.Time
	// DeployMinutes is how long a CloudFormation stack update takes, apart
	// from traffic shifting (which follows the deployment configuration).
	// Default: 30, as plan's --deploy-minutes.
	DeployMinutes int
	// ActionMinutes is how long any other action takes (source, build,
	// tests). Default: 5.
	ActionMinutes int
	// Faults are injected in the run.
	Faults []Fault
	// Unprepared are regions where the version live before the change
	// did not take a two-phase change's prepare everywhere (a host failed
	// the prepare release without failing its deployment): their ledgers
	// show the change unprepared. Default: none (the version live before
	// an activating release is its prepare, as package twophase requires).
	Unprepared []string
	// RollbackConditions, BakeWatch, AlarmAtStart and RuleTimeout choose
	// the readings of undocumented behaviour (Questions). Defaults:
	// RollbackConditionsEvaluated, BakeContinuous, AlarmAtStartStops,
	// RuleTimeoutNone.
	RollbackConditions Reading
	BakeWatch          Reading
	AlarmAtStart       Reading
	RuleTimeout        Reading
	// OneBoxShare is the most of a region's traffic a one-box may serve.
	// Default: 0.10 (DESIGN: "≤10% of the region's or AZ's traffic").
	OneBoxShare float64
	// ClearMinutes is the shortest time a fault's alarm stays in ALARM, and
	// how long after the change has left a region it clears. Default: 5.
	ClearMinutes int
	// RollbackHoldMinutes is how long a rollback execution may wait at a
	// stage's entry before the wait counts as a gate blocking it (the gate
	// alarms' own evaluation lag). Default: 5.
	RollbackHoldMinutes int
	// MaxDays bounds the simulated time. Default: 60.
	MaxDays int
	// StructureChanged: the pipeline's definition changed since the
	// execution that deployed what runs now, so no stage has an execution
	// of the current structure version to roll back to ("The pipeline can
	// only roll back to a previous execution if the previous execution was
	// started in the current pipeline structure version"): a stage that
	// fails does not roll back, and the controller keeps production entries
	// that require a rollback target closed. Default: false.
	StructureChanged bool
	// Overrides are stages whose entry condition an operator overrides for
	// the change's execution (OverrideStageCondition BEFORE_ENTRY): the
	// stage enters when the change arrives, whatever its rules say. It
	// skips no action: a bake action still holds the stage. Default: none.
	Overrides []string
}

func (o Options) withDefaults() Options {
	if o.DeployMinutes == 0 {
		o.DeployMinutes = 30
	}
	if o.ActionMinutes == 0 {
		o.ActionMinutes = 5
	}
	if o.RollbackConditions == "" {
		o.RollbackConditions = RollbackConditionsEvaluated
	}
	if o.BakeWatch == "" {
		o.BakeWatch = BakeContinuous
	}
	if o.AlarmAtStart == "" {
		o.AlarmAtStart = AlarmAtStartStops
	}
	if o.RuleTimeout == "" {
		o.RuleTimeout = RuleTimeoutNone
	}
	if o.OneBoxShare == 0 {
		o.OneBoxShare = 0.10
	}
	if o.ClearMinutes == 0 {
		o.ClearMinutes = 5
	}
	if o.RollbackHoldMinutes == 0 {
		o.RollbackHoldMinutes = 5
	}
	if o.MaxDays == 0 {
		o.MaxDays = 60
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.Start.IsZero() {
		errs = append(errs, errors.New("sim: Options.Start is required"))
	}
	if o.DeployMinutes < 1 || o.DeployMinutes > 3*24*60 {
		errs = append(errs, fmt.Errorf("sim: deploy minutes %d: want 1–4320 (CloudFormation actions time out after 3 days)", o.DeployMinutes))
	}
	if o.ActionMinutes < 1 || o.ActionMinutes > 8*60 {
		errs = append(errs, fmt.Errorf("sim: action minutes %d: want 1–480", o.ActionMinutes))
	}
	for _, r := range o.Unprepared {
		if !waves.IsRegionCode(r) {
			errs = append(errs, fmt.Errorf("sim: unprepared region %q is not a region code", r))
		}
	}
	for _, q := range Questions {
		f, _ := o.field(q.Name)
		if !slices.Contains(q.Readings, *f) {
			errs = append(errs, fmt.Errorf("sim: %s %q: want one of %s", q.Name, *f, joinReadings(q.Readings)))
		}
	}
	if o.OneBoxShare <= 0 || o.OneBoxShare > 1 {
		errs = append(errs, fmt.Errorf("sim: one-box share %v: want (0, 1]", o.OneBoxShare))
	}
	if len(o.Overrides) > 100 {
		errs = append(errs, fmt.Errorf("sim: %d overrides: at most 100", len(o.Overrides)))
	}
	if o.MaxDays < 1 || o.MaxDays > 366 {
		errs = append(errs, fmt.Errorf("sim: max days %d: want 1–366", o.MaxDays))
	}
	return errors.Join(errs...)
}
