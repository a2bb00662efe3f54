package gates

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/safepipe/safepipe/internal/strictjson"
)

// A bake is held by an action of the stage: a Lambda invoke action, after
// the stage's deploy actions, whose function (the gate controller) replies
// "in progress" until the bake has elapsed with every watched alarm OK,
// "succeeded" then, and "failed" on a breach. Its behaviour rests on
// documented sentences only:
//
//   - "While the action is running, CodePipeline periodically contacts
//     Lambda for a status. The Lambda function replies with a status where
//     the action execution is either successful, failed, or in progress.
//     If the Lambda function has sent no reply after 20 minutes, the
//     action times out. If, during the 20 minutes, the Lambda function has
//     replied that the action is still in progress, CodePipeline restarts
//     the 20-minute timer and tries again. If not successful after 24
//     hours, CodePipeline sets the Lambda invoke action state to failed."
//     (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html)
//   - In progress is a PutJobSuccessResult with a continuation token:
//     "When the action is complete, no continuation token should be
//     supplied." (API_PutJobSuccessResult)
//   - A failed action fails its stage, and a stage whose OnFailure result
//     is ROLLBACK rolls back: "configuring this field for rollback will
//     roll back a failed stage automatically to the last successful
//     pipeline execution in the stage" (API_StageDeclaration).
//
// So the stage is safe whatever its conditions do: a bake passes only
// after BakeMinutes of every watched alarm seen OK, and only a seen breach
// fails it. What cannot be judged (an unreadable alarm, an unknown state,
// unparsable history, clock skew, no data at the end) leaves the bake
// waiting; the controller keeps replying "in progress", and if it cannot
// reply at all for 20 minutes CodePipeline times the action out (a
// rollback: the safe direction, documented above). A bake over
// MaxBakeActionMinutes is chained over several actions.

// MaxBakeActionMinutes is the longest bake one action holds: 20 hours,
// well inside the invoke action's 24 hours, leaving room for replies that
// come late and for the controller to be down for a while.
const MaxBakeActionMinutes = 20 * 60

// BakeParts splits a bake into the actions that hold it: as few as fit
// MaxBakeActionMinutes, of equal length (the last absorbs the rounding).
func BakeParts(minutes int) []int {
	if minutes <= 0 {
		return nil
	}
	n := (minutes + MaxBakeActionMinutes - 1) / MaxBakeActionMinutes
	parts := make([]int, n)
	for i := range parts {
		parts[i] = minutes / n
	}
	parts[n-1] += minutes - n*(minutes/n)
	return parts
}

// BakeLookBack is how far before its own start a chained bake part (the
// second and later) reads the alarms' history: the moments between the
// previous part's last look and this part's first.
const BakeLookBack = 10 * time.Minute

// BakeStatus is a bake action's verdict.
type BakeStatus string

// The bake verdicts.
const (
	// BakeWaiting: not over, or something cannot be judged: reply "in
	// progress".
	BakeWaiting BakeStatus = "waiting"
	// BakePassed: the bake elapsed with every watched alarm OK.
	BakePassed BakeStatus = "passed"
	// BakeBreachedStatus: a watched alarm was seen in ALARM, or missing
	// although its stack exists: fail the action (the stage rolls back).
	BakeBreachedStatus BakeStatus = "breached"
)

// BakeVerdict is the decision on one bake action.
type BakeVerdict struct {
	Stage  string     `json:"stage"`
	Status BakeStatus `json:"status"`
	// Elapsed and Minutes are how far the bake is, in minutes.
	Elapsed int `json:"elapsedMinutes"`
	Minutes int `json:"bakeMinutes"`
	// Reasons say why it breached or waits beyond its time.
	Reasons []string `json:"reasons,omitempty"`
	// Notes close nothing (a region's first deployment, a rollback).
	Notes []string `json:"notes,omitempty"`
	// Rollback is true when it passed because a rollback execution runs
	// the stage.
	Rollback bool `json:"rollback,omitempty"`
}

// BakeRequest is one bake action's parameters (the action's
// UserParameters) and where it is.
type BakeRequest struct {
	// Stage is the gated stage.
	Stage string `json:"stage"`
	// Part and Parts number a chained bake's actions (1 of 1 for most).
	Part  int `json:"part"`
	Parts int `json:"parts"`
	// Minutes is this part's bake.
	Minutes int `json:"minutes"`
}

// ParseBakeRequest reads an action's UserParameters strictly.
func ParseBakeRequest(data []byte) (BakeRequest, error) {
	var r BakeRequest
	if err := strictjson.Unmarshal(data, &r, "the bake action's UserParameters"); err != nil {
		return BakeRequest{}, err
	}
	var errs []error
	if !stageRE.MatchString(r.Stage) {
		errs = append(errs, fmt.Errorf("stage %q is not a stage name", r.Stage))
	}
	if r.Parts < 1 || r.Parts > 16 || r.Part < 1 || r.Part > r.Parts {
		errs = append(errs, fmt.Errorf("part %d of %d: want 1 ≤ part ≤ parts ≤ 16", r.Part, r.Parts))
	}
	if r.Minutes < 1 || r.Minutes > MaxBakeActionMinutes {
		errs = append(errs, fmt.Errorf("minutes is %d: want 1–%d", r.Minutes, MaxBakeActionMinutes))
	}
	return r, errors.Join(errs...)
}

