package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/twophase"
	"github.com/safepipe/safepipe/waves"
)

// bigWave has 13 regions, more than a condition's five rules could watch
// one by one.
var bigWave = []string{
	"ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
	"eu-central-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-2", "us-west-1", "us-west-2",
}

// synthesized is what the tests read of a pipeline stack: its stages, the
// gate controller's configuration, and every resource.
type synthesized struct {
	stages    map[string]pipelineStage
	order     []string
	gates     gates.Config
	resources map[string]map[string]any
}

func synthesize(t *testing.T, stack awscdk.Stack) synthesized {
	t.Helper()
	tpl := assertions.Template_FromStack(stack, nil)
	out := synthesized{stages: map[string]pipelineStage{}, resources: map[string]map[string]any{}}
	for _, s := range stagesOf(t, stack) {
		out.stages[s.Name] = s
		out.order = append(out.order, s.Name)
	}
	for id, r := range *tpl.ToJSON() {
		if id != "Resources" {
			continue
		}
		for lid, res := range r.(map[string]any) {
			out.resources[lid] = res.(map[string]any)
		}
	}
	for _, r := range out.resources {
		if r["Type"] != "AWS::Lambda::Function" {
			continue
		}
		if meta, ok := r["Metadata"].(map[string]any)[MetadataGates]; ok {
			b, err := json.Marshal(meta)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &out.gates))
		}
	}
	return out
}

// rules returns a condition's rules by name.
func rules(cond map[string]any) (string, map[string]map[string]any) {
	if cond == nil {
		return "", nil
	}
	c := cond["Conditions"].([]any)[0].(map[string]any)
	out := map[string]map[string]any{}
	for _, r := range c["Rules"].([]any) {
		rule := r.(map[string]any)
		out[rule["Name"].(string)] = rule
	}
	return c["Result"].(string), out
}

func configuration(rule map[string]any) map[string]any {
	return rule["Configuration"].(map[string]any)
}

func gateStage(c gates.Config, name string) (gates.Stage, bool) {
	for _, s := range c.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return gates.Stage{}, false
}

