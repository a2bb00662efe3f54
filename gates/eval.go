package gates

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// State is a CloudWatch alarm state.
type State string

// The alarm states.
const (
	StateOK               State = "OK"
	StateAlarm            State = "ALARM"
	StateInsufficientData State = "INSUFFICIENT_DATA"
)

// Transition is one change of an alarm's state.
type Transition struct {
	At       time.Time
	From, To State
}

// StageState is what CodePipeline says of a stage.
type StageState struct {
	// Rollback is true while a rollback execution runs in the stage or
	// waits to enter it: the gates then open, so that no gate blocks the
	// rollback its own alarm caused.
	Rollback bool
	// BakeStart is when the stage's current execution finished its actions
	// (the start of its bake); zero while it deploys or has not run.
	BakeStart time.Time
	// EntryOverridden is true when an operator overrode the stage's entry
	// condition in its latest run (OverrideStageCondition: the condition's
	// status is "Overridden").
	EntryOverridden bool
	// Running is true while an execution is in progress in the stage.
	Running bool
	// EntryWaiting is true while the stage's latest execution waits at its
	// entry condition (its BeforeEntry condition runs, and no action has
	// started): it runs nothing yet.
	EntryWaiting bool
	// RollbackEntered is true while a rollback execution runs the stage's
	// actions (it has passed the entry).
	RollbackEntered bool
	// Execution, ExecutionType and Status are the stage's latest execution
	// (GetPipelineState latestExecution: "pipelineExecutionId", "type":
	// STANDARD or ROLLBACK, "status"); empty before the stage has run.
	Execution, ExecutionType, Status string
}

// Observer reads the world the controller decides on: alarms, stacks and
// the pipeline. The Lambda function implements it with the AWS APIs; the
// simulator and the tests with their own state.
type Observer interface {
	// Alarms returns the state of each named alarm that exists in the
	// place; a name missing from the result does not exist there.
	Alarms(ctx context.Context, p Place, names []string) (map[string]State, error)
	// History returns the alarm's state changes since a time, oldest first.
	History(ctx context.Context, p Place, name string, since time.Time) ([]Transition, error)
	// StackExists reports whether a CloudFormation stack exists (and is
	// not deleted) in the place.
	StackExists(ctx context.Context, p Place, stack string) (bool, error)
	// Stages returns the pipeline's stages by name.
	Stages(ctx context.Context) (map[string]StageState, error)
}

// LedgerReader is an Observer that can also read two-phase ledgers (SSM
// parameters). An Observer without it closes every gate that requires a
// change to be prepared.
type LedgerReader interface {
	// Ledger returns the parameter's value, and whether it exists.
	Ledger(ctx context.Context, p Place, parameter string) (value string, found bool, err error)
}

// RollbackTargeter is an Observer that can tell whether a stage can roll
// back: whether an execution started in the pipeline's current structure
// version has passed the stage (its bake) as a standard execution. An
// Observer without it closes the entry of every stage that requires a
// rollback target.
type RollbackTargeter interface {
	HasRollbackTarget(ctx context.Context, stage string) (bool, error)
}

// StageRoller is an Observer that can tell what rolling a region back
// needs (Stage.RollsBack): the target of a rollback execution, and
// whether an execution reached a stage. An Observer without it closes the
// entries of a region whose later stage rolled back, with the reason, for
// an operator.
type StageRoller interface {
	// RollbackTargetOf returns the execution a rollback execution rolls
	// back to.
	RollbackTargetOf(ctx context.Context, rollbackExecution string) (string, error)
	// Deployed returns the release a stage runs: the most recent
	// execution that succeeded in it, or for a rollback execution the
	// execution it rolled back to; "" when none succeeded in it in the
	// pipeline's current structure version.
	Deployed(ctx context.Context, stage string) (string, error)
	// Reached reports whether an execution ran an action in a stage.
	Reached(ctx context.Context, execution, stage string) (bool, error)
}

