package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/internal/synth"
	"github.com/safepipe/safepipe/twophase"
)

// AliasMode is what a deployment does to the alias callers invoke.
type AliasMode string

// The alias modes.
const (
	// AliasFull points the alias at the new version only: the regional
	// step, blue/green's switch.
	AliasFull AliasMode = "full"
	// AliasCanary keeps the version the alias serves at deploy time (the
	// live version) and sends a percentage of invocations to the new
	// version: the one-box step, a weighted canary, an A/B split.
	AliasCanary AliasMode = "canary"
	// AliasUpgradeHalf is the upgrade-downgrade test's first step: the
	// new version takes half of the invocations next to the version live
	// at deploy time, which the controller records for the downgrade.
	AliasUpgradeHalf AliasMode = "upgrade-half"
	// AliasDowngradeHalf gives half of the invocations back to the version
	// recorded by AliasUpgradeHalf.
	AliasDowngradeHalf AliasMode = "downgrade-half"
	// AliasDowngrade serves the recorded version alone.
	AliasDowngrade AliasMode = "downgrade"
)

// aliasModeOf is the alias mode of an upgrade-downgrade step.
func aliasModeOf(step pipeline.UpgradeDowngradeStep) (AliasMode, bool) {
	switch step {
	case pipeline.UpgradeHalf:
		return AliasUpgradeHalf, true
	case pipeline.UpgradeFull, pipeline.Reupgrade:
		return AliasFull, true
	case pipeline.DowngradeHalf:
		return AliasDowngradeHalf, true
	case pipeline.DowngradeFull:
		return AliasDowngrade, true
	}
	return "", false
}

// LambdaProps configure a Lambda function's deployment in one step of the
// pipeline.
type LambdaProps struct {
	// Function is the function; each deployment publishes its current
	// version. Required.
	Function awslambda.Function
	// OneBox says whether this deployment is the one-box step: the alias
	// then keeps serving the version that is live at deploy time and sends
	// OneBoxPercent of invocations to the new version, for as long as the
	// step's bake. Default: false (the alias serves the new version only).
	OneBox bool
	// OneBoxPercent is the one-box share, in whole percent, 1–10 (the
	// one-box takes at most a tenth of a region's traffic). Default: 10.
	OneBoxPercent int
	// AliasName is the alias callers invoke. Default: "live".
	AliasName string
	// Changes are the two-phase changes this release prepares or
	// activates (see Change and AliasControllerProps.Changes). Default:
	// none.
	Changes []twophase.Change
	// Ledger is the alias's ledger of two-phase changes (see
	// AliasControllerProps.Ledger). Default: "<stack name>/<alias name>".
	Ledger string
	// UpgradeDowngrade is the upgrade-downgrade test's step to take
	// (pipeline.Deployment.UpgradeDowngrade): the new version to half of
	// the invocations, to all, the version live before the test to half,
	// to all, the new version again. It overrides OneBox. Default: ""
	// (not a step of the test).
	UpgradeDowngrade pipeline.UpgradeDowngradeStep
	// Ramp moves a regional step's region to the new version in steps
	// instead of at once: the deployment gives the new version
	// OneBoxPercent (the share the one-box baked), and the ramp driver
	// raises it after each step's hold with Ramp.Alarm OK, to 100 at its
	// last step, and takes it away at once on alarm (see Ramp). The
	// one-box step and the upgrade-downgrade test's steps do not ramp. A
	// stage rollback (or any deployment of the release — code and
	// configuration — that was live when the ramp started) serves that
	// release alone at once. The stage's bake counts from the deployment:
	// the pipeline refuses a production stage whose bake is shorter than
	// the ramp's holds, a minute or two of the driver's tick per step, and
	// its longest hold again for the full share (model.Ramp.BakeNeeded),
	// and a ramp whose Alarm is not a composite alarm the stage creates
	// (a metric alarm can hold the ramp in INSUFFICIENT_DATA past any
	// bake; docs/aws-semantics.md Q25): use the region's aggregate.
	// Pre-production stages ramp too, unchecked. Not with Changes.
	// Default: none (the regional step serves the new version alone at
	// once).
	Ramp *Ramp
}