// TestSafetyGatesWatchEveryRegion renders the default gates over a plan
// with a 13-region wave and checks every gated stage: rollback on failure;
// an entry gate (window, holidays, organisation alarm, every region's
// aggregate) before anything in the stage runs; a bake over every region
// it deployed; and the controller, its alarms and the permissions that let
// each rule and the controller read what they watch.
func TestSafetyGatesWatchEveryRegion(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Policy.Waves = [][]string{{"eu-north-1"}, bigWave, {"ap-east-1", "me-south-1"}}
	props.Policy.Window = waves.Window{TimeZone: "Europe/Dublin", Holidays: []string{"2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"}}
	props.Gates = []Gate{SafetyGates{OrganizationAlarm: "org-freeze"}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	out := synthesize(t, stack)
	cfg := out.gates
	require.NoError(t, cfg.Validate(), "the controller's configuration is valid")
	assert.Equal(t, "Toolchain-Pipeline", cfg.Pipeline)
	assert.Equal(t, &gates.Alarm{Account: "111111111111", Region: "eu-west-1", Name: "org-freeze"}, cfg.Organization)
	assert.Equal(t, []string{"2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"}, cfg.Window.Holidays)

	sawBig := false
	for _, ps := range p.Plan().Stages {
		name := ps.Name
		s, ok := out.stages[name]
		require.True(t, ok, name)
		assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, s.OnFailure, name)

		result, entry := rules(s.BeforeEntry)
		assert.Equal(t, "FAIL", result, "%s: a closed entry gate refuses; it never rolls back", name)
		gate := configuration(entry[RuleEntryGate])
		assert.Equal(t, GateMetricAlarm(cfg.Pipeline, name, "entry"), gate["AlarmName"], name)
		assert.Equal(t, "ALARM", gate["AlarmStates"], name)
		assert.Equal(t, fmt.Sprint((113+24)*60), gate["WaitTime"], "%s waits through the longest closed stretch (Wednesday 23 December 16:00 to Monday 28 December 09:00) and a day", name)
		assert.Len(t, entry, 1, "%s: the entry gate alone holds the stage; a native window rule could hold a rollback until morning", name)

		assert.Nil(t, s.OnSuccess, "%s: the bake is an action of the stage, not a condition that may pass at once", name)
		assert.Equal(t, []gates.BakeRequest{{Stage: name, Part: 1, Parts: 1, Minutes: int(ps.Bake / time.Minute)}}, bakeActions(t, out, s), "%s bakes for the plan's bake", name)

		gs, ok := gateStage(cfg, name)
		require.True(t, ok, "the controller watches %s", name)
		assert.True(t, gs.Window, name)
		assert.Equal(t, int(ps.Bake/time.Minute), gs.BakeMinutes, name)
		var blocked, baked []string
		for _, a := range gs.Blockers {
			assert.Equal(t, alarms.Names{Team: "shop", Environment: "prod"}.Aggregate(), a.Name, name)
			assert.Equal(t, "svc-prod", a.Stack, "%s: the controller knows the stack that creates the alarm", name)
			assert.Equal(t, WatchRoleArn("aws", "333333333333", cfg.Pipeline), a.Role, name)
			blocked = append(blocked, a.Region)
		}
		for _, a := range gs.Bake {
			assert.Equal(t, alarms.Names{Team: "shop", Environment: "prod"}.Bake(ps.Kind == waves.KindOneBox), a.Name, name)
			baked = append(baked, a.Region)
		}
		assert.Equal(t, ps.Regions(), blocked, "%s blocks on every region it deploys", name)
		assert.Equal(t, ps.Regions(), baked, "%s bakes every region it deploys", name)
		sawBig = sawBig || len(blocked) > MaxRulesPerCondition
	}
	assert.True(t, sawBig, "a stage of more regions than a condition's rules is watched in full")
	for _, name := range []string{StageGammaOneBox, StageGamma} {
		s := out.stages[name]
		_, entry := rules(s.BeforeEntry)
		assert.Contains(t, entry, RuleEntryGate, name)
		gs, _ := gateStage(cfg, name)
		assert.False(t, gs.Window, name)
		assert.Equal(t, alarms.Names{Team: "shop", Environment: "gamma"}.Aggregate(), gs.Blockers[0].Name)
	}
	for _, name := range []string{StageAlpha, StageBeta} {
		assert.Nil(t, out.stages[name].BeforeEntry, name)
		_, ok := gateStage(cfg, name)
		assert.False(t, ok, name)
	}

	// Every gate rule's alarm exists in the pipeline's account and region,
	// on the controller's metric, and fails closed.
	gateAlarms := map[string]map[string]any{}
	for _, r := range out.resources {
		if r["Type"] == "AWS::CloudWatch::Alarm" {
			props := r["Properties"].(map[string]any)
			gateAlarms[props["AlarmName"].(string)] = props
		}
	}
	for _, name := range out.order {
		for _, cond := range []map[string]any{out.stages[name].BeforeEntry, out.stages[name].OnSuccess} {
			_, rs := rules(cond)
			for _, r := range rs {
				if r["RuleTypeId"].(map[string]any)["Provider"] != "CloudWatchAlarm" {
					continue
				}
				assert.Nil(t, r["Region"], "gate rules read the pipeline's own region")
				assert.Nil(t, r["RoleArn"], "gate rules read the pipeline's own account")
				a, ok := gateAlarms[configuration(r)["AlarmName"].(string)]
				if assert.True(t, ok, "%s: %s has its alarm", name, r["Name"]) {
					assert.Equal(t, gates.Namespace, a["Namespace"])
					assert.Equal(t, "breaching", a["TreatMissingData"], "a silent controller closes the gate")
				}
			}
		}
	}
	checkPolicies(t, out)
}

