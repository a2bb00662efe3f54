package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/twophase"
	"github.com/safepipe/safepipe/waves"
)

// SafetyGates is the Gate that makes the pipeline hands-off, and the
// default of every BasePipeline. On gamma and every production stage it
// renders, through the pipeline's gate Controller:
//
//   - Rollback: an OnFailure condition with result ROLLBACK.
//   - Entry: a BeforeEntry condition (result FAIL) that holds the stage,
//     before anything in it runs, while the controller's entry gate is
//     closed — outside the deployment window or on a holiday (production),
//     while a production stage has no execution of the pipeline's current
//     structure version to roll back to,
//     while the organisation alarm or an aggregate alarm of one of the
//     stage's regions is in ALARM, or while such an alarm is missing once
//     its stack exists — for at most EntryWait. Nothing that only says
//     "not now" rolls anything back, and nothing holds a rollback.
//   - Bake: actions at the end of the stage (Controller.BakeSteps) that
//     hold it for the stage's bake, until every watched region's bake
//     alarm (the aggregate, or the one-box alarm for a one-box step, ORed
//     with too little traffic) has been OK for all of it, and fail it on a
//     breach — so that it rolls back (OnFailure ROLLBACK). A bake is an
//     action, not an OnSuccess condition: the documentation says of a
//     CloudWatchAlarm rule that "If the alarm is in OK state when the rule
//     is first checked, the rule will immediately succeed", and if that
//     holds for OnSuccess conditions a condition-held bake would last no
//     time at all (docs/aws-semantics.md Q2).
//
// Every region of a stage is watched, however many: the controller fans
// in, and each gate is one rule. The alarm names come from each
// Deployment's Alarms, the names the service stacks create; the pipeline
// fails synth when a watched alarm is created by no stack of its account
// and region.
type SafetyGates struct {
	// OrganizationAlarm is an organisation-wide alarm that blocks every
	// gated stage while in ALARM (or missing). Default: none.
	OrganizationAlarm string
	// OrganizationAlarmAccount is the organisation alarm's account.
	// Default: the pipeline's account.
	OrganizationAlarmAccount string
	// OrganizationAlarmRegion is the organisation alarm's region.
	// Default: the pipeline's region.
	OrganizationAlarmRegion string
	// OrganizationAlarmRoleArn is the role the controller assumes to read
	// the organisation alarm. Default: none (the controller's own role, for
	// an alarm of the pipeline's account).
	OrganizationAlarmRoleArn string
	// WatchRole returns the role the controller assumes to read alarms,
	// stacks and ledgers in an account and region. Default: the
	// pipeline's watch role of the account (WatchRoleArn), which the
	// pipeline creates in its SafepipeAccess stage with exactly the reads
	// the controller makes, trusted by the controller's role only.
	// LookupRoleWatch(qualifier) reads through the CDK bootstrap lookup
	// roles instead (ReadOnlyAccess: an explicit opt-in).
	WatchRole func(account, region string) string
	// GammaBake is the bake of the gamma (regional) stage; the gamma
	// one-box bakes for the one-box floor. Default: waves.FloorZonal.
	GammaBake time.Duration
	// Changes are the two-phase changes this release carries, the same
	// values the service's deployments declare (deploy.LambdaProps.Changes).
	// For each one it activates, the entry of every gated stage stays
	// closed until the change's ledger shows its prepare serving all
	// traffic in every production target and in the stage's own: the
	// activation starts nowhere before every reader reads the new form.
	// Default: none.
	Changes []twophase.Change
	// ControllerConcurrency is the gate controller function's reserved
	// concurrency: a positive number reserves that many, a negative one
	// none (for an account whose Lambda concurrency quota leaves no room:
	// Lambda keeps 100 unreserved). Default: one per stage that bakes, and
	// two.
	ControllerConcurrency int
	// EntryWait is how long a stage waits at its entry gate before it
	// fails (refuses, without rolling back). Default: the longest stretch
	// in which the deployment window lets nothing start over the year of
	// its holidays, plus a day for a freeze; at least 4 days.
	EntryWait time.Duration
}

