package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGateController: safepipe's gate controller rules are read as the
// alarms its gates.json says they stand for (safepipe_gates.go).
func TestGateController(t *testing.T) {
	rep, err := Assembly("testdata/assembly-gates", nil)
	require.NoError(t, err)
	assert.Empty(t, rep.Findings, "the controller's blockers and bakes cover every region")

	editGates := func(t *testing.T, edit func(cfg map[string]any)) string {
		return copyAssembly(t, "testdata/assembly-gates", func(rel, s string) string {
			if !strings.HasSuffix(rel, "gates.json") {
				return s
			}
			var cfg map[string]any
			require.NoError(t, json.Unmarshal([]byte(s), &cfg))
			edit(cfg)
			b, _ := json.Marshal(cfg)
			return string(b)
		})
	}
	stage := func(cfg map[string]any, name string) map[string]any {
		for _, s := range cfg["stages"].([]any) {
			if s.(map[string]any)["name"] == name {
				return s.(map[string]any)
			}
		}
		t.Fatalf("no stage %s", name)
		return nil
	}
	cases := []struct {
		name string
		edit func(cfg map[string]any)
		want map[string]int
	}{
		{"a region left out of the blockers", func(cfg map[string]any) {
			s := stage(cfg, "Prod-W2-OneBox")
			s["blockers"] = s["blockers"].([]any)[1:]
		}, map[string]int{RuleBlocker: 1}},
		{"no bake alarms", func(cfg map[string]any) {
			delete(stage(cfg, "Prod-W1-Regional"), "bake")
		}, map[string]int{RuleBakeMissing: 1}},
		{"a stage outside the window", func(cfg map[string]any) {
			stage(cfg, "Prod-W1-OneBox")["window"] = false
		}, map[string]int{RuleWindow: 1}},
		{"a window open all week", func(cfg map[string]any) {
			cfg["window"] = map[string]any{"timeZone": "UTC", "days": []any{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, "startHour": 0, "endHour": 24}
		}, map[string]int{RuleWindowCoverage: 4}},
		{"a window that never opens", func(cfg map[string]any) {
			cfg["window"].(map[string]any)["days"] = []any{}
		}, map[string]int{RuleWindowCoverage: 4}},
		{"a window without a window", func(cfg map[string]any) {
			delete(cfg, "window")
		}, map[string]int{RuleWindow: 4}},
		{"a bake on an alarm nobody creates", func(cfg map[string]any) {
			b := stage(cfg, "Prod-W1-OneBox")["bake"].([]any)[0].(map[string]any)
			b["name"] = "orders-onebox-bake-v2"
		}, map[string]int{RuleAlarmContract: 1, RuleBakeMissing: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Assembly(editGates(t, c.edit), nil)
			require.NoError(t, err)
			assert.Equal(t, c.want, rulesOf(rep), "%+v", rep.Findings)
		})
	}

	// A DeploymentWindow rule beside an alarm rule makes the alarm rule go
	// stale (safepipe_gates.go): a stage the controller does not hold to the
	// window, with such a rule, has no blocker verify can count.
	t.Run("a window rule beside the gate", func(t *testing.T) {
		dir := editGates(t, func(cfg map[string]any) {
			stage(cfg, "Prod-W1-OneBox")["window"] = false
		})
		tpl := filepath.Join(dir, "Pipeline.template.json")
		b, err := os.ReadFile(tpl)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal(b, &doc))
		for _, r := range doc["Resources"].(map[string]any) {
			props := r.(map[string]any)["Properties"].(map[string]any)
			stages, _ := props["Stages"].([]any)
			for _, st := range stages {
				st := st.(map[string]any)
				if st["Name"] != "Prod-W1-OneBox" {
					continue
				}
				cond := st["BeforeEntry"].(map[string]any)["Conditions"].([]any)[0].(map[string]any)
				cond["Rules"] = append(cond["Rules"].([]any), map[string]any{
					"Name":          "Window",
					"RuleTypeId":    map[string]any{"Category": "Rule", "Owner": "AWS", "Provider": "DeploymentWindow", "Version": "1"},
					"Configuration": map[string]any{"Cron": "* * 9-15 ? * MON-THU", "TimeZone": "America/Los_Angeles"},
				})
			}
		}
		b, _ = json.Marshal(doc)
		require.NoError(t, os.WriteFile(tpl, b, 0o644))
		rep, err := Assembly(dir, nil)
		require.NoError(t, err)
		assert.Equal(t, map[string]int{RuleBlocker: 1}, rulesOf(rep), "%+v", rep.Findings)
	})

	t.Run("no gates.json", func(t *testing.T) {
		dir := copyAssembly(t, "testdata/assembly-gates", func(_, s string) string { return s })
		matches, _ := filepath.Glob(filepath.Join(dir, "asset.*", "gates.json"))
		require.Len(t, matches, 1)
		require.NoError(t, os.Remove(matches[0]))
		rep, err := Assembly(dir, nil)
		require.NoError(t, err)
		got := rulesOf(rep)
		assert.NotZero(t, got[RuleBlocker], "a gate alarm whose inputs are unknown blocks nothing verify can see: %+v", rep.Findings)
		assert.NotZero(t, got[RuleBakeMissing])
	})
	t.Run("a malformed gates.json", func(t *testing.T) {
		dir := copyAssembly(t, "testdata/assembly-gates", func(rel, s string) string {
			if strings.HasSuffix(rel, "gates.json") {
				return `{"version": 1, "version": 2}`
			}
			return s
		})
		_, err := Assembly(dir, nil)
		assert.ErrorContains(t, err, `gates.json:1:16: duplicate key "version"`)
	})
}