// checkPolicies walks the synthesized IAM policies: the pipeline role
// (CloudWatchAlarm rules run as it) may read every gate alarm, and the
// controller may read every alarm, assume every watch role of its
// configuration, read the pipeline's state and publish its metrics.
func checkPolicies(t *testing.T, out synthesized) {
	t.Helper()
	allowed := map[string][]string{} // role logical ID → "action resource"
	for _, r := range out.resources {
		// CDK moves statements past a policy's size limit into overflow
		// managed policies attached to the same role.
		if r["Type"] != "AWS::IAM::Policy" && r["Type"] != "AWS::IAM::ManagedPolicy" {
			continue
		}
		props := r["Properties"].(map[string]any)
		doc := props["PolicyDocument"].(map[string]any)
		for _, role := range props["Roles"].([]any) {
			roleID := role.(map[string]any)["Ref"].(string)
			for _, st := range doc["Statement"].([]any) {
				stmt := st.(map[string]any)
				if stmt["Effect"] != "Allow" {
					continue
				}
				for _, a := range list(stmt["Action"]) {
					for _, res := range list(stmt["Resource"]) {
						allowed[roleID] = append(allowed[roleID], a+" "+res)
					}
				}
			}
		}
	}
	may := func(roleID, action, resourceSuffix string) bool {
		for _, g := range allowed[roleID] {
			a, res, _ := strings.Cut(g, " ")
			if a == action && (res == "*" || strings.HasSuffix(res, resourceSuffix+`"]]}`) || strings.HasSuffix(res, resourceSuffix)) {
				return true
			}
		}
		return false
	}
	var pipelineRole, controllerRole string
	for id, r := range out.resources {
		if r["Type"] == "AWS::CodePipeline::Pipeline" {
			pipelineRole = r["Properties"].(map[string]any)["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		}
		if r["Type"] == "AWS::Lambda::Function" && r["Metadata"].(map[string]any)[MetadataGates] != nil {
			controllerRole = r["Properties"].(map[string]any)["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		}
		_ = id
	}
	require.NotEmpty(t, pipelineRole)
	require.NotEmpty(t, controllerRole)
	for _, name := range out.order {
		for _, cond := range []map[string]any{out.stages[name].BeforeEntry, out.stages[name].OnSuccess} {
			_, rs := rules(cond)
			for _, r := range rs {
				if alarm, ok := configuration(r)["AlarmName"].(string); ok {
					assert.True(t, may(pipelineRole, "cloudwatch:DescribeAlarms", ":alarm:"+alarm), "the pipeline role reads %s (%s)", alarm, name)
				}
			}
		}
	}
	assert.True(t, may(controllerRole, "cloudwatch:DescribeAlarms", "*"), "composite alarms need DescribeAlarms on *")
	assert.True(t, may(controllerRole, "cloudwatch:DescribeAlarmHistory", "*"))
	assert.True(t, may(controllerRole, "cloudwatch:PutMetricData", "*"))
	assert.True(t, may(controllerRole, "codepipeline:GetPipelineState", ":"+out.gates.Pipeline))
	for _, s := range out.gates.Stages {
		for _, a := range append(slices.Clone(s.Blockers), s.Bake...) {
			if a.Role != "" {
				assert.True(t, may(controllerRole, "sts:AssumeRole", a.Role), "the controller assumes %s", a.Role)
			}
		}
	}
}

func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			} else {
				b, _ := json.Marshal(e)
				out = append(out, string(b))
			}
		}
		return out
	default:
		b, _ := json.Marshal(v)
		return []string{string(b)}
	}
}

// TestAlarmContract: a gate watching an alarm that no stack creates, and
// two stacks creating one alarm name in an account and region, are synth
// errors naming the alarm, the account, the region and the stage.
func TestAlarmContract(t *testing.T) {
	// The service names its alarms after another team.
	_, stack := toolchain()
	props := smallProps()
	props.Service = alarmedWith(func(d Deployment) alarms.Names { n := d.Alarms; n.Team = "shop-team"; return n })
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.ErrorContains(t, p.Err(), `pipeline: alarm "shop-prod-aggregate-rollback": the entry gate of stages Prod-W1-OneBox, Prod-W1-Regional`)
	assert.ErrorContains(t, p.Err(), `in account 333333333333, regions eu-north-1`)
	assert.ErrorContains(t, p.Err(), `create it in the service stack with alarms.NewRollbackAlarms`)
	assert.ErrorContains(t, p.Err(), `pipeline: alarm "shop-gamma-bake": the bake of stage Gamma watches it in account 111111111111`)
	assert.ErrorContains(t, p.Err(), `the stacks there create "shop-team-gamma-bake" (a name typed twice?`, "the near miss is named")
	// One error per alarm name, whatever the number of stages and regions
	// that watch it.
	for _, line := range strings.Split(p.Err().Error(), "\n") {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, `pipeline: alarm "`), `"`)
		assert.Equal(t, 1, strings.Count(p.Err().Error(), `pipeline: alarm "`+name+`":`), line)
	}

	// Every environment uses one name: alpha and beta collide.
	_, stack = toolchain()
	props = smallProps()
	props.Service = alarmedWith(func(d Deployment) alarms.Names { return alarms.Names{Team: "shop", Environment: "all"} })
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.ErrorContains(t, p.Err(), `pipeline: alarm "shop-all-aggregate-rollback" is created by two stacks in account 111111111111, region eu-west-1: svc-alpha (stage Alpha) and svc-beta (stage Beta)`)
}

