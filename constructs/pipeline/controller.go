package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/gobuild"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/waves"
)

// Controller is the pipeline's gate controller, shared by every gate: a
// Lambda function, run every minute, that reads every alarm a gate
// watches — in any account and region — and publishes one metric per gate
// (package gates decides; cmd/safepipe-gates is the function). Each gate
// is then one CloudWatchAlarm rule on an alarm of the pipeline's own
// account and region. See the package documentation ("Gates that hold").
//
// Gates register their stages with EntryRule and BakeSteps; the pipeline
// creates the function, its schedule, its role and the gate alarms once,
// after every stage is rendered, if any gate used the controller.
type Controller struct {
	pipeline string
	window   waves.Window
	org      *gates.Alarm
	stages   []gates.Stage
	index    map[string]int
	pending  []activation
	// fn is the controller's function and root its construct, once
	// built; bakeRole the one role the bake actions run as, once the first
	// is produced.
	fn       awslambda.Function
	root     constructs.Construct
	bakeRole awsiam.Role
	// concurrency is the function's reserved concurrency (0: the default,
	// ControllerConcurrency; negative: none).
	concurrency int
}

// activation is a two-phase change a stage's release activates, waiting
// for the pipeline to know every ledger (RequirePrepared).
type activation struct {
	stage, change string
	role          func(account, region string) string
}

func newController(pipeline string, window waves.Window) *Controller {
	return &Controller{pipeline: pipeline, window: window, index: map[string]int{}}
}

// GateMetricAlarm is the name of the alarm on one stage's gate metric:
// "safepipe-<pipeline>-<stage>-entry" or "-bake".
func GateMetricAlarm(pipeline, stage, gate string) string {
	return fmt.Sprintf("safepipe-%s-%s-%s", pipeline, stage, gate)
}

func (c *Controller) stage(name string) *gates.Stage {
	i, ok := c.index[name]
	if !ok {
		i = len(c.stages)
		c.index[name] = i
		c.stages = append(c.stages, gates.Stage{Name: name})
	}
	return &c.stages[i]
}

// SetOrganization makes a alarm block every gated stage. Gates that set
// it must agree.
func (c *Controller) SetOrganization(a gates.Alarm) error {
	if c.org != nil && *c.org != a {
		return fmt.Errorf("two organisation alarms: %s and %s", c.org.Name, a.Name)
	}
	c.org = &a
	return nil
}

// EntryRule registers the stage's entry gate — blocked while any blocker
// is in ALARM and, for a windowed stage, outside the window or on a
// holiday — and returns the CloudWatchAlarm rule, for the stage's
// BeforeEntry condition, that holds the stage while the gate is closed,
// for at most wait.
//
// "For the Entry condition, this is the amount of time CodePipeline will
// wait if the alarm is in ALARM state when it is first evaluated. If the
// alarm is in OK state when the rule is first checked, the rule will
// immediately succeed."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html,
// WaitTime)
func (c *Controller) EntryRule(stage string, window bool, blockers []gates.Alarm, wait time.Duration) Rule {
	s := c.stage(stage)
	s.Window = s.Window || window
	s.Blockers = append(s.Blockers, blockers...)
	return Rule{
		Name:     RuleEntryGate,
		Provider: "CloudWatchAlarm",
		Configuration: map[string]string{
			"AlarmName":   GateMetricAlarm(c.pipeline, stage, "entry"),
			"AlarmStates": "ALARM",
			"WaitTime":    strconv.Itoa(minutes(wait)),
		},
	}
}

// Serialize keeps a gated stage's entry closed while any of the other
// stages runs an execution (gates.Stage.Serial); a stage no gate
// registered is left alone.
func (c *Controller) Serialize(stage string, others []string) {
	for i := range c.stages {
		if c.stages[i].Name == stage {
			c.stages[i].Serial = append(c.stages[i].Serial, others...)
		}
	}
}