// ReservedActions implements ActionReserver: the gates add the bake action
// to every gated stage (a bake over 20 hours is chained over more
// actions, which the pipeline's action count checks).
func (g SafetyGates) ReservedActions() int { return 1 }

// partition is the partition of a region code (CDK's Aws.PARTITION is a
// token, and the controller's configuration needs the ARN itself).
func partition(region string) string {
	switch {
	case len(region) > 3 && region[:3] == "cn-":
		return "aws-cn"
	case len(region) > 7 && region[:7] == "us-gov-":
		return "aws-us-gov"
	case len(region) > 6 && region[:6] == "eusc-":
		return "aws-eusc"
	}
	return "aws"
}

// entryWait is the stage's entry wait.
func (g SafetyGates) entryWait(w waves.Window) (time.Duration, error) {
	if g.EntryWait != 0 {
		if g.EntryWait < time.Minute || g.EntryWait > gates.MaxEntryWait {
			return 0, fmt.Errorf("SafetyGates.EntryWait is %s; want 1 minute to %s", g.EntryWait, gates.MaxEntryWait)
		}
		return g.EntryWait, nil
	}
	return gates.DefaultEntryWait(w)
}

// Gate renders the gates onto one stage.
func (g SafetyGates) Gate(s *GatedStage) error {
	if len(s.Deployments) == 0 {
		return errors.New("SafetyGates: the stage has no deployments")
	}
	if s.Controller == nil {
		return errors.New("SafetyGates: the stage has no gate controller")
	}
	if g.ControllerConcurrency != 0 {
		s.Controller.SetConcurrency(g.ControllerConcurrency)
	}
	role := g.WatchRole
	if role == nil {
		part := partition(s.PipelineRegion)
		role = func(account, _ string) string { return WatchRoleArn(part, account, s.PipelineName) }
	}
	var errs []error
	c := s.Conditions

	// Rollback.
	if c.OnFailure != nil && c.OnFailure.Result != "ROLLBACK" {
		return fmt.Errorf("SafetyGates: another gate set the OnFailure result %q; the stage must roll back", c.OnFailure.Result)
	}
	if c.OnFailure == nil {
		c.OnFailure = &Condition{Result: "ROLLBACK"}
	}

	if g.OrganizationAlarm != "" {
		org := gates.Alarm{Account: g.OrganizationAlarmAccount, Region: g.OrganizationAlarmRegion, Name: g.OrganizationAlarm, Role: g.OrganizationAlarmRoleArn}
		if org.Account == "" {
			org.Account = s.PipelineAccount
		}
		if org.Region == "" {
			org.Region = s.PipelineRegion
		}
		if err := s.Controller.SetOrganization(org); err != nil {
			errs = append(errs, fmt.Errorf("SafetyGates: %w", err))
		}
	}

	// Entry: every deployed region's aggregate alarm blocks; in a zonal
	// region, every AZ's (otherCells).
	var blockers []gates.Alarm
	for _, d := range s.Deployments {
		a := gates.Alarm{Account: d.Account, Region: d.Target.Region, Name: d.Alarms.Aggregate(), Role: role(d.Account, d.Target.Region)}
		if created, ok := s.Created(Place{d.Account, d.Target.Region}, a.Name); ok {
			a.Stack = created.Stack
		}
		s.Watch(WatchedAlarm{Place: Place{d.Account, d.Target.Region}, Name: a.Name, Stage: s.Name, Why: "entry gate"})
		blockers = append(blockers, a)
		blockers = append(blockers, g.otherCells(s, d, role, "entry gate")...)
	}
	wait, err := g.entryWait(s.Window)
	if err != nil {
		return err
	}
	// The window is the entry gate's: the controller keeps it closed
	// outside the window and on holidays, and opens it for a rollback
	// execution. A native DeploymentWindow rule beside it would hold a
	// rollback until morning whenever CodePipeline evaluates entry
	// conditions for rollback executions, which it does not document
	// either way; the simulator showed a bad version serving for 13 hours
	// behind it.
	if err := twophase.Validate("SafetyGates.Changes", g.Changes); err != nil {
		return err
	}
	for _, ch := range g.Changes {
		if ch.Phase == twophase.ChangeActivate {
			s.Controller.RequirePrepared(s.Name, ch.Name, role)
		}
	}
	entry := []Rule{s.Controller.EntryRule(s.Name, s.Environment == Prod, blockers, wait)}
	if s.Environment == Prod {
		// The first execution after a change of the pipeline's definition
		// could not roll a production stage back: its entry waits for an
		// operator's override (README: overriding a gate).
		s.Controller.RequireRollbackTarget(s.Name)
	}
	errs = append(errs, merge(&c.BeforeEntry, "FAIL", entry))

	// Bake: every watched target's bake alarm, for the stage's bake. The
	// last part of a split stage watches every part's regions.
	bake := s.Deployments[0].Bake
	if s.Environment == Gamma && !s.Deployments[0].Target.OneBox {
		bake = g.GammaBake
		if bake == 0 {
			bake = waves.FloorZonal
		}
	}
	if bake > 0 {
		var watched []gates.Alarm
		for _, d := range s.BakeWatch() {
			a := gates.Alarm{Account: d.Account, Region: d.Target.Region, Name: d.Alarms.Bake(d.Target.OneBox), Role: role(d.Account, d.Target.Region)}
			s.Watch(WatchedAlarm{Place: Place{d.Account, d.Target.Region}, Name: a.Name, Stage: s.Name, Why: "bake"})
			watched = append(watched, a)
			watched = append(watched, g.otherCells(s, d, role, "bake")...)
		}
		steps := s.Controller.BakeSteps(s.Name, bake, watched)
		s.Wave.AddPost(steps...)
	}
	return errors.Join(errs...)
}