// TestAlarmContractReadsTheTemplates: the contract is what the stage's
// templates create, not what the constructs were given: a name an escape
// hatch overrides is the name CloudFormation creates (the gate watching
// the original name would pass forever), and alarms inside a nested stack
// count for its parent's account and region.
func TestAlarmContractReadsTheTemplates(t *testing.T) {
	overridden := ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := alarmedService.NewStage(scope, id, d)
		if d.Environment == Gamma {
			for _, c := range *st.Node().FindAll(constructs.ConstructOrder_PREORDER) {
				if a, ok := c.(awscloudwatch.CfnCompositeAlarm); ok && *a.AlarmName() == d.Alarms.Bake(false) {
					a.AddPropertyOverride(jsii.String("AlarmName"), "renamed-by-hand")
				}
			}
		}
		return st
	})
	_, stack := toolchain()
	props := smallProps()
	props.Service = overridden
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.ErrorContains(t, p.Err(), `pipeline: alarm "shop-gamma-bake": the bake of stage Gamma watches it in account 111111111111, regions eu-north-1, eu-west-1, us-east-1, and no stack of the pipeline creates it there`)

	nested := ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
		parent := awscdk.NewStack(st, jsii.String("Svc"), &awscdk.StackProps{StackName: jsii.String("svc-" + string(d.Environment) + "-" + d.Target.Region)})
		inner := awscdk.NewNestedStack(parent, jsii.String("Alarms"), nil)
		n := d.Alarms
		for i, name := range []string{n.Aggregate(), n.Bake(false), n.Bake(true)} {
			awscloudwatch.NewCfnCompositeAlarm(inner, jsii.String(fmt.Sprint("A", i)), &awscloudwatch.CfnCompositeAlarmProps{
				AlarmName: jsii.String(name), AlarmRule: jsii.String(`ALARM("x")`),
			})
		}
		return st
	})
	_, stack = toolchain()
	props = smallProps()
	props.Service = nested
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
}

// TestSafeByDefault: a pipeline without gates gets SafetyGates; going
// without needs a reason, which the template records.
func TestSafeByDefault(t *testing.T) {
	_, stack := toolchain()
	p := NewBasePipeline(stack, jsii.String("Pipeline"), smallProps())
	require.NoError(t, p.Err())
	out := synthesize(t, stack)
	for _, ps := range p.Plan().Stages {
		_, entry := rules(out.stages[ps.Name].BeforeEntry)
		assert.Contains(t, entry, RuleEntryGate, ps.Name)
		assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, out.stages[ps.Name].OnFailure, ps.Name)
	}

	_, stack = toolchain()
	props := smallProps()
	props.Service = tinyService
	props.UngatedReason = "load-test pipeline in a sandbox account"
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{
		"Variables": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"Name": UngatedVariable, "DefaultValue": props.UngatedReason})}),
		"Tags":      assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "safepipe:ungated", "Value": props.UngatedReason}}),
	})
	for _, s := range stagesOf(t, stack) {
		assert.Nil(t, s.BeforeEntry, s.Name)
		assert.Nil(t, s.OnFailure, s.Name)
	}

	_, stack = toolchain()
	props = smallProps()
	props.UngatedReason = "why not"
	props.Gates = []Gate{SafetyGates{}}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	assert.ErrorContains(t, p.Err(), "UngatedReason is set and Gates are given")
}

