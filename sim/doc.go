// Package sim executes a synthesized cloud assembly: it takes one change
// through the pipeline the templates describe — with the documented
// semantics of CodePipeline, CloudFormation, CodeDeploy and CloudWatch, the
// real gate decisions of package gates, and the faults a user injects — and
// checks safety properties on what happened. It is pure Go (no jsii, no
// CDK, no AWS SDK); "safepipe simulate" and "safepipe plan --from" wrap it.
//
// Everything is read from the templates, never from the plan: which
// stages are production (model.Roles, shared with verify: the stage's name
// in any case, word form and common language, a production tag of a
// stack it deploys, where it deploys, a deployment window in front of a
// stage no name makes pre-production, and every deploying stage after a
// production one; --production names them when the names do not say it;
// internal/agreement checks on every pipeline of the repository that
// verify sees the same production stages), which stages
// form a wave (production stages in a row deploying the same regions),
// which bake is a one-box bake (its alarms follow package alarms' naming
// contract, "<prefix>-onebox-bake"), how traffic moves (the deployment
// group's configuration), what a gate watches (the gates configuration in
// the controller's template metadata, "safepipe:gates").
//
// # Entry points
//
// [Load] reads a cloud assembly directory (nested stage assemblies
// included) or one template, strictly and within [Limits]: one JSON
// document per file, no duplicate or case-variant keys, bounded size,
// nesting and file count, nested assemblies walked once each and never
// outside the root, intrinsic functions expanded within bounds of depth,
// work and size. (verify has its own reader; its assembly walk is not
// exported and does not keep accounts or stack names, which the simulator
// needs.) [NewModel] finds the pipeline, its stages, actions, conditions,
// the gates configuration and every alarm the stacks create. [Run]
// simulates and returns a [Result]: reached, rolledBack and blastRadius
// regions, time to global, every stage run, violations, faults, each
// production region's share of the new version over time, the closed
// windows, events and notes; [Result.WriteText], [Result.WriteJSON] and
// [Result.WriteHTML] print it. [ParseFault] reads the fault grammar (see
// [Fault]).
//
// # The world
//
// Time moves in one-minute steps from Options.Start (ten minutes of
// warm-up before it let the gate alarms settle). Before the run, one
// earlier successful execution deployed the previous version through every
// stage: every stack the pipeline deploys exists with the template of the
// last stage that deploys it, and that execution is every stage's
// rollback target. The change is new code in every stack: a Lambda
// function or an ECS task definition changes; a stack without code does
// not change. A stack that creates a CodeDeploy Server (EC2) deployment
// group is a code stack too, but its code is the revision on the group's
// instances, which only safepipe's server deploy action moves (below).
//
// Every minute: faults fire or clear; stack updates and traffic shifting
// advance; the gate controller runs — [gates.Evaluate], the very code the
// controller Lambda runs, over an observer of the simulated world (alarm
// states and histories, stacks, the pipeline's stage states with rollback
// executions and bake starts) — and its EntryBlocked and BakeBreached
// decisions become the datapoints of the gate metric alarms the pipeline
// stack defines; those alarms are evaluated; the pipeline
// advances. The decisions are recomputed whenever one of their inputs
// changed (an alarm, a stack, a stage, the window), which is what a run
// every minute would give.
//
// # Nothing read is executed
//
// The simulator is pointed at assemblies from pull requests and from
// other teams, so it never runs, evaluates or follows anything it reads.
// It starts no process and writes no file (the command writes only its
// --out). Assembly files are read through an os.Root: a symbolic link or
// path that leads out of the assembly is an error. What an action carries
// — a buildspec, a Commands action's commands, a Lambda function — is
// never run: the actions it models (CloudFormation deployments,
// safepipe's server deploy step) are modelled by what they do, and every
// other action is opaque: it succeeds after Options.ActionMinutes, or
// fails where a fail:STAGE/ACTION fault says so, and a note lists them.
// (Earlier versions ran the buildspec of the old design's CodeBuild watch
// actions under /bin/sh; a template written to that shape could run any
// command as the caller. The internal/arch test keeps os/exec out of this
// package and of every package that reads input.)
//
// # Semantics and where they come from
//
// docs/aws-semantics.md (Qn) digests the documents; each rule's code cites
// its page and sentence. On documentation:
//
//   - CodePipeline V2 stage conditions (Q1, Q2, Q3, Q6): a condition fails
//     if any rule fails; an entry CloudWatchAlarm rule succeeds at once if
//     the alarm is not in its AlarmStates when first checked, otherwise
//     waits up to WaitTime minutes (re-checked every minute) and fails;
//     once succeeded it is not checked again ("After the deployment window
//     opens, CodePipeline does not check the CloudWatchAlarm alarm
//     again"); a DeploymentWindow rule holds until its cron admits the
//     minute in its time zone; OnSuccess rules treat OK and
//     INSUFFICIENT_DATA as passing; results FAIL, SKIP and ROLLBACK; V1
//     pipelines have no conditions. Actions run by run order; the stage
//     fails when an action of a run order failed and the others of that
//     run order finished.
//   - Stage rollback (Q5): a failed stage with OnFailure ROLLBACK, or an
//     OnSuccess ROLLBACK result, starts a ROLLBACK execution of that stage
//     with the target execution's artifacts (the previous version); the
//     change's execution stops.
//   - CloudFormation (Q13): a stack update changes something only when the
//     template (Metadata and Description aside: "you cannot update the
//     Metadata section by itself") or the code differs from what is
//     deployed; resource names are unique per account and region (IAM per
//     account, S3 everywhere).
//   - CodeDeploy for Lambda (Q9): an alias with the
//     CodeDeployLambdaAliasUpdate policy shifts through its deployment
//     group's configuration (custom TimeBasedCanary / TimeBasedLinear or a
//     predefined one) when its version changes; the stack update waits for
//     it; an alarm of the group in ALARM (or missing: ignorePollAlarmFailure
//     is false by default) stops it, and with DEPLOYMENT_STOP_ON_ALARM
//     traffic goes back at once; the stack update then fails and
//     CloudFormation rolls the stack back.
//   - CodeDeploy for EC2 (server.go): a CodeBuild action whose environment
//     (the project's, with the action's EnvironmentVariables over it) sets
//     SAFEPIPE_GROUP is safepipe's server deploy step
//     (constructs/deploy ServerDeployScript). It deploys to the group of
//     that name created by a stack the stage deploys in SAFEPIPE_REGION
//     (the stage's account there): the execution's version, or, in a
//     rollback execution, the earlier version with alarm polling off,
//     after stopping the deployment in progress — what the script does.
//     The group's instances (its Auto Scaling groups' DesiredCapacity,
//     else MinSize) move in batches of instances − minimum healthy hosts
//     (HOST_COUNT, FLEET_PERCENT rounded up; OneAtATime 1, HalfAtATime
//     half rounded down, AllAtOnce all; no configuration is OneAtATime),
//     at least one; an alarm of the group in ALARM, or missing, stops the
//     deployment and fails the action; with DEPLOYMENT_STOP_ON_ALARM
//     CodeDeploy redeploys the group's last successful revision. The
//     action also fails at SAFEPIPE_DEADLINE_MINUTES (the script's own
//     deadline). A region's share of the new version is
//     the share of its instances (its server stacks' groups together);
//     it is reached when every instance serves it.
//   - safepipe's alias controller (Custom::SafepipeAlias) applies its mode
//     when its stack updates (full, canary, the upgrade-downgrade steps);
//     a ramped canary (RampState, deploy.LambdaProps.Ramp) is then taken
//     through its driver's STEPS (model.ReadRamp) one tick a minute: a
//     hold over with the ramp's alarm OK raises the share, an alarm not OK
//     restarts the hold, an alarm in ALARM or missing gives the new
//     version nothing; a later deployment of the code live when the ramp
//     started (a stage rollback) serves it alone. A ramp that cannot be
//     read is not modelled, with a note. This is safepipe's own code, run
//     against moto in constructs/deploy, not an AWS reading.
//   - ECS rolling updates (Q11): deployment alarms stop and, with Rollback,
//     roll back; an alarm already in ALARM when the deployment starts is
//     ignored for that deployment. Traffic moves linearly over the stack
//     update. A region's share weighs its ECS stacks by their tasks
//     (DesiredCount, 1 when unset): a one-task canary service beside a
//     main service of nine serves a tenth of the region (examples/ecs).
//   - CloudWatch (Q8): composite alarms evaluate their rule (ALARM, OK,
//     INSUFFICIENT_DATA, TRUE, FALSE, AND, OR, NOT) over their children in
//     the same account and region; metric alarms on the gate metrics use
//     their period, M of N datapoints and missing-data treatment; other
//     metric alarms are OK unless a fault fires them.
//
// On a documented assumption (the docs are silent; the simulator chooses
// the side that exposes a design relying on the unknown):
//
//   - An entry FAIL stops the execution at that stage without a rollback
//     (Q1). A DeploymentWindow rule waits without limit (Q1, Q3); in an
//     OnSuccess condition it fails outside the window (Q3). A
//     CloudWatchAlarm rule on an alarm that does not exist fails (Q2).
//     LambdaInvoke, VariableCheck and Commands rules pass, with a note.
//   - A rollback execution covers only its stage, and one that fails is
//     not rolled back again (Q5).
//   - An unchanged stack update succeeds in a minute (Q13); a stack
//     update takes Options.DeployMinutes plus the traffic shifting;
//     CloudFormation's rollback of a failed update takes
//     Options.ActionMinutes. Other actions take Options.ActionMinutes;
//     manual approvals pass at once.
//   - A linear configuration shifts its first increment when the
//     deployment starts and completes at ceil(100/percent)−1 intervals.
//   - EC2 deployments: a batch of instances takes Options.ActionMinutes
//     and its instances serve the new revision when it ends (the docs give
//     no duration); alarms are polled every minute and the
//     Options.AlarmAtStart reading does not apply (an alarm in ALARM when
//     the deployment starts stops it); CodeDeploy's automatic rollback
//     deployment moves instances with the group's configuration and polls
//     no alarm (so that it completes: the docs do not say whether its
//     alarms can stop it); ZonalConfig (zone by zone, monitor durations)
//     is not modelled, with a note; every instance takes a revision
//     (minimum healthy hosts lets some fail silently: not simulated). A
//     create-deployment on a group where a deployment is in progress is
//     refused (one deployment per group), and the action fails. A
//     rollback execution's step stops the deployment in progress; the stop
//     is pending until the batch in flight ends (StopDeployment may answer
//     "Pending"; the duration is an assumption), and the step creates its
//     deployment only then, failing if that takes longer than
//     SAFEPIPE_STOP_WAIT_SECONDS (15 minutes), as the script does. The
//     revision a step deploys is the execution's version: the script
//     reads it from the output of its stack (SAFEPIPE_STACK), which the
//     stage's stack action has just deployed with the execution's template.
//     A server deploy action the simulator
//     cannot resolve (unreadable or SECRETS_MANAGER environment, no such
//     group or two, an unknown configuration, instances selected by tags,
//     whose number the templates do not give) fails, with a note: it is
//     never counted as a success. CodeDeployDefault.HalfAtATime is taken
//     as FLEET_PERCENT 50 (half the instances, rounded down, at a time).
//
// Where the documentation leaves a behaviour open, the simulator runs
// every reading of it ([Questions]; "safepipe simulate --reading
// NAME=VALUE" picks one, "--all-readings" runs them all: [RunReadings]
// runs the cross product, or each question alone when that is more than
// [MaxMatrix] runs), and the tests check the properties under each:
//
//   - rollback-conditions (Options.RollbackConditions): whether a rollback
//     execution passes through the stage's conditions (Q5): evaluated (the
//     default: the reading under which a gate can hold a rollback) or
//     skipped.
//   - onsuccess-alarm (Options.BakeWatch): how an OnSuccess alarm rule
//     with a WaitTime checks its alarm (Q2): continuous (watches over the
//     wait), at-end (checks once when it ends) or immediate (as the rule
//     reference says of the Entry condition: "If the alarm is in OK state
//     when the rule is first checked, the rule will immediately succeed").
//     Under immediate a bake held by such a rule lasts no time; safepipe's
//     bakes are actions of the stage and do not depend on it.
//   - alarm-at-start (Options.AlarmAtStart): whether a CodeDeploy
//     deployment that starts while one of its alarms is in ALARM stops
//     (Q9's safe assumption, the default) or ignores that alarm (what ECS
//     documents for itself) — under stops a stage rollback through a
//     deployment group whose alarms the bad version keeps firing fails,
//     and the bad version stays.
//   - rule-timeout (Options.RuleTimeout): RuleDeclaration.timeoutInMinutes
//     has no documented default and cannot be set in CloudFormation: none
//     (a rule waits its WaitTime, the default) or 5 (the least it can be:
//     a rule still waiting after 5 minutes fails; an entry that waits for
//     its window then refuses the stage, which stops the change).
//
// # The bake action
//
// safepipe's stages bake through an action: a Lambda invoke action of the
// gate controller's function whose UserParameters read as a
// gates.BakeRequest. The simulator runs gates.EvaluateBake — the code the
// function runs — every minute from the action's start, against the
// simulated world: the action succeeds when the bake passes, fails (and
// the stage with it) on a breach, and succeeds at once in a rollback
// execution. While a controller fault holds the controller down it gets
// no reply: after 20 minutes without one the action fails ("If the Lambda
// function has sent no reply after 20 minutes, the action times out"), and
// after 24 hours in all ("If not successful after 24 hours, CodePipeline
// sets the Lambda invoke action state to failed"; CodePipeline quotas).
// While the controller is down its gate metrics get no datapoints, so the
// entry gates close.
// When a later zonal step rolled back, the controller's decisions order
// the region's earlier steps rolled back (gates.Decision.RollBackTo): the
// simulator starts a rollback execution of each as RollbackStage would,
// one at a time, and waits a round after the pipeline went quiet for the
// controller to see the last rollback end.
//
// # Faults
//
// See [Fault] for the grammar. A region's fault fires the first metric
// alarm of the region's aggregate alarm, so that every watcher sees it;
// without a hold it lasts while the change is in the region (deploying or
// serving traffic) and at least Options.ClearMinutes. A bad-version fault
// (bad:STAGE) needs no region or alarm name, so it applies to pipelines
// nobody here wrote; with a latency (bad:STAGE+2h) it shows only once the
// change has served that long in a region — what a bake must outlast —
// and the run goes on past the pipeline's end until every region it
// serves in has shown it.
//
// A stage that deploys nothing the simulator reads but whose builds,
// commands or functions deploy (model.OpaqueDeploy, as verify decides:
// the stage's name says production, or the action acts in another
// account through a role) deploys where the action runs: the region
// counts as running the change once the action succeeded.
//
// # Properties
//
// [Properties] lists them; each failure is a [Violation]:
//
//   - wave-bake-order: no production region runs the new version before
//     the previous wave's bake ended (a wave whose stages have no bake
//     never ends baking).
//   - onebox-share: during a one-box bake the new version serves at most
//     Options.OneBoxShare (10%) of the region's traffic (for EC2 stacks,
//     of the region's instances).
//   - fault-containment: a fault that fires in region R during stage S
//     lets no region of a later stage run the change afterwards, and every
//     region of S no longer runs it at the end. Faults with a hold (an
//     unrelated incident) and the organisation alarm are not the change's.
//   - rollback-completes: every rollback execution succeeds, and none
//     waits at its entry longer than Options.RollbackHoldMinutes (the gate
//     alarms' own evaluation lag).
//   - no-op-stage: no stage of the change deploys only stacks that are
//     identical to what is deployed or whose code is already the new
//     version (its deployment configuration then never runs).
//   - start-window: no stage starts outside its DeploymentWindow or the
//     gates window, on a holiday, or while an alarm its entry watches is in
//     ALARM. Rollback executions are exempt: they must run at any time.
//   - alarms-exist: every alarm a gate (gates configuration, alarm rules)
//     or a deployment (CodeDeploy group, ECS service) watches is created by
//     a stack of the assembly in that account and region, and the stack
//     the gates configuration names creates it. The organisation alarm is
//     created outside the app: assumed to exist, with a note.
//   - unique-names: no two stacks create one named resource in a scope.
//   - bake-holds: every production stage the change's execution passed
//     baked — from its bake's start (its first bake action, or its
//     actions' end) to its end — for at least its bake (the gate
//     configuration's, or its OnSuccess alarm rules' longest WaitTime).
//
// # Exit codes
//
// [ExitReached] (0): the change's execution succeeded, every production
// region serves only the new version (or no stage reads as production:
// the change passed every stage), and no property failed. A region whose
// production stages deploy only through actions the simulator does not
// model (CodeDeployToECS, ECS, CodeDeploy, AppConfig, S3, …), or only
// stacks without code it models, runs the change once such a deploy of
// its execution succeeded there, and the version before it once a
// rollback's did (a note says so).
// [ExitStopped] (3): the change was stopped (refused, rolled back, or
// still held when the simulation ended) and no property failed.
// [ExitViolated] (1): a property failed. [ExitBadInput] (2) is the
// command's for input it cannot read.
//
// # Not modelled
//
// Said in the result's notes when an assembly uses them: EC2/on-premises
// and ECS blue/green deployments made by pipeline CodeDeploy actions
// (the action succeeds after Options.ActionMinutes and its traffic is not
// tracked; safepipe's server deploy CodeBuild step is modelled, above),
// and a server deployment's ZonalConfig; deployment configurations the simulator does not know (traffic moves at once, with
// a note); lifecycle hooks; the ECS circuit breaker (faults are alarms,
// not failing tasks); IAM (every read is allowed; the permissions are
// verify's concern); metrics other than the gate metrics (service alarms
// are OK unless a fault fires them; INSUFFICIENT_DATA is not produced);
// CloudWatch evaluation delays beyond one-minute periods; pipeline
// self-mutation (the change is code only, so rollback targets stay valid);
// SUPERSEDED, QUEUED and PARALLEL execution modes (one change runs); only
// the first pipeline of an assembly is simulated.
package sim
