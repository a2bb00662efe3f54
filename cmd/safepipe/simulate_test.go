package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var simFixtures = filepath.Join("..", "..", "sim", "testdata")

// simulateJSON is the documented JSON contract of "safepipe simulate".
type simulateJSON struct {
	Reached           []string `json:"reached"`
	RolledBack        []string `json:"rolledBack"`
	BlastRadius       []string `json:"blastRadius"`
	TimeToGlobalHours *float64 `json:"timeToGlobalHours"`
	BusinessDays      *int     `json:"businessDays"`
	Stages            []struct {
		Name   string `json:"name"`
		Start  string `json:"start"`
		End    string `json:"end"`
		Result string `json:"result"`
	} `json:"stages"`
	Violations []struct {
		Property string `json:"property"`
		Stage    string `json:"stage"`
		Region   string `json:"region"`
		Detail   string `json:"detail"`
	} `json:"violations"`
}

func TestSimulateCommand(t *testing.T) {
	good := filepath.Join(simFixtures, "good")
	dir := t.TempDir()
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"happy path", []string{good}, 0, []string{"REACHED (exit 0)", "time to global: 2.5 h, 1 business days", "Prod-W2"}, ""},
		{"a fault stops wave 2", []string{"--fault", "us-east-1:Prod-W2+45m", good}, 3, []string{"STOPPED (exit 3)", "rolled back: eu-central-1 us-east-1", "Prod-W2  ROLLBACK"}, ""},
		{"a defect is a violation", []string{filepath.Join(simFixtures, "defect-noop-identical-template")}, 1, []string{"VIOLATED (exit 1)", "no-op-stage · Prod-W1-Regional"}, ""},
		{"a template alone", []string{filepath.Join(simFixtures, "good", "pipeline.template.json")}, 3, []string{"alarm"}, ""},
		{"bad fault spec", []string{"--fault", "us-east-1:Prod-W2", "--fault", "eu-west-1:Prod-W1+5m", good}, 2, nil, `fault "us-east-1:Prod-W2": no +DURATION`},
		{"fault on an unknown stage", []string{"--fault", "us-east-1:Prod-W9+5m", good}, 2, nil, `fault "us-east-1:Prod-W9+5m": stage "Prod-W9" is not in the pipeline`},
		{"missing path", []string{filepath.Join(dir, "nope")}, 2, nil, "no such file"},
		{"no path", []string{}, 2, nil, "one PATH"},
		{"bad format", []string{"--format", "xml", good}, 2, nil, `--format "xml"`},
		{"html needs out", []string{"--format", "html", good}, 2, nil, "--format html needs --out FILE"},
		{"bad start", []string{"--start", "tomorrow", good}, 2, nil, `--start "tomorrow"`},
		{"no executions flag", []string{"--executions", "1", good}, 2, nil, "flag provided but not defined: -executions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(append([]string{"simulate"}, c.args...)...)
			assert.Equal(t, c.code, code, "stdout: %s\nstderr: %s", out, errOut)
			for _, s := range c.stdout {
				assert.Contains(t, out, s)
			}
			if c.stderr != "" {
				assert.Contains(t, errOut, c.stderr)
				assert.NotContains(t, errOut, "goroutine")
			}
		})
	}
}

func TestSimulateJSONAndHTML(t *testing.T) {
	good := filepath.Join(simFixtures, "good")
	code, out, errOut := runCLI("simulate", "--format", "json", "--fault", "us-east-1:Prod-W2+45m", good)
	require.Equal(t, 3, code, errOut)
	var res simulateJSON
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, []string{"eu-west-1"}, res.Reached)
	assert.ElementsMatch(t, []string{"eu-central-1", "us-east-1"}, res.RolledBack)
	assert.ElementsMatch(t, []string{"eu-central-1", "eu-west-1", "us-east-1"}, res.BlastRadius)
	assert.Nil(t, res.TimeToGlobalHours)
	assert.Empty(t, res.Violations)
	var results []string
	for _, s := range res.Stages {
		results = append(results, s.Name+"="+s.Result)
	}
	assert.Contains(t, results, "Prod-W2=RolledBack")
	assert.Contains(t, results, "Prod-W2=Succeeded", "the rollback execution")
	for _, k := range []string{`"reached"`, `"rolledBack"`, `"blastRadius"`, `"timeToGlobalHours"`, `"businessDays"`, `"stages"`, `"violations"`} {
		assert.Contains(t, out, k)
	}
	_, again, _ := runCLI("simulate", "--format", "json", "--fault", "us-east-1:Prod-W2+45m", good)
	assert.Equal(t, out, again, "byte-identical output")

	page := filepath.Join(t.TempDir(), "sim.html")
	code, out, errOut = runCLI("simulate", "--format", "html", "--out", page, "--fault", "us-east-1:Prod-W2+45m", good)
	require.Equal(t, 3, code, errOut)
	assert.Contains(t, out, "wrote "+page)
	b, err := os.ReadFile(page)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "<!DOCTYPE html>"))
	assert.NotContains(t, string(b), "http://www.w3.org/1999", "no external resources")
}

func TestPlanFrom(t *testing.T) {
	good := filepath.Join(simFixtures, "good")
	code, out, errOut := runCLI("plan", "--from", good)
	require.Equal(t, 0, code, errOut)
	for _, s := range []string{"WAVES", "W1    1  eu-west-1", "W2    2  eu-central-1 us-east-1", "Prod-W2  production  2", "2h", "time to global: 2.5 h"} {
		assert.Contains(t, out, s)
	}
	code, out, errOut = runCLI("plan", "--from", good, "--format", "json")
	require.Equal(t, 0, code, errOut)
	var rep fromReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Stages, 4)
	assert.Equal(t, []string{"Prod-W1", "Prod-W2"}, rep.HeldAfterStructureChange)
	assert.Equal(t, fromStage{Name: "Prod-W2", Kind: "production", Regions: []string{"eu-central-1", "us-east-1"}, Actions: 5, BakeMinute: 120,
		Start: "2026-01-05T10:50Z", Deployed: "2026-01-05T11:30Z", Baked: "2026-01-05T13:30Z"}, rep.Stages[3])

	code, _, errOut = runCLI("plan", "--from", good, "--format", "xml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--format "xml"`)
	code, _, errOut = runCLI("plan", "--from", filepath.Join(t.TempDir(), "none"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "no such file")
}
