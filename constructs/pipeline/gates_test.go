package pipeline

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/verify"
	"github.com/safepipe/safepipe/waves"
)

// bigWave has 13 regions, more than a condition's five rules can watch.
var bigWave = []string{
	"ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
	"eu-central-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-2", "us-west-1", "us-west-2",
}

func readPipeline(t *testing.T, stack awscdk.Stack, region string) verify.Pipeline {
	t.Helper()
	b, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	require.NoError(t, err)
	tpl, err := verify.ParseTemplate(bytes.NewReader(b), "")
	require.NoError(t, err)
	tpl.Region = region
	ps := tpl.Pipelines()
	require.Len(t, ps, 1)
	return ps[0]
}

// TestSafetyGatesWatchEveryRegion renders the gates over a plan with a
// 13-region wave and checks, for every gated stage of the plan, that the
// stage rolls back on failure, keeps the window, blocks on every region's
// aggregate alarm and bakes every region for the plan's bake.
func TestSafetyGatesWatchEveryRegion(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Policy.Waves = [][]string{{"eu-north-1"}, bigWave, {"ap-east-1", "me-south-1"}}
	props.Policy.Window = waves.Window{TimeZone: "Europe/Dublin", Holidays: []string{"2026-12-25"}}
	props.Gates = []Gate{SafetyGates{Team: "shop", OrganizationAlarm: "org-freeze"}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	pl := readPipeline(t, stack, "eu-west-1")
	byName := map[string]verify.Stage{}
	for _, s := range pl.Stages {
		byName[s.Name] = s
	}

	type gated struct {
		name    string
		regions []string
		oneBox  bool
		bake    time.Duration
		prod    bool
	}
	var want []gated
	for _, s := range p.Plan().Stages {
		g := gated{name: s.Name, bake: s.Bake, prod: true, oneBox: s.Kind == waves.KindOneBox}
		for _, tg := range s.Targets {
			g.regions = append(g.regions, tg.Region)
		}
		want = append(want, g)
	}
	gamma := []string{"eu-north-1"}
	gamma = append(gamma, bigWave...)
	want = append(want, gated{name: StageGammaOneBox, regions: gamma, oneBox: true, bake: waves.FloorOneBox}, gated{name: StageGamma, regions: gamma, bake: 30 * time.Minute})
	require.Contains(t, strings.Join(p.StageNames(), ","), "Prod-W2-Regional")

	sawBigStage := false
	for _, g := range want {
		s, ok := byName[g.name]
		require.True(t, ok, g.name)
		assert.Equal(t, g.regions, s.DeployRegions(), "%s deploys the plan's regions", g.name)
		require.NotNil(t, s.OnFailure, g.name)
		assert.Equal(t, "ROLLBACK", s.OnFailure.Result, g.name)
		if g.prod {
			require.NotNil(t, s.BeforeEntry, g.name)
			assert.Equal(t, "FAIL", s.BeforeEntry.Result, g.name)
			// The window holds the stage; alarms are checked when it
			// starts (CodePipeline does not re-check alarm rules of a
			// condition that waited for a window).
			for _, r := range s.BeforeEntry.Rules {
				assert.Equal(t, "DeploymentWindow", r.Provider, g.name)
			}
		}
		if w, ok := s.WindowRule(); g.prod {
			require.True(t, ok, "%s has a deployment window", g.name)
			assert.Equal(t, "* * 9-15 ? * MON-THU", w.Configuration["Cron"])
			assert.Equal(t, "Europe/Dublin", w.Configuration["TimeZone"])
			act, ok := s.Action(StepBlockers)
			require.True(t, ok, "%s refuses holidays", g.name)
			assert.Equal(t, "2026-12-25", act.Env["SAFEPIPE_HOLIDAYS"])
		}

		blocked := map[string]string{}
		for _, w := range s.Blockers() {
			blocked[w.Region] = w.Alarm
		}
		assert.Equal(t, "org-freeze", blocked["eu-west-1"], "%s: the organisation alarm blocks (pipeline region)", g.name)
		baked := map[string]verify.Watch{}
		for _, w := range s.Bakes() {
			_, dup := baked[w.Region]
			assert.False(t, dup, "%s bakes %s once", g.name, w.Region)
			baked[w.Region] = w
		}
		for _, r := range g.regions {
			if r != "eu-west-1" {
				assert.Equal(t, alarms.AggregateName("shop"), blocked[r], "%s blocks on %s's aggregate", g.name, r)
			}
			w, ok := baked[r]
			if assert.True(t, ok, "%s bakes %s", g.name, r) {
				assert.Equal(t, alarms.BakeName("shop", g.oneBox), w.Alarm, "%s %s", g.name, r)
				assert.Equal(t, int(g.bake/time.Minute), w.Minutes, "%s bakes %s for the plan's bake", g.name, r)
			}
		}
		assert.Len(t, baked, len(g.regions), "%s watches exactly its regions", g.name)
		if len(g.regions) > MaxNativeRegions {
			sawBigStage = true
			_, ok := s.Action(StepBake)
			assert.True(t, ok, "%s fans in through the Bake action", g.name)
			assert.Nil(t, s.OnSuccess, g.name)
		} else {
			assert.Len(t, s.OnSuccess.Rules, len(g.regions), g.name)
		}
	}
	assert.True(t, sawBigStage)

	// The pipeline role may assume the watch roles the native rules name
	// (CDK may move the statement to an overflow managed policy).
	b, err := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	require.NoError(t, err)
	assert.Contains(t, string(b), `"Sid":"SafepipeRuleRoles"`)
	assert.Contains(t, string(b), ":iam::333333333333:role/cdk-hnb659fds-lookup-role-333333333333-eu-north-1")
}

func TestSafetyGatesErrorsAndExpedite(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Gates = []Gate{SafetyGates{Team: "Not A Team"}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), `SafetyGates.Team "Not A Team"`)

	_, stack = toolchain()
	props = smallProps()
	props.Policy.ExpediteReason = "SEV2 fix for TT-1234"
	props.Policy.Bakes = waves.Bakes{OneBox: 10 * time.Minute, FirstWave: 30 * time.Minute, LaterWaves: 15 * time.Minute}
	props.Gates = []Gate{SafetyGates{Team: "shop"}}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{
		"Variables": []any{map[string]any{"Name": ExpediteVariable, "DefaultValue": "SEV2 fix for TT-1234", "Description": assertions.Match_AnyValue()}},
		"Tags":      assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "safepipe:expedite", "Value": "SEV2 fix for TT-1234"}}),
	})
	pl := readPipeline(t, stack, "eu-west-1")
	for _, s := range pl.Stages {
		if s.Name == "Prod-W1-Regional" {
			require.Len(t, s.Bakes(), 1)
			assert.Equal(t, 30, s.Bakes()[0].Minutes, "the expedited bake is what the rule watches")
			assert.Equal(t, "ROLLBACK", s.OnFailure.Result, "expedited changes still roll back")
		}
	}
}