// BakeActionName names a bake request's action in its stage: "Bake", or
// "Bake-1of2" … when the bake is chained. The pipeline names the actions
// with it, and the controller finds them by it.
func BakeActionName(req BakeRequest) string {
	if req.Parts <= 1 {
		return "Bake"
	}
	return fmt.Sprintf("Bake-%dof%d", req.Part, req.Parts)
}

// BakeTimes is what CodePipeline records of a bake action that runs: when
// this part started, when the stage's first bake part started (the same,
// for a bake of one part), and whether the stage runs a rollback
// execution.
type BakeTimes struct {
	PartStart, BakeStart time.Time
	Rollback             bool
}

// BakeTimer is an Observer that reads BakeTimes from the pipeline. A bake
// judged from them cannot be made shorter by whoever invokes the
// controller: the times are CodePipeline's, not the invocation's.
type BakeTimer interface {
	BakeTimes(ctx context.Context, req BakeRequest) (BakeTimes, error)
}

// EvaluateBake decides one bake action at now. It reads the bake's times
// from o when o is a BakeTimer (the controller, the simulator), else takes
// fallback as when the part started (and judges the alarms from
// BakeLookBack before it for a later part). It reads the stage's bake
// alarms (Config.Stages[].Bake) through o, opt.Concurrency at a time.
//
//   - In a rollback execution the bake passes at once: the version it
//     restores baked before, and the alarm that caused the rollback must
//     never fail it (the rollback would fail). Only the stage's running
//     execution counts (not a rollback waiting to enter it); if that
//     cannot be read the bake waits.
//   - A watched alarm in ALARM now, in ALARM at any moment since the
//     stage's bake started (its state history; for a chained bake, since
//     its first part), or missing although the stack that creates it
//     exists: breached.
//   - Anything that cannot be judged: waiting, with the reason.
//   - Otherwise: waiting until the part's minutes have elapsed, then
//     passed.
func EvaluateBake(ctx context.Context, c *Config, req BakeRequest, o Observer, fallback, now time.Time, opt Options) BakeVerdict {
	v := BakeVerdict{Stage: req.Stage, Status: BakeWaiting, Minutes: req.Minutes}
	i := slices.IndexFunc(c.Stages, func(s Stage) bool { return s.Name == req.Stage })
	if i < 0 {
		v.Status = BakeBreachedStatus
		v.Reasons = append(v.Reasons, fmt.Sprintf("the controller's configuration has no stage %q: the bake cannot be judged", req.Stage))
		return v
	}
	s := c.Stages[i]
	start, from := fallback, fallback
	if req.Part > 1 {
		from = fallback.Add(-BakeLookBack)
	}
	if bt, ok := o.(BakeTimer); ok {
		times, err := bt.BakeTimes(ctx, req)
		switch {
		case err != nil:
			v.Reasons = append(v.Reasons, fmt.Sprintf("cannot read when the bake started, or whether a rollback execution runs it (%v)", err))
			return v
		case times.Rollback:
			v.Status, v.Rollback = BakePassed, true
			v.Notes = append(v.Notes, "a rollback execution: the bake does not hold it")
			return v
		}
		start, from = times.PartStart, times.BakeStart
	} else {
		stages, err := o.Stages(ctx)
		switch {
		case err != nil:
			v.Reasons = append(v.Reasons, fmt.Sprintf("cannot read the pipeline's state (%v): a rollback execution cannot be told apart", err))
			return v
		case stages[s.Name].Rollback:
			v.Status, v.Rollback = BakePassed, true
			v.Notes = append(v.Notes, "a rollback execution: the bake does not hold it")
			return v
		}
	}
	if !start.After(now) {
		v.Elapsed = int(now.Sub(start) / time.Minute)
	}
	end := start.Add(time.Duration(req.Minutes) * time.Minute)
	byPlace := map[Place][]string{}
	for _, a := range s.Bake {
		if !slices.Contains(byPlace[a.Place()], a.Name) {
			byPlace[a.Place()] = append(byPlace[a.Place()], a.Name)
		}
	}
	places := slices.SortedFunc(maps.Keys(byPlace), comparePlaces)
	read1 := make([]map[string]reading, len(places))
	parallel(opt.Concurrency, len(places), func(i int) {
		names := slices.Sorted(slices.Values(byPlace[places[i]]))
		states, err := o.Alarms(ctx, places[i], names)
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
	stackExists := func(a Alarm) (bool, error) { return o.StackExists(ctx, a.Place(), a.Stack) }
	judged := make([]alarmJudgement, len(s.Bake))
	parallel(opt.Concurrency, len(s.Bake), func(i int) {
		a := s.Bake[i]
		judged[i] = judgeBakeAlarm(ctx, a, readings[a.Place()][a.Name], stackExists, o, from, end, now)
	})
	var breaches, notOK []string
	for _, j := range judged {
		switch {
		case j.breach != "":
			breaches = append(breaches, j.where+": "+j.breach)
		case j.notOK != "":
			notOK = append(notOK, j.where+": "+j.notOK)
		case j.note != "":
			v.Notes = append(v.Notes, j.where+": "+j.note)
		}
	}
	if len(breaches) > 0 {
		v.Status, v.Reasons = BakeBreachedStatus, breaches
		return v
	}
	v.Reasons = append(v.Reasons, notOK...)
	if len(v.Reasons) == 0 && !now.Before(end) {
		v.Status = BakePassed
	}
	return v
}