// RollBackWith makes the earlier stages go back when the stage rolls
// back (gates.Stage.RollsBack); a stage no gate registered, and an earlier
// one no gate registered, are left alone.
func (c *Controller) RollBackWith(stage string, earlier []string) {
	registered := func(name string) bool {
		return slices.ContainsFunc(c.stages, func(s gates.Stage) bool { return s.Name == name })
	}
	for i := range c.stages {
		if c.stages[i].Name != stage {
			continue
		}
		for _, e := range earlier {
			if registered(e) && !slices.Contains(c.stages[i].RollsBack, e) {
				c.stages[i].RollsBack = append(c.stages[i].RollsBack, e)
			}
		}
	}
}

// RequireRollbackTarget keeps the stage's entry closed while the stage has
// no execution of the pipeline's current structure version to roll back
// to (gates.Stage.RollbackTarget).
func (c *Controller) RequireRollbackTarget(stage string) {
	c.stage(stage).RollbackTarget = true
}

// RequirePrepared keeps the stage's entry gate closed until change is
// prepared in every ledger of the production stages and of the stage
// itself (gates.Stage.Prepared), read with role. The ledgers are known
// once the whole pipeline has rendered (resolvePrepared).
func (c *Controller) RequirePrepared(stage, change string, role func(account, region string) string) {
	c.stage(stage)
	c.pending = append(c.pending, activation{stage, change, role})
}

// resolvePrepared turns the activations into requirements, given every
// stage's ledgers and the production stages.
func (c *Controller) resolvePrepared(ledgers map[string][]LedgerAt, prod []string) error {
	var errs []error
	for _, a := range c.pending {
		var all []LedgerAt
		for _, st := range prod {
			all = append(all, ledgers[st]...)
		}
		all = append(all, ledgers[a.stage]...)
		if len(ledgers[a.stage]) == 0 {
			errs = append(errs, fmt.Errorf("pipeline: stage %s activates change %q but deploys no Lambda alias controller that keeps a two-phase ledger (deploy.NewLambdaDeployment or NewAliasController): nothing could show the change prepared, so the stage would never start", a.stage, a.change))
		}
		slices.SortFunc(all, func(x, y LedgerAt) int {
			return strings.Compare(x.Account+x.Region+x.Parameter, y.Account+y.Region+y.Parameter)
		})
		s := c.stage(a.stage)
		for _, l := range slices.Compact(all) {
			s.Prepared = append(s.Prepared, gates.Requirement{Account: l.Account, Region: l.Region, Role: a.role(l.Account, l.Region), Parameter: l.Parameter, Change: a.change})
		}
	}
	return errors.Join(errs...)
}

// stackOfCreator, as an Alarm's Stack, asks for the stack of the pipeline
// that creates the alarm, filled in by resolveStacks once every stage has
// rendered (a later stage's, for another AZ of a zonal region).
const stackOfCreator = "\x00creator"

// resolveStacks names the stack of every alarm registered with
// stackOfCreator. An alarm no stack creates is the contract's error
// (alarmIndex.check); it is reported here too, so that no placeholder
// reaches the configuration.
func (c *Controller) resolveStacks(x *alarmIndex) error {
	var errs []error
	resolve := func(stage string, l []gates.Alarm) {
		for i := range l {
			if l[i].Stack != stackOfCreator {
				continue
			}
			created, ok := x.lookup(Place{l[i].Account, l[i].Region}, l[i].Name)
			if !ok {
				l[i].Stack = ""
				errs = append(errs, fmt.Errorf("pipeline: stage %s watches alarm %q in account %s, region %s, and no stack of the pipeline creates it there", stage, l[i].Name, l[i].Account, l[i].Region))
				continue
			}
			l[i].Stack = created.Stack
		}
	}
	for i := range c.stages {
		resolve(c.stages[i].Name, c.stages[i].Blockers)
		resolve(c.stages[i].Name, c.stages[i].Bake)
	}
	return errors.Join(errs...)
}