// Decision is the controller's verdict on one stage.
type Decision struct {
	// Stage is the stage name.
	Stage string `json:"stage"`
	// EntryBlocked closes the stage's entry gate; EntryReasons say why.
	EntryBlocked bool     `json:"entryBlocked"`
	EntryReasons []string `json:"entryReasons,omitempty"`
	// BakeBreached fails the stage's bake; BakeReasons say why.
	BakeBreached bool     `json:"bakeBreached"`
	BakeReasons  []string `json:"bakeReasons,omitempty"`
	// Notes are facts worth a log line that close no gate (a region's first
	// deployment, a rollback let through).
	Notes []string `json:"notes,omitempty"`
	// RollBackTo asks the controller to roll the stage back to this
	// execution now (RollbackStage): a later stage of its regions rolled
	// back (Stage.RollsBack). Empty otherwise.
	RollBackTo string `json:"rollBackTo,omitempty"`
}

// EndOfBakeSlack is how close to the end of a bake an alarm without data
// counts as a breach: a bake alarm that still has no data when the bake
// ends has proved nothing.
const EndOfBakeSlack = 2 * time.Minute

type reading struct {
	state State
	found bool
	err   error
}

// Options tune how Evaluate reads.
type Options struct {
	// Concurrency is how many reads run at once (each account, region and
	// role's alarms, each ledger); the Observer must then be safe for
	// concurrent use. Default: 1.
	Concurrency int
	// SkipBakes leaves every bake to the stages' bake actions
	// (EvaluateBake): no history is read. Default: false.
	SkipBakes bool
}

// Evaluate decides every stage's gates at now, reading one thing at a
// time. It never fails: whatever it cannot read closes the gate it guards
// (fails closed), with the reason.
func Evaluate(ctx context.Context, c *Config, o Observer, now time.Time) []Decision {
	return EvaluateWith(ctx, c, o, now, Options{})
}

