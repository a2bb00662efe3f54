package model

import (
	"strings"
	"testing"
	"time"
)

func rampFunctions(steps, alarm any) map[string]map[string]any {
	return map[string]map[string]any{
		"Handler": {"Environment": map[string]any{"Variables": map[string]any{"X": "y"}}},
		"RampDriver": {"Environment": map[string]any{"Variables": map[string]any{
			"STATE": map[string]any{"Ref": "RampState"}, "STEPS": steps, "ALARM_NAME": alarm,
		}}},
	}
}

func TestReadRamp(t *testing.T) {
	e := NewEvaluator(Scope{})
	state := map[string]any{"Ref": "RampState"}
	for _, c := range []struct {
		name      string
		state     any
		functions map[string]map[string]any
		want      *Ramp
		err       string
	}{
		{"no ramp", nil, rampFunctions(`[]`, "a"), nil, ""},
		{"a ramp", state, rampFunctions(`[{"after":3600,"percent":50},{"after":1800,"percent":100}]`, "orders-aggregate"),
			&Ramp{Driver: "RampDriver", Alarm: "orders-aggregate", Steps: []RampStep{{time.Hour, 50}, {30 * time.Minute, 100}}}, ""},
		{"no driver", map[string]any{"Ref": "Other"}, rampFunctions(`[]`, "a"), nil, "0 functions are its driver"},
		{"no alarm", state, rampFunctions(`[{"after":60,"percent":100}]`, ""), nil, "ALARM_NAME"},
		{"alarm unknown", state, rampFunctions(`[{"after":60,"percent":100}]`, map[string]any{"Ref": "Nowhere"}), nil, "ALARM_NAME"},
		{"steps not JSON", state, rampFunctions(`[{"after":60,"percent":100}] x`, "a"), nil, "data after the JSON document"},
		{"duplicate key", state, rampFunctions(`[{"after":60,"after":1,"percent":100}]`, "a"), nil, "after"},
		{"empty", state, rampFunctions(`[]`, "a"), nil, "not a list"},
		{"extra field", state, rampFunctions(`[{"after":60,"percent":100,"x":1}]`, "a"), nil, "STEPS[0] is not"},
		{"fraction", state, rampFunctions(`[{"after":60.5,"percent":100}]`, "a"), nil, "STEPS[0] is not"},
		{"falling", state, rampFunctions(`[{"after":60,"percent":50},{"after":60,"percent":40}]`, "a"), nil, "STEPS[1].percent is 40"},
		{"100 before the end", state, rampFunctions(`[{"after":60,"percent":100},{"after":60,"percent":100}]`, "a"), nil, "STEPS[0].percent is 100"},
		{"hold too long", state, rampFunctions(`[{"after":99999999,"percent":100}]`, "a"), nil, "STEPS[0].after"},
		{"no hold", state, rampFunctions(`[{"after":0,"percent":100}]`, "a"), nil, "STEPS[0].after"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadRamp(c.state, c.functions, e)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (c.want == nil) || c.want != nil && (got.Driver != c.want.Driver || got.Alarm != c.want.Alarm || len(got.Steps) != len(c.want.Steps)) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			if c.want == nil {
				return
			}
			for i := range c.want.Steps {
				if got.Steps[i] != c.want.Steps[i] {
					t.Fatalf("step %d: %+v, want %+v", i, got.Steps[i], c.want.Steps[i])
				}
			}
		})
	}
	r, _ := ReadRamp(state, rampFunctions(`[{"after":3600,"percent":50},{"after":1800,"percent":100}]`, "a"), e)
	if r.Duration() != 90*time.Minute || !r.Full() {
		t.Fatalf("duration %s, full %v", r.Duration(), r.Full())
	}
}

// FuzzReadRamp: a driver's STEPS never panics the reader, and what it
// accepts is a ramp a driver could run.
func FuzzReadRamp(f *testing.F) {
	for _, s := range []string{`[{"after":60,"percent":100}]`, `[{"after":1,"percent":1},{"after":2,"percent":100}]`, `[`, `{}`, `[{"after":1e3,"percent":5}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, steps string) {
		r, err := ReadRamp(map[string]any{"Ref": "RampState"}, rampFunctions(steps, "a"), NewEvaluator(Scope{}))
		if err != nil {
			return
		}
		prev := 0
		for _, s := range r.Steps {
			if s.After <= 0 || s.Percent <= prev || s.Percent > 100 {
				t.Fatalf("accepted %q: %+v", steps, r.Steps)
			}
			prev = s.Percent
		}
	})
}
