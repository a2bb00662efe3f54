package waves

import (
	"errors"
	"fmt"
	"time"
)

// DefaultDeployDuration is the time a production stage is assumed to take to
// deploy all its targets, when the caller does not say.
const DefaultDeployDuration = 30 * time.Minute

// Step is one stage of a simulated rollout.
type Step struct {
	// Stage is the stage name.
	Stage string `json:"stage"`
	// Start is when the stage starts (inside the window).
	Start time.Time `json:"start"`
	// Deployed is when every target of the stage has the change.
	Deployed time.Time `json:"deployed"`
	// Baked is when the stage's bake ends and the next stage may start.
	Baked time.Time `json:"baked"`
	// WaitedMinutes is how long the stage waited for the window to open.
	WaitedMinutes int `json:"waitedMinutes"`
}

// Timeline is a simulated rollout of a plan.
type Timeline struct {
	// Start is the time the first production stage became ready to start.
	Start time.Time `json:"start"`
	// Steps are the stages in order.
	Steps []Step `json:"steps"`
	// Global is when the last region has the change.
	Global time.Time `json:"global"`
	// Done is when the last bake ends.
	Done time.Time `json:"done"`
	// TimeToGlobalHours is Global − Start in hours.
	TimeToGlobalHours float64 `json:"timeToGlobalHours"`
	// BusinessDays is the number of business days (Monday–Friday, holidays
	// excluded, in the window's zone) from Start's day to Global's day,
	// both counted.
	BusinessDays int `json:"businessDays"`
}

// Schedule simulates a rollout of the plan from start: each stage starts at
// the window's next opening after the previous stage's bake, deploys for
// deploy (DefaultDeployDuration when zero), then bakes for its plan bake.
func Schedule(p *Plan, start time.Time, deploy time.Duration) (*Timeline, error) {
	if p == nil {
		return nil, errors.New("schedule: plan is nil")
	}
	switch {
	case deploy < 0:
		return nil, fmt.Errorf("schedule: deploy duration is %s; it cannot be negative", deploy)
	case deploy > MaxStageDuration:
		return nil, fmt.Errorf("schedule: deploy duration is %s, over the limit of %s", deploy, MaxStageDuration)
	case deploy == 0:
		deploy = DefaultDeployDuration
	}
	if len(p.Stages) == 0 {
		return nil, errors.New("schedule: the plan has no stages")
	}
	// A plan built or edited by hand: bound every step, so that the
	// simulated rollout (and the business days it spans) stays finite.
	if len(p.Stages) > MaxStages {
		return nil, fmt.Errorf("schedule: the plan has %d stages, over the CodePipeline limit of %d", len(p.Stages), MaxStages)
	}
	var errs []error
	for _, s := range p.Stages {
		if s.Bake < 0 || s.Bake > MaxStageDuration {
			errs = append(errs, fmt.Errorf("schedule: stage %s: bake is %s, over the limit of %s", s.Name, s.Bake, MaxStageDuration))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := p.Window.withDefaults()
	if err := w.validate(); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	cal := w.calendar()
	tl := &Timeline{Start: start.In(cal.loc)}
	t := tl.Start
	for _, s := range p.Stages {
		begin, err := cal.nextStart(t)
		if err != nil {
			return nil, fmt.Errorf("schedule: stage %s: %w", s.Name, err)
		}
		step := Step{Stage: s.Name, Start: begin, Deployed: begin.Add(deploy), WaitedMinutes: int(begin.Sub(t) / time.Minute)}
		step.Baked = step.Deployed.Add(s.Bake)
		tl.Steps = append(tl.Steps, step)
		t = step.Baked
	}
	last := tl.Steps[len(tl.Steps)-1]
	tl.Global, tl.Done = last.Deployed, last.Baked
	tl.TimeToGlobalHours = float64(tl.Global.Sub(tl.Start)) / float64(time.Hour)
	tl.BusinessDays = businessDays(cal, tl.Start, tl.Global)
	return tl, nil
}

// businessDays counts Monday–Friday dates, holidays excluded, from a's date
// to b's date inclusive, in the window's zone. Schedule bounds the span: at
// most MaxStages stages, each waiting at most two years for its window and
// deploying and baking at most MaxStageDuration each.
func businessDays(cal calendar, a, b time.Time) int {
	loc := cal.loc
	a, b = a.In(loc), b.In(loc)
	day := time.Date(a.Year(), a.Month(), a.Day(), 12, 0, 0, 0, loc)
	end := time.Date(b.Year(), b.Month(), b.Day(), 12, 0, 0, 0, loc)
	n := 0
	for ; !day.After(end); day = day.AddDate(0, 0, 1) {
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday && !cal.isHoliday(day) {
			n++
		}
	}
	return n
}