// BakeSteps registers the stage's bake and returns the steps that hold it,
// for the end of the stage (a CDK Pipelines wave's post steps): one Lambda
// invoke action of the controller's function per part of the bake
// (gates.BakeParts: 20 hours at most each), in order. Each holds the stage
// until its part has elapsed with every watched alarm OK, and fails it —
// so that the stage rolls back — on a breach (package gates, bake.go, for
// the documented behaviour each step rests on). Nothing about the bake
// depends on how CodePipeline evaluates a stage condition.
func (c *Controller) BakeSteps(stage string, bake time.Duration, watched []gates.Alarm) []pipelines.Step {
	s := c.stage(stage)
	s.Bake = append(s.Bake, watched...)
	s.BakeMinutes = max(s.BakeMinutes, minutes(bake))
	s.BakeAction = true
	parts := gates.BakeParts(minutes(bake))
	var steps []pipelines.Step
	for i, m := range parts {
		req := gates.BakeRequest{Stage: stage, Part: i + 1, Parts: len(parts), Minutes: m}
		name := gates.BakeActionName(req)
		st := &bakeStep{c: c, name: name, req: req}
		pipelines.NewStep_Override(st, jsii.String(name))
		if i > 0 {
			st.AddStepDependency(steps[i-1])
		}
		steps = append(steps, st)
	}
	return steps
}

// BakeActionName begins the name of a stage's bake actions ("Bake", or
// "Bake-1of2" … when the bake is chained: gates.BakeActionName).
const BakeActionName = "Bake"

// bakeNamespace is a bake action's variable namespace, unique in the
// pipeline: "SafepipeBake-<stage>" and the part of a chained bake
// (CodePipeline's namespace pattern is [A-Za-z0-9@\-_]+, stage names'
// too, at most 100 characters).
func bakeNamespace(req gates.BakeRequest) string {
	ns := "SafepipeBake-" + req.Stage
	if req.Parts > 1 {
		ns += fmt.Sprintf("-%dof%d", req.Part, req.Parts)
	}
	return capName(ns, 100)
}

// bakeStep renders one bake action (pipelines.ICodePipelineActionFactory).
type bakeStep struct {
	pipelines.Step
	c    *Controller
	name string
	req  gates.BakeRequest
}

// ProduceAction implements pipelines.ICodePipelineActionFactory. The
// controller's function exists by then (the pipeline builds the
// controller before CDK Pipelines builds the stages). Every bake action
// runs as one role, which only the pipeline's role may assume (as CDK
// Pipelines' own action roles).
func (b *bakeStep) ProduceAction(stage awscodepipeline.IStage, options *pipelines.ProduceActionOptions) *pipelines.CodePipelineActionFactoryResult {
	c := b.c
	if c.fn == nil {
		// The pipeline failed before it built the controller (its error is
		// on the construct), and CDK Pipelines builds the stages at synth
		// all the same: there is nothing to invoke, and the synth fails on
		// that error.
		return &pipelines.CodePipelineActionFactoryResult{RunOrdersConsumed: jsii.Number(0)}
	}
	if c.bakeRole == nil {
		c.bakeRole = awsiam.NewRole(c.root, jsii.String("BakeActionRole"), &awsiam.RoleProps{
			Description: jsii.String("safepipe: the role the pipeline's bake actions run as (they invoke the gate controller)"),
			AssumedBy:   awsiam.NewArnPrincipal(options.Pipeline.Pipeline().Role().RoleArn()),
		})
	}
	params, err := json.Marshal(b.req)
	if err != nil {
		panic(err) // a struct of strings and ints
	}
	stage.AddAction(awscodepipelineactions.NewLambdaInvokeAction(&awscodepipelineactions.LambdaInvokeActionProps{
		ActionName:           jsii.String(b.name),
		RunOrder:             options.RunOrder,
		Lambda:               c.fn,
		UserParametersString: jsii.String(string(params)),
		Role:                 c.bakeRole,
		// "You configure an action to produce variables by declaring a
		// namespace for the action" (reference-variables.html): the final
		// reply's safepipe_bake is what tells the controller that a
		// standard execution passed the stage (HasRollbackTarget).
		VariablesNamespace: jsii.String(bakeNamespace(b.req)),
	}))
	return &pipelines.CodePipelineActionFactoryResult{RunOrdersConsumed: jsii.Number(1)}
}

