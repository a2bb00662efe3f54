package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/waves"
)

func TestMain(m *testing.M) { synth.TestMain(m) }

// tinyService deploys one placeholder resource per target, so that these
// tests exercise the pipeline, not a service.
var tinyService = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
	st := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
	stack := awscdk.NewStack(st, jsii.String("Svc"), &awscdk.StackProps{StackName: jsii.String("svc-" + string(d.Environment))})
	awscdk.NewCfnWaitConditionHandle(stack, jsii.String("Placeholder"), nil)
	return st
})

// alarmedService is tinyService with the alarms the gates watch: the
// aggregate and the bake alarms named by the deployment's Alarms (cheap
// composites, so the tests stay fast).
var alarmedService = alarmedWith(func(d Deployment) alarms.Names { return d.Alarms })

// alarmedWith names the alarms with names(d) instead of d.Alarms.
func alarmedWith(names func(Deployment) alarms.Names) Service {
	return ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
		stack := awscdk.NewStack(st, jsii.String("Svc"), &awscdk.StackProps{StackName: jsii.String("svc-" + string(d.Environment))})
		n := names(d)
		for i, name := range []string{n.Aggregate(), n.Bake(false), n.Bake(true)} {
			awscloudwatch.NewCfnCompositeAlarm(stack, jsii.String(fmt.Sprint("A", i)), &awscloudwatch.CfnCompositeAlarmProps{
				AlarmName: jsii.String(name), AlarmRule: jsii.String(`ALARM("x")`),
			})
		}
		return st
	})
}

func toolchain() (awscdk.App, awscdk.Stack) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Toolchain"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("eu-west-1")},
	})
	return app, stack
}

func smallProps() *BasePipelineProps {
	return &BasePipelineProps{
		Team:     "shop",
		Service:  alarmedService,
		Policy:   waves.Policy{Kind: waves.PolicyExplicit, Shape: waves.ShapeRegional, Waves: [][]string{{"eu-north-1"}, {"eu-west-1", "us-east-1"}}},
		Accounts: Accounts{Prod: "333333333333"},
		Source:   Source{CodeCommitRepository: "svc"},
	}
}

type pipelineStage struct {
	Name        string
	Actions     []map[string]any
	BeforeEntry map[string]any
	OnSuccess   map[string]any
	OnFailure   map[string]any
}

func stagesOf(t *testing.T, stack awscdk.Stack) []pipelineStage {
	t.Helper()
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.ResourceCountIs(jsii.String("AWS::CodePipeline::Pipeline"), jsii.Number(1))
	tpl.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{"PipelineType": "V2"})
	for _, r := range *tpl.FindResources(jsii.String("AWS::CodePipeline::Pipeline"), nil) {
		b, err := json.Marshal((*r)["Properties"].(map[string]any)["Stages"])
		require.NoError(t, err)
		var out []pipelineStage
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	return nil
}

// conditionGate is a test Gate: rollback on failure and a deployment-window
// entry rule on every gated stage.
type conditionGate struct{ seen []string }

func (g *conditionGate) Gate(s *GatedStage) error {
	g.seen = append(g.seen, s.Name)
	s.Conditions.OnFailure = &Condition{Result: "ROLLBACK"}
	s.Conditions.BeforeEntry = &Condition{Result: "FAIL", Rules: []Rule{{
		Name: "Window", Provider: "DeploymentWindow",
		Configuration: map[string]string{"Cron": s.Window.Cron(), "TimeZone": s.Window.TimeZone},
	}}}
	return nil
}

