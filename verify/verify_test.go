package verify

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rulesOf counts the unsuppressed findings per rule, except SP035: a lone
// pipeline template never holds the stacks it deploys, so every fixture
// that is one reports it (TestUnreadStacksAreSaid checks it).
func rulesOf(r *Report) map[string]int {
	out := map[string]int{}
	for _, f := range checked(r) {
		if !f.Suppressed {
			out[f.Rule]++
		}
	}
	return out
}

// unwindowed removes every DeploymentWindow rule from a pipeline
// template (and the conditions left empty): a window makes a stage
// production (model.Roles), so tests of the other ways production is
// recognised take them out. The production stages then report SP005.
func unwindowed(t *testing.T, s string) string {
	t.Helper()
	var tpl map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &tpl))
	for _, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::CodePipeline::Pipeline" {
			continue
		}
		for _, st := range res["Properties"].(map[string]any)["Stages"].([]any) {
			stage := st.(map[string]any)
			be, _ := stage["BeforeEntry"].(map[string]any)
			if be == nil {
				continue
			}
			var conds []any
			for _, c := range be["Conditions"].([]any) {
				cond := c.(map[string]any)
				var rules []any
				for _, rl := range cond["Rules"].([]any) {
					if rl.(map[string]any)["RuleTypeId"].(map[string]any)["Provider"] != "DeploymentWindow" {
						rules = append(rules, rl)
					}
				}
				if len(rules) > 0 {
					cond["Rules"] = rules
					conds = append(conds, cond)
				}
			}
			if len(conds) == 0 {
				delete(stage, "BeforeEntry")
			} else {
				be["Conditions"] = conds
			}
		}
	}
	out, err := json.MarshalIndent(tpl, "", " ")
	require.NoError(t, err)
	return string(out)
}

// checked is the report's findings without SP035 (see rulesOf).
func checked(r *Report) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Rule != RuleUnreadStack {
			out = append(out, f)
		}
	}
	return out
}

