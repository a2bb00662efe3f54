package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/waves"
)

// Source is where the pipeline takes commits from: a CodeStar connection
// (GitHub, Bitbucket, GitLab) or a CodeCommit repository; exactly one.
type Source struct {
	// ConnectionArn is the ARN of a CodeStar/CodeConnections connection.
	// Default: none.
	ConnectionArn string
	// Repo is "owner/name" of the repository behind the connection.
	// Default: none (required with ConnectionArn).
	Repo string
	// CodeCommitRepository is the name of a CodeCommit repository in the
	// pipeline's account. Default: none.
	CodeCommitRepository string
	// Branch is the branch to deploy. Default: "main".
	Branch string
}

// Accounts are the AWS accounts of each environment.
type Accounts struct {
	// PreProd is the account of alpha, beta, gamma and zeta.
	// Default: the pipeline stack's account.
	PreProd string
	// Prod is the production account of every wave not in ProdByWave.
	// Default: none (required unless ProdByWave covers every wave).
	Prod string
	// ProdByWave gives a wave (1-based) its own production account.
	// Default: none.
	ProdByWave map[int]string
}

// BasePipelineProps configure a base pipeline. A platform team fixes most of
// them in its organisation package; a service team supplies the Service.
type BasePipelineProps struct {
	// Team owns the service: it names the team's alarms in every
	// deployment (Deployment.Alarms), which the gates watch. Required:
	// lower case letters, digits and dashes.
	Team string
	// Service builds the cdk.Stage deployed to each target. Required.
	Service Service
	// Catalog is the region catalog. Default: ResolveCatalog (context file,
	// $SAFEPIPE_CATALOG, the SSM parameter CatalogParameter, or the embedded
	// catalog).
	Catalog *waves.Catalog
	// CatalogParameter is the SSM parameter holding the published catalog.
	// Default: the "safepipe:catalogParameter" context value, or none.
	CatalogParameter string
	// Policy decides waves, stages and bakes. ReservedStages is set by the
	// pipeline. Default: the zero waves.Policy (amazon, non-opt-in regions).
	Policy waves.Policy
	// Accounts are the accounts per environment. Default: see Accounts.
	Accounts Accounts
	// HomeRegion is where alpha and beta deploy. Default: the pipeline
	// stack's region.
	HomeRegion string
	// GammaRegions are the gamma regions (at least two, so that gamma is
	// prod-like). Default: the regions of production waves 1 and 2.
	GammaRegions []string
	// Zeta adds a zeta stage (backward-compatibility tests against
	// production endpoints) after gamma. Default: false.
	Zeta bool
	// UpgradeDowngrade adds the upgrade-downgrade test after gamma (and
	// zeta), before production: the new version with the old, alone, the
	// old one back the same way, the new one again, each step baked and
	// gated. The team's Service reads Deployment.UpgradeDowngrade to deploy
	// each step (deploy.LambdaProps.UpgradeDowngrade does it for a Lambda
	// alias). Default: none (safepipe verify warns, SP031).
	UpgradeDowngrade *UpgradeDowngrade
	// Source is where commits come from. Required.
	Source Source
	// App is the command that runs the CDK app defining this pipeline, as
	// `cdk synth --app` takes it ("go run ./pipelines/orders"): the Build
	// step synthesizes this app, and the pipeline updates itself and
	// deploys every stage from that output. A repository with several
	// pipelines has one app per pipeline; synth fails when BuildCommands
	// would synthesize another one (cdk.json's, say). Default: DeriveApp
	// ("go run ./<dir of this program's main package>").
	App string
	// BuildCommands build, test and synthesize the app; a failing command
	// fails the pipeline. A command that calls `cdk synth` must synthesize
	// App (checked at synth). Default: BuildCommands(App).
	BuildCommands []string
	// ChangeSets deploys each stack with a change set, created by one
	// action and executed by the next, so that the change can be read in
	// the console between them. Default: false (one action per stack: a
	// hands-off pipeline has nobody reading, and a global zonal pipeline
	// needs the actions).
	ChangeSets bool
	// PipelineName is the CodePipeline name. Default: "<stack name>-<id>",
	// so that gates can grant read access to exactly this pipeline.
	PipelineName string
	// Gates add safety gates to gamma and every production stage, in order.
	// Default: SafetyGates{} (entry gates, bakes and rollback on every
	// gated stage); an empty list means the default too.
	Gates []Gate
	// UngatedReason turns the default gates off: the pipeline then has no
	// gate at all, and the reason is recorded in the template (the pipeline
	// variable SAFEPIPE_UNGATED_REASON and the tag safepipe:ungated), where
	// safepipe verify still reports every missing gate. Setting it with
	// Gates is an error. Default: none (gated).
	UngatedReason string
	// StageAspects are applied to every service stage before CDK Pipelines
	// synthesizes it (aspects on the app do not reach a stage that a
	// pipeline has already synthesized), e.g. cdk-nag packs or tagging.
	// Default: none.
	StageAspects []awscdk.IAspect
}