func TestStagesAndConditions(t *testing.T) {
	_, stack := toolchain()
	gate := &conditionGate{}
	props := smallProps()
	props.Gates = []Gate{gate}
	props.Zeta = true
	before := fmt.Sprintf("%+v", *props)
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	assert.Equal(t, before, fmt.Sprintf("%+v", *props), "props are not mutated")

	wantDeploy := []string{"Alpha", "Beta", "Gamma-OneBox", "Gamma", "Zeta", "Prod-W1-OneBox", "Prod-W1-Regional", "Prod-W2-OneBox", "Prod-W2-Regional"}
	assert.Equal(t, wantDeploy, p.StageNames())
	assert.Equal(t, []string{"Gamma-OneBox", "Gamma", "Prod-W1-OneBox", "Prod-W1-Regional", "Prod-W2-OneBox", "Prod-W2-Regional"}, gate.seen,
		"gates see gamma and every production stage, not alpha, beta or zeta")

	stages := stagesOf(t, stack)
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
		gated := s.Name == "Gamma" || strings.HasPrefix(s.Name, "Gamma-") || strings.HasPrefix(s.Name, "Prod-")
		if gated {
			assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, s.OnFailure, s.Name)
			require.NotNil(t, s.BeforeEntry, s.Name)
			rule := s.BeforeEntry["Conditions"].([]any)[0].(map[string]any)["Rules"].([]any)[0].(map[string]any)
			assert.Equal(t, "DeploymentWindow", rule["RuleTypeId"].(map[string]any)["Provider"], s.Name)
			assert.Equal(t, "* * 9-15 ? * MON-THU", rule["Configuration"].(map[string]any)["Cron"], s.Name)
		} else {
			assert.Nil(t, s.OnFailure, s.Name)
			assert.Nil(t, s.BeforeEntry, s.Name)
		}
	}
	assert.Equal(t, append([]string{"Source", "Build", "UpdatePipeline"}, wantDeploy...), names)
	// The first production stage deploys one region; wave 2's stages two.
	deployRegions := func(s pipelineStage) map[string]bool {
		out := map[string]bool{}
		for _, a := range s.Actions {
			if cfg, ok := a["Configuration"].(map[string]any); ok && cfg["ActionMode"] == "CREATE_UPDATE" {
				r, _ := a["Region"].(string)
				if r == "" {
					r = "eu-west-1"
				}
				out[r] = true
			}
		}
		return out
	}
	assert.Equal(t, map[string]bool{"eu-north-1": true}, deployRegions(stages[8]))
	assert.Equal(t, map[string]bool{"eu-west-1": true, "us-east-1": true}, deployRegions(stages[11]))
	// Gamma defaults to the regions of waves 1 and 2.
	assert.Equal(t, map[string]bool{"eu-north-1": true, "eu-west-1": true, "us-east-1": true}, deployRegions(stages[6]))
}

func TestEveryProblemReportedAtOnce(t *testing.T) {
	_, stack := toolchain()
	p := NewBasePipeline(stack, jsii.String("Pipeline"), &BasePipelineProps{
		Source: Source{ConnectionArn: "arn:aws:codeconnections:eu-west-1:111111111111:connection/x", Repo: "no-slash"},
	})
	require.Error(t, p.Err())
	for _, want := range []string{"Service is nil", `Source.Repo "no-slash" must be "owner/name"`, `Team "" must be lower case`} {
		assert.Contains(t, p.Err().Error(), want)
	}

	_, stack = toolchain()
	props := smallProps()
	props.Accounts = Accounts{PreProd: "12", ProdByWave: map[int]string{1: "333333333333", 7: "444444444444"}}
	props.GammaRegions = []string{"eu-west-1"}
	props.HomeRegion = "mars-1"
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	for _, want := range []string{
		`Accounts.PreProd "12" is not a 12-digit AWS account ID`,
		`Accounts.ProdByWave[7]: the plan has waves 1–2`,
		`wave 2 ([eu-west-1 us-east-1]) has no production account`,
		`HomeRegion "mars-1" is not in the catalog`,
		`gamma needs at least two regions`,
	} {
		assert.Contains(t, p.Err().Error(), want)
	}
	// The same problems are synth errors on the construct.
	msgs := assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("pipeline:.*")))
	assert.GreaterOrEqual(t, len(*msgs), 5)

	_, stack = toolchain()
	props = smallProps()
	props.Policy.Waves = [][]string{{"eu-north-1", "eu-west-1"}}
	p = NewBasePipeline(stack, jsii.String("Pipeline"), props)
	assert.ErrorContains(t, p.Err(), "the first wave must be a single region")
}