func minutes(d time.Duration) int { return int(d.Round(time.Minute) / time.Minute) }

// isGateAlarm reports whether name is one of the controller's gate
// alarms (metric alarms).
func (c *Controller) isGateAlarm(name string) bool {
	if c == nil {
		return false
	}
	for _, s := range c.stages {
		if name == GateMetricAlarm(c.pipeline, s.Name, "entry") || name == GateMetricAlarm(c.pipeline, s.Name, "bake") {
			return true
		}
	}
	return false
}

// reserved is the function's reserved concurrency: by default one per
// stage that bakes through its actions (each bake job holds an invocation
// for up to ten minutes, and in CodePipeline's default SUPERSEDED mode
// every stage can hold an execution at once) and two for the scheduled
// round. A throttled bake job that cannot reply for 20 minutes times its
// action out, so the reservation must cover them all. Lambda keeps 100
// unreserved per account ("you can reserve concurrency for as many
// functions as you like, as long as you leave at least 100 simultaneous
// executions unreserved", API_PutFunctionConcurrency): an account whose
// quota is lower cannot create the function with it; SetConcurrency(-1)
// reserves none.
func (c *Controller) reserved() *float64 {
	switch {
	case c.concurrency < 0:
		return nil
	case c.concurrency > 0:
		return jsii.Number(float64(c.concurrency))
	}
	n := 2
	for _, s := range c.stages {
		if s.BakeAction {
			n++
		}
	}
	return jsii.Number(float64(n))
}

// SetConcurrency sets the function's reserved concurrency: n > 0
// reserves n, a negative n none. Default: one per baking stage and two.
func (c *Controller) SetConcurrency(n int) { c.concurrency = n }

// ControllerAlarm is the name of the alarm that fires while the gate
// controller of a pipeline completes no round.
func ControllerAlarm(pipeline string) string { return "safepipe-" + pipeline + "-controller" }

// bakes reports whether a stage bakes through the bake actions.
func (c *Controller) bakes() bool {
	return slices.ContainsFunc(c.stages, func(s gates.Stage) bool { return s.BakeAction })
}

// Config is the controller's configuration so far.
func (c *Controller) Config() gates.Config {
	return gates.Config{
		Version:      gates.Version,
		Pipeline:     c.pipeline,
		Window:       gates.NewWindow(c.window),
		Organization: c.org,
		Stages:       slices.Clone(c.stages),
	}
}

// Names of the rules the controller's gates use; verify and the simulator
// recognise them.
const (
	RuleEntryGate = "SafepipeEntryGate"
	RuleBakeGate  = "SafepipeBakeGate"
)

// MetadataGates is the template metadata key, on the controller function,
// that carries its configuration for verify and the simulator.
const MetadataGates = "safepipe:gates"

// GatesCommand is the Go package of the controller function.
const GatesCommand = "github.com/safepipe/safepipe/cmd/safepipe-gates"