// otherCells are the aggregates of the other AZs of a zonal deployment's
// region, which its stage watches with its own: the region's aggregate is
// the AZs' together. Each AZ stack creates its own, because alarm names are
// unique per account and region (alarms.Names), and no composite can OR
// the AZs' alarms before later stages create them: "When you create a
// composite alarm, you specify a rule expression for the alarm that takes
// into account the alarm states of other alarms that you have created."
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html).
// So an AZ's alarm firing — the change in an AZ already deployed, or a
// region-wide fault — stops the next AZ from starting and fails the bake
// of the AZ being deployed, as the design's aggregate does for a region.
// Each names the stack that creates it (known once every stage has
// rendered, Controller.resolveStacks): before the region's first
// deployment reaches an AZ, its alarm cannot exist, and the controller
// excuses a missing alarm only while its stack does not exist. A regional
// deployment has none, nor does a pre-production one (gamma's one-box
// step is one AZ, its next step the whole region, not the other AZs).
func (g SafetyGates) otherCells(s *GatedStage, d Deployment, role func(account, region string) string, why string) []gates.Alarm {
	if d.Target.AZ == "" || d.Environment != Prod {
		return nil
	}
	var out []gates.Alarm
	for _, az := range d.Region.AZs {
		if az == d.Target.AZ {
			continue
		}
		n := d.Alarms
		n.Cell = az
		a := gates.Alarm{Account: d.Account, Region: d.Target.Region, Name: n.Aggregate(), Role: role(d.Account, d.Target.Region), Stack: stackOfCreator}
		s.Watch(WatchedAlarm{Place: Place{d.Account, d.Target.Region}, Name: a.Name, Stage: s.Name, Why: why + " (AZ " + az + ")"})
		out = append(out, a)
	}
	return out
}

// merge adds rules to a condition that another gate may have started.
func merge(c **Condition, result string, rules []Rule) error {
	if len(rules) == 0 {
		return nil
	}
	if *c == nil {
		*c = &Condition{Result: result}
	}
	if (*c).Result != result {
		return fmt.Errorf("SafetyGates: another gate set the condition result %q; the gates need %q", (*c).Result, result)
	}
	(*c).Rules = append((*c).Rules, rules...)
	if len((*c).Rules) > MaxRulesPerCondition {
		return fmt.Errorf("SafetyGates: the condition would have %d rules, over CodePipeline's %d", len((*c).Rules), MaxRulesPerCondition)
	}
	return nil
}

// ActionReserver is an optional capability of a Gate: the number of
// actions it may add to every production stage, which the planner keeps
// free under CodePipeline's 50-action limit.
type ActionReserver interface {
	ReservedActions() int
}