// TestSplitStageBakesEveryPart: when the planner splits a step into parts,
// the last part's bake watches every part's regions for the step's bake.
func TestSplitStageBakesEveryPart(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Policy.Waves = [][]string{{"eu-north-1"}, {"eu-west-1", "us-east-1", "ap-south-1"}}
	props.Policy.ActionsPerTarget = 20 // two targets per part
	props.Gates = []Gate{SafetyGates{Team: "shop"}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	pl := readPipeline(t, stack, "eu-west-1")
	var last verify.Stage
	for _, s := range pl.Stages {
		if s.Name == "Prod-W2-Regional-P2" {
			last = s
		}
	}
	require.Equal(t, []string{"us-east-1"}, last.DeployRegions())
	var regions []string
	for _, w := range last.Bakes() {
		regions = append(regions, w.Region)
		assert.Equal(t, 120, w.Minutes)
	}
	assert.ElementsMatch(t, []string{"eu-west-1", "us-east-1", "ap-south-1"}, regions)
}

// TestOrganizationAlarmInAnotherAccount: the Blockers action assumes the
// organisation alarm's role when it names one.
func TestOrganizationAlarmInAnotherAccount(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	role := "arn:aws:iam::444444444444:role/org-alarm-reader"
	props.Gates = []Gate{SafetyGates{Team: "shop", OrganizationAlarm: "org-freeze", OrganizationAlarmRegion: "us-east-1", OrganizationAlarmRoleArn: role}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	pl := readPipeline(t, stack, "eu-west-1")
	for _, s := range pl.Stages {
		if s.Name != "Prod-W1-Regional" {
			continue
		}
		act, ok := s.Action(StepBlockers)
		require.True(t, ok)
		assert.Contains(t, act.Env["SAFEPIPE_WATCH"], role+" us-east-1 org-freeze")
	}
}