// build creates the controller's resources in scope: the function (its code
// built from GatesCommand with gates.json beside it), its log group, role
// and schedule, and two alarms per registered stage. accountOf maps a
// role to nothing: the roles the function assumes are those of the
// configuration.
func (c *Controller) build(scope constructs.Construct, pipelineArn string) error {
	if len(c.stages) == 0 {
		return nil
	}
	cfg := c.Config()
	if err := cfg.Validate(); err != nil {
		return err
	}
	doc, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	// The controller is built here, before the asset exists, so that a
	// build that fails is a synth error naming the fix — never CDK's
	// Docker fallback, whose failure says nothing about the cause.
	src, err := gatesAsset(doc)
	if err != nil {
		return err
	}
	root := constructs.NewConstruct(scope, jsii.String("GateController"))
	logs := awslogs.NewLogGroup(root, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	// The function's role is the pipeline's "gates" step role: the watch
	// roles trust exactly the roles of that name (access.go).
	role := awsiam.NewRole(root, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:       awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		RoleName:        jsii.String(stepRoleName(*awscdk.Stack_Of(scope).Region(), c.pipeline, GatesPurpose, "GateController")),
		Description:     jsii.String("safepipe: the gate controller of pipeline " + c.pipeline + " (assumes the watch roles of the targets)"),
		ManagedPolicies: &[]awsiam.IManagedPolicy{awsiam.ManagedPolicy_FromAwsManagedPolicyName(jsii.String("service-role/AWSLambdaBasicExecutionRole"))},
	})
	fn := awslambda.NewFunction(root, jsii.String("Function"), &awslambda.FunctionProps{
		Role:         role,
		Description:  jsii.String("safepipe gate controller of pipeline " + c.pipeline + ": publishes each gated stage's EntryBlocked and BakeBreached every minute"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		MemorySize:   jsii.Number(256),
		// A bake job watches for up to ten minutes before it replies
		// (cmd/safepipe-gates, job.go); the scheduled round ends within a
		// minute by its own deadlines.
		Timeout:  awscdk.Duration_Minutes(jsii.Number(12)),
		LogGroup: logs,
		// "Reserved concurrency … reserves the specified capacity
		// exclusively for your function while also preventing it from
		// scaling beyond that limit"
		// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html):
		// other functions of the account cannot starve the gates, and a
		// storm of invocations cannot run away. One scheduled round at a
		// time and one bake job per baking stage need far fewer.
		ReservedConcurrentExecutions: c.reserved(),
		// The asset is the built directory: bootstrap and gates.json.
		Code: awslambda.Code_FromAsset(jsii.String(src), &awss3assets.AssetOptions{
			AssetHashType: awscdk.AssetHashType_SOURCE,
		}),
	})
	c.fn, c.root = fn, root
	if cfn, ok := fn.Node().DefaultChild().(awslambda.CfnFunction); ok {
		var meta any
		_ = json.Unmarshal(doc, &meta)
		cfn.AddMetadata(jsii.String(MetadataGates), meta)
	}
	var roles []string
	for _, s := range cfg.Stages {
		for _, a := range append(slices.Clone(s.Blockers), s.Bake...) {
			if a.Role != "" {
				roles = append(roles, a.Role)
			}
		}
	}
	if cfg.Organization != nil && cfg.Organization.Role != "" {
		roles = append(roles, cfg.Organization.Role)
	}
	slices.Sort(roles)
	roles = slices.Compact(roles)
	statements := []awsiam.PolicyStatement{
		// Composite alarms are returned only to a DescribeAlarms permission
		// "scoped to *": "You can't return information about composite
		// alarms if your cloudwatch:DescribeAlarms permission has a
		// narrower scope."
		// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html)
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadAlarms"),
			Actions:   jsii.Strings("cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory"),
			Resources: jsii.Strings("*"),
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PublishGates"),
			Actions:    jsii.Strings("cloudwatch:PutMetricData"),
			Resources:  jsii.Strings("*"),
			Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": gates.Namespace}},
		}),
		// The pipeline's state (Stages), the bake actions' own executions
		// (BakeTimes), the structure version of each (RollbackTarget) and
		// what each stage runs (Deployed, for a region's rollback):
		// gates.ControllerCalls, OnPipeline.
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("ReadPipeline"),
			Actions:   jsii.Strings("codepipeline:GetPipelineState", "codepipeline:ListActionExecutions", "codepipeline:GetPipelineExecution", "codepipeline:ListPipelineExecutions"),
			Resources: jsii.Strings(pipelineArn),
		}),
	}
	var rolled []string
	for _, s := range c.stages {
		for _, name := range s.RollsBack {
			if arn := pipelineArn + "/" + name; !slices.Contains(rolled, arn) {
				rolled = append(rolled, arn)
			}
		}
	}
	if len(rolled) > 0 {
		// The earlier steps of a region go back with a later one
		// (gates.Stage.RollsBack): RollbackStage, resource type stage
		// ("Grants permission to rollback the stage to a previous
		// successful execution", service authorization reference), on
		// those stages only. gates.ControllerCalls, OnRolledBackStages.
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("RollBackRegions"),
			Actions:   jsii.Strings("codepipeline:RollbackStage"),
			Resources: jsii.Strings(rolled...),
		}))
	}
	if c.bakes() {
		// The bake actions' replies. These actions have no resource type
		// in the service authorization reference ("If there is no value
		// for this column, you must specify all resources ("*")",
		// list_awscodepipeline.html), so they cannot be narrowed to this
		// pipeline; a job ID comes only with CodePipeline's invocation.
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AnswerBakeJobs"),
			Actions:   jsii.Strings("codepipeline:PutJobSuccessResult", "codepipeline:PutJobFailureResult"),
			Resources: jsii.Strings("*"),
		}))
	}
	if len(roles) > 0 {
		statements = append(statements, awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String("AssumeWatchRoles"),
			Actions:   jsii.Strings("sts:AssumeRole"),
			Resources: jsii.Strings(roles...),
		}))
	}
	for _, st := range statements {
		fn.AddToRolePolicy(st)
	}
	awsevents.NewRule(root, jsii.String("EveryMinute"), &awsevents.RuleProps{
		Description: jsii.String("safepipe: run the gate controller of " + c.pipeline + " every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
	for _, s := range cfg.Stages {
		for _, g := range []struct{ gate, metric string }{{"entry", gates.MetricEntryBlocked}, {"bake", gates.MetricBakeBreached}} {
			if g.gate == "entry" && len(s.Blockers) == 0 && !s.Window && cfg.Organization == nil {
				continue
			}
			if g.gate == "bake" && (len(s.Bake) == 0 || s.BakeAction) {
				continue
			}
			// Two of three one-minute datapoints: one late run of the
			// controller (missing data counts as breaching) does not close
			// a gate, a real breach closes it within two minutes.
			awscloudwatch.NewCfnAlarm(root, jsii.String(s.Name+"-"+g.gate), &awscloudwatch.CfnAlarmProps{
				AlarmName:        jsii.String(GateMetricAlarm(c.pipeline, s.Name, g.gate)),
				AlarmDescription: jsii.String(fmt.Sprintf("safepipe %s gate of stage %s: in ALARM while the gate controller closes it (see its log for the reasons).", g.gate, s.Name)),
				Namespace:        jsii.String(gates.Namespace),
				MetricName:       jsii.String(g.metric),
				Dimensions: &[]any{
					&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("Pipeline"), Value: jsii.String(c.pipeline)},
					&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("Stage"), Value: jsii.String(s.Name)},
				},
				Statistic:          jsii.String("Maximum"),
				Period:             jsii.Number(60),
				EvaluationPeriods:  jsii.Number(3),
				DatapointsToAlarm:  jsii.Number(2),
				Threshold:          jsii.Number(1),
				ComparisonOperator: jsii.String("GreaterThanOrEqualToThreshold"),
				TreatMissingData:   jsii.String("breaching"),
			})
		}
	}
	// The operators' alarm: no round completed for three of the last
	// five minutes. Every entry gate is closed then (its alarm treats
	// missing data as breaching), and a bake job that cannot reply for
	// 20 minutes times its action out.
	awscloudwatch.NewCfnAlarm(root, jsii.String("Heartbeat"), &awscloudwatch.CfnAlarmProps{
		AlarmName:          jsii.String(ControllerAlarm(c.pipeline)),
		AlarmDescription:   jsii.String("safepipe: the gate controller of pipeline " + c.pipeline + " has not completed a round: every entry gate is closed until it does (see the function's log)."),
		Namespace:          jsii.String(gates.Namespace),
		MetricName:         jsii.String(gates.MetricHeartbeat),
		Dimensions:         &[]any{&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("Pipeline"), Value: jsii.String(c.pipeline)}},
		Statistic:          jsii.String("Sum"),
		Period:             jsii.Number(60),
		EvaluationPeriods:  jsii.Number(5),
		DatapointsToAlarm:  jsii.Number(3),
		Threshold:          jsii.Number(1),
		ComparisonOperator: jsii.String("LessThanThreshold"),
		TreatMissingData:   jsii.String("breaching"),
	})
	synth.NagSuppress(fn.Role(), "AwsSolutions-IAM4", "The controller's role uses AWSLambdaBasicExecutionRole, scoped by AWS to writing its own logs.")
	if p, ok := fn.Role().Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
		synth.NagSuppress(p, "AwsSolutions-IAM5", "cloudwatch:DescribeAlarms must be scoped to * to return composite alarms (DescribeAlarms API reference); PutMetricData has no resource and is limited to the safepipe/gates namespace by condition; codepipeline:PutJobSuccessResult and PutJobFailureResult have no resource type (service authorization reference).")
	}
	return nil
}

