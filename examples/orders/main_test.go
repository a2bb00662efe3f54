package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/cdktest"
	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/waves"
)

// The reference app is synthesized once per test binary (one jsii process);
// every test below reads it.
var (
	refOnce     sync.Once
	refTemplate map[string]any
	refDir      string
	refPlan     *waves.Plan
	refErr      error
)

func TestMain(m *testing.M) { cdktest.Main(m) }

func reference(t testing.TB) (map[string]any, *waves.Plan, string) {
	t.Helper()
	refOnce.Do(func() {
		os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
		refDir, refErr = cdktest.TempDir("safepipe-orders-*")
		if refErr != nil {
			return
		}
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(refDir)})
		p := NewPipeline(app)
		if refErr = p.Err(); refErr != nil {
			return
		}
		refPlan = p.Plan()
		app.Synth(nil)
		var b []byte
		if b, refErr = os.ReadFile(filepath.Join(refDir, "OrdersPipeline.template.json")); refErr == nil {
			refErr = json.Unmarshal(b, &refTemplate)
		}
	})
	require.NoError(t, refErr)
	return refTemplate, refPlan, refDir
}

type stage struct {
	Name    string `json:"Name"`
	Actions []struct {
		Name          string            `json:"Name"`
		Region        string            `json:"Region"`
		ActionTypeID  map[string]string `json:"ActionTypeId"`
		Configuration map[string]any    `json:"Configuration"`
		RunOrder      int               `json:"RunOrder"`
	} `json:"Actions"`
}

func pipelineStages(t *testing.T, tpl map[string]any) (string, []stage) {
	t.Helper()
	for _, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::CodePipeline::Pipeline" {
			continue
		}
		props := res["Properties"].(map[string]any)
		b, err := json.Marshal(props["Stages"])
		require.NoError(t, err)
		var stages []stage
		require.NoError(t, json.Unmarshal(b, &stages))
		return props["PipelineType"].(string), stages
	}
	t.Fatal("no AWS::CodePipeline::Pipeline in the pipeline stack")
	return "", nil
}

func TestReferencePipelineIntent(t *testing.T) {
	tpl, plan, _ := reference(t)
	kind, stages := pipelineStages(t, tpl)
	assert.Equal(t, "V2", kind)
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	want := []string{"Source", "Build", "UpdatePipeline", "Assets", pipeline.StageAccess, "Alpha", "Beta", "Gamma-OneBox", "Gamma",
		"UpDown-UpgradeHalf", "UpDown-UpgradeFull", "UpDown-DowngradeHalf", "UpDown-DowngradeFull", "UpDown-Reupgrade"}
	preProd := len(want)
	for _, s := range plan.Stages {
		want = append(want, s.Name)
	}
	assert.Equal(t, want, names, "source, build, the watch roles, alpha, beta, gamma one-box, gamma, the upgrade-downgrade test, then the plan in order")
	assert.LessOrEqual(t, len(stages), waves.MaxStages)

	deployed := map[string]int{} // region → regional deploys
	for i, s := range stages {
		assert.LessOrEqual(t, len(s.Actions), waves.MaxActionsPerStage, s.Name)
		if !strings.HasPrefix(s.Name, "Prod-") {
			continue
		}
		ps := plan.Stages[i-preProd]
		regions := map[string]int{}
		for _, a := range s.Actions {
			if a.ActionTypeID["Provider"] == "CloudFormation" && a.Configuration["ActionMode"] == "CREATE_UPDATE" {
				region := a.Region
				if region == "" { // an action in the pipeline's own region
					region = orgbase.ToolchainRegion
				}
				regions[region]++
			}
		}
		assert.Len(t, regions, len(ps.Targets), "%s: one deploy action per target", s.Name)
		for _, tg := range ps.Targets {
			assert.Equal(t, 1, regions[tg.Region], "%s deploys %s once", s.Name, tg.Region)
			if ps.Kind == waves.KindRegional {
				deployed[tg.Region]++
			}
		}
	}
	first := plan.Stages[0]
	assert.Len(t, first.Targets, 1, "the first production stage touches exactly one region")
	// Every catalog region but the excluded one and those without
	// CodePipeline (left out by the organisation's policy, and named),
	// exactly once.
	var expect, lacking []string
	cat := waves.DefaultCatalog()
	for _, code := range cat.Codes() {
		r, _ := cat.Region(code)
		switch {
		case !r.Offers("codepipeline"):
			lacking = append(lacking, code)
		case code != "il-central-1":
			expect = append(expect, code)
		}
	}
	assert.Equal(t, []string{"ap-east-2", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "mx-central-1"}, lacking)
	assert.ElementsMatch(t, lacking, slices.Collect(maps.Keys(plan.LackingServices)), "the plan names them")
	var got []string
	for r, n := range deployed {
		assert.Equal(t, 1, n, r)
		got = append(got, r)
	}
	sort.Strings(got)
	assert.Equal(t, expect, got)
}