// TestEveryRuleHasAFailingAndAPassingFixture runs each rule's failing
// fixture (it must report the rule) and its passing fixture (it must
// report nothing at all).
func TestEveryRuleHasAFailingAndAPassingFixture(t *testing.T) {
	pipeline := "testdata/pass/pipeline.template.json"
	service := "testdata/pass/service.template.json"
	cases := map[string]struct{ fail, pass string }{
		RuleSuppressionReason:  {"fail/SP000-suppression-without-reason.template.json", pipeline},
		RuleRollback:           {"fail/SP001-no-rollback.template.json", pipeline},
		RuleBakeMissing:        {"fail/SP002-no-bake.template.json", pipeline},
		RuleBakeShort:          {"fail/SP003-short-bake.template.json", pipeline},
		RuleBakeCoverage:       {"fail/SP004-bake-misses-a-region.template.json", pipeline},
		RuleWindow:             {"fail/SP005-no-window.template.json", pipeline},
		RuleBlocker:            {"fail/SP006-no-blocker.template.json", pipeline},
		RuleFirstStage:         {"fail/SP007-first-stage-two-regions.template.json", pipeline},
		RuleTwoCells:           {"fail/SP008-two-azs-of-one-region.template.json", pipeline},
		RuleRegionTwice:        {"fail/SP009-region-deployed-twice.template.json", pipeline},
		RulePreProd:            {"fail/SP010-no-beta-no-gamma-one-box.template.json", pipeline},
		RuleLimits:             {"fail/SP011-too-many-actions.template.json", pipeline},
		RuleDeployAlarms:       {"fail/SP012-deployment-group-without-alarms.template.json", service},
		RuleDeployRollback:     {"fail/SP013-no-rollback-on-alarm.template.json", service},
		RuleMinHealthy:         {"fail/SP014-half-the-fleet.template.json", service},
		RuleZonalMonitor:       {"fail/SP015-zonal-without-monitor.template.json", service},
		RuleAliasShift:         {"fail/SP016-alias-shifted-at-once.template.json", service},
		RuleAggregate:          {"assembly-fail-SP017", "testdata/assembly-pass"},
		RuleNoProduction:       {"fail/SP018-production-unrecognised.template.json", pipeline},
		RuleV1:                 {"fail/SP019-v1-pipeline-with-conditions.template.json", pipeline},
		RuleConditionLimits:    {"fail/SP020-six-rules-in-a-condition.template.json", pipeline},
		RuleWindowCoverage:     {"fail/SP021-window-always-open-as-a-list.template.json", pipeline},
		RuleAlarmContract:      {"assembly-fail-SP022", "testdata/assembly-pass"},
		RuleECSCircuitBreaker:  {"fail/SP023-ecs-without-circuit-breaker.template.json", service},
		RuleECSAlarms:          {"fail/SP024-ecs-without-alarms.template.json", service},
		RuleAppConfigStrategy:  {"fail/SP025-appconfig-all-at-once.template.json", service},
		RuleAppConfigMonitors:  {"fail/SP026-appconfig-without-monitors.template.json", service},
		RuleTemplateLimits:     {"fail/SP027-too-many-resources.template.json", service},
		RuleNoOpStage:          {"assembly-fail-SP028", "testdata/assembly-pass"},
		RuleUnverifiable:       {"fail/SP034-prod-deploys-through-codebuild.template.json", pipeline},
		RuleGateInRollback:     {"fail/SP029-blocker-in-rolling-back-stage.template.json", pipeline},
		RuleTwoPhase:           {"fail/SP030-prepare-and-activate-in-one-release.template.json", service},
		RuleUpgradeDowngrade:   {"fail/SP031-no-upgrade-downgrade-test.template.json", pipeline},
		RuleStructureChurn:     {"fail/SP032-release-value-in-an-action.template.json", pipeline},
		RuleTrustCondition:     {"fail/SP033-role-trusts-an-account-root.template.json", service},
		RuleUnreadStack:        {"pass/pipeline.template.json", "testdata/assembly-pass"},
		RuleRegionRollback:     {"fail/SP036-onebox-stack-left-on-the-change.template.json", pipeline},
		RuleOneBoxWhole:        {"assembly-fail-SP037", "testdata/assembly-pass"},
		RuleRampOutlastsBake:   {"assembly-fail-SP038", "testdata/assembly-pass"},
		RuleAlarmNameCollision: {"../../sim/testdata/defect-alarm-name-collision", "testdata/assembly-pass"},
	}
	for _, r := range Rules {
		c, ok := cases[r.ID]
		require.True(t, ok, "rule %s has fixtures", r.ID)
		t.Run(r.ID, func(t *testing.T) {
			rep, err := Path(filepath.Join("testdata", c.fail), nil)
			require.NoError(t, err)
			reported := false
			for _, f := range rep.Findings {
				reported = reported || f.Rule == r.ID
			}
			assert.True(t, reported, "%s reports %s: %v", c.fail, r.ID, rep.Findings)
			assert.True(t, rep.Failed(Info))
			for _, f := range rep.Findings {
				assert.NotEmpty(t, f.Message)
				assert.NotEmpty(t, f.Fix)
			}
			rep, err = Path(c.pass, nil)
			require.NoError(t, err)
			if r.ID == RuleUnreadStack {
				assert.Empty(t, rep.Findings, "%s passes every rule", c.pass)
			} else {
				assert.Empty(t, checked(rep), "%s passes every rule", c.pass)
			}
		})
	}
}

// TestUnsafeVariantsAreCaught: pipelines that look gated but are not.
func TestUnsafeVariantsAreCaught(t *testing.T) {
	for fixture, want := range map[string]map[string]int{
		"SP002-bake-before-deploy":             {RuleBakeMissing: 1},
		"SP002-bake-on-ok-state":               {RuleBakeMissing: 1},
		"SP004-last-part-misses-earlier-parts": {RuleBakeCoverage: 2},
		"SP005-entry-skips":                    {RuleWindow: 1},
		"SP005-window-always-open":             {RuleWindowCoverage: 1},
		"SP014-ecs-half-the-tasks":             {RuleMinHealthy: 1},
		"SP019-v1-pipeline-with-conditions":    {RuleV1: 2},
		"SP020-six-rules-in-a-condition":       {RuleConditionLimits: 2},
		"SP021-window-always-open-as-a-list":   {RuleWindowCoverage: 2},
		"SP025-appconfig-growth-100":           {RuleAppConfigStrategy: 1},
		"SP006-blocker-after-deploy":           {RuleBlocker: 1},
		"SP006-blocker-rule-behind-window":     {RuleBlocker: 1},
		"SP033-role-trusts-an-account-root":    {RuleTrustCondition: 2},
	} {
		t.Run(fixture, func(t *testing.T) {
			rep, err := Path(filepath.Join("testdata", "fail", fixture+".template.json"), nil)
			require.NoError(t, err)
			assert.Equal(t, want, rulesOf(rep), "%+v", rep.Findings)
		})
	}
}

