package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/verify"
)

func TestVerifyCommand(t *testing.T) {
	fixtures := filepath.Join("..", "..", "verify", "testdata")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "safepipe.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"suppressions": [{"rule": "SP016", "reason": "dev alias, no traffic"}]}`), 0o644))
	badCfg := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badCfg, []byte(`{"suppressions": [{"rule": "SP016"}]}`), 0o644))

	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		noStdout bool
	}{
		{"clean assembly", []string{filepath.Join(fixtures, "assembly-pass")}, 0, []string{"1 pipeline(s), 13 template(s): 0 error(s)"}, "", false},
		{"findings grouped by stage", []string{filepath.Join(fixtures, "fail", "SP001-no-rollback.template.json")}, 1,
			[]string{"PipelineCodePipeline / Prod-W1-Regional\n  ERROR      SP001 prod-rollback", "fix: Give the stage an OnFailure condition", "1 error(s)"}, "", false},
		{"below the threshold", []string{"--severity", "error", filepath.Join(fixtures, "fail", "SP016-alias-shifted-at-once.template.json")}, 0, []string{"0 error(s), 0 warning(s)"}, "", false},
		{"warning at the default threshold", []string{filepath.Join(fixtures, "fail", "SP016-alias-shifted-at-once.template.json")}, 1, []string{"WARNING    SP016"}, "", false},
		{"suppressed by config", []string{"--config", cfg, filepath.Join(fixtures, "fail", "SP016-alias-shifted-at-once.template.json")}, 0, []string{"suppressed SP016", "reason: dev alias, no traffic", "1 suppressed"}, "", false},
		{"config without reason", []string{"--config", badCfg, filepath.Join(fixtures, "pass", "service.template.json")}, 2, nil, "has no reason", true},
		{"missing path", []string{filepath.Join(dir, "cdk.out")}, 2, nil, "no such file or directory", true},
		{"default path is cdk.out", []string{}, 2, nil, "cdk.out", true},
		{"bad severity", []string{"--severity", "fatal", filepath.Join(fixtures, "pass", "service.template.json")}, 2, nil, `severity "fatal"`, true},
		{"bad format", []string{"--format", "xml", filepath.Join(fixtures, "pass", "service.template.json")}, 2, nil, `--format "xml"`, true},
		{"rules", []string{"--rules"}, 0, []string{"SP001  prod-rollback", "SP017  aggregate-alarm"}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "default path is cdk.out" {
				t.Chdir(dir)
			}
			code, out, errOut := runCLI(append([]string{"verify"}, c.args...)...)
			assert.Equal(t, c.code, code, "stdout: %s\nstderr: %s", out, errOut)
			for _, s := range c.stdout {
				assert.Contains(t, out, s)
			}
			if c.stderr != "" {
				assert.Contains(t, errOut, c.stderr)
				assert.NotContains(t, errOut, "goroutine", "a clear message, never a stack trace")
			}
			if c.noStdout {
				assert.Empty(t, out)
			}
		})
	}
}

func TestVerifyJSON(t *testing.T) {
	code, out, _ := runCLI("verify", "--format", "json", filepath.Join("..", "..", "verify", "testdata", "fail", "SP007-first-stage-two-regions.template.json"))
	assert.Equal(t, 1, code)
	var doc struct {
		Threshold string `json:"threshold"`
		Failed    bool   `json:"failed"`
		Report    struct {
			Findings []struct {
				Rule     string `json:"rule"`
				Severity string `json:"severity"`
				Stage    string `json:"stage"`
				Region   string `json:"region"`
			} `json:"findings"`
		} `json:"report"`
		Rules []struct {
			ID string `json:"id"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "warning", doc.Threshold)
	assert.True(t, doc.Failed)
	var rules []string
	for _, f := range doc.Report.Findings {
		rules = append(rules, f.Rule+"@"+f.Stage+"/"+f.Region)
		assert.Equal(t, "error", f.Severity)
	}
	assert.Equal(t, "SP004@Prod-W1-OneBox/us-east-2,SP006@Prod-W1-OneBox/us-east-2,SP007@Prod-W1-OneBox/", strings.Join(rules, ","))
	assert.Len(t, doc.Rules, len(verify.Rules))
}
