// Package pipeline renders a waves.Plan into a deployable CDK app: a
// CodePipeline (V2), built with CDK Pipelines, that takes a commit from
// source through build, alpha, beta, a gamma one-box, gamma (two or more
// regions), an optional zeta, and then the production stages of the plan —
// a one-box step and zonal or regional steps per wave, every region of a
// step in parallel — with a safety gate on gamma and every production
// stage.
//
// # Stage names
//
// Stable and readable in the console: "Alpha", "Beta", "Gamma-OneBox",
// "Gamma", "Zeta", then the plan's production stages, all starting with
// "Prod": "Prod-W1-OneBox", "Prod-W1-Z1", …, "Prod-W3-Regional", with a
// "-P1", "-P2" suffix when a stage is split to respect the 50-action limit.
// CDK Pipelines adds "Source", "Build", "UpdatePipeline" (self-mutation) and
// "Assets" before them.
//
// # The team's part
//
// Go has no inheritance, so a base pipeline is "subclassed" by composition:
// an organisation package (see examples/orgbase) wraps NewBasePipeline and
// fixes what the organisation decides — waves, accounts, bakes, windows,
// tooling — and accepts the team's parts: its name (Team, which names its
// alarms everywhere), a [Service] (the factory that returns the cdk.Stage
// for one [Deployment]: environment, account, region, AZ, one-box or not,
// and the alarm names to create), optional capabilities detected by type
// assertion ([Tester] for integration and zeta tests), and a few overrides
// the organisation chooses to expose (say, excluded regions).
//
// Integration tests run in CodeBuild in the pipeline's account and test
// resources in the target account: [NewTestRole] creates, in the service
// stack, a role the pipeline account may assume (the team grants it what
// its tests need), and [TestStep] runs the test's commands as that role,
// with the stage's stack outputs in its environment.
//
// # Gates that hold when deployed
//
// [SafetyGates] is the default Gate (a pipeline without gates must say why,
// in UngatedReason, which the template records). On gamma and every
// production stage it renders three stage conditions, and every one of them
// rests on documented CodePipeline behaviour:
//
//   - OnFailure ROLLBACK: a failed stage rolls back to "the last successful
//     pipeline execution in the stage" (StageDeclaration.onFailure,
//     https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageDeclaration.html).
//   - BeforeEntry, result FAIL: the entry gate. Blockers — the deployment
//     window, holidays, the organisation alarm, every region's aggregate
//     alarm (in a zonal region every AZ's, which together are the
//     region's: see SafetyGates.otherCells; the bake watches them too) —
//     act before anything in the stage runs, and a closed gate
//     holds the stage: "For the Entry condition, this is the amount of time
//     CodePipeline will wait if the alarm is in ALARM state when it is
//     first evaluated. If the alarm is in OK state when the rule is first
//     checked, the rule will immediately succeed."
//     (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html).
//     The gate waits up to SafetyGates.EntryWait (by default the longest
//     stretch the window is closed over the year of its holidays, plus a
//     day) and then fails the stage, which refuses the change; nothing
//     that only says "not now" rolls anything back. What an entry failure
//     does to the stage is not documented beyond "the result is engaged";
//     if CodePipeline were to roll the stage back on it, the rollback would
//     redeploy what the stage already runs.
//   - OnSuccess, result ROLLBACK: the bake, a CloudWatchAlarm rule whose
//     WaitTime is the plan's bake ("The wait time in minutes to allow for a
//     state change before running the rule result").
//
// A stage has one condition of each kind with at most five rules ("Array
// Members: Minimum number of 1 item. Maximum number of 5 items.",
// https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html),
// but a later wave has a dozen regions, in other accounts, and the rules
// of one condition are evaluated together: "In cases where the
// DeploymentWindow rule and the CloudWatchAlarm rule are contained together
// in an entry condition, it is possible that the CloudWatchAlarm alarm
// might succeed before the deployment window for the DeploymentWindow rule
// opens. After the deployment window opens, CodePipeline does not check
// the CloudWatchAlarm alarm again."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
// Blocker rules beside a window rule would go stale overnight, and beyond
// five regions they do not fit. The other native fan-ins were weighed and
// rejected: a LambdaInvoke rule "is met when the check receives the Lambda
// function result" — it answers once and cannot wait, so beside the window
// it goes stale the same way, and alone it fails every stage that arrives
// at night; a VariableCheck rule compares a variable an earlier action set,
// hours before the window opens.
//
// So every gate is one CloudWatchAlarm rule on one alarm in the pipeline's
// own account and region, and the fan-in happens behind that alarm: the
// pipeline's gate [Controller], a Lambda function run every minute, reads
// every alarm each stage watches, in every account and region (assuming
// each account's watch role), and publishes per stage two metrics —
// EntryBlocked and BakeBreached — that the gate alarms watch (package
// gates decides; cmd/safepipe-gates is the function). The entry gate is
// closed whenever the window is closed or a holiday runs, so the rule
// cannot succeed before the window opens: it succeeds within minutes of the
// moment the window is open and every blocker is clear, which is as fresh
// as a check can be. No native DeploymentWindow rule sits beside it:
// whether CodePipeline evaluates a stage's entry condition for a rollback
// execution is not documented, and if it does, a window rule would hold a
// rollback until the window opens (the simulator showed a bad version
// serving for thirteen hours behind one), while the controller opens the
// gate for rollbacks. The bake gate is breached if any watched alarm
// was in ALARM at any moment since the stage deployed (the alarms' state
// history), so a short alarm in a long bake fails it whether CodePipeline
// watches the rule throughout the WaitTime or checks it at the end (the
// documentation reads both ways); the rule waits BakeLatency past the bake
// so that a breach in the bake's last minutes still reaches it. The gate
// alarms treat missing data as breaching: a controller that stopped
// publishing closes every gate.
//
// The controller opens both gates of a stage while a rollback execution
// runs in it or waits to enter it (GetPipelineState's stage execution
// type), so the alarm that caused a rollback never blocks it; whether
// CodePipeline evaluates stage conditions during a rollback execution is
// not documented, and this is safe either way. It reads the pipeline's
// state with one GetPipelineState call, which does not page and so does
// not depend on how many executions the pipeline has had.
//
// Blockers are strict: an alarm that is missing once the stack that
// creates it exists blocks the stage, with a log line naming it; before
// that stack exists (a region's first deployment) it does not. Anything
// the controller cannot read closes the gate it guards. It reads each
// target account through the pipeline's watch role there
// (WatchRoleName), which the pipeline creates in its SafepipeAccess stage,
// before any gated stage: it allows exactly the controller's reads and
// trusts the controller's role only (access.go, SECURITY.md). The CDK
// bootstrap lookup role (ReadOnlyAccess) is an explicit opt-in:
// SafetyGates.WatchRole = LookupRoleWatch(qualifier).
//
// # One alarm contract
//
// The alarm names the gates watch and the names the service stacks create
// are one value: Deployment.Alarms (alarms.Names), which carries the team,
// the environment and the cell, because alarm names are unique per account
// and region and alpha and beta share one. The pipeline also reads back,
// from every service stage it renders, the alarms each stack really
// creates: the stage's synthesized templates (nested stacks included), so
// the name counted is the one CloudFormation will create, an escape hatch's
// override included; alarms whose name is not a literal are not counted. A
// gate watching an alarm that no stack of that account and region creates,
// or two stacks creating one alarm name in an account and region, fails
// synth with the alarm, account, region and stage.
//
// # Rollback safety
//
// UpgradeDowngrade adds the upgrade-downgrade test after gamma (and zeta):
// five gated stages, UpDown-UpgradeHalf, -UpgradeFull, -DowngradeHalf,
// -DowngradeFull and -Reupgrade, that deploy to a pre-production region of
// their own (multi-AZ, deployed by no other stage, so that it runs the
// previous release when the test starts) with the production deploy
// configuration, each baked for UpgradeDowngrade.Bake (at least
// MinUpgradeDowngradeBake, one hour: every API and hourly batch job runs)
// and gated like gamma. Deployment.UpgradeDowngrade tells the team's
// Service which step a stage takes; deploy.LambdaProps.UpgradeDowngrade
// maps it onto the alias controller, which reads the version live before
// the test at deploy time. The test adds five stages to the pipeline's
// reserved stages (the plan has fewer left for production).
//
// SafetyGates.Changes carries the release's two-phase changes (package
// twophase). For each one it activates, every gated stage's entry gate
// stays closed until the ledger of every alias controller of the
// production stages and of the stage itself shows the change's prepare
// serving all traffic; the pipeline finds the ledgers in the rendered
// stages (LedgerKeeper), and a stage that keeps none fails synth: it
// could never start.
//
// # Expedited changes
//
// An expedited change runs in a second pipeline whose policy carries
// waves.Policy.ExpediteReason and shorter bakes (the planner accepts bakes
// under the floors only then). It runs every stage, every gate and every
// alarm; only the bakes are shorter. The reason is visible in the template
// as the pipeline variable SAFEPIPE_EXPEDITE_REASON and the tag
// safepipe:expedite, and the shortened bakes as each rule's WaitTime.
//
// # Limits
//
// The planner splits a step whose actions would exceed CodePipeline's 50 per
// stage; the pipeline measures what one target deploys (one action per
// stack, or two — Prepare and Deploy — with BasePipelineProps.ChangeSets)
// from the alpha stage before planning, and checks every stage before CDK
// Pipelines builds it, so a stage is never split behind the plan's back.
// Gates add no action.
//
// CloudFormation refuses a template over 1 MB, or with more than 500
// resources, 200 outputs or 200 parameters, at deployment, in the middle
// of a release. Synth, used in a CDK app's main in place of app.Synth,
// checks every template of the assembly (the stage assemblies included)
// and returns the problems as an error naming the template and its size;
// CheckTemplates does the same on an assembly directory.
//
// # Cross-region support stacks
//
// CDK Pipelines replicates artifacts to each region through a support
// stack (a bucket and a key) per region. Each BasePipeline owns its own,
// named <pipeline stack>-support-<region>: CDK's default shares them
// across every pipeline of an app, named after whichever pipeline is built
// first, so that renaming or removing that one would replace the others'
// buckets under them.
//
// # Errors
//
// Every problem in the props — a nil Service, an invalid Team, a wave
// without an account, a region not in the catalog, a plan over
// CodePipeline's limits, a stage with too many actions, an alarm contract
// broken — is reported at once, as a synth error on the construct and by
// BasePipeline.Err. A panic raised by the team's Service (or a CDK call it
// makes) becomes such an error too, naming the stage, the target and the
// first frame of the team's code.
package pipeline