func TestFindingDetails(t *testing.T) {
	rep, err := Path("testdata/fail/SP004-bake-misses-a-region.template.json", nil)
	require.NoError(t, err)
	require.Len(t, checked(rep), 1)
	f := checked(rep)[0]
	assert.Equal(t, Finding{
		Rule: RuleBakeCoverage, Name: "bake-every-region", Severity: Error,
		Pipeline: "PipelineCodePipeline", Stage: "Prod-W2-Regional", Region: "us-west-2",
		Template: "testdata/fail/SP004-bake-misses-a-region.template.json",
		Message:  "stage Prod-W2-Regional deploys to us-west-2 but its bake does not watch that region's aggregate alarm",
		Fix:      ruleInfo(RuleBakeCoverage).Fix,
	}, f, "an action without Region runs in the pipeline's region, inferred from its home artifact store")

	rep, err = Path("testdata/fail/SP003-short-bake.template.json", nil)
	require.NoError(t, err)
	require.Len(t, checked(rep), 1)
	assert.Equal(t, "stage Prod-W1-Regional bakes us-east-1 for 30 min; the last stage of the first wave needs 720 min", checked(rep)[0].Message)
}

func TestSuppressions(t *testing.T) {
	path := "testdata/fail/SP005-no-window.template.json"
	cfg, err := ReadConfig(strings.NewReader(`{"suppressions": [{"rule": "deployment-window", "stage": "Prod-W2-OneBox", "reason": "follow-the-sun team, TT-42"}]}`))
	require.NoError(t, err)
	rep, err := Path(path, cfg)
	require.NoError(t, err)
	require.Len(t, checked(rep), 1)
	assert.True(t, checked(rep)[0].Suppressed)
	assert.Equal(t, "follow-the-sun team, TT-42", checked(rep)[0].Reason)
	assert.False(t, rep.Failed(Warning), "a suppressed finding does not fail")

	_, err = ReadConfig(strings.NewReader(`{"suppressions": [{"rule": "SP005"}]}`))
	assert.ErrorContains(t, err, "has no reason")
	_, err = ReadConfig(strings.NewReader(`{"production": "("}`))
	assert.ErrorContains(t, err, `config production "("`)
	_, err = ReadConfig(strings.NewReader(`{"prod": "x"}`))
	assert.ErrorContains(t, err, "unknown field")
	_, err = ReadConfig(strings.NewReader(`{"part": "-P\\d+$"}`))
	assert.ErrorContains(t, err, "needs a capture group")

	// In the template: metadata on the pipeline, with a reason.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var tpl map[string]any
	require.NoError(t, json.Unmarshal(b, &tpl))
	res := tpl["Resources"].(map[string]any)["PipelineCodePipeline"].(map[string]any)
	res["Metadata"].(map[string]any)["safepipe:suppress"] = []any{map[string]any{"rule": "SP005", "reason": "window enforced by the change calendar"}}
	b, _ = json.Marshal(tpl)
	rep, err = TemplateReader(bytes.NewReader(b), "inline", nil)
	require.NoError(t, err)
	require.Len(t, checked(rep), 1)
	assert.True(t, checked(rep)[0].Suppressed)
}

func TestConfigRecognisesOtherNaming(t *testing.T) {
	// A pipeline that names its production stages "Live-…" and gives
	// them no window deploys, but nothing tells verify which stages are
	// production: SP018, and no production rule is checked. With its own
	// patterns, it is gated.
	b, err := os.ReadFile("testdata/fail/SP001-no-rollback.template.json")
	require.NoError(t, err)
	renamed := unwindowed(t, strings.ReplaceAll(string(b), `"Prod-`, `"Live-`))
	rep, err := TemplateReader(strings.NewReader(renamed), "renamed", nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleNoProduction: 1}, rulesOf(rep))
	assert.Contains(t, checked(rep)[0].Message, "Live-W1-OneBox (us-east-1)")
	rep, err = TemplateReader(strings.NewReader(renamed), "renamed", &Config{Production: `^Live-`, Wave: `^Live-(W\d+)`})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleRollback: 1, RuleWindow: 7}, rulesOf(rep), "production, and without its windows")
}