// BasePipeline is a CDK Pipelines CodePipeline (V2) that deploys a service
// from source through alpha, beta, gamma (one-box first), optional zeta, and
// the production stages of a waves.Plan.
type BasePipeline interface {
	constructs.Construct
	// Plan is the production plan the pipeline renders (nil on error).
	Plan() *waves.Plan
	// CatalogSource says where the catalog came from.
	CatalogSource() CatalogSource
	// CodePipeline is the underlying CDK Pipelines construct (nil on error).
	CodePipeline() pipelines.CodePipeline
	// StageNames are the pipeline's deployment stage names, in order.
	StageNames() []string
	// Err is every problem found, joined; the same problems fail synth.
	Err() error
	// GrantOverride lets grantee override the entry of the pipeline's
	// gated stages, for one execution at a time: to ship the fix for the
	// alarm that blocks them, or the first execution after a change of
	// the pipeline's structure (README: overriding a gate). It never
	// skips a bake: bakes are actions, not conditions.
	GrantOverride(grantee awsiam.IGrantable) awsiam.Grant
}

type basePipeline struct {
	constructs.Construct
	variables  []any
	gated      []string // stages with an entry gate
	arn        string   // the pipeline's ARN
	plan       *waves.Plan
	source     CatalogSource
	cp         pipelines.CodePipeline
	stageNames []string
	err        error
}

func (b *basePipeline) Plan() *waves.Plan                    { return b.plan }
func (b *basePipeline) CatalogSource() CatalogSource         { return b.source }
func (b *basePipeline) CodePipeline() pipelines.CodePipeline { return b.cp }
func (b *basePipeline) StageNames() []string                 { return append([]string(nil), b.stageNames...) }
func (b *basePipeline) Err() error                           { return b.err }

// GrantOverride implements BasePipeline:
// codepipeline:OverrideStageCondition on the gated stages (resource type
// stage, "arn:${Partition}:codepipeline:${Region}:${Account}:${PipelineName}/${StageName}",
// service authorization reference), and GetPipelineState and
// ListPipelineExecutions on the pipeline, to find the execution whose
// entry to override. OverrideStageCondition takes "BEFORE_ENTRY |
// ON_SUCCESS" (API_OverrideStageCondition): safepipe's stages have no
// OnSuccess condition, and the bake is an action that no override skips.
func (b *basePipeline) GrantOverride(grantee awsiam.IGrantable) awsiam.Grant {
	var stages []string
	for _, s := range b.gated {
		stages = append(stages, b.arn+"/"+s)
	}
	if len(stages) == 0 {
		stages = []string{b.arn + "/NoGatedStage"} // a grant on nothing
	}
	g := awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{Grantee: grantee,
		Actions: jsii.Strings("codepipeline:OverrideStageCondition"), ResourceArns: jsii.Strings(stages...)})
	awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{Grantee: grantee,
		Actions: jsii.Strings("codepipeline:GetPipelineState", "codepipeline:ListPipelineExecutions"), ResourceArns: jsii.Strings(b.arn)})
	return g
}

// Pre-production stage names.
const (
	StageAlpha       = "Alpha"
	StageBeta        = "Beta"
	StageGammaOneBox = "Gamma-OneBox"
	StageGamma       = "Gamma"
	StageZeta        = "Zeta"
)

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// NewBasePipeline builds the pipeline inside scope, which must belong to a
// stack with a concrete account and region (the toolchain). Problems in
// props are reported together: as synth errors on the construct, and by Err.
func NewBasePipeline(scope constructs.Construct, id *string, props *BasePipelineProps) BasePipeline {
	b := &basePipeline{}
	// Register b itself as the jsii construct, so that b can be the scope of
	// its children (the Go form of "class BasePipeline extends Construct").
	constructs.NewConstruct_Override(b, scope, id)
	var p BasePipelineProps
	if props != nil {
		p = *props
	}
	b.err = b.build(p)
	if b.err != nil {
		synth.Report(b, b.err)
	}
	return b
}

