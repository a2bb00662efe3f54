package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Ramp is the ramp of safepipe's Lambda alias controller as its driver
// runs it (constructs/deploy, Ramp): after the deployment's first share,
// each step raises the new version's share once the previous one has held
// for After with Alarm OK; Alarm in ALARM, or missing, takes the share
// away.
type Ramp struct {
	// Driver is the logical ID of the driver function.
	Driver string
	// Steps are the driver's steps, in order.
	Steps []RampStep
	// Alarm is the alarm that halts the ramp.
	Alarm string
}

// RampStep is one step of a ramp.
type RampStep struct {
	// After is how long the previous share holds, with the alarm OK,
	// before this step.
	After time.Duration
	// Percent is the new version's share from this step on; 100 ends the
	// ramp.
	Percent int
}

// Duration is the shortest time from the deployment to the ramp's last
// step: the sum of the holds.
func (r *Ramp) Duration() time.Duration {
	var d time.Duration
	for _, s := range r.Steps {
		d += s.After
	}
	return d
}

// TickSlack is what a ramp step may take past its hold: the driver advances
// at its first tick after the hold ends ("rate(1 minute)", a minute at
// most), and EventBridge documents no delivery latency for a scheduled
// rule, so a second minute is allowed.
const TickSlack = 2 * time.Minute

// BakeNeeded is the shortest bake that sees the ramp reach 100% and then
// watches the full share as long as its longest hold: the holds, the
// driver's slack per step, and the longest hold again. It bounds a ramp
// whose alarm stays OK throughout, as a composite alarm does once it has
// been evaluated (docs/aws-semantics.md Q25).
func (r *Ramp) BakeNeeded() time.Duration {
	var longest time.Duration
	for _, s := range r.Steps {
		longest = max(longest, s.After)
	}
	return r.Duration() + time.Duration(len(r.Steps))*TickSlack + longest
}

// Full reports whether the ramp ends with the new version alone.
func (r *Ramp) Full() bool {
	return len(r.Steps) > 0 && r.Steps[len(r.Steps)-1].Percent == 100
}

// maxRampSteps bounds a ramp's steps (a driver's STEPS is read whole).
const maxRampSteps = 100

// maxRampHold bounds a step's hold: the construct allows 14 days.
const maxRampHold = 14 * 24 * time.Hour

// ReadRamp reads the ramp of an alias controller (Custom::SafepipeAlias)
// whose RampState property is rampState: its driver is the function, of
// functions (logical ID → properties of the template's
// AWS::Lambda::Function resources), whose Environment.Variables.STATE is
// that same value; STEPS holds the steps as JSON ([{"after": seconds,
// "percent": n}], shares rising, at most 100) and ALARM_NAME the alarm. It
// returns nil, nil when rampState is nil (no ramp), and an error when a
// ramp is declared but cannot be read whole: a reader must not guess how
// a region's traffic moves.
func ReadRamp(rampState any, functions map[string]map[string]any, e *Evaluator) (*Ramp, error) {
	if rampState == nil {
		return nil, nil
	}
	want := Flatten(rampState)
	var drivers []string
	for id, p := range functions {
		env, _ := p["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if st, ok := vars["STATE"]; ok && Flatten(st) == want {
			drivers = append(drivers, id)
		}
	}
	slices.Sort(drivers)
	if len(drivers) != 1 {
		return nil, fmt.Errorf("ramp state %s: %d functions are its driver (want one whose STATE is it)", want, len(drivers))
	}
	vars := functions[drivers[0]]["Environment"].(map[string]any)["Variables"].(map[string]any)
	r := &Ramp{Driver: drivers[0]}
	alarm, ok := e.Str(vars["ALARM_NAME"])
	if !ok || alarm == "" {
		return nil, fmt.Errorf("ramp driver %s: ALARM_NAME %s is not a name", r.Driver, Flatten(vars["ALARM_NAME"]))
	}
	r.Alarm = alarm
	raw, ok := e.Str(vars["STEPS"])
	if !ok {
		return nil, fmt.Errorf("ramp driver %s: STEPS is not a string", r.Driver)
	}
	doc, err := DecodeJSON([]byte(raw), "ramp driver "+r.Driver+" STEPS", 4)
	if err != nil {
		return nil, err
	}
	steps, ok := doc.([]any)
	if !ok || len(steps) == 0 || len(steps) > maxRampSteps {
		return nil, fmt.Errorf("ramp driver %s: STEPS is not a list of 1 to %d steps", r.Driver, maxRampSteps)
	}
	var prev int64
	for i, s := range steps {
		m, _ := s.(map[string]any)
		after, aerr := intOf(m["after"])
		pct, perr := intOf(m["percent"])
		if m == nil || len(m) != 2 || aerr != nil || perr != nil {
			return nil, fmt.Errorf("ramp driver %s: STEPS[%d] is not {\"after\": seconds, \"percent\": n}", r.Driver, i)
		}
		hold := time.Duration(after) * time.Second
		if after < 1 || hold > maxRampHold {
			return nil, fmt.Errorf("ramp driver %s: STEPS[%d].after is %d seconds (want 1 to %d)", r.Driver, i, after, int64(maxRampHold/time.Second))
		}
		if pct <= prev || pct > 100 || (pct == 100 && i != len(steps)-1) {
			return nil, fmt.Errorf("ramp driver %s: STEPS[%d].percent is %d (each step raises the share, at most 100, and 100 ends the ramp)", r.Driver, i, pct)
		}
		prev = pct
		r.Steps = append(r.Steps, RampStep{After: hold, Percent: int(pct)})
	}
	return r, nil
}

// intOf reads a JSON number that is a whole number.
func intOf(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	return n.Int64()
}