func TestPanickingServiceBecomesAnError(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		// Two stages with one id: CDK throws, jsii panics.
		awscdk.NewStage(scope, jsii.String("Same"), nil)
		return awscdk.NewStage(scope, jsii.String("Same"), nil)
	})
	var p BasePipeline
	require.NotPanics(t, func() { p = NewBasePipeline(stack, jsii.String("Pipeline"), props) })
	assert.ErrorContains(t, p.Err(), "There is already a Construct with name 'Same'")
	assert.ErrorContains(t, p.Err(), "pipeline: stage Alpha, target eu-west-1: the Service panicked")

	// A Go panic in the team's code names the stage, the target and the
	// team's frame.
	_, stack = toolchain()
	props = smallProps()
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		if d.Environment == Prod {
			var byRegion map[string]int
			byRegion[d.Target.Region]++ // assignment to entry in nil map
		}
		return alarmedService.NewStage(scope, id, d)
	})
	require.NotPanics(t, func() { p = NewBasePipeline(stack, jsii.String("Pipeline"), props) })
	require.Error(t, p.Err())
	assert.Regexp(t, `pipeline: stage Prod-W1-OneBox, target eu-north-1-onebox: the Service panicked: assignment to entry in nil map \(at .*/constructs/pipeline/pipeline_test\.go:\d+ in .*TestPanickingServiceBecomesAnError\.func\d+\)`, p.Err().Error())
}

func TestConditionValidation(t *testing.T) {
	rules := make([]Rule, 6)
	for i := range rules {
		rules[i] = Rule{Name: fmt.Sprintf("R%d", i), Provider: "CloudWatchAlarm"}
	}
	assert.ErrorContains(t, (&Condition{Result: "FAIL", Rules: rules}).validate("S", "BeforeEntry"), "6 rules, over the CodePipeline limit of 5")
	assert.ErrorContains(t, (&Condition{Result: "FAIL"}).validate("S", "OnSuccess"), "has no rules")
	assert.NoError(t, (&Condition{Result: "ROLLBACK"}).validate("S", "OnFailure"))
	assert.ErrorContains(t, (&Condition{Result: "FAIL", Rules: []Rule{{Name: "A", Provider: "Commands"}, {Name: "A", Provider: "Commands"}}}).validate("S", "BeforeEntry"), `two rules named "A"`)
	assert.ErrorContains(t, (&Condition{Result: "ROLLBACK", Rules: []Rule{{Name: "A", Provider: "Commands"}}}).validate("S", "BeforeEntry"), `result "ROLLBACK" is not one of [FAIL SKIP]`)
	assert.ErrorContains(t, (&Condition{Result: "FAIL", Rules: []Rule{{Name: "has space", Provider: "Commands"}}}).validate("S", "BeforeEntry"), `rule name "has space"`)
	assert.ErrorContains(t, (&Condition{Result: "FAIL", Rules: []Rule{{Name: "A"}}}).validate("S", "BeforeEntry"), `has no provider`)
	out := (&Condition{Result: "FAIL", Rules: []Rule{{Name: "A", Provider: "CloudWatchAlarm", Region: "us-east-1", Configuration: map[string]string{"AlarmName": "x"}}}}).render("BeforeEntry")
	b, _ := json.Marshal(out)
	assert.JSONEq(t, `{"Conditions":[{"Result":"FAIL","Rules":[{"Name":"A","Region":"us-east-1","Configuration":{"AlarmName":"x"},"RuleTypeId":{"Category":"Rule","Owner":"AWS","Provider":"CloudWatchAlarm","Version":"1"}}]}]}`, string(b))
}