// TestNoActionWhereCodePipelineIsNot: "Cross-region actions are supported
// and can only be created in those AWS Regions where CodePipeline is
// supported." (CodePipeline User Guide, actions-create-cross-region.html):
// the reference has no action, and CDK no support stack, in a region the
// catalog marks without CodePipeline.
func TestNoActionWhereCodePipelineIsNot(t *testing.T) {
	tpl, _, dir := reference(t)
	cat := waves.DefaultCatalog()
	without := map[string]bool{}
	for _, r := range cat.Regions {
		if !r.Offers("codepipeline") {
			without[r.Code] = true
		}
	}
	require.NotEmpty(t, without)
	regions := map[string]bool{}
	for _, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::CodePipeline::Pipeline" {
			continue
		}
		for _, st := range res["Properties"].(map[string]any)["Stages"].([]any) {
			for _, a := range st.(map[string]any)["Actions"].([]any) {
				if region, ok := a.(map[string]any)["Region"].(string); ok {
					regions[region] = true
					assert.False(t, without[region], "action %v in %s, which has no CodePipeline", a.(map[string]any)["Name"], region)
				}
			}
		}
	}
	assert.Greater(t, len(regions), 20, "the actions' regions were read")
	manifest := map[string]any{}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &manifest))
	support := 0
	for name, a := range manifest["artifacts"].(map[string]any) {
		env, _ := a.(map[string]any)["environment"].(string)
		if strings.HasPrefix(name, "cross-region-stack-") {
			support++
			_, region, _ := strings.Cut(strings.TrimPrefix(env, "aws://"), "/")
			assert.False(t, without[region], "support stack %s in %s, which has no CodePipeline", name, region)
		}
	}
	assert.Positive(t, support)
}

func TestReferencePipelineSnapshot(t *testing.T) {
	tpl, _, _ := reference(t)
	cdktest.Golden(t, filepath.Join("testdata", "pipeline.template.golden"), tpl)
}

// TestCdkNag: the AWS Solutions checks find no unsuppressed error anywhere
// in the reference app.
func TestCdkNag(t *testing.T) {
	_, _, dir := reference(t)
	t.Logf("assembly: %s", dir)
	var findings []string
	// Synth writes each stack's metadata (where cdk-nag's findings land as
	// aws:cdk:error entries) to <stack>.metadata.json, nested stage
	// assemblies included.
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(info.Name(), ".metadata.json") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var m map[string][]struct {
			Type string `json:"type"`
			Data any    `json:"data"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for p, entries := range m {
			for _, e := range entries {
				if e.Type == "aws:cdk:error" {
					s, _ := json.Marshal(e.Data)
					findings = append(findings, p+": "+string(s))
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	sort.Strings(findings)
	assert.Empty(t, findings, "cdk-nag errors:\n%s", strings.Join(findings, "\n"))
}
