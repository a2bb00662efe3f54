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
	if deploy < 0 {
		return nil, fmt.Errorf("schedule: deploy duration is %s; it cannot be negative", deploy)
	}
	if deploy == 0 {
		deploy = DefaultDeployDuration
	}
	if len(p.Stages) == 0 {
		return nil, errors.New("schedule: the plan has no stages")
	}
	w := p.Window.withDefaults()
	loc := w.Location()
	tl := &Timeline{Start: start.In(loc)}
	t := tl.Start
	for _, s := range p.Stages {
		begin, err := w.NextStart(t)
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
	tl.BusinessDays = businessDays(w, tl.Start, tl.Global)
	return tl, nil
}

// businessDays counts Monday–Friday dates, holidays excluded, from a's date
// to b's date inclusive, in the window's zone.
func businessDays(w Window, a, b time.Time) int {
	loc := w.Location()
	a, b = a.In(loc), b.In(loc)
	day := time.Date(a.Year(), a.Month(), a.Day(), 12, 0, 0, 0, loc)
	end := time.Date(b.Year(), b.Month(), b.Day(), 12, 0, 0, 0, loc)
	n := 0
	for ; !day.After(end); day = day.AddDate(0, 0, 1) {
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday && !w.IsHoliday(day) {
			n++
		}
	}
	return n
}