func TestResolveCatalog(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/catalog.json"
	require.NoError(t, os.WriteFile(path, []byte(`{"version":"test-1","regions":[{"code":"eu-west-1","partition":"aws","name":"Ireland","azs":["euw1-az1"],"tier":"low","tz":"Europe/Dublin"}]}`), 0o644))

	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{ContextCatalogFile: path}})
	c, src, err := ResolveCatalog(app, "")
	require.NoError(t, err)
	assert.Equal(t, "test-1", c.Version)
	assert.Equal(t, CatalogSource("file:"+path), src)

	t.Setenv(EnvCatalogFile, path)
	c, _, err = ResolveCatalog(awscdk.NewApp(nil), "")
	require.NoError(t, err)
	assert.Equal(t, "test-1", c.Version, "the environment variable names a catalog file")

	t.Setenv(EnvCatalogFile, "")
	_, stack := toolchain()
	c, src, err = ResolveCatalog(stack, "/platform/safepipe/catalog")
	require.NoError(t, err)
	assert.Equal(t, waves.DefaultCatalog().Version, c.Version, "before the CLI's lookup, the embedded catalog")
	assert.Contains(t, string(src), "ssm:/platform/safepipe/catalog (pending lookup")

	app = awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{ContextCatalogFile: dir + "/missing.json"}})
	_, _, err = ResolveCatalog(app, "")
	assert.ErrorContains(t, err, "missing.json")
}

// Two pipelines in one app each own their cross-region support stacks,
// named after their own pipeline stack: with CDK's default the second
// pipeline would silently replicate through the first one's stacks, whose
// names (and buckets) change when the first pipeline is renamed or removed.
func TestTwoPipelinesOwnTheirSupportStacks(t *testing.T) {
	app := awscdk.NewApp(nil)
	env := &awscdk.Environment{Account: jsii.String("111111111111"), Region: jsii.String("eu-west-1")}
	var pipelines []BasePipeline
	for _, name := range []string{"ShopPipeline", "CartPipeline"} {
		stack := awscdk.NewStack(app, jsii.String(name), &awscdk.StackProps{Env: env})
		pipelines = append(pipelines, NewBasePipeline(stack, jsii.String("Pipeline"), smallProps()))
	}
	for _, p := range pipelines {
		require.NoError(t, p.Err())
	}
	names := map[string]bool{}
	for _, c := range *app.Node().Children() {
		if s, ok := c.(awscdk.Stack); ok {
			names[*s.StackName()] = true
		}
	}
	for _, want := range []string{"ShopPipeline-support-eu-north-1", "CartPipeline-support-eu-north-1"} {
		assert.True(t, names[want], "support stack %s (stacks: %v)", want, names)
	}
}

// neededService declares the services its stacks use (ServiceNeeds).
type neededService struct {
	Service
	needs []string
}

func (s neededService) RequiredServices() []string { return s.needs }

