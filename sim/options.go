package sim

import (
	"errors"
	"fmt"
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
// (docs/aws-semantics.md Q2: DOCS AMBIGUOUS).
const (
	// BakeContinuous: the rule fails as soon as the alarm is in one of its
	// AlarmStates during the wait (the use-case sentence "roll back the
	// changes if a CloudWatch alarm goes into ALARM state within 60
	// minutes"). The default.
	BakeContinuous Reading = "continuous"
	// BakeAtEnd: the rule checks the alarm once, when the wait ends (the
	// parameter text "The wait time ... before running the rule result").
	BakeAtEnd Reading = "at-end"
)

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
	// RollbackConditions, BakeWatch and AlarmAtStart choose the readings of
	// undocumented behaviour. Defaults: RollbackConditionsEvaluated,
	// BakeContinuous, AlarmAtStartStops.
	RollbackConditions Reading
	BakeWatch          Reading
	AlarmAtStart       Reading
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
	if o.RollbackConditions != RollbackConditionsEvaluated && o.RollbackConditions != RollbackConditionsSkipped {
		errs = append(errs, fmt.Errorf("sim: rollback conditions %q: want %q or %q", o.RollbackConditions, RollbackConditionsEvaluated, RollbackConditionsSkipped))
	}
	if o.BakeWatch != BakeContinuous && o.BakeWatch != BakeAtEnd {
		errs = append(errs, fmt.Errorf("sim: bake watch %q: want %q or %q", o.BakeWatch, BakeContinuous, BakeAtEnd))
	}
	if o.AlarmAtStart != AlarmAtStartStops && o.AlarmAtStart != AlarmAtStartIgnored {
		errs = append(errs, fmt.Errorf("sim: alarm at start %q: want %q or %q", o.AlarmAtStart, AlarmAtStartStops, AlarmAtStartIgnored))
	}
	if o.OneBoxShare <= 0 || o.OneBoxShare > 1 {
		errs = append(errs, fmt.Errorf("sim: one-box share %v: want (0, 1]", o.OneBoxShare))
	}
	if o.MaxDays < 1 || o.MaxDays > 366 {
		errs = append(errs, fmt.Errorf("sim: max days %d: want 1–366", o.MaxDays))
	}
	return errors.Join(errs...)
}
