package model

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckArtifacts(t *testing.T) {
	act := func(name string, runOrder int, in, out []string) map[string]any {
		m := map[string]any{"Name": name, "RunOrder": runOrder}
		var ins, outs []any
		for _, n := range in {
			ins = append(ins, map[string]any{"Name": n})
		}
		for _, n := range out {
			outs = append(outs, map[string]any{"Name": n})
		}
		m["InputArtifacts"], m["OutputArtifacts"] = ins, outs
		return m
	}
	stage := func(name string, acts ...map[string]any) map[string]any {
		var l []any
		for _, a := range acts {
			l = append(l, a)
		}
		return map[string]any{"Name": name, "Actions": l}
	}
	for _, tc := range []struct {
		name   string
		stages []any
		want   []string
	}{
		{"a chain", []any{stage("Source", act("S", 1, nil, []string{"src"})), stage("Build", act("B", 1, []string{"src"}, []string{"out"}), act("T", 2, []string{"out"}, nil))}, nil},
		{"undeclared", []any{stage("Source", act("S", 1, nil, []string{"src"})), stage("Build", act("B", 1, []string{"nope"}, nil))}, []string{`action B reads input artifact "nope", which no action declares`}},
		{"a cycle", []any{stage("A", act("X", 1, []string{"y"}, []string{"x"})), stage("B", act("Y", 1, []string{"x"}, []string{"y"}))}, []string{`action X reads input artifact "y", which action Y declares later`}},
		{"in parallel", []any{stage("A", act("X", 1, nil, []string{"x"}), act("Y", 1, []string{"x"}, nil))}, []string{"later or in parallel (run order 1, here 1)"}},
		{"twice", []any{stage("A", act("X", 1, nil, []string{"x"}), act("Y", 1, nil, []string{"x"}))}, []string{"output artifact names are unique"}},
	} {
		errs := CheckArtifacts(tc.stages, func(v any) string { return Flatten(v) })
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		all := strings.Join(msgs, "\n")
		if len(tc.want) == 0 {
			assert.Empty(t, errs, tc.name)
		}
		for _, w := range tc.want {
			assert.Contains(t, all, w, tc.name)
		}
	}
}