// TestGateControllerInALoneTemplate: the pipeline's template alone (no
// assembly, so no asset directory) still carries the controller's
// configuration, as metadata on its function ("safepipe:gates"): verify
// reads the gate rules as the alarms they stand for instead of reporting
// every gated stage as unguarded.
func TestGateControllerInALoneTemplate(t *testing.T) {
	raw, err := os.ReadFile("testdata/assembly-gates/Pipeline.template.json")
	require.NoError(t, err)
	assets, err := filepath.Glob("testdata/assembly-gates/asset.*/gates.json")
	require.NoError(t, err)
	require.Len(t, assets, 1)
	cfgRaw, err := os.ReadFile(assets[0])
	require.NoError(t, err)
	withMetadata := func(cfg any) string {
		var tpl map[string]any
		require.NoError(t, json.Unmarshal(raw, &tpl))
		for _, r := range tpl["Resources"].(map[string]any) {
			r := r.(map[string]any)
			if r["Type"] == "AWS::Lambda::Function" && cfg != nil {
				r["Metadata"] = map[string]any{"safepipe:gates": cfg}
			}
			if r["Type"] == "AWS::CodePipeline::Pipeline" {
				// Alone, the pipeline's region is its home artifact store's,
				// as CDK Pipelines writes it for a cross-region pipeline (the
				// assembly's manifest says it for the fixture).
				r["Properties"].(map[string]any)["ArtifactStores"] = []any{map[string]any{
					"Region": "us-west-2", "ArtifactStore": map[string]any{"Type": "S3", "Location": map[string]any{"Ref": "ArtifactsBucket"}},
				}}
			}
		}
		b, _ := json.Marshal(tpl)
		return string(b)
	}
	var cfg any
	require.NoError(t, json.Unmarshal(cfgRaw, &cfg))

	rep, err := TemplateReader(strings.NewReader(withMetadata(nil)), "Pipeline.template.json", nil)
	require.NoError(t, err)
	unguarded := rulesOf(rep)
	assert.NotZero(t, unguarded[RuleBlocker]+unguarded[RuleBakeMissing], "without the configuration the gates cannot be read: %v", unguarded)

	rep, err = TemplateReader(strings.NewReader(withMetadata(cfg)), "Pipeline.template.json", nil)
	require.NoError(t, err)
	assert.Empty(t, checked(rep))

	// A malformed configuration is an error, not a silent pass.
	_, err = TemplateReader(strings.NewReader(withMetadata(map[string]any{"version": 7})), "Pipeline.template.json", nil)
	require.Error(t, err)
	assert.ErrorContains(t, err, "safepipe:gates")
}
