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
		rules = append(rules, f.Rule+"@"+f.Stage+"/"+f.Region+"="+f.Severity)
	}
	// The JSON report holds every finding with its severity, below the
	// threshold too: SP035 says the lone template's stacks were not read.
	assert.Equal(t, "SP035@/=info,SP004@Prod-W1-OneBox/us-east-2=error,SP006@Prod-W1-OneBox/us-east-2=error,SP007@Prod-W1-OneBox/=error", strings.Join(rules, ","))
	assert.Len(t, doc.Rules, len(verify.Rules))
}

// TestVerifyHostileInput: every rejected input exits 2 with one line per
// problem, each a "safepipe:" line free of control characters, and never
// a stack trace.
func TestVerifyHostileInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	pass, err := os.ReadFile(filepath.Join("..", "..", "verify", "testdata", "pass", "pipeline.template.json"))
	require.NoError(t, err)
	dup := write("dup.json", `{"Resources": {"A": {"Type": "AWS::Lambda::Alias"}, "A": {"Type": "AWS::Lambda::Alias"}, "a": {"Type": "x"}}}`)
	cases := []struct {
		name  string
		args  []string
		lines int
		want  string
	}{
		{"duplicate and case-variant keys", []string{dup}, 2, `duplicate key "A"`},
		{"trailing data", []string{write("trail.json", string(pass)+"}]}")}, 1, "data after the JSON document"},
		{"max-int wait time", []string{write("wait.json", strings.Replace(string(pass), `"WaitTime": "720"`, `"WaitTime": "9223372036854775807"`, 1))}, 1, "(limit 86400)"},
		{"escape sequence in the file name", []string{filepath.Join(dir, "no\x1b[2Jsuch.json")}, 1, `no\x1b[2Jsuch.json`},
		{"a device", []string{"/dev/zero"}, 1, "is not a regular file or a directory"},
		{"a config of the wrong case", []string{"--config", write("cfg.json", `{"PRODUCTION": "x", "Floors": {}}`), write("ok.json", string(pass))}, 2, `unknown field "PRODUCTION" (did you mean "production"?)`},
		{"two paths", []string{"a", "b"}, 1, "verify takes one PATH, got 2: a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(append([]string{"verify"}, c.args...)...)
			assert.Equal(t, 2, code, "stdout: %s\nstderr: %s", out, errOut)
			assert.Empty(t, out)
			assert.Contains(t, errOut, c.want)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			problems := 0
			for _, l := range lines {
				assert.True(t, strings.HasPrefix(l, "safepipe: "), "%q", l)
				assert.Equal(t, verify.Escape(l), l, "no control characters")
				if !strings.HasSuffix(l, ":") {
					problems++
				}
			}
			assert.Equal(t, c.lines, problems, "one line per problem:\n%s", errOut)
			assert.NotContains(t, errOut, "goroutine")
		})
	}
}

func TestVerifyHelpAndRules(t *testing.T) {
	code, out, errOut := runCLI("verify", "-h")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "usage: safepipe verify")
	assert.Empty(t, errOut)
	code, out, _ = runCLI("verify", "--rules")
	assert.Equal(t, 0, code)
	for _, r := range verify.Rules {
		assert.Contains(t, out, r.ID+"  "+r.Name)
	}
	code, _, errOut = runCLI("verify", "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "flag provided but not defined: -bogus")
}

// TestVerifySaysWhatItHides: a lone pipeline template that passes every
// rule exits 0, and the text report says that findings below the
// threshold exist (SP035: the stacks it deploys were not read) and how to
// see them.
func TestVerifySaysWhatItHides(t *testing.T) {
	path := filepath.Join("..", "..", "verify", "testdata", "pass", "pipeline.template.json")
	code, out, _ := runCLI("verify", path)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "0 error(s), 0 warning(s), 0 info, 0 suppressed (threshold warning)\n")
	assert.Contains(t, out, "1 finding(s) below the threshold not shown (SP035; --severity info shows them)\n")

	code, out, _ = runCLI("verify", "--severity", "info", path)
	assert.Equal(t, 1, code, "at threshold info, an info finding fails")
	assert.Contains(t, out, "INFO       SP035 unread-production-stack: ")
	assert.NotContains(t, out, "below the threshold")
}