// LambdaDeployment is a function's alias, pointed by an alias controller
// at deploy time (see the package documentation).
type LambdaDeployment interface {
	constructs.Construct
	// AliasName is the alias callers invoke.
	AliasName() string
	// AliasArn is the alias's ARN (a token).
	AliasArn() *string
	// Version is the version this deployment publishes.
	Version() awslambda.IVersion
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type lambdaDeployment struct {
	constructs.Construct
	alias   string
	arn     *string
	version awslambda.IVersion
	err     error
}

func (l *lambdaDeployment) AliasName() string           { return l.alias }
func (l *lambdaDeployment) AliasArn() *string           { return l.arn }
func (l *lambdaDeployment) Version() awslambda.IVersion { return l.version }
func (l *lambdaDeployment) Err() error                  { return l.err }

// NewLambdaDeployment points the function's alias at its current version:
// on the one-box step, OneBoxPercent of invocations, the rest staying on
// the live version; otherwise all of them.
func NewLambdaDeployment(scope constructs.Construct, id *string, props *LambdaProps) LambdaDeployment {
	l := &lambdaDeployment{}
	constructs.NewConstruct_Override(l, scope, id)
	var p LambdaProps
	if props != nil {
		p = *props
	}
	if p.OneBoxPercent == 0 {
		p.OneBoxPercent = 10
	}
	if p.AliasName == "" {
		p.AliasName = "live"
	}
	l.alias = p.AliasName
	if l.err = p.validate(); l.err != nil {
		synth.Report(l, l.err)
		return l
	}
	l.version = p.Function.CurrentVersion()
	mode, percent := AliasFull, 100
	if p.OneBox {
		mode, percent = AliasCanary, p.OneBoxPercent
	}
	var ramp *Ramp
	if !p.OneBox && p.Ramp != nil {
		mode, percent, ramp = AliasCanary, p.OneBoxPercent, p.Ramp
	}
	if p.UpgradeDowngrade != "" {
		mode, percent, ramp = "", 50, nil
		if m, ok := aliasModeOf(p.UpgradeDowngrade); ok {
			mode = m
		}
	}
	res := NewAliasController(l, jsii.String("Alias"), &AliasControllerProps{
		Function: p.Function, AliasName: p.AliasName, Version: l.version, Mode: mode, Percent: percent,
		Changes: p.Changes, Ledger: p.Ledger, Ramp: ramp,
	})
	if l.err = res.Err(); l.err != nil {
		return l
	}
	l.arn = res.AliasArn()
	return l
}

func (p LambdaProps) validate() error {
	var errs []error
	if p.Function == nil {
		errs = append(errs, errors.New("deploy: LambdaProps.Function is nil"))
	}
	if p.OneBoxPercent < 1 || p.OneBoxPercent > 10 {
		errs = append(errs, fmt.Errorf("deploy: LambdaProps.OneBoxPercent is %d; the one-box takes 1 to 10 percent of the region's invocations", p.OneBoxPercent))
	}
	if !aliasNameRE.MatchString(p.AliasName) || len(p.AliasName) > 128 {
		errs = append(errs, fmt.Errorf("deploy: LambdaProps.AliasName %q is not an alias name (%s)", p.AliasName, aliasNameRE))
	}
	if p.Ramp != nil {
		if len(p.Changes) > 0 {
			errs = append(errs, fmt.Errorf("deploy: LambdaProps.Ramp is set with %d Changes; a release that prepares or activates a two-phase change does not ramp (its ledger is written by deployments, not by the ramp)", len(p.Changes)))
		}
		if n := len(p.Ramp.Steps); n > 0 && p.Ramp.Steps[n-1].Percent != 100 {
			errs = append(errs, fmt.Errorf("deploy: LambdaProps.Ramp.Steps[%d].Percent is %d; a regional step's ramp ends at 100, or the region never serves the new version alone", n-1, p.Ramp.Steps[n-1].Percent))
		}
		errs = append(errs, p.Ramp.validate("deploy: LambdaProps.Ramp", p.OneBoxPercent))
	}
	return errors.Join(errs...)
}

// aliasNameRE is what an alias name may be (not all digits: that is a
// version).
var aliasNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]*[a-zA-Z_-][a-zA-Z0-9_-]*$`)

// AliasControllerType is the CloudFormation type of the alias controller
// resource; verify and the simulator recognise it.
const AliasControllerType = "Custom::SafepipeAlias"

// AliasControllerProps configure an alias controller.
type AliasControllerProps struct {
	// Function is the function whose alias is set. Required.
	Function awslambda.IFunction
	// AliasName is the alias. Required.
	AliasName string
	// Version is the version the deployment ships. Required.
	Version awslambda.IVersion
	// Mode is what the deployment does to the alias. Default: AliasFull.
	Mode AliasMode
	// Percent is Version's share in AliasCanary mode, in whole percent,
	// 0–100. Default: 0.
	Percent int
	// Ramp raises Version's share in steps after the deployment (AliasCanary
	// only, and not with Changes). Default: none (the share stays Percent
	// until the next deployment).
	Ramp *Ramp
	// Changes are the two-phase changes this release prepares or
	// activates. The controller refuses (fails the stack update, which
	// CloudFormation then rolls back) to serve a version that does not
	// declare a change the region's ledger shows active, and to activate a
	// change whose prepare does not yet serve all of the alias's traffic.
	// Default: none.
	Changes []twophase.Change
	// Ledger names the alias's ledger of two-phase changes, the SSM
	// parameter /safepipe/two-phase/<Ledger> the controller reads before
	// and writes after every deployment, with or without Changes, so that
	// a later release, or a rollback, can be refused. The pipeline finds it
	// (AliasController.LedgerParameter) to gate activations. Default:
	// "<stack name>/<alias name>".
	Ledger string
}

// AliasController is safepipe's alias controller resource.
type AliasController interface {
	constructs.Construct
	// AliasArn is the alias's ARN (a token; nil on error).
	AliasArn() *string
	// LiveVersion is the version the alias served as its main version
	// once the stack deployed (a token; nil on error).
	LiveVersion() *string
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type aliasController struct {
	constructs.Construct
	arn, live *string
	ledger    string
	err       error
}

// LedgerParameter is the SSM parameter of the alias's two-phase ledger:
// the pipeline finds alias controllers by this method
// (pipeline.LedgerKeeper) to gate activations on every ledger.
func (a *aliasController) LedgerParameter() string { return a.ledger }

func (a *aliasController) AliasArn() *string    { return a.arn }
func (a *aliasController) LiveVersion() *string { return a.live }
func (a *aliasController) Err() error           { return a.err }

// NewAliasController adds the custom resource that points the alias at
// Version when its stack deploys: mode AliasFull sends every invocation to
// Version; AliasCanary keeps the alias's live version (read at deploy
// time) and sends Percent to Version, or all of them when the alias does
// not exist yet (a first deployment serves nobody) or already serves
// Version. The resource runs on every deployment that changes version,
// mode or percent, and again with the old properties when CloudFormation
// rolls an update back. With a Ramp, the deployment also starts the ramp
// (see Ramp).
func NewAliasController(scope constructs.Construct, id *string, props *AliasControllerProps) AliasController {
	a := &aliasController{}
	constructs.NewConstruct_Override(a, scope, id)
	var p AliasControllerProps
	if props != nil {
		p = *props
	}
	if p.Mode == "" {
		p.Mode = AliasFull
	}
	if p.Ledger == "" {
		p.Ledger = *awscdk.Stack_Of(a).StackName() + "/" + p.AliasName
	}
	a.ledger = twophase.LedgerParameter(p.Ledger)
	if a.err = p.validate(); a.err != nil {
		synth.Report(a, a.err)
		return a
	}
	provider := aliasProvider(a, p.Function)
	properties := map[string]any{
		"FunctionName": p.Function.FunctionName(),
		"AliasName":    p.AliasName,
		"Version":      p.Version.Version(),
		"Mode":         string(p.Mode),
		"Percent":      fmt.Sprint(p.Percent),
		"Ledger":       a.ledger,
		"Changes":      twophase.Property(p.Changes),
	}
	ledgerArn := awscdk.Stack_Of(a).FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("ssm"), Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.TrimPrefix(a.ledger, "/")),
	})
	provider.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ssm:GetParameter", "ssm:PutParameter"),
		Resources: jsii.Strings(*ledgerArn),
	}))
	if p.Ramp != nil {
		ramp := newRamp(a, p.Function, p.AliasName, p.Ramp)
		properties["RampState"] = ramp.state.ParameterName()
		ramp.state.GrantRead(provider)
		ramp.state.GrantWrite(provider)
	}
	// "Default": the resource keeps the logical ID it had as the
	// construct's own child.
	res := awscdk.NewCustomResource(a, jsii.String("Default"), &awscdk.CustomResourceProps{
		ServiceToken: provider.FunctionArn(),
		ResourceType: jsii.String(AliasControllerType),
		Properties:   &properties,
	})
	a.arn = res.GetAttString(jsii.String("AliasArn"))
	a.live = res.GetAttString(jsii.String("LiveVersion"))
	return a
}

func (p AliasControllerProps) validate() error {
	var errs []error
	if p.Function == nil {
		errs = append(errs, errors.New("deploy: AliasControllerProps.Function is nil"))
	}
	if p.Version == nil {
		errs = append(errs, errors.New("deploy: AliasControllerProps.Version is nil"))
	}
	if !aliasNameRE.MatchString(p.AliasName) || len(p.AliasName) > 128 {
		errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.AliasName %q is not an alias name (%s)", p.AliasName, aliasNameRE))
	}
	if !twophase.LedgerRE.MatchString(p.Ledger) {
		errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.Ledger %q is not a ledger name (%s)", p.Ledger, twophase.LedgerRE))
	}
	errs = append(errs, twophase.Validate("deploy: AliasControllerProps.Changes", p.Changes))
	if p.Ramp != nil && len(p.Changes) > 0 {
		// The ramp driver moves the alias after the deployment, and the
		// ledger is written by deployments only: a prepare raised to 100%
		// by a ramp would never count as prepared, and an activation
		// halted by its alarm would leave the ledger claiming writers
		// that no longer serve.
		errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.Ramp is set with %d Changes; a release that prepares or activates a two-phase change does not ramp (its ledger is written by deployments, not by the ramp): ship it as a canary and a full deployment", len(p.Changes)))
	}
	switch p.Mode {
	case AliasFull:
		if p.Ramp != nil {
			errs = append(errs, errors.New("deploy: AliasControllerProps.Ramp is set in mode full; only a canary ramps"))
		}
	case AliasUpgradeHalf, AliasDowngradeHalf, AliasDowngrade:
		if p.Ramp != nil {
			errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.Ramp is set in mode %s; only a canary ramps", p.Mode))
		}
	case AliasCanary:
		if p.Percent < 0 || p.Percent > 100 {
			errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.Percent is %d; a share is 0–100", p.Percent))
		}
		if p.Ramp != nil {
			errs = append(errs, p.Ramp.validate("deploy: AliasControllerProps.Ramp", p.Percent))
		}
	default:
		errs = append(errs, fmt.Errorf("deploy: AliasControllerProps.Mode is %q; it is %q or %q", p.Mode, AliasFull, AliasCanary))
	}
	return errors.Join(errs...)
}

// aliasProvider is the stack's alias controller function, one per stack,
// allowed to manage the aliases of fn.
func aliasProvider(scope constructs.Construct, fn awslambda.IFunction) awslambda.SingletonFunction {
	f := awslambda.NewSingletonFunction(scope, jsii.String("AliasControllerFunction"), &awslambda.SingletonFunctionProps{
		Uuid:          jsii.String("safepipe-alias-controller-0b1f6d2e"),
		LambdaPurpose: jsii.String("SafepipeAliasController"),
		Description:   jsii.String("safepipe: points Lambda aliases at the versions a deployment ships (one-box share or all)"),
		Runtime:       awslambda.Runtime_NODEJS_LATEST(),
		Handler:       jsii.String("index.handler"),
		Code:          awslambda.Code_FromInline(jsii.String(aliasControllerCode)),
		Timeout:       awscdk.Duration_Minutes(jsii.Number(2)),
		MemorySize:    jsii.Number(128),
	})
	// Alias operations are authorised on the function (and its qualified
	// ARNs).
	f.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:GetAlias", "lambda:CreateAlias", "lambda:UpdateAlias", "lambda:GetFunctionConfiguration"),
		Resources: qualifiedArns(fn),
	}))
	if role := f.Role(); role != nil {
		synth.NagSuppress(role, "AwsSolutions-IAM4", "The alias controller's role uses AWSLambdaBasicExecutionRole, scoped by AWS to writing its own logs.")
		if p, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
			synth.NagSuppress(p, "AwsSolutions-IAM5", "Alias operations on the team's function's aliases (<function ARN>:*); nothing else.")
		}
	}
	return f
}

// aliasControllerCode is the alias controller, a CloudFormation custom
// resource provider: it answers on the request's pre-signed ResponseURL
// ("The custom resource provider processes the request and returns a
// response of SUCCESS or FAILED to the pre-signed URL",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html)
// and sets the alias with UpdateAlias / CreateAlias; the one-box share is
// the alias's routing configuration: "AdditionalVersionWeights: The second
// version, and the percentage of traffic that's routed to it" (0.0–1.0,
// https://docs.aws.amazon.com/lambda/latest/api/API_AliasRoutingConfiguration.html).
// The physical ID is the alias itself, so an update never replaces it. A
// Delete leaves the alias alone: a renamed resource is created before the
// old one is deleted, and deleting then would take the live alias away;
// deleting the function (its stack) deletes its aliases anyway.
const aliasControllerCode = `const { LambdaClient, GetAliasCommand, CreateAliasCommand, UpdateAliasCommand, GetFunctionConfigurationCommand } = require("@aws-sdk/client-lambda");
const lambda = new LambdaClient({});
async function current(p) {
  try { return await lambda.send(new GetAliasCommand({ FunctionName: p.FunctionName, Name: p.AliasName })); }
  catch (e) { if (e.name === "ResourceNotFoundException") return undefined; throw e; }
}
async function readLedger(name) {
  const { SSMClient, GetParameterCommand } = require("@aws-sdk/client-ssm");
  try {
    const out = await new SSMClient({}).send(new GetParameterCommand({ Name: name }));
    return JSON.parse(out.Parameter.Value);
  } catch (e) { if (e.name === "ParameterNotFound") return { changes: {} }; throw e; }
}
// release is what makes a version the release it is: its code
// (CodeSha256: "The SHA256 hash of the function's deployment package")
// and the configuration published with it ("Creates a version from the
// current code and configuration of a function", API_PublishVersion) — a
// release that changes only an environment variable or a layer is another
// release with the same code. null when the version does not exist.
async function release(p, v) {
  try {
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: p.FunctionName, Qualifier: v }));
    const config = JSON.stringify([c.Runtime, c.Handler, c.MemorySize, c.Timeout, (c.Environment || {}).Variables || {},
      (c.Layers || []).map(l => l.Arn), c.Architectures || [], (c.EphemeralStorage || {}).Size || null, c.Role,
      (c.TracingConfig || {}).Mode || null, (c.VpcConfig || {}).SubnetIds || [], (c.VpcConfig || {}).SecurityGroupIds || [],
      (c.DeadLetterConfig || {}).TargetArn || null, c.KMSKeyArn || null, c.ImageConfigResponse || null, c.LoggingConfig || null]);
    return c.CodeSha256 + "/" + require("crypto").createHash("sha256").update(config).digest("hex");
  } catch (e) { if (e.name === "ResourceNotFoundException") return null; throw e; }
}
// readRamp reads the ramp's state; a missing or unreadable one is an
// error (the deployment fails and CloudFormation rolls it back), never a
// guess.
async function readRamp(name) {
  const { SSMClient, GetParameterCommand } = require("@aws-sdk/client-ssm");
  const out = await new SSMClient({}).send(new GetParameterCommand({ Name: name }));
  return JSON.parse(out.Parameter.Value);
}
async function writeLedger(name, ledger) {
  const { SSMClient, PutParameterCommand } = require("@aws-sdk/client-ssm");
  await new SSMClient({}).send(new PutParameterCommand({ Name: name, Value: JSON.stringify(ledger), Type: "String", Overwrite: true }));
}
// version is what the ledger knows of a version of the function: its
// unqualified ARN and code hash (GetFunctionConfiguration with the version
// as Qualifier), or null when the function has no such version.
async function version(p, v) {
  try {
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: p.FunctionName, Qualifier: v }));
    return { function: c.FunctionArn.replace(/:[^:]*$/, ""), code: c.CodeSha256 };
  } catch (e) { if (e.name === "ResourceNotFoundException") return null; throw e; }
}
// stale says why the ledger does not describe what the alias serves, or
// "": the alias serves another version than the ledger's (a ramp or a
// person moved it since the last deployment), or the ledger outlived its
// function (the stack was deleted and recreated, the function replaced):
// its main version no longer exists, or is other code or another
// function's. A ledger from before it was keyed (no function, no code)
// cannot be checked that way, and counts.
async function stale(p, ledger, cur) {
  if (ledger.main && cur && cur.FunctionVersion !== ledger.main) return "the alias serves version " + cur.FunctionVersion + ", not the ledger's " + ledger.main + " (moved since the last deployment)";
  if (!ledger.main || !ledger.function || !ledger.code) return "";
  const v = await version(p, ledger.main);
  if (!v) return "its version " + ledger.main + " no longer exists";
  if (v.function !== ledger.function) return "it was written for " + ledger.function;
  if (v.code !== ledger.code) return "its version " + ledger.main + " is other code now (the function was recreated)";
  return "";
}
const isActive = (e) => e && (e.full === "activate" || e.canary === "activate");
// activeOnly keeps a stale ledger's active changes, which still bind.
const activeOnly = (changes) => Object.fromEntries(Object.entries(changes || {}).filter(([, e]) => isActive(e)));
// refusals: what this deployment may not do, given the region's ledger.
// A stale ledger keeps only the changes it shows active: the data their
// writers wrote can outlive the function, so they still bind (a version
// must declare them, and may keep them active); its prepares prove
// nothing. Where the alias does not exist yet (cur), nothing serves, so
// no reader here can miss the new form.
function refusals(p, ledger, declared, cur, staleWhy) {
  const out = [];
  for (const [name, e] of Object.entries(ledger.changes || {})) {
    if (isActive(e) && !declared[name]) {
      out.push("change " + name + " is active here (writers write its new form) and version " + p.Version +
        " does not declare it, so it may not read what they wrote: deactivate first (deploy the release that declares " + name + " as prepare), then this one" +
        (staleWhy ? " (the ledger " + p.Ledger + " is stale: " + staleWhy + "; if no data in the new form remains, delete the parameter)" : ""));
    }
  }
  if (!cur) return out;
  for (const [name, phase] of Object.entries(declared)) {
    const e = (staleWhy ? activeOnly(ledger.changes) : (ledger.changes || {}))[name];
    if (phase === "activate" && !(e && (e.full === "prepare" || e.full === "activate"))) {
      out.push("version " + p.Version + " activates change " + name + " but its prepare does not serve all of this alias's traffic here (ledger: " +
        JSON.stringify(e || null) + "): every reader must accept the new form before any writer writes it");
    }
  }
  return out;
}
// nextLedger: the ledger once the alias serves main (all but the share)
// and, if different, p.Version (the share).
function nextLedger(ledger, declared, main, share, p, test, fn) {
  // The phases of the version serving all but the share, and of the
  // share: the deployment's own (declared), the alias's main version's as
  // the ledger had them, or, for a downgrade, the phases recorded with the
  // version the test downgrades to.
  const changes = {};
  const down = (p.Mode === "downgrade" || p.Mode === "downgrade-half") && test && test.beforeFull;
  const names = new Set([...Object.keys(ledger.changes || {}), ...Object.keys(declared), ...Object.keys(down || {})]);
  const phaseOf = (v, name) => v === p.Version ? (declared[name] || "none")
    : down && v === test.before ? (down[name] || "none") : (((ledger.changes || {})[name] || {}).full || "none");
  for (const name of [...names].sort()) {
    const e = { full: phaseOf(main, name), canary: share ? phaseOf(share, name) : "none", version: main };
    if (e.full !== "none" || e.canary !== "none") changes[name] = e;
  }
  const out = { changes, alias: p.AliasName, main, function: fn.function, code: fn.code, at: new Date().toISOString() };
  if (test) out.upgradeDowngrade = test;
  return out;
}
async function apply(p) {
  const cur = await current(p);
  const declared = JSON.parse(p.Changes || "{}");
  const read = p.Ledger ? await readLedger(p.Ledger) : { changes: {} };
  const staleWhy = p.Ledger ? await stale(p, read, cur) : "";
  if (staleWhy) console.log(JSON.stringify({ note: "ledger " + p.Ledger + " is stale: " + staleWhy + "; it proves nothing prepared and no upgrade-downgrade record" }));
  // The ledger as it binds: a stale one keeps only its active changes.
  const ledger = staleWhy ? { changes: activeOnly(read.changes) } : read;
  let main = p.Version, share = null, routing = { AdditionalVersionWeights: {} };
  let test = staleWhy ? undefined : read.upgradeDowngrade, rolledBack = false;
  const half = (v) => { share = v === main ? null : v; routing = { AdditionalVersionWeights: share ? { [share]: 0.5 } : {} }; };
  // A ramped canary whose version is the release (code and configuration)
  // that was live when the last ramp started: a stage rollback
  // (CloudFormation publishes it again under a new number, so its content
  // tells it, as for the upgrade-downgrade test). It serves alone, at
  // once: after a finished ramp a canary would give it only Percent, and
  // ramp it back up at the holds' pace. A release that differs from it in
  // code or in configuration (an environment variable, a layer) ramps.
  let rampBack = false;
  if (p.RampState && p.Mode === "canary" && cur && cur.FunctionVersion !== p.Version) {
    const rs = await readRamp(p.RampState);
    const r = rs.liveRelease ? await release(p, p.Version) : null;
    if (r && r === rs.liveRelease) {
      rampBack = true;
      console.log(JSON.stringify({ note: "version " + p.Version + " is the release (code and configuration) live before the last ramp (of version " + rs.version + "): it serves alone" }));
    }
  }
  if ((p.Mode === "canary" || p.Mode === "upgrade-half") && cur && cur.FunctionVersion !== p.Version && !rampBack) {
    main = cur.FunctionVersion;
    share = p.Version;
    routing = { AdditionalVersionWeights: { [p.Version]: (p.Mode === "canary" ? Number(p.Percent) : 50) / 100 } };
  } else if (p.Mode !== "canary" && p.Mode !== "full" && p.Mode !== "upgrade-half" && p.Mode !== "downgrade-half" && p.Mode !== "downgrade") {
    throw new Error("unknown mode " + p.Mode);
  }
  if (p.Mode === "upgrade-half") {
    // The test's record: the version live before it, its code and its
    // phases, and the step applied last.
    const beforeFull = {};
    for (const [name, e] of Object.entries(ledger.changes || {})) beforeFull[name] = e.full;
    const before = cur && cur.FunctionVersion !== p.Version ? cur.FunctionVersion : null;
    const beforeCode = before ? ((await version(p, before)) || {}).code || null : null;
    test = { version: p.Version, before, beforeCode, beforeFull, step: p.Mode };
  }
  const downgrade = p.Mode === "downgrade-half" || p.Mode === "downgrade";
  // A stage rollback of a downgrade step: CodePipeline redeploys the
  // template this stage had in the execution it rolls back to, which
  // ships the code live before the test — under a new version number
  // when CloudFormation publishes it again ("AWS Lambda doesn't publish a
  // version if the function's configuration and code haven't changed
  // since the last version", API_PublishVersion), so the code, not the
  // number, tells it — and only right after this very step ran for the
  // test's release (test.step), not when another release's test has
  // started since. It serves alone: where the test region stood before.
  if (downgrade && test && test.version !== p.Version && test.step === p.Mode && test.beforeCode &&
      ((await version(p, p.Version)) || {}).code === test.beforeCode) {
    console.log(JSON.stringify({ note: "rolling back the upgrade-downgrade test of version " + test.version + ": version " + p.Version + " (the code live before the test) serves alone" }));
    rolledBack = true;
    test = { ...test, step: "rolled-back" };
  } else if (downgrade) {
    if (!test || test.version !== p.Version) {
      throw new Error("mode " + p.Mode + ": no upgrade-half of version " + p.Version + " is recorded in " + p.Ledger +
        " (recorded: " + JSON.stringify(test || null) + "); the upgrade-downgrade test runs its steps in order");
    }
    if (test.before && p.Mode === "downgrade-half") half(test.before);
    if (test.before && p.Mode === "downgrade") main = test.before;
    if (!test.before) console.log(JSON.stringify({ note: "no version was live before the test (a first deployment): nothing to downgrade to" }));
  }
  if (test && !rolledBack && test.version === p.Version && (p.Mode === "full" || downgrade)) test = { ...test, step: p.Mode };
  const refused = refusals(p, ledger, declared, cur, staleWhy);
  if (refused.length) throw new Error("refusing to deploy: " + refused.join("; "));
  const args = { FunctionName: p.FunctionName, Name: p.AliasName, FunctionVersion: main, RoutingConfig: routing };
  const out = cur ? await lambda.send(new UpdateAliasCommand(args)) : await lambda.send(new CreateAliasCommand(args));
  if (p.Ledger) {
    const fn = await version(p, main);
    if (!fn) throw new Error("version " + main + " of " + p.FunctionName + " does not exist after the alias moved to it");
    await writeLedger(p.Ledger, nextLedger(ledger, declared, main, share, rolledBack ? { ...p, Mode: "full" } : p, test, fn));
  }
  const weight = routing.AdditionalVersionWeights[p.Version];
  const pct = main === p.Version ? 100 - Math.round(100 * (Object.values(routing.AdditionalVersionWeights)[0] || 0)) : Math.round(100 * (weight || 0));
  if (p.RampState) {
    // The deployment starts its ramp (or, serving the version alone
    // already, has nothing to ramp); the ramp driver takes it from here.
    const { SSMClient, PutParameterCommand } = require("@aws-sdk/client-ssm");
    const state = main !== p.Version
      ? { status: "ramping", version: p.Version, live: main, liveRelease: await release(p, main), step: 0, since: new Date().toISOString() }
      : { status: "done", version: p.Version };
    await new SSMClient({}).send(new PutParameterCommand({ Name: p.RampState, Value: JSON.stringify(state), Type: "String", Overwrite: true }));
  }
  console.log(JSON.stringify({ alias: p.AliasName, live: main, version: p.Version, percentOnVersion: pct, previous: cur ? cur.FunctionVersion : null }));
  return { AliasArn: out.AliasArn, LiveVersion: main, PercentOnVersion: String(pct) };
}
exports.handler = async (event) => {
  const p = event.ResourceProperties;
  const physical = event.PhysicalResourceId || (p.FunctionName + ":" + p.AliasName);
  let status = "SUCCESS", reason = "", data = {};
  try {
    if (event.RequestType !== "Delete") {
      data = await apply(p);
    }
  } catch (e) { status = "FAILED"; reason = String(e).slice(0, 500); console.error(e); }
  await fetch(event.ResponseURL, { method: "PUT", headers: { "content-type": "" }, body: JSON.stringify({
    Status: status, Reason: reason, PhysicalResourceId: physical, StackId: event.StackId,
    RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, Data: data }) });
};
`

// qualifiedArns are fn's ARN and its qualified ARNs (<ARN>:*), which alias
// operations are authorised on; the ARN (a token) is read once.
func qualifiedArns(fn awslambda.IFunction) *[]*string {
	arn := *fn.FunctionArn()
	return jsii.Strings(arn, arn+":*")
}