// EvaluateWith is Evaluate with options.
func EvaluateWith(ctx context.Context, c *Config, o Observer, now time.Time, opt Options) []Decision {
	stages, stagesErr := o.Stages(ctx)

	// Read every alarm once, grouped by where it lives.
	byPlace := map[Place]map[string]bool{}
	want := func(a Alarm) {
		if byPlace[a.Place()] == nil {
			byPlace[a.Place()] = map[string]bool{}
		}
		byPlace[a.Place()][a.Name] = true
	}
	if c.Organization != nil {
		want(*c.Organization)
	}
	for _, s := range c.Stages {
		for _, a := range s.Blockers {
			want(a)
		}
		if opt.SkipBakes || s.BakeAction {
			continue // the stage's bake actions read these
		}
		for _, a := range s.Bake {
			want(a)
		}
	}
	places := slices.SortedFunc(maps.Keys(byPlace), comparePlaces)
	read1 := make([]map[string]reading, len(places))
	parallel(opt.Concurrency, len(places), func(i int) {
		p := places[i]
		names := slices.Sorted(maps.Keys(byPlace[p]))
		states, err := o.Alarms(ctx, p, names)
		read1[i] = map[string]reading{}
		for _, n := range names {
			st, ok := states[n]
			read1[i][n] = reading{state: st, found: ok, err: err}
		}
	})
	readings := map[Place]map[string]reading{}
	for i, p := range places {
		readings[p] = read1[i]
	}
	read := func(a Alarm) reading { return readings[a.Place()][a.Name] }
	stackCache := map[string]struct {
		ok  bool
		err error
	}{}
	stackExists := func(a Alarm) (bool, error) {
		key := a.Account + "/" + a.Region + "/" + a.Role + "/" + a.Stack
		if r, ok := stackCache[key]; ok {
			return r.ok, r.err
		}
		ok, err := o.StackExists(ctx, a.Place(), a.Stack)
		stackCache[key] = struct {
			ok  bool
			err error
		}{ok, err}
		return ok, err
	}

	ledgerKey := func(r Requirement) string { return r.Account + "/" + r.Region + "/" + r.Role + "/" + r.Parameter }
	var reqs []Requirement
	seenReq := map[string]bool{}
	for _, s := range c.Stages {
		for _, r := range s.Prepared {
			if k := ledgerKey(r); !seenReq[k] {
				seenReq[k] = true
				reqs = append(reqs, r)
			}
		}
	}
	read2 := make([]ledgerReading, len(reqs))
	parallel(opt.Concurrency, len(reqs), func(i int) {
		r := reqs[i]
		if lr, ok := o.(LedgerReader); ok {
			read2[i].value, read2[i].found, read2[i].err = lr.Ledger(ctx, r.Place(), r.Parameter)
		} else {
			read2[i].err = errors.New("the controller cannot read two-phase ledgers")
		}
	})
	ledgers := map[string]ledgerReading{}
	for i, r := range reqs {
		ledgers[ledgerKey(r)] = read2[i]
	}
	ledger := func(r Requirement) ledgerReading { return ledgers[ledgerKey(r)] }

	w, werr := c.Window.waves()
	windowOpen, holiday := false, false
	if werr == nil {
		next, err := w.NextStart(now)
		windowOpen = err == nil && next.Equal(now)
		holiday = w.IsHoliday(now)
	}

	held, orders := map[string][]string{}, map[string]string{}
	if stagesErr == nil {
		held, orders = regionRollbacks(ctx, c, stages, o)
	}

	out := make([]Decision, 0, len(c.Stages))
	for _, s := range c.Stages {
		d := Decision{Stage: s.Name, RollBackTo: orders[s.Name]}
		st := stages[s.Name]
		// A rollback's gates open (its own alarm must not block it); in a
		// region that rolls back, only until the rollback has passed the
		// entry, so that a release waiting there does not follow it in.
		if stagesErr == nil && st.Rollback && !(len(held[s.Name]) > 0 && st.RollbackEntered) {
			d.Notes = append(d.Notes, "a rollback execution is in the stage: its gates are open")
			out = append(out, d)
			continue
		}
		block := func(format string, args ...any) {
			d.EntryBlocked = true
			d.EntryReasons = append(d.EntryReasons, fmt.Sprintf(format, args...))
		}
		for _, why := range held[s.Name] {
			block("%s", why)
		}
		if stagesErr != nil {
			block("cannot read the pipeline's state (%v): rollbacks cannot be told apart", stagesErr)
		}
		if stagesErr == nil && st.EntryOverridden {
			d.Notes = append(d.Notes, "an operator overrode the entry condition of the stage's latest execution (OverrideStageCondition; CloudTrail records who)")
		}
		if s.Window {
			switch {
			case werr != nil:
				block("the deployment window is invalid: %v", werr)
			case holiday:
				block("%s is a holiday (%s)", now.In(w.Location()).Format(time.DateOnly), w.TimeZone)
			case !windowOpen:
				block("outside the deployment window (%s)", w)
			}
		}
		if c.Organization != nil {
			checkBlocker(&d, *c.Organization, read(*c.Organization), nil, "organization alarm")
		}
		for _, a := range s.Blockers {
			checkBlocker(&d, a, read(a), stackExists, "alarm")
		}
		for _, r := range s.Prepared {
			checkPrepared(&d, r, ledger(r))
		}
		for _, other := range s.Serial {
			if stagesErr == nil && stages[other].Running {
				block("stage %s runs an execution: this stage takes one release at a time with it (serial)", other)
			}
		}
		if s.RollbackTarget {
			checkRollbackTarget(ctx, &d, s.Name, o)
		}
		if !opt.SkipBakes {
			checkBake(ctx, &d, s, st, stagesErr, read, stackExists, o, now)
		}
		out = append(out, d)
	}
	return out
}