func TestSafetyGatesErrorsAndExpedite(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Gates = []Gate{SafetyGates{EntryWait: 100 * 24 * time.Hour}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), `SafetyGates.EntryWait is 2400h0m0s; want 1 minute to 1440h0m0s`)

	_, stack = toolchain()
	props = smallProps()
	props.Policy.ExpediteReason = "SEV2 fix for TT-1234"
	props.Policy.Bakes = waves.Bakes{OneBox: 10 * time.Minute, FirstWave: 30 * time.Minute, LaterWaves: 15 * time.Minute}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{
		"Variables": []any{map[string]any{"Name": ExpediteVariable, "DefaultValue": "SEV2 fix for TT-1234", "Description": assertions.Match_AnyValue()}},
		"Tags":      assertions.Match_ArrayWith(&[]any{map[string]any{"Key": "safepipe:expedite", "Value": "SEV2 fix for TT-1234"}}),
	})
	for _, s := range stagesOf(t, stack) {
		if s.Name == "Prod-W1-Regional" {
			assert.Equal(t, 30, bakeActions(t, out2(t, stack), s)[0].Minutes, "the expedited bake is what the action holds")
			assert.Equal(t, "ROLLBACK", s.OnFailure["Result"], "expedited changes still roll back")
		}
	}
}

// TestSplitStageBakesEveryPart: when the planner splits a step into parts,
// the last part's bake watches every part's regions for the step's bake;
// and the planner splits from what one target really deploys (here two
// stacks: four actions), so CDK Pipelines never splits a stage behind it.
func TestSplitStageBakesEveryPart(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	many := []string{"eu-west-1", "us-east-1", "ap-south-1", "eu-central-1", "us-west-2", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2",
		"ca-central-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-2"}
	props.Policy.Waves = [][]string{{"eu-north-1"}, many}
	props.GammaRegions = []string{"eu-north-1", "eu-west-1"}
	props.ChangeSets = true // a Prepare and a Deploy action per stack
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := alarmedService.NewStage(scope, id, d)
		extra := awscdk.NewStack(st, jsii.String("Extra"), &awscdk.StackProps{StackName: jsii.String("svc-extra-" + string(d.Environment))})
		awscdk.NewCfnWaitConditionHandle(extra, jsii.String("Placeholder"), nil)
		return st
	})
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	var parts []waves.Stage
	for _, s := range p.Plan().Stages {
		if strings.HasPrefix(s.Name, "Prod-W2-Regional-P") {
			parts = append(parts, s)
		}
	}
	require.Len(t, parts, 2, "13 targets of 4 actions each need two parts of at most 50 actions")
	out := synthesize(t, stack)
	for _, part := range parts {
		assert.LessOrEqual(t, len(out.stages[part.Name].Actions), waves.MaxActionsPerStage)
	}
	last, ok := gateStage(out.gates, parts[1].Name)
	require.True(t, ok)
	var regions []string
	for _, a := range last.Bake {
		regions = append(regions, a.Region)
	}
	assert.ElementsMatch(t, many, regions)
	assert.Equal(t, 120, last.BakeMinutes)
}

