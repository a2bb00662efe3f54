package model

import (
	"fmt"
	"strconv"
)

// CheckArtifacts checks how a pipeline's actions pass artifacts, as
// CodePipeline's own validation does: "The input artifact of an action must
// exactly match the output artifact declared in a preceding action" and
// "Output artifact names must be unique within a pipeline."
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_OutputArtifact.html).
// A preceding action is one of an earlier stage, or of the same stage
// with a lower RunOrder (actions with the same RunOrder run in parallel).
// So an input nobody declared, or one declared only later — which is how
// a cycle shows in a pipeline — is an error, as is one output name twice.
// stages is the pipeline's Stages property as read; name flattens a value
// to a string (names that are intrinsic functions compare as written).
func CheckArtifacts(stages []any, name func(any) string) []error {
	var errs []error
	add := func(format string, args ...any) {
		if len(errs) < MaxKeyErrors {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	type out struct {
		stage, runOrder int
		action          string
	}
	outputs := map[string]out{}
	type act struct {
		m        map[string]any
		runOrder int
		name     string
	}
	var all [][]act
	for si, s := range stages {
		sm, _ := s.(map[string]any)
		acts, _ := sm["Actions"].([]any)
		var row []act
		for _, a := range acts {
			am, _ := a.(map[string]any)
			ro := 1
			if v, ok := am["RunOrder"]; ok {
				if n, err := strconv.Atoi(name(v)); err == nil {
					ro = n
				}
			}
			an := name(am["Name"])
			row = append(row, act{am, ro, an})
			arts, _ := am["OutputArtifacts"].([]any)
			for _, o := range arts {
				n := name(asMapAny(o)["Name"])
				if n == "" {
					continue
				}
				if prev, dup := outputs[n]; dup {
					add("stage %s: action %s declares output artifact %q, which action %s already declares: output artifact names are unique within a pipeline",
						name(sm["Name"]), an, n, prev.action)
					continue
				}
				outputs[n] = out{si, ro, an}
			}
		}
		all = append(all, row)
	}
	for si, row := range all {
		sm, _ := stages[si].(map[string]any)
		for _, a := range row {
			arts, _ := a.m["InputArtifacts"].([]any)
			for _, in := range arts {
				n := name(asMapAny(in)["Name"])
				if n == "" {
					continue
				}
				o, ok := outputs[n]
				switch {
				case !ok:
					add("stage %s: action %s reads input artifact %q, which no action declares as output", name(sm["Name"]), a.name, n)
				case o.stage > si || o.stage == si && o.runOrder >= a.runOrder:
					add("stage %s: action %s reads input artifact %q, which action %s declares later or in parallel (run order %d, here %d): an input must come from a preceding action",
						name(sm["Name"]), a.name, n, o.action, o.runOrder, a.runOrder)
				}
			}
		}
	}
	return errs
}

func asMapAny(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