// checkPrepared closes the entry unless the ledger shows the change's
// prepare (or its activation) serving all of the alias's traffic: the
// activation of a two-phase change starts only once every target reads
// the new form (package deploy, Change).
func checkPrepared(d *Decision, r Requirement, l ledgerReading) {
	where := fmt.Sprintf("change %q", r.Change)
	in := fmt.Sprintf("in account %s, region %s", r.Account, r.Region)
	block := func(format string, args ...any) {
		d.EntryBlocked = true
		d.EntryReasons = append(d.EntryReasons, fmt.Sprintf(format, args...))
	}
	if l.err != nil {
		block("%s: ledger %s %s cannot be read (%v)", where, r.Parameter, in, l.err)
		return
	}
	if !l.found {
		block("%s: ledger %s does not exist %s: the prepare release has not deployed there", where, r.Parameter, in)
		return
	}
	doc, err := ParseLedger([]byte(l.value))
	if err != nil {
		block("%s: ledger %s %s cannot be read (%v)", where, r.Parameter, in, err)
		return
	}
	e, ok := doc.Changes[r.Change]
	switch {
	case !ok:
		block("%s is not prepared %s (the ledger does not name it): activation waits until every target serves the prepare release", where, in)
	case e.Full != "prepare" && e.Full != "activate":
		block("%s is not prepared %s (all traffic runs full=%s, the share canary=%s): activation waits until the prepare release serves all of it", where, in, orNone(e.Full), orNone(e.Canary))
	}
}

// NoRollbackTarget is the reason an entry gives while its stage has no
// execution of the current structure version to roll back to.
const NoRollbackTarget = "no execution started in the pipeline's current structure version has passed this stage, so a failure here could not roll the stage back (the first execution after a change of the pipeline's definition): override this entry for the one execution that should establish the target — best a release of code that production already runs (README: overriding a gate)"