// TestOrganizationAlarmInAnotherAccount: the controller assumes the
// organisation alarm's role when it names one.
func TestOrganizationAlarmInAnotherAccount(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	role := "arn:aws:iam::444444444444:role/org-alarm-reader"
	props.Gates = []Gate{SafetyGates{OrganizationAlarm: "org-freeze", OrganizationAlarmAccount: "444444444444", OrganizationAlarmRegion: "us-east-1", OrganizationAlarmRoleArn: role}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	out := synthesize(t, stack)
	assert.Equal(t, &gates.Alarm{Account: "444444444444", Region: "us-east-1", Name: "org-freeze", Role: role}, out.gates.Organization)
	checkPolicies(t, out)
}

// ledgerKeeper stands for deploy's alias controller (which imports this
// package): a construct that keeps a two-phase ledger.
type ledgerKeeper struct {
	constructs.Construct
	parameter string
}

func (l *ledgerKeeper) LedgerParameter() string { return l.parameter }

// TestActivationWaitsForEveryPreparedTarget: a release that activates a
// two-phase change keeps the entry of every gated stage closed until every
// ledger of the production stages, and of the stage's own, shows the
// change's prepare serving all traffic; a release that only prepares adds
// nothing; a stage without a ledger could never start and fails synth.
func TestActivationWaitsForEveryPreparedTarget(t *testing.T) {
	activate := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangeActivate}
	prepare := twophase.Change{Name: "invoice-v3", Phase: twophase.ChangePrepare}
	withLedger := ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := alarmedService.NewStage(scope, id, d)
		stack := st.Node().FindChild(jsii.String("Svc")).(awscdk.Stack)
		l := &ledgerKeeper{parameter: "/safepipe/two-phase/svc-" + string(d.Environment) + "/live"}
		constructs.NewConstruct_Override(l, stack, jsii.String("Alias"))
		return st
	})
	_, stack := toolchain()
	props := smallProps()
	props.Service = withLedger
	props.Gates = []Gate{SafetyGates{Changes: []twophase.Change{activate, prepare}}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	out := synthesize(t, stack)
	cfg := out.gates
	require.NoError(t, cfg.Validate())
	access, ok := p.Node().TryFindChild(jsii.String(StageAccess)).(awscdk.Stage)
	require.True(t, ok, "the access stage")
	watch, ok := access.Node().TryFindChild(jsii.String("Watch-333333333333")).(awscdk.Stack)
	require.True(t, ok, "the production account's access stack")
	checkControllerCalls(t, out, resourcesOf(t, watch), "svc-prod", "/safepipe/two-phase/svc-prod/live")

	var prod []string
	for _, s := range p.Plan().Stages {
		for _, tg := range s.Targets {
			if !slices.Contains(prod, tg.Region) {
				prod = append(prod, tg.Region)
			}
		}
	}
	require.NotEmpty(t, prod)
	require.NotEmpty(t, cfg.Stages)
	for _, s := range cfg.Stages {
		byRegion := map[string][]string{}
		for _, r := range s.Prepared {
			assert.Equal(t, "order-record-v2", r.Change, s.Name, "a change this release only prepares gates nothing")
			assert.Equal(t, WatchRoleArn("aws", r.Account, cfg.Pipeline), r.Role)
			byRegion[r.Region] = append(byRegion[r.Region], r.Parameter)
		}
		for _, region := range prod {
			assert.Contains(t, byRegion[region], "/safepipe/two-phase/svc-prod/live", "%s waits for %s to be prepared", s.Name, region)
		}
		if strings.HasPrefix(s.Name, "Gamma") {
			found := false
			for _, ps := range byRegion {
				found = found || slices.Contains(ps, "/safepipe/two-phase/svc-gamma/live")
			}
			assert.True(t, found, "%s waits for its own ledger too", s.Name)
		}
	}

	// Both phases of one change in one release: a synth error.
	_, stack = toolchain()
	props = smallProps()
	props.Service = withLedger
	both := activate
	both.Phase = twophase.ChangePrepare
	props.Gates = []Gate{SafetyGates{Changes: []twophase.Change{both, activate}}}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), `SafetyGates.Changes[1].Name "order-record-v2" appears twice`)

	// No ledger anywhere: the activation could never start.
	_, stack = toolchain()
	props = smallProps()
	props.Gates = []Gate{SafetyGates{Changes: []twophase.Change{activate}}}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), "deploys no Lambda alias controller that keeps a two-phase ledger")
}