// gatesBinary is the controller's executable, built once per process: it
// does not depend on the configuration, which sits beside it.
var gatesBinary struct {
	once sync.Once
	exe  []byte
	err  error
}

// gatesAsset writes the controller's asset directory: GatesCommand built
// for linux/arm64, reproducibly (-trimpath, no VCS stamp, no build ID), and
// gates.json beside it. It builds from the current directory's module, so
// a team's app builds the controller of the safepipe version it requires.
func gatesAsset(config []byte) (string, error) {
	gatesBinary.once.Do(func() { gatesBinary.exe, gatesBinary.err = buildGates() })
	if gatesBinary.err != nil {
		return "", gatesBinary.err
	}
	dir, err := os.MkdirTemp("", "safepipe-gates-*")
	if err != nil {
		return "", fmt.Errorf("pipeline: gate controller: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), gatesBinary.exe, 0o755); err != nil {
		return "", fmt.Errorf("pipeline: gate controller: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gates.json"), config, 0o644); err != nil {
		return "", fmt.Errorf("pipeline: gate controller: %w", err)
	}
	return dir, nil
}

// buildGates builds GatesCommand (from the user's cache when its sources,
// dependencies and toolchain are unchanged: internal/gobuild) and returns
// the executable.
func buildGates() ([]byte, error) {
	exe, err := gobuild.Build(gobuild.Spec{Package: GatesCommand, Arch: "arm64", LDFlags: "-s -w -buildid="})
	var failed *gobuild.Error
	if errors.As(err, &failed) {
		return nil, gatesBuildError(failed.Err, failed.Output)
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: gate controller: %w", err)
	}
	return exe, nil
}

// gatesBuildError says why the controller did not build and what fixes it.
// The usual cause in a team's repository: go.mod does not require the
// controller's own dependencies (the Lambda runtime client, the AWS SDK
// clients), which the team's code never imports, so go.sum lacks them; a
// tool directive records them ("go get -tool" adds one,
// https://go.dev/doc/modules/managing-dependencies#tools).
func gatesBuildError(err error, out []byte) error {
	text := strings.TrimSpace(string(out))
	fix := "run `go build " + GatesCommand + "` in the app's module to see why"
	if strings.Contains(text, "missing go.sum entry") || strings.Contains(text, "no required module provides package") ||
		strings.Contains(text, "cannot find module providing package") || strings.Contains(text, "updates to go.mod needed") {
		fix = "add the controller to the app's go.mod as a tool, so that go.mod and go.sum hold its dependencies: `go mod edit -tool=" + GatesCommand + " && go mod tidy` (or `go get -tool " + GatesCommand + "` where safepipe comes from the module proxy, not a replace directive; safepipe init writes the line)"
	}
	if len(text) > 2000 {
		text = text[:2000] + " …"
	}
	return fmt.Errorf("pipeline: the gate controller (%s) did not build for linux/arm64 (%v): %s\ngo build said:\n%s", GatesCommand, err, fix, text)
}