// TestRegionsOfferWhatThePipelineNeeds: the plan requires of every region
// the pipeline's own services, CloudWatch and what the service declares,
// and a region that lacks one fails synth, naming it; the home region also
// runs the pipeline's CodeBuild steps.
func TestRegionsOfferWhatThePipelineNeeds(t *testing.T) {
	without := func(region string, drop ...string) *waves.Catalog {
		c := waves.DefaultCatalog()
		for i, r := range c.Regions {
			if r.Code == region {
				c.Regions[i].Services = slices.DeleteFunc(slices.Clone(r.Services), func(s string) bool { return slices.Contains(drop, s) })
			}
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		catalog *waves.Catalog
		needs   []string
		want    string
	}{
		{"a production region without the service's Lambda", without("us-east-1", "lambda"), []string{"lambda"}, "plan: region us-east-1 lacks lambda, which the pipeline needs there"},
		{"a production region without CloudWatch", without("eu-north-1", "monitoring"), nil, "plan: region eu-north-1 lacks monitoring"},
		{"the home region without CodeBuild", without("eu-west-1", "codebuild"), nil, "pipeline: HomeRegion: region eu-west-1 lacks codebuild"},
		{"a service the catalog does not track", waves.DefaultCatalog(), []string{"gamelift"}, `requiredServices: no region of catalog 2026.12 lists "gamelift"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stack := toolchain()
			props := smallProps()
			props.Catalog = tc.catalog
			props.Service = neededService{Service: alarmedService, needs: tc.needs}
			p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
			require.Error(t, p.Err())
			assert.Contains(t, p.Err().Error(), tc.want)
		})
	}
	props := smallProps()
	props.Service = neededService{Service: alarmedService, needs: []string{"lambda", "ssm"}}
	assert.Equal(t, []string{"cloudformation", "codepipeline", "kms", "lambda", "monitoring", "s3", "ssm"}, requiredServices(*props))
	assert.Empty(t, props.Policy.RequiredServices, "the caller's policy is not touched")
}

// TestOneBoxStepMovingTheRegionIsRefused: a service whose one-box step
// rolls an ECS service of several tasks moves the whole region in the step
// meant to limit it: the pipeline refuses it at synth, naming the stage,
// the target and the fix (verify reports the same as SP037).
func TestOneBoxStepMovingTheRegionIsRefused(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := alarmedService.NewStage(scope, id, d)
		svc := st.Node().FindChild(jsii.String("Svc")).(awscdk.Stack)
		awsecs.NewCfnService(svc, jsii.String("Orders"), &awsecs.CfnServiceProps{DesiredCount: jsii.Number(4)})
		return st
	})
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	assert.Contains(t, p.Err().Error(), "pipeline: stage Gamma-OneBox, target")
	assert.Contains(t, p.Err().Error(), "is a one-box step, and stack svc-gamma rolls ECS service Orders (4 tasks) to the new version: the whole service")
	assert.Contains(t, p.Err().Error(), "give the one-box step its own small target")
}

// TestRampOutlastingTheBakeIsRefused: a production stage whose alias ramps
// to 100% over longer than its bake fails synth (verify SP038), naming the
// stage, the stack and both times; the same ramp in pre-production, where
// nothing bakes for a promotion to production, is left alone. The ramp is
// written as safepipe's alias controller and driver write it
// (deploy.LambdaProps.Ramp).
func TestRampOutlastingTheBakeIsRefused(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		st := alarmedService.NewStage(scope, id, d)
		if d.Target.OneBox {
			return st
		}
		svc := st.Node().FindChild(jsii.String("Svc")).(awscdk.Stack)
		state := awscdk.NewCfnResource(svc, jsii.String("RampState"), &awscdk.CfnResourceProps{Type: jsii.String("AWS::SSM::Parameter"),
			Properties: &map[string]any{"Type": "String", "Value": `{"status":"idle"}`}})
		awscdk.NewCfnResource(svc, jsii.String("RampDriver"), &awscdk.CfnResourceProps{Type: jsii.String("AWS::Lambda::Function"),
			Properties: &map[string]any{"Environment": map[string]any{"Variables": map[string]any{
				"STATE": state.Ref(), "ALARM_NAME": "a", "STEPS": `[{"after":86400,"percent":50},{"after":86400,"percent":100}]`}}}})
		awscdk.NewCfnResource(svc, jsii.String("Alias"), &awscdk.CfnResourceProps{Type: jsii.String("Custom::SafepipeAlias"),
			Properties: &map[string]any{"Mode": "canary", "Percent": "10", "RampState": state.Ref()}})
		return st
	})
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.Error(t, p.Err())
	msg := p.Err().Error()
	assert.Contains(t, msg, "pipeline: stage Prod-W1-")
	assert.Contains(t, msg, "ramps to 100% over 48h0m0s: the bake must be at least 72h4m0s")
	assert.Contains(t, msg, "shorten the ramp (deploy.Ramp.Steps) or lengthen the bake")
	assert.NotContains(t, msg, "stage Gamma ", "pre-production is not refused")
	assert.Contains(t, msg, `ramps on alarm "a", which is not a composite alarm the stage creates`)
}