// TestZonalGatesWatchTheRegion: a zonal service has one aggregate per AZ
// stack (alarm names are unique per region), so the region's aggregate is
// the AZs' together. Every step into an AZ blocks on every AZ's aggregate
// of its region and bakes on its own bake alarm and the other AZs'
// aggregates, each with the stack that creates it, so that the region's
// first deployment is not blocked by AZs it has not reached yet.
func TestZonalGatesWatchTheRegion(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Policy.Shape = waves.ShapeZonal
	props.Policy.Waves = [][]string{{"eu-north-1"}, {"eu-west-1"}}
	props.Catalog = waves.DefaultCatalog()
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
		stack := awscdk.NewStack(st, jsii.String("Svc"), &awscdk.StackProps{StackName: jsii.String("svc-" + d.Alarms.Prefix())})
		for i, name := range []string{d.Alarms.Aggregate(), d.Alarms.Bake(false), d.Alarms.Bake(true)} {
			awscloudwatch.NewCfnCompositeAlarm(stack, jsii.String(fmt.Sprint("A", i)), &awscloudwatch.CfnCompositeAlarmProps{
				AlarmName: jsii.String(name), AlarmRule: jsii.String(`ALARM("x")`),
			})
		}
		return st
	})
	props.Gates = []Gate{SafetyGates{}}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	out := synthesize(t, stack)
	zonal := 0
	for _, ps := range p.Plan().Stages {
		gs, ok := gateStage(out.gates, ps.Name)
		require.True(t, ok, ps.Name)
		require.Len(t, ps.Targets, 1, ps.Name)
		tg := ps.Targets[0]
		require.NotEmpty(t, tg.AZ, "%s deploys one AZ", ps.Name)
		zonal++
		region, ok := props.Catalog.Region(tg.Region)
		require.True(t, ok)
		require.Greater(t, len(region.AZs), 1)
		cell := func(az string) alarms.Names { return alarms.Names{Team: "shop", Environment: "prod", Cell: az} }
		var blockers, bake []gates.Alarm
		for _, az := range region.AZs {
			a := gates.Alarm{Account: "333333333333", Region: tg.Region, Name: cell(az).Aggregate(), Role: WatchRoleArn("aws", "333333333333", out.gates.Pipeline), Stack: "svc-" + cell(az).Prefix()}
			blockers = append(blockers, a)
			if az == tg.AZ {
				own := a
				own.Name, own.Stack = cell(az).Bake(tg.OneBox), ""
				bake = append([]gates.Alarm{own}, bake...)
			} else {
				bake = append(bake, a)
			}
		}
		assert.ElementsMatch(t, blockers, gs.Blockers, "%s blocks on every AZ's aggregate of %s", ps.Name, tg.Region)
		assert.ElementsMatch(t, bake, gs.Bake, "%s bakes on its own bake alarm and the other AZs' aggregates", ps.Name)
		// When a step rolls back, the region's earlier steps go back with
		// it: CodePipeline rolls back the failed stage only.
		var earlier []string
		for _, e := range p.Plan().Stages {
			if e.Name == ps.Name {
				break
			}
			if e.Wave == ps.Wave {
				earlier = append(earlier, e.Name)
			}
		}
		assert.Equal(t, earlier, gs.RollsBack, ps.Name)
	}
	assert.Greater(t, zonal, 4)
	// The controller may roll back exactly those stages (RollbackStage on
	// the stage resources), and every other call it makes is granted.
	access, ok := p.Node().TryFindChild(jsii.String(StageAccess)).(awscdk.Stage)
	require.True(t, ok, "the access stage")
	watch, ok := access.Node().TryFindChild(jsii.String("Watch-333333333333")).(awscdk.Stack)
	require.True(t, ok)
	checkControllerCalls(t, out, resourcesOf(t, watch), "svc-shop-prod-eun1-az1", "")
}

// bakeActions returns the bake requests of a stage's bake actions, and
// checks that each is a Lambda invoke action of the controller's function
// that runs after every other action of the stage.
func bakeActions(t *testing.T, out synthesized, s pipelineStage) []gates.BakeRequest {
	t.Helper()
	var controller string
	for id, r := range out.resources {
		if r["Type"] == "AWS::Lambda::Function" && r["Metadata"].(map[string]any)[MetadataGates] != nil {
			controller = id
		}
	}
	last := 0
	for _, a := range s.Actions {
		if !strings.HasPrefix(a["Name"].(string), BakeActionName) {
			last = max(last, int(a["RunOrder"].(float64)))
		}
	}
	var out2 []gates.BakeRequest
	for _, a := range s.Actions {
		if !strings.HasPrefix(a["Name"].(string), BakeActionName) {
			continue
		}
		assert.Equal(t, map[string]any{"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"}, a["ActionTypeId"])
		cfg := a["Configuration"].(map[string]any)
		assert.Equal(t, map[string]any{"Ref": controller}, cfg["FunctionName"], "the gate controller's function")
		assert.Greater(t, int(a["RunOrder"].(float64)), last, "%s runs after every deploy and test action", a["Name"])
		req, err := gates.ParseBakeRequest([]byte(cfg["UserParameters"].(string)))
		require.NoError(t, err)
		out2 = append(out2, req)
	}
	return out2
}

// out2 synthesizes a stack's pipeline for bakeActions.
func out2(t *testing.T, stack awscdk.Stack) synthesized { return synthesize(t, stack) }