// checkRollbackTarget closes the entry of a stage that could not roll
// back.
func checkRollbackTarget(ctx context.Context, d *Decision, stage string, o Observer) {
	rt, ok := o.(RollbackTargeter)
	if !ok {
		d.EntryBlocked = true
		d.EntryReasons = append(d.EntryReasons, "the controller cannot tell whether the stage can roll back")
		return
	}
	has, err := rt.HasRollbackTarget(ctx, stage)
	switch {
	case err != nil:
		d.EntryBlocked = true
		d.EntryReasons = append(d.EntryReasons, fmt.Sprintf("cannot tell whether the stage can roll back (%v)", err))
	case !has:
		d.EntryBlocked = true
		d.EntryReasons = append(d.EntryReasons, NoRollbackTarget)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ledgerReading is one ledger as read.
type ledgerReading struct {
	value string
	found bool
	err   error
}

func checkBlocker(d *Decision, a Alarm, r reading, stackExists func(Alarm) (bool, error), what string) {
	where := fmt.Sprintf("%s %q in account %s, region %s", what, a.Name, a.Account, a.Region)
	block := func(format string, args ...any) {
		d.EntryBlocked = true
		d.EntryReasons = append(d.EntryReasons, where+": "+fmt.Sprintf(format, args...))
	}
	switch {
	case r.err != nil:
		block("cannot be read (%v)", r.err)
	case !r.found && a.Stack != "" && stackExists != nil:
		if why, excused := missing(a, stackExists); excused {
			d.Notes = append(d.Notes, where+": "+why)
		} else {
			block("%s", why)
		}
	case !r.found:
		block("does not exist")
	case r.state == StateAlarm:
		block("is in ALARM")
	case !r.state.known():
		block("is in state %q, which is none of OK, ALARM and INSUFFICIENT_DATA: not OK", string(r.state))
	}
}

// known reports whether s is one of the three states CloudWatch documents
// ("StateValue … Valid Values: OK | ALARM | INSUFFICIENT_DATA",
// API_MetricAlarm). Anything else — empty, another case, a new value —
// is unknown, and unknown is never OK.
func (s State) known() bool {
	return s == StateOK || s == StateAlarm || s == StateInsufficientData
}

// missing judges an alarm that does not exist although the stack that
// creates it is named: excused only while that stack does not exist (the
// first deployment there); an unreadable stack is not excused.
func missing(a Alarm, stackExists func(Alarm) (bool, error)) (why string, excused bool) {
	exists, err := stackExists(a)
	switch {
	case err != nil:
		return fmt.Sprintf("does not exist, and stack %s cannot be read (%v)", a.Stack, err), false
	case exists:
		return fmt.Sprintf("does not exist although stack %s, which creates it, does", a.Stack), false
	}
	return fmt.Sprintf("not created yet (stack %s does not exist: the first deployment there)", a.Stack), true
}

// checkBake is the scheduled controller's bake decision, for a stage that
// bakes through an OnSuccess rule on its bake gate alarm (a configuration
// without BakeAction). Such a rule can only pass or roll back, so every
// "not OK" closes it: a breach, and anything unread, unknown or skewed.
func checkBake(ctx context.Context, d *Decision, s Stage, st StageState, stagesErr error, read func(Alarm) reading, stackExists func(Alarm) (bool, error), o Observer, now time.Time) {
	if len(s.Bake) == 0 || s.BakeAction {
		return
	}
	start := st.BakeStart
	if stagesErr != nil {
		// Without the pipeline's state the bake's start is unknown: judge
		// the trailing bake, which holds every bake that could be running.
		start = now.Add(-time.Duration(s.BakeMinutes) * time.Minute)
	}
	if start.IsZero() {
		return
	}
	end := start.Add(time.Duration(s.BakeMinutes) * time.Minute)
	for _, a := range s.Bake {
		j := judgeBakeAlarm(ctx, a, read(a), stackExists, o, start, end, now)
		switch {
		case j.breach != "":
			d.BakeBreached = true
			d.BakeReasons = append(d.BakeReasons, j.where+": "+j.breach)
		case j.notOK != "":
			d.BakeBreached = true
			d.BakeReasons = append(d.BakeReasons, j.where+": "+j.notOK)
		case j.note != "":
			d.Notes = append(d.Notes, j.where+": "+j.note)
		}
	}
}

// alarmJudgement is what a bake learns of one watched alarm: a breach
// (seen: in ALARM, or in ALARM at some moment since the bake started, or
// missing although its stack exists), or a reason it is not OK without a
// breach being seen (unreadable, an unknown state, unparsable history,
// clock skew, no data at the end), or neither (OK, or excused with a
// note).
type alarmJudgement struct {
	where, breach, notOK, note string
}

func judgeBakeAlarm(ctx context.Context, a Alarm, r reading, stackExists func(Alarm) (bool, error), o Observer, start, end, now time.Time) alarmJudgement {
	j := alarmJudgement{where: fmt.Sprintf("bake alarm %q in account %s, region %s", a.Name, a.Account, a.Region)}
	switch {
	case r.err != nil:
		j.notOK = fmt.Sprintf("cannot be read (%v)", r.err)
		return j
	case !r.found && a.Stack != "":
		// A zonal stage also watches the aggregates of its region's other
		// AZs: before an AZ's stack exists (the region's first deployment),
		// its alarms cannot. The stage's own alarms are created by the
		// stack it just deployed, so they are never excused.
		exists, err := stackExists(a)
		switch {
		case err != nil:
			j.notOK = fmt.Sprintf("does not exist, and stack %s cannot be read (%v)", a.Stack, err)
		case exists:
			j.breach = fmt.Sprintf("does not exist although stack %s, which creates it, does", a.Stack)
		default:
			j.note = fmt.Sprintf("not created yet (stack %s does not exist: the first deployment there)", a.Stack)
		}
		return j
	case !r.found:
		j.breach = "does not exist after the stage deployed"
		return j
	case r.state == StateAlarm:
		j.breach = "is in ALARM"
		return j
	case !r.state.known():
		j.notOK = fmt.Sprintf("is in state %q, which is none of OK, ALARM and INSUFFICIENT_DATA", string(r.state))
		return j
	}
	if start.After(now) {
		// The bake's start is later than the controller's clock: the two
		// clocks disagree, and nothing about the bake can be judged yet.
		j.notOK = fmt.Sprintf("the bake's start (%s) is after the controller's clock (%s): clock skew", start.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		return j
	}
	hist, err := o.History(ctx, a.Place(), a.Name, start)
	if err != nil {
		j.notOK = fmt.Sprintf("its history cannot be read (%v)", err)
		return j
	}
	if err := checkHistory(hist, now); err != nil {
		j.notOK = fmt.Sprintf("its history cannot be trusted (%v)", err)
		return j
	}
	if t, ok := alarmedIn(hist, start); ok {
		j.breach = fmt.Sprintf("was in ALARM at %s, during the bake that started at %s", t.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
		return j
	}
	if r.state == StateInsufficientData && !now.Before(end.Add(-EndOfBakeSlack)) {
		j.notOK = "has no data at the end of the bake"
	}
	return j
}

// checkHistory refuses a history that cannot be read as the alarm's state
// changes: a transition without a time, or from or to a state that is not
// one CloudWatch documents. (Skipping such an entry could skip the one
// into ALARM.) A transition later than now is tolerated: clocks differ by
// seconds.
func checkHistory(hist []Transition, now time.Time) error {
	for i, t := range hist {
		if t.At.IsZero() {
			return fmt.Errorf("entry %d has no time", i)
		}
		if !t.From.known() || !t.To.known() {
			return fmt.Errorf("entry %d goes from %q to %q, which are not both CloudWatch states", i, string(t.From), string(t.To))
		}
	}
	return nil
}

// alarmedIn returns when the alarm was in ALARM at or after since, judged
// from its transitions since then: one into ALARM, or the first one out of
// ALARM (it was in ALARM when the bake started).
func alarmedIn(hist []Transition, since time.Time) (time.Time, bool) {
	for _, t := range hist {
		if t.At.Before(since) {
			continue
		}
		if t.From == StateAlarm {
			return since, true
		}
		if t.To == StateAlarm {
			return t.At, true
		}
	}
	return time.Time{}, false
}

// parallel runs f(0) … f(n−1), at most limit at a time (1 when limit < 1),
// and returns when all have.
func parallel(limit, n int, f func(int)) {
	if limit <= 1 || n <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}

func comparePlaces(a, b Place) int {
	return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Role, b.Role))
}

// StackCreated reports whether a stack whose DescribeStacks StackStatus is
// status holds what its template creates, for excusing a missing alarm:
// only while the stack that creates it was never created does a missing
// alarm not block. A first create that failed leaves a stack by that name
// with nothing in it:
//
//   - ROLLBACK_COMPLETE: "Successful removal of one or more stacks after a
//     failed stack creation … Any resources that were created during the
//     create stack action are deleted. This status exists only after a
//     failed stack creation." ROLLBACK_IN_PROGRESS leads there.
//   - ROLLBACK_FAILED: "Unsuccessful removal of one or more stacks after a
//     failed stack creation"; CREATE_FAILED: "Unsuccessful creation of one
//     or more stacks". Resources may be left behind, but the stack was
//     never created: an alarm that does exist is still read and blocks in
//     ALARM; only a missing one is excused.
//   - REVIEW_IN_PROGRESS: "Ongoing creation of one or more stacks with an
//     expected StackId but without any templates or resources."
//   - DELETE_COMPLETE: "Deleted stacks are retained and viewable for 90
//     days."
//
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html,
// stack status codes.) Every other status, and one this list does not
// know, counts as created: a missing alarm then blocks.
func StackCreated(status string) bool {
	switch status {
	case "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "REVIEW_IN_PROGRESS", "DELETE_COMPLETE":
		return false
	}
	return true
}