// TestProductionRoles: production is recognised from names
// (case-insensitively), stack tags, accounts and stage order; an approval
// stage named like production is not the first production stage.
func TestProductionRoles(t *testing.T) {
	b, err := os.ReadFile("testdata/pass/pipeline.template.json")
	require.NoError(t, err)
	for _, c := range []struct {
		name    string
		edit    func(string) string
		cfg     *Config
		want    map[string]int
		message string
	}{
		{"lower case names", func(s string) string { return strings.ReplaceAll(s, `"Prod-`, `"prod-`) }, nil, map[string]int{}, ""},
		// PreProd-… plays gamma, not production: a pipeline of
		// pre-production stages reaches no production (no SP018, and no
		// production rule applies).
		{"pre-prod is not production", func(s string) string { return strings.ReplaceAll(s, `"Prod-`, `"PreProd-`) }, nil, map[string]int{}, ""},
		// Live-… says nothing, but a deployment window in front of a
		// stage makes it production: the pipeline is gated as before.
		{"unrecognised names behind windows", func(s string) string { return strings.ReplaceAll(s, `"Prod-`, `"Live-`) }, nil, map[string]int{}, ""},
		{"unrecognised names without windows", func(s string) string { return unwindowed(t, strings.ReplaceAll(s, `"Prod-`, `"Live-`)) }, nil, map[string]int{RuleNoProduction: 1}, "Live-W1-OneBox"},
		// A pipeline whose deploying stages all play a pre-production
		// role never reaches production: no SP018.
		{"pre-production names only", func(s string) string { return strings.ReplaceAll(s, `"Prod-`, `"Staging-`) }, nil, map[string]int{}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := TemplateReader(strings.NewReader(c.edit(string(b))), "pipeline", c.cfg)
			require.NoError(t, err)
			if c.want != nil {
				assert.Equal(t, c.want, rulesOf(rep), "%+v", rep.Findings)
			}
			if c.name == "unrecognised names behind windows" {
				i := slices.IndexFunc(rep.Stages, func(s StageReport) bool { return s.Stage == "Live-W1-OneBox" })
				require.GreaterOrEqual(t, i, 0)
				assert.Equal(t, StageReport{Pipeline: "PipelineCodePipeline", Stage: "Live-W1-OneBox", Deploys: true, Production: true, Why: "its entry holds a deployment window"}, rep.Stages[i])
			}
			if c.message != "" {
				found := false
				for _, f := range rep.Findings {
					found = found || strings.Contains(f.Message, c.message) || f.Stage == c.message
				}
				assert.True(t, found, "%+v", rep.Findings)
			}
		})
	}
}