// build is NewBasePipeline's body. It copies before defaulting and never
// writes to the caller's props.
func (b *basePipeline) build(p BasePipelineProps) (err error) {
	defer func() {
		// A team's Service or a CDK call may throw (jsii turns that into a
		// panic); report it as a synth error instead of a crash.
		if r := recover(); r != nil {
			err = errors.Join(err, fmt.Errorf("pipeline: %v%s", r, panicSite()))
		}
	}()
	stack := awscdk.Stack_Of(b)
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if *awscdk.Token_IsUnresolved(stack.Account()) || *awscdk.Token_IsUnresolved(stack.Region()) {
		add("pipeline: stack %s needs a concrete account and region (set env on the stack)", *stack.StackName())
	}
	if p.Service == nil {
		add("pipeline: Service is nil; supply the team's service stage factory")
	}
	if !alarms.ValidName(p.Team) {
		add("pipeline: Team %q must be lower case letters, digits and dashes, starting with a letter (it names the team's alarms)", p.Team)
	}
	switch {
	case p.UngatedReason != "" && len(p.Gates) > 0:
		add("pipeline: UngatedReason is set and Gates are given; an ungated pipeline has no gates")
	case p.UngatedReason == "" && len(p.Gates) == 0:
		// Safe by default: a pipeline without gates must be asked for.
		p.Gates = []Gate{SafetyGates{}}
	}
	if p.Source.Branch == "" {
		p.Source.Branch = "main"
	}
	switch {
	case p.Source.ConnectionArn != "" && p.Source.CodeCommitRepository != "":
		add("pipeline: Source: set ConnectionArn or CodeCommitRepository, not both")
	case p.Source.ConnectionArn != "" && !regexp.MustCompile(`^[^/\s]+/[^/\s]+$`).MatchString(p.Source.Repo):
		add("pipeline: Source.Repo %q must be \"owner/name\" with ConnectionArn", p.Source.Repo)
	case p.Source.ConnectionArn == "" && p.Source.CodeCommitRepository == "":
		add("pipeline: Source: set ConnectionArn (GitHub, Bitbucket, GitLab) or CodeCommitRepository")
	}
	if p.Accounts.PreProd == "" {
		p.Accounts.PreProd = *stack.Account()
	}
	if p.HomeRegion == "" {
		p.HomeRegion = *stack.Region()
	}
	if p.PipelineName == "" {
		p.PipelineName = *stack.StackName() + "-" + *b.Node().Id()
	}
	if p.App == "" {
		app, err := DeriveApp()
		if err != nil {
			errs = append(errs, err)
		}
		p.App = app
	}
	if len(p.BuildCommands) == 0 {
		p.BuildCommands = BuildCommands(p.App)
	} else if p.App != "" {
		if err := checkBuildSynth(p.BuildCommands, p.App); err != nil {
			errs = append(errs, err)
		}
	}
	catalog, source := p.Catalog, CatalogSource("props")
	if catalog == nil {
		var cerr error
		catalog, source, cerr = ResolveCatalog(b, p.CatalogParameter)
		if cerr != nil {
			errs = append(errs, cerr)
		}
	}
	b.source = source
	if err := errors.Join(errs...); err != nil {
		return err
	}

	b.cp = pipelines.NewCodePipeline(b, jsii.String("CodePipeline"), &pipelines.CodePipelineProps{
		PipelineType:      awscodepipeline.PipelineType_V2,
		PipelineName:      strOrNil(p.PipelineName),
		CrossAccountKeys:  jsii.Bool(true),
		SelfMutation:      jsii.Bool(true),
		UseChangeSets:     jsii.Bool(p.ChangeSets),
		EnableKeyRotation: jsii.Bool(true),
		// Each pipeline owns its cross-region support stacks (replication
		// bucket and key per region), named after its own stack. CDK's
		// default (CodePipelineProps.ReuseCrossRegionSupportStacks: "Reuse
		// the same cross region support stack for all pipelines in the
		// App. Default: true") names the shared stacks after whichever
		// pipeline is built first, so renaming or removing that pipeline
		// would replace the other pipelines' replication buckets.
		ReuseCrossRegionSupportStacks: jsii.Bool(false),
		Synth: pipelines.NewShellStep(jsii.String("Build"), &pipelines.ShellStepProps{
			Input:                  b.sourceStep(p.Source),
			Commands:               jsii.Strings(p.BuildCommands...),
			PrimaryOutputDirectory: jsii.String("cdk.out"),
		}),
	})
	// The pipeline's cdk-nag reasons (nag.go) go on now, as an aspect that
	// runs at synthesis: a render that fails below leaves its resources
	// with their reasons, so that its error is not buried under findings
	// the library would have suppressed.
	suppressPipelineNag(b)
	r := &renderer{b: b, props: p, catalog: catalog, conditions: map[string]*StageConditions{}, alarms: newAlarmIndex(), actions: map[string]int{}}
	// The watch roles' stage comes before every gated stage (access.go);
	// what it creates is known once every stage has rendered.
	var access pipelines.Wave
	if usesWatchRoles(p.Gates) {
		access = b.cp.AddWave(jsii.String(StageAccess), nil)
		b.stageNames = append(b.stageNames, StageAccess)
	}

	// Alpha first: what one target deploys (its stacks) sizes the plan's
	// stages, so that CDK Pipelines never splits a stage behind the plan.
	// (With a bad pre-production account or home region, every problem is
	// reported below instead.)
	pre := errors.Join(validateAccounts(Accounts{PreProd: p.Accounts.PreProd}, &waves.Plan{}), validateHomeRegion(catalog, p.HomeRegion))
	if pre == nil {
		if err := r.renderAlpha(); err != nil {
			return err
		}
	}
	policy := p.Policy
	policy.RequiredServices = requiredServices(p)
	policy.ReservedStages = b.reservedStages(p)
	if policy.ActionsPerTarget == 0 {
		policy.ActionsPerTarget = r.actionsPerTarget
	}
	for _, g := range p.Gates {
		if rv, ok := g.(ActionReserver); ok {
			policy.ActionsPerStage += rv.ReservedActions()
		}
	}
	plan, err := waves.NewPlan(catalog, policy)
	if err != nil {
		return err
	}
	b.plan = plan
	if len(p.GammaRegions) == 0 {
		for _, w := range plan.Waves[:min(2, len(plan.Waves))] {
			p.GammaRegions = append(p.GammaRegions, w.Regions...)
		}
		r.props.GammaRegions = p.GammaRegions
	}
	errs = append(errs, validateAccounts(p.Accounts, plan), validateHomeRegion(catalog, p.HomeRegion), validateRegions(catalog, p), validateServices(catalog, p, policy.RequiredServices))
	if u := p.UpgradeDowngrade; u != nil {
		errs = append(errs, u.validate(catalog, p.HomeRegion, p.GammaRegions))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.controller = newController(p.PipelineName, plan.Window)
	if err := r.render(); err != nil {
		return err
	}
	contract := r.alarms.check()
	errs = []error{contract, r.checkActions(), r.controller.resolvePrepared(r.alarms.ledgers, r.prodStages())}
	if contract == nil { // else the alarms resolveStacks would name are already reported
		errs = append(errs, r.controller.resolveStacks(r.alarms))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pipelineArn := fmt.Sprintf("arn:%s:codepipeline:%s:%s:%s", partition(*stack.Region()), *stack.Region(), *stack.Account(), p.PipelineName)
	b.arn = pipelineArn
	for _, s := range r.controller.stages {
		b.gated = append(b.gated, s.Name)
	}
	if err := r.controller.build(b, pipelineArn); err != nil {
		return err
	}
	if access != nil {
		if err := buildAccess(b, access, r.controller.Config(), *stack.Account(), *stack.Region()); err != nil {
			return err
		}
	}
	b.cp.BuildPipeline()
	if err := checkActionLimits(b.cp.Pipeline()); err != nil {
		return err
	}
	b.markUngated(p.UngatedReason)
	b.markExpedite(plan.ExpediteReason)
	if err := applyStageConditions(b.cp.Pipeline(), r.conditions, r.controller.isGateAlarm); err != nil {
		return err
	}
	if access != nil {
		// A pipeline template read alone tells verify which stage is its
		// plumbing (verify.MetadataAccess).
		if cfn, ok := b.cp.Pipeline().Node().DefaultChild().(awscodepipeline.CfnPipeline); ok {
			cfn.AddMetadata(jsii.String("safepipe:access"), map[string]any{"stage": StageAccess, "stackName": accessStackName(p.PipelineName)})
		}
	}
	// CDK Pipelines' cross-region support stacks carry the pipeline's
	// cdk-nag reasons too (see nag.go); they exist once the pipeline is
	// built.
	var roots []constructs.IConstruct
	if support := b.cp.Pipeline().CrossRegionSupport(); support != nil {
		for _, region := range slices.Sorted(maps.Keys(*support)) {
			roots = append(roots, (*support)[region].Stack)
		}
	}
	suppressPipelineNag(roots...)
	return nil
}

// UngatedVariable is the pipeline variable that records why a pipeline
// has no gates.
const UngatedVariable = "SAFEPIPE_UNGATED_REASON"

// markUngated records, in the template, why the pipeline has no gates.
func (b *basePipeline) markUngated(reason string) {
	if reason == "" {
		return
	}
	b.addVariable(UngatedVariable, reason, "safepipe: this pipeline has no safety gates (no bake, blocker, window or rollback); safepipe verify reports every missing gate")
	awscdk.Tags_Of(b.cp.Pipeline()).Add(jsii.String("safepipe:ungated"), jsii.String(reason), nil)
}

// addVariable adds a pipeline variable (CDK Pipelines exposes none).
func (b *basePipeline) addVariable(name, value, description string) {
	b.variables = append(b.variables, map[string]any{"Name": name, "DefaultValue": value, "Description": description})
	if cfn, ok := b.cp.Pipeline().Node().DefaultChild().(awscodepipeline.CfnPipeline); ok {
		cfn.AddPropertyOverride(jsii.String("Variables"), b.variables)
	}
}

// ExpediteVariable is the pipeline variable that records an expedited
// pipeline's reason.
const ExpediteVariable = "SAFEPIPE_EXPEDITE_REASON"

// markExpedite makes an expedited pipeline visible in the template: a
// pipeline variable and a tag carry the reason. The bakes, already
// shortened by the plan, show in every bake rule and action.
func (b *basePipeline) markExpedite(reason string) {
	if reason == "" {
		return
	}
	awscdk.Tags_Of(b.cp.Pipeline()).Add(jsii.String("safepipe:expedite"), jsii.String(reason), nil)
	b.addVariable(ExpediteVariable, reason, "safepipe: this pipeline runs expedited changes (shortened bakes); every stage and alarm still runs")
}

// reservedStages counts the pipeline stages that are not production stages:
// Source, Build, UpdatePipeline (self-mutation), Assets, Alpha, Beta,
// Gamma-OneBox, Gamma, SafepipeAccess when the gates read through the
// pipeline's watch roles, and Zeta when enabled.
func (b *basePipeline) reservedStages(p BasePipelineProps) int {
	n := 8
	if usesWatchRoles(p.Gates) {
		n++
	}
	if p.Zeta {
		n++
	}
	if p.UpgradeDowngrade != nil {
		n += len(UpgradeDowngradeSteps)
	}
	return n
}

func (b *basePipeline) sourceStep(s Source) pipelines.IFileSetProducer {
	if s.ConnectionArn != "" {
		return pipelines.CodePipelineSource_Connection(jsii.String(s.Repo), jsii.String(s.Branch), &pipelines.ConnectionSourceOptions{
			ConnectionArn: jsii.String(s.ConnectionArn),
		})
	}
	repo := awscodecommit.Repository_FromRepositoryName(b, jsii.String("Repository"), jsii.String(s.CodeCommitRepository))
	return pipelines.CodePipelineSource_CodeCommit(repo, jsii.String(s.Branch), nil)
}

func validateAccounts(a Accounts, plan *waves.Plan) error {
	var errs []error
	check := func(field, v string) {
		if v != "" && !accountRE.MatchString(v) {
			errs = append(errs, fmt.Errorf("pipeline: Accounts.%s %q is not a 12-digit AWS account ID", field, v))
		}
	}
	check("PreProd", a.PreProd)
	check("Prod", a.Prod)
	for _, w := range slices.Sorted(maps.Keys(a.ProdByWave)) {
		check(fmt.Sprintf("ProdByWave[%d]", w), a.ProdByWave[w])
		if w < 1 || w > len(plan.Waves) {
			errs = append(errs, fmt.Errorf("pipeline: Accounts.ProdByWave[%d]: the plan has waves 1–%d", w, len(plan.Waves)))
		}
	}
	for _, w := range plan.Waves {
		if a.ProdByWave[w.Number] == "" && a.Prod == "" {
			errs = append(errs, fmt.Errorf("pipeline: Accounts: wave %d (%v) has no production account (set Prod or ProdByWave[%d])", w.Number, w.Regions, w.Number))
		}
	}
	return errors.Join(errs...)
}

// requiredServices are the services every region the pipeline deploys to
// must offer: the pipeline's own (waves.PipelineServices), CloudWatch
// ("monitoring": every stage's rollback alarms), the policy's, and the
// service's (ServiceNeeds); sorted, each once. The caller's slice is not
// touched.
func requiredServices(p BasePipelineProps) []string {
	out := slices.Concat(p.Policy.RequiredServices, waves.PipelineServices, []string{"monitoring"})
	if n, ok := p.Service.(ServiceNeeds); ok {
		out = append(out, n.RequiredServices()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// validateServices: the pre-production regions offer what the pipeline
// needs there too (the plan checks the production ones), and the home
// region — where the pipeline itself, its CodeBuild steps and its gate
// controller (a Lambda function on an EventBridge schedule, writing
// logs) run — offers them, and CodeCommit for a CodeCommit source.
func validateServices(c *waves.Catalog, p BasePipelineProps, need []string) error {
	var errs []error
	check := func(field, code string, need []string) {
		r, ok := c.Region(code)
		if !ok {
			return // reported by the region checks
		}
		if miss := r.Lacks(need); len(miss) > 0 {
			errs = append(errs, fmt.Errorf("pipeline: %s: region %s lacks %s, which the pipeline needs there (catalog %s, services from %q)",
				field, code, strings.Join(miss, ", "), c.Version, c.ServicesSource))
		}
	}
	home := slices.Concat(need, []string{"codebuild", "events", "lambda", "logs"})
	if p.Source.CodeCommitRepository != "" {
		home = append(home, "codecommit")
	}
	check("HomeRegion", p.HomeRegion, home)
	for _, g := range p.GammaRegions {
		check("GammaRegions", g, need)
	}
	if u := p.UpgradeDowngrade; u != nil {
		check("UpgradeDowngrade.Region", u.Region, need)
	}
	return errors.Join(errs...)
}

func validateHomeRegion(c *waves.Catalog, home string) error {
	if _, ok := c.Region(home); !ok {
		return fmt.Errorf("pipeline: HomeRegion %q is not in the catalog", home)
	}
	return nil
}

func validateRegions(c *waves.Catalog, p BasePipelineProps) error {
	var errs []error
	if len(p.GammaRegions) < 2 {
		errs = append(errs, fmt.Errorf("pipeline: GammaRegions %v: gamma needs at least two regions to be prod-like", p.GammaRegions))
	}
	seen := map[string]bool{}
	for _, r := range p.GammaRegions {
		if _, ok := c.Region(r); !ok {
			errs = append(errs, fmt.Errorf("pipeline: GammaRegions: region %q is not in the catalog", r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("pipeline: GammaRegions: region %q is listed twice", r))
		}
		seen[r] = true
	}
	return errors.Join(errs...)
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return jsii.String(s)
}

// checkActionLimits fails if a built stage has more actions than
// CodePipeline allows (a Service may deploy several stacks per target).
func checkActionLimits(p awscodepipeline.Pipeline) error {
	var errs []error
	stages := *p.Stages()
	if len(stages) > waves.MaxStages {
		errs = append(errs, fmt.Errorf("pipeline: %d stages, over the CodePipeline limit of %d by %d", len(stages), waves.MaxStages, len(stages)-waves.MaxStages))
	}
	for _, s := range stages {
		if n := len(*s.Actions()); n > waves.MaxActionsPerStage {
			errs = append(errs, fmt.Errorf("pipeline: stage %s has %d actions, over the CodePipeline limit of %d by %d (raise Policy.ActionsPerTarget so the planner splits it)", *s.StageName(), n, waves.MaxActionsPerStage, n-waves.MaxActionsPerStage))
		}
	}
	return errors.Join(errs...)
}
