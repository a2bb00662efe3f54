package waves

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Lever is one change to a policy that shortens a rollout, keeping every
// floor of the design digest (one-box bake ≥ 1 h, ≥ 12 h after wave 1,
// ≥ 2 h after later waves, one AZ per region per step, stages start only
// inside the window), and what it costs in safety.
type Lever struct {
	// Name says what changes, e.g. "bakes.zonal 30m".
	Name string `json:"name"`
	// Cost is what the change gives up.
	Cost string `json:"cost"`
	// apply changes a defaulted policy; it reports false when the policy
	// already has the change (or more).
	apply func(p *Policy) bool
	// knob names what the lever turns; two levers of one knob are never
	// combined.
	knob string
}

// Levers are the changes GoalReport tries, cheapest in safety first. Not
// levers: fewer AZ steps (one AZ per region per step is a floor), bakes
// under their floors (only an expedited change may), and reshaping waves
// by AZ count (every wave is on the critical path; a region of six AZs
// takes six steps in whichever wave it is).
var Levers = []Lever{
	{Name: "bakes.zonal 30m (its floor)", Cost: "each AZ step is watched for 30 minutes, not an hour, before the region's next AZ takes the change",
		apply: func(p *Policy) bool {
			if p.Bakes.Zonal <= FloorZonal {
				return false
			}
			p.Bakes.Zonal = FloorZonal
			return true
		}},
	{Name: "window opens an hour earlier", Cost: "stages start an hour earlier in the day, before everyone on the team is at work",
		apply: func(p *Policy) bool {
			if p.Window.StartHour == 0 {
				return false
			}
			p.Window.StartHour--
			return true
		}},
	{Name: "window closes an hour later", Cost: "a stage may start an hour later in the day: a problem its bake finds is handled later in the working day", knob: "endHour",
		apply: func(p *Policy) bool {
			if p.Window.EndHour >= 24 {
				return false
			}
			p.Window.EndHour++
			return true
		}},
	{Name: "window closes two hours later", Cost: "a stage may start two hours later in the day, close to the end of the working day", knob: "endHour",
		apply: func(p *Policy) bool {
			if p.Window.EndHour >= 23 {
				return false
			}
			p.Window.EndHour += 2
			return true
		}},
	{Name: "Fridays in the window", Cost: "a stage may start on a Friday and bake over the weekend, when fewer people watch",
		apply: func(p *Policy) bool {
			if slices.Contains(p.Window.Days, time.Friday) {
				return false
			}
			p.Window.Days = append(slices.Clone(p.Window.Days), time.Friday)
			return true
		}},
}

// Outcome is the rollout of a policy with some levers pulled.
type Outcome struct {
	// Levers are the changes, by name ("" for none).
	Levers []string `json:"levers"`
	// Costs are what they give up, in the order of Levers.
	Costs []string `json:"costs,omitempty"`
	// TimeToGlobalHours and BusinessDays are those of the timeline.
	TimeToGlobalHours float64 `json:"timeToGlobalHours"`
	BusinessDays      int     `json:"businessDays"`
	// Err says why the changed policy has no plan (e.g. over the stage
	// limit); empty otherwise.
	Err string `json:"error,omitempty"`
}

// GoalReport says whether a policy reaches every region within a number
// of business days and, when it does not, which changes would.
type GoalReport struct {
	// GoalDays is the goal, in business days.
	GoalDays int `json:"goalDays"`
	// Before is the policy as given.
	Before Outcome `json:"before"`
	// Singles is each lever pulled alone, in the order of Levers.
	Singles []Outcome `json:"singles,omitempty"`
	// Smallest are the combinations of the fewest levers that reach the
	// goal (at most three levers are combined), cheapest first; empty when
	// none does or the policy already reaches it.
	Smallest []Outcome `json:"smallest,omitempty"`
}

// MaxGoalDays bounds the goal of GoalReport.
const MaxGoalDays = 365

// CheckGoal schedules the plan of c under policy from start (deploy as in
// Schedule) and, when it takes more than goalDays business days, the same
// with each lever of Levers, then with the fewest levers together that
// reach the goal. It never changes policy.
func CheckGoal(c *Catalog, policy Policy, start time.Time, deploy time.Duration, goalDays int) (*GoalReport, error) {
	if goalDays < 1 || goalDays > MaxGoalDays {
		return nil, fmt.Errorf("goal: %d business days is outside 1–%d", goalDays, MaxGoalDays)
	}
	base := policy.withDefaults()
	run := func(idx []int) Outcome {
		p := base
		p.Window.Days = slices.Clone(base.Window.Days)
		o := Outcome{Levers: []string{}}
		for _, i := range idx {
			if !Levers[i].apply(&p) {
				return Outcome{Err: "no change"}
			}
			o.Levers = append(o.Levers, Levers[i].Name)
			o.Costs = append(o.Costs, Levers[i].Cost)
		}
		plan, err := NewPlan(c, p)
		if err == nil {
			var tl *Timeline
			if tl, err = Schedule(plan, start, deploy); err == nil {
				o.TimeToGlobalHours, o.BusinessDays = tl.TimeToGlobalHours, tl.BusinessDays
			}
		}
		if err != nil {
			o.Err = err.Error()
		}
		return o
	}
	r := &GoalReport{GoalDays: goalDays, Before: run(nil)}
	if r.Before.Err != "" {
		return nil, errors.New(r.Before.Err)
	}
	if r.Before.BusinessDays <= goalDays {
		return r, nil
	}
	reaches := func(o Outcome) bool { return o.Err == "" && o.BusinessDays <= goalDays }
	for i := range Levers {
		if o := run([]int{i}); o.Err != "no change" {
			r.Singles = append(r.Singles, o)
			if reaches(o) {
				r.Smallest = append(r.Smallest, o)
			}
		}
	}
	for size := 2; size <= 3 && len(r.Smallest) == 0; size++ {
		for _, idx := range combinations(len(Levers), size) {
			if sameKnob(idx) {
				continue
			}
			if o := run(idx); reaches(o) {
				r.Smallest = append(r.Smallest, o)
			}
		}
	}
	// Levers is in order of cost and combinations come in lexicographic
	// order of it: Smallest is cheapest first.
	return r, nil
}

// sameKnob reports whether two levers of idx turn the same knob.
func sameKnob(idx []int) bool {
	seen := map[string]bool{}
	for _, i := range idx {
		if k := Levers[i].knob; k != "" {
			if seen[k] {
				return true
			}
			seen[k] = true
		}
	}
	return false
}

// combinations returns the index sets of size k of 0…n-1, in lexicographic
// order.
func combinations(n, k int) [][]int {
	var out [][]int
	idx := make([]int, k)
	var rec func(start, depth int)
	rec = func(start, depth int) {
		if depth == k {
			out = append(out, slices.Clone(idx))
			return
		}
		for i := start; i < n; i++ {
			idx[depth] = i
			rec(i+1, depth+1)
		}
	}
	rec(0, 0)
	return out
}

// String renders an outcome for people: "bakes.zonal 30m + … → 79.0 h, 4
// business days".
func (o Outcome) String() string {
	name := strings.Join(o.Levers, " + ")
	if name == "" {
		name = "as given"
	}
	if o.Err != "" {
		return fmt.Sprintf("%s → no plan: %s", name, o.Err)
	}
	return fmt.Sprintf("%s → %.1f h, %d business days", name, o.TimeToGlobalHours, o.BusinessDays)
}