// TestApprovalStageBeforeProduction: a stage that only approves is not the
// first production stage; the first stage that deploys to production is,
// and deploying every region at once there is caught.
func TestApprovalStageBeforeProduction(t *testing.T) {
	b, err := os.ReadFile("testdata/fail/SP007-first-stage-two-regions.template.json")
	require.NoError(t, err)
	var tpl map[string]any
	require.NoError(t, json.Unmarshal(b, &tpl))
	props := tpl["Resources"].(map[string]any)["PipelineCodePipeline"].(map[string]any)["Properties"].(map[string]any)
	stages := props["Stages"].([]any)
	approval := map[string]any{"Name": "ProdApproval", "Actions": []any{map[string]any{
		"Name": "Approve", "ActionTypeId": map[string]any{"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
	}}}
	var out []any
	for _, s := range stages {
		if s.(map[string]any)["Name"] == "Prod-W1-OneBox" {
			out = append(out, approval)
		}
		out = append(out, s)
	}
	props["Stages"] = out
	b, _ = json.Marshal(tpl)
	rep, err := TemplateReader(bytes.NewReader(b), "approval", nil)
	require.NoError(t, err)
	var first []string
	for _, f := range rep.Findings {
		if f.Rule == RuleFirstStage {
			first = append(first, f.Stage)
		}
	}
	assert.Equal(t, []string{"Prod-W1-OneBox"}, first, "the approval stage is not production; the stage deploying two regions is")
}

// TestProductionByTag: a pipeline whose production stages have other names
// is gated when its production stacks carry a production tag: the usual
// Environment tag by default, any tag by configuration.
func TestProductionByTag(t *testing.T) {
	copyRenamed := func(t *testing.T, tag string) string {
		dir := t.TempDir()
		err := filepath.Walk("testdata/assembly-pass", func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel("testdata/assembly-pass", path)
			s := strings.ReplaceAll(string(b), "Prod-", "Live-")
			if strings.HasSuffix(rel, "Pipeline.template.json") {
				s = unwindowed(t, s) // a window would make the stages production
			}
			if strings.HasSuffix(path, "manifest.json") && strings.Contains(rel, "Prod-") {
				// tag the production stacks
				s = strings.ReplaceAll(s, `"templateFile"`, `"tags": {`+tag+`}, "templateFile"`)
			}
			if strings.HasSuffix(rel, "Pipeline.template.json") {
				// and remove one production stage's rollback
				var tpl map[string]any
				require.NoError(t, json.Unmarshal([]byte(s), &tpl))
				stages := tpl["Resources"].(map[string]any)["PipelineCodePipeline"].(map[string]any)["Properties"].(map[string]any)["Stages"].([]any)
				for _, st := range stages {
					if st.(map[string]any)["Name"] == "Live-W1-Regional" {
						delete(st.(map[string]any), "OnFailure")
					}
				}
				out, _ := json.Marshal(tpl)
				s = string(out)
			}
			target := filepath.Join(dir, strings.ReplaceAll(rel, "Prod-", "Live-"))
			require.NoError(t, os.MkdirAll(filepath.Dir(target), 0o755))
			return os.WriteFile(target, []byte(s), 0o644)
		})
		require.NoError(t, err)
		return dir
	}
	wave := `^Live-(W\d+)`
	dir := copyRenamed(t, `"Environment": "Production"`)
	rep, err := Assembly(dir, &Config{Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleRollback: 1, RuleWindow: 4}, rulesOf(rep), "Environment=Production makes a stack production: %+v", rep.Findings)

	dir = copyRenamed(t, `"tier": "live"`)
	rep, err = Assembly(dir, &Config{Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleNoProduction: 1}, rulesOf(rep), "an unknown tag says nothing: %+v", rep.Findings)
	rep, err = Assembly(dir, &Config{ProductionTag: "Tier=LIVE", Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleRollback: 1, RuleWindow: 4}, rulesOf(rep), "the configured tag, case-insensitively: %+v", rep.Findings)

	dir = copyRenamed(t, `"Environment": "Рrod"`) // a Cyrillic Р
	rep, err = Assembly(dir, &Config{Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleRollback: 1, RuleWindow: 4}, rulesOf(rep), "a look-alike tag value still means production: %+v", rep.Findings)

	// By account: the production account, and no other.
	dir = copyRenamed(t, `"tier": "live"`)
	rep, err = Assembly(dir, &Config{ProductionAccounts: []string{"333333333333"}, Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleRollback: 1, RuleWindow: 4}, rulesOf(rep), "the production account: %+v", rep.Findings)
	rep, err = Assembly(dir, &Config{ProductionAccounts: []string{"999999999999"}, Wave: wave})
	require.NoError(t, err)
	assert.Equal(t, map[string]int{RuleNoProduction: 1}, rulesOf(rep), "another account: %+v", rep.Findings)

	_, err = ReadConfig(strings.NewReader(`{"productionTag": "production"}`))
	assert.ErrorContains(t, err, "must be key=value")
	_, err = ReadConfig(strings.NewReader(`{"productionAccounts": ["12345"]}`))
	assert.ErrorContains(t, err, `productionAccounts[0] "12345" is not a 12-digit AWS account`)
}

func TestUnreadableInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	cases := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"malformed", write("bad.json", `{"Resources": {`), "is not a valid JSON CloudFormation template"},
		{"no resources", write("empty.json", `{"AWSTemplateFormatVersion": "2010-09-09"}`), "has no Resources section"},
		{"trailing data", write("two.json", `{"Resources": {}} {}`), "data after the JSON document"},
		{"nothing to verify", write("bucket.json", `{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}`), "nothing to verify"},
		{"directory without manifest", filepath.Join(dir, "sub"), "no cloud assembly manifest"},
		{"malformed manifest", filepath.Dir(write("asm/manifest.json", `{"artifacts": [`)), "malformed manifest"},
		{"missing stack template", filepath.Dir(write("asm2/manifest.json", `{"artifacts": {"S": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "S.template.json"}}}}`)), "stack S"},
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Path(c.path, nil)
			assert.Nil(t, rep)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	var first string
	for range 3 {
		rep, err := Path("testdata/fail/SP007-first-stage-two-regions.template.json", nil)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, WriteJSON(&b, rep, Info))
		require.NoError(t, WriteText(&b, rep, Info))
		if first == "" {
			first = b.String()
		}
		assert.Equal(t, first, b.String())
	}
	assert.Contains(t, first, `"severity": "error"`)
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"info": Info, "WARNING": Warning, "warn": Warning, "error": Error} {
		got, err := ParseSeverity(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseSeverity("fatal")
	assert.ErrorContains(t, err, `"fatal"`)
}

// TestReviewerFalsePositives: shapes a reviewer of other teams' pipelines
// found flagged wrongly, each read as it runs:
//   - an ECS service of one task at MinimumHealthyPercent 50 keeps its task
//     ("rounded up to the nearest integer"): no capacity dropped (SP014);
//   - a region whose deployments watch one alarm has that alarm as its
//     aggregate (SP017).
func TestReviewerFalsePositives(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fail", "SP014-ecs-half-the-tasks.template.json"))
	require.NoError(t, err)
	one := strings.Replace(string(b), `"DesiredCount": 3`, `"DesiredCount": 1`, 1)
	rep, err := TemplateReader(strings.NewReader(one), "one-task.template.json", nil)
	require.NoError(t, err)
	assert.Zero(t, rulesOf(rep)[RuleMinHealthy], "%+v", rep.Findings)

	single := &alarm{tpl: &Template{Region: "r"}, name: "only"}
	other := &alarm{tpl: &Template{Region: "r"}, name: "other"}
	assert.True(t, single.covers([]*alarm{single}), "the one high-severity alarm plays the aggregate role")
	assert.False(t, single.covers([]*alarm{single, other}), "not for two")
}

// TestConditionalPipeline: Fn::If around a stage and PipelineType is read
// with the parameters' defaults (it was an unreadable-input error), and a
// pipeline whose Condition is false is not analysed.
func TestConditionalPipeline(t *testing.T) {
	tpl, err := ParseTemplate(mustOpenFile(t, filepath.Join("testdata", "pass", "conditional-stages.template.json")), "conditional-stages.template.json")
	require.NoError(t, err)
	ps := tpl.Pipelines()
	require.Len(t, ps, 1, "the pipeline whose Condition is false is not there")
	assert.Equal(t, "V2", ps[0].Type)
	var names []string
	for _, s := range ps[0].Stages {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"Source", "Test"}, names)
}

func mustOpenFile(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestUnreadStacksAreSaid: a lone pipeline template deploys stacks whose
// templates are not in the input, so the rules on what a production stack
// holds have nothing to check; verify says so once per pipeline (SP035,
// info) instead of passing them in silence. An assembly holds them all.
func TestUnreadStacksAreSaid(t *testing.T) {
	rep, err := Path("testdata/pass/pipeline.template.json", nil)
	require.NoError(t, err)
	var unread []Finding
	for _, f := range rep.Findings {
		if f.Rule == RuleUnreadStack {
			unread = append(unread, f)
		}
	}
	require.Len(t, unread, 1, "%+v", rep.Findings)
	assert.Equal(t, Info, unread[0].Severity)
	assert.False(t, rep.Failed(Warning), "an info finding does not fail the default threshold")
	assert.Regexp(t, `^\d+ production deployment\(s\) deploy what verify cannot read: stack orders-service from \S+ \(stage Prod-W1-OneBox\); `, unread[0].Message)
	assert.Contains(t, unread[0].Message, "more. What they hold")

	rep, err = Path("testdata/assembly-pass", nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Findings, "an assembly holds every template it deploys")
}

// TestPartialRegionRollback: the simulator's fixture of the zonal shape
// (a one-box group deployed by a stage of its own, the fleet by the next)
// leaves the one-box on the change when the fleet's stage rolls back
// (SP036); with the gate controller told to roll the one-box stage back
// with it, nothing is reported. The fleet's stage deploys a revision to a
// group the one-box stage did not, so it is no no-op (SP028).
func TestPartialRegionRollback(t *testing.T) {
	rep, err := Path("../sim/testdata/defect-ec2-onebox-stage-kept", nil)
	require.NoError(t, err)
	got := rulesOf(rep)
	assert.Equal(t, 1, got[RuleRegionRollback], "%+v", rep.Findings)
	assert.Zero(t, got[RuleNoOpStage])
	rep, err = Path("../sim/testdata/zonal-region-rollback", nil)
	require.NoError(t, err)
	assert.Zero(t, rulesOf(rep)[RuleRegionRollback])
}
