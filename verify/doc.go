// Package verify is a deployment-safety linter for CodePipeline cloud
// assemblies. Point it at any cdk.out — made by safepipe, by CDK Pipelines
// in TypeScript, by hand, or by another tool — or at a single
// CloudFormation template, and it reports, rule by rule, stage by stage
// and region by region, where the pipeline breaks the practices of safe
// deployment. It is pure Go: it reads the manifests and templates as JSON
// and imports no CDK package.
//
// # Entry points
//
// [Assembly] reads and verifies a cloud assembly directory, nested stage
// assemblies included; [TemplateReader] verifies one template; [Path] picks
// either. Each returns a [Report] of typed [Finding] values (rule,
// severity, pipeline, stage, region, resource, message, fix) or an error
// for unreadable input. [WriteText] and [WriteJSON] print a report; the
// command "safepipe verify" wraps them (exit 0 clean, 1 findings at or
// above --severity, 2 unreadable input, one line per problem). Package
// verifytest asserts a clean assembly from a team's own Go tests.
//
// The reader is usable on its own (package sim builds on it):
// [ReadAssembly] returns a [CloudAssembly] of [Template] values with the
// stack's account, region, name and tags from the manifest;
// [ReadTemplate] reads one template; [Template.Pipelines] gives each
// CodePipeline as [Pipeline], [Stage], [Action], [Condition] and [Rule];
// [Stage.Blockers], [Stage.Bakes] and [Stage.WindowRule] give its gates;
// [Check] verifies an assembly already read. [DecodeJSON] is the strict
// JSON decoder every file goes through, [Flatten] and [FlattenLimit] render
// template values, [ParseWindow] measures a DeploymentWindow cron, and
// [Escape] makes input text safe for a terminal.
//
// # Rules
//
// [Rules] lists them, each with a stable ID, a severity, a rationale and a
// fix written in CloudFormation and CDK terms (safepipe's constructs are
// named as one way to get there, not the only one). "safepipe verify
// --rules" prints them.
//
//	SP000 suppression-reason        SP015 zonal-monitor
//	SP001 prod-rollback             SP016 lambda-alias-shift (warning)
//	SP002 prod-bake                 SP017 aggregate-alarm
//	SP003 bake-floor                SP018 production-unrecognised
//	SP004 bake-every-region         SP019 pipeline-v1
//	SP005 deployment-window         SP020 condition-limits
//	SP006 alarm-blocker             SP021 window-coverage
//	SP007 first-stage-one-region    SP022 alarm-contract
//	SP008 one-cell-per-region       SP023 ecs-circuit-breaker
//	SP009 region-once-per-stage     SP024 ecs-deployment-alarms
//	SP010 pre-production            SP025 appconfig-strategy
//	SP011 codepipeline-limits       SP026 appconfig-monitors
//	SP012 codedeploy-alarms         SP027 template-limits
//	SP013 codedeploy-auto-rollback  SP028 no-op-stage
//	SP014 min-healthy-hosts         SP029 gate-in-rolling-back-stage (warning)
//	                                SP030 two-phase-in-one-release
//	                                SP031 upgrade-downgrade-test (warning)
//	                                SP032 rollback-across-structure-versions
//	                                SP033 trust-without-condition
//	                                SP034 unverifiable-deploy (warning)
//	                                SP035 unread-production-stack (info)
//	                                SP036 partial-region-rollback
//	                                SP037 one-box-moves-the-region
//	                                SP038 ramp-outlasts-bake
//	                                SP039 alarm-name-collision
//
// SP034 reports what no rule can check, rather than pass it in silence: a
// stage that deploys nothing verify reads and whose builds, commands or
// functions act in another account through a role, or whose name says
// production. SP035 (info, once per pipeline) lists the production stacks
// whose templates are not in the input — a lone pipeline template deploys
// what its build writes — so that a pass is not read as covering them.
//
// SP036: CodePipeline rolls back the failed stage only, so when a later
// step of a region rolls back, what an earlier step of its wave deployed
// there on its own (a one-box stack or group, an earlier AZ's stack) keeps
// the change — unless the later step redeploys it (the same template, so
// a no-op going forward: SP008 and SP028 do not count it) or safepipe's
// gate controller rolls that step back with it (gates rollsBack, the
// zonal shape; docs/aws-semantics.md Q24).
//
// SP037: a one-box step puts the change on a small share of a region; one
// whose stack rolls an ECS service of several tasks, or switches all of a
// safepipe alias (mode full, or a ramp to 100%), moves the whole region
// (OneBoxWhole; the pipeline construct refuses it at synth).
//
// SP038: safepipe's ramp driver raises a ramped alias's share on its own
// clock, counted from the deployment as the stage's bake is; a production
// stage whose bake ends before the ramp reaches 100% (Ramps, the driver's
// STEPS read by model.ReadRamp) promotes a region that does not serve the
// new version alone yet, and no bake watches its full share. The pipeline
// construct refuses it at synth too.
//
// SP039: an alarm name is unique per account and region (API_PutMetricAlarm),
// so two stacks that create one (two environments or two pipelines of a
// team sharing an account) share the alarm; the aggregate and gate
// findings that follow are then about the wrong alarm.
//
// SP030 reads the two-phase changes safepipe's Lambda alias controller
// (Custom::SafepipeAlias: Ledger, Changes) declares, package twophase: one
// release (one assembly) that prepares a change in one stack and activates
// it in another is an error. SP031 warns when production is reached
// without an upgrade-downgrade test: a pre-production stage, before the
// first production one, that deploys and whose name matches the config's
// upgradeDowngrade pattern, or whose Lambda alias controller rolls back to
// the version live before (Mode downgrade or downgrade-half). SP032
// reports, in a stage that rolls back, an action whose configuration
// carries a content hash (64 hex digits, as CDK names assets; CDK
// Pipelines' _PROJECT_CONFIG_HASH variable, a hash of a build project's
// own settings, excepted): every release becomes a new pipeline structure
// version, and CodePipeline rolls back only to executions of the current
// one. SP033 reads every template of the assembly, not only production
// stacks: an IAM role whose trust policy allows sts:AssumeRole to a whole
// account (its ID or root ARN) or to "*" in a statement without a
// Condition is an error, wherever the role lives.
//
// # Stage roles
//
// Roles come from what stages do. A stage deploys when it has an action in
// the Deploy category (CloudFormation, CodeDeploy, CodeDeployToECS, ECS,
// AppConfig, Elastic Beanstalk, S3, …), a CloudFormation action that only
// prepares a change set excepted. Its targets are the account and region
// of each deploy action: the stack's (from the manifest, through the
// action's TemplatePath), else the account of the role the action passes
// or assumes, else the pipeline's.
//
// A deploying stage is production when its name matches Config.Production
// (default: the word prod or production, case-insensitively: Prod-W1,
// prod-0, Deploy-Production) and not Config.NonProduction (PreProd,
// non-prod); when a stack it deploys is tagged Environment, Env or Stage
// with a production value, or carries Config.ProductionTag; or when it
// deploys to one of Config.ProductionAccounts; or, when no name or tag
// makes it pre-production, when its entry holds a deployment window (a
// DeploymentWindow rule or a gate controller entry gate with a window). A
// deploying stage before
// those is production too when it deploys to an account and region
// production deploys to, unless a pre-production stage deploys to that
// account or it is the pipeline's own account: shared infrastructure in
// the production account is production. Every deploying stage after the
// first stage recognised by name, tag or account is production, whatever
// its name. The first production stage is the first that deploys to
// production: an approval or test stage is not. Names and tag values are
// matched after folding the common Cyrillic and Greek look-alikes of Latin
// letters, so a look-alike can only make verify see more production.
//
// A pipeline that deploys but has no production stage is SP018, an error:
// verify never passes a pipeline because it could not tell what it
// deploys to. The message says how to name production; stages named for a
// pre-production role (Dev, Test, Staging, the upgrade-downgrade test) are
// not listed, and a pipeline that only deploys those is not SP018. A
// pipeline that never reaches production otherwise suppresses SP018 with
// that reason. The classification is model.Roles, which the simulator
// shares (Report.Stages says what each stage was taken for);
// internal/agreement checks on every pipeline of the repository that the
// two see the same production stages, and that a bad change the simulator
// lets out of the first production stage is never on a pipeline verify
// passes.
//
// Pre-production stages (SP010) are recognised by name: Config.Alpha,
// Beta, Gamma and GammaOneBox.
//
// # Gates
//
// Gates are read from CodePipeline semantics. A blocker is a
// CloudWatchAlarm rule on ALARM in a BeforeEntry condition that fails
// (Result FAIL) and has no DeploymentWindow rule: CodePipeline does not
// re-check alarm rules after waiting for a window (the documentation is
// silent; verify takes the safe side). A bake is a CloudWatchAlarm rule on
// ALARM in an OnSuccess condition that rolls back or fails, watched for
// its WaitTime minutes. Fan-in gates (a CodeBuild, Commands or Lambda
// action, or a LambdaInvoke or Commands rule, that watches more alarms
// than a condition's five rules allow) count when verify can read what
// they watch; how safepipe's own constructs declare that is in one file,
// safepipe_gates.go, the only place that knows their rendering. A fan-in
// action is a blocker when it runs before the stage's deploy actions and a
// bake when it runs after them. safepipe's gate controller (one
// CloudWatchAlarm rule per gate, on an alarm a Lambda function sets from
// every alarm the stage watches) is read through the gates.json beside the
// function's code in the assembly (for a template checked alone, the copy
// the function carries as "safepipe:gates" metadata): its rules count as
// the blockers and bake alarms listed there, and its organisation alarm as
// declared external; a gate alarm whose configuration is missing counts as
// nothing, and a malformed one is an error. The entry gate
// of a stage that gates.json holds to the window ("window": true) is that
// stage's window, and the window in gates.json (days, hours, zone,
// holidays) is checked like a cron: open all week or never open is SP021.
//
// A gate counts for a region only if it watches an alarm that plays the
// aggregate role there. A window (SP005, SP021) is a DeploymentWindow rule
// in a BeforeEntry condition that fails; its cron is parsed and its real
// calendar measured (every minute of every day of eight years), so a
// window open around the clock is caught however it is written, and so is
// one that never opens.
//
// A stage's bake floor depends on its position: the last stage of the
// first wave 12 h, the last stage of a later wave 2 h, a one-box stage
// 1 h, a zonal stage 30 min (Config.Floors). The last part of a split
// stage must bake every part's regions; earlier parts need no bake of
// their own.
//
// # The aggregate alarm, by role
//
// A region's high-severity alarms are the metric alarms its production
// deployments watch for automatic rollback (CodeDeploy deployment groups,
// ECS services; through composites), except alarms scoped to one Lambda
// version (dimension ExecutedVersion), which watch a new version, not the
// region; without any (safepipe's Lambda alias controller leaves rollback
// to the pipeline's gates), every metric alarm of the production stacks
// there except traffic floors: an alarm that fires below its threshold and
// treats missing data as breaching guards that the region saw enough
// traffic to judge a change; it blocks a promotion, it is not a failure the
// aggregate must carry. A floor that does not treat missing data as
// breaching (availability below 99%) stays high severity.
// A composite alarm plays the aggregate role in an account and region when
// it is in a stack of the assembly there, its rule is a disjunction of
// ALARM states (through nested composites), and its children include every
// high-severity alarm. Composites can also play it together: a service
// deployed per AZ or cell keeps one aggregate per cell stack (a composite
// can only OR alarms that exist, so no single one can OR the alarms of
// cell stacks later stages create), and the pure-OR composites of a region
// whose children together include every high-severity alarm play the role
// when a gate watches all of them (a bake so watched lasts as long as its
// shortest watch). Config.Aggregate names further aggregates; an
// external alarm can be declared with the role. Names never decide the
// role. In a single template verify cannot see the stacks, so any alarm
// counts unless Config.Aggregate is set.
//
// # The alarm contract
//
// Every alarm a gate or a deployment watches must exist in a stack of the
// assembly of that account and region (SP022), or be declared external
// with a reason: in Config.ExternalAlarms, or in the metadata of any
// template resource (typically the pipeline) as "safepipe:externalAlarms":
// a list of {"alarm", "account", "region", "aggregate", "reason"}. A gate's
// account is the account of the role its rule or line assumes, else the
// pipeline's. References are followed through Ref, Fn::GetAtt, alarm ARNs
// and, for AppConfig, SSM parameter-typed parameters, {{resolve:ssm:…}}
// and Fn::ImportValue to the stack that creates what they name.
//
// # Suppressions
//
// A suppression names a rule (ID or name), optionally a stage, region or
// resource, and always a reason; it is reported as suppressed and never
// fails verification. Suppressions live in the config file
// (Config.Suppressions) or in template metadata — "safepipe:suppress": a
// list of {"rule", "stage", "region", "reason"} on the pipeline resource
// (its findings) or on another resource (that resource's findings). A
// suppression without a reason is ignored and reported (SP000).
//
// # Strict, bounded input
//
// Every file verify reads — templates, manifests, the config — goes
// through [DecodeJSON]: exactly one JSON document (any non-whitespace
// after it is an error), valid UTF-8, no duplicate keys and no keys that
// differ only in case within an object (a duplicate logical ID is an
// error, never a silent merge), each problem named with its file, line and
// key path. The config's keys must be spelt exactly as documented. A
// template's logical IDs must be alphanumeric, and its pipelines must have
// the shape CodePipeline requires: Stages a list of at least two, stage,
// action and rule names of CodePipeline's pattern ([A-Za-z0-9.@\-_], so a
// name with a Cyrillic look-alike letter is refused), RunOrder 1–999,
// WaitTime a whole number of minutes checked against its limit before any
// arithmetic. Every rejected input is an error that names the limit or the
// problem; nothing panics.
//
// The caps, all in [Limits] ([DefaultLimits]):
//
//	MaxFileBytes          8 MiB   one template or manifest (8× CloudFormation's 1 MB
//	                              template quota, so SP027 can still report one)
//	MaxTotalBytes        64 MiB   all files of one assembly
//	MaxAssemblies           256   manifests read (root and nested)
//	MaxNesting               16   depth of nested assemblies
//	MaxTemplates           2000   stack templates of one assembly
//	MaxJSONDepth            128   nesting of objects and arrays in one document
//	MaxExpansion          1 MiB   what one intrinsic function may expand to
//	                              (Fn::Join nested however deep; checked
//	                              statically, in linear time, before anything
//	                              is flattened)
//	MaxTemplateExpansion 16 MiB   all of one template's intrinsic functions
//	MaxStages              1000   stages verify analyses in one pipeline (50 allowed)
//	MaxActions             1000   actions per stage (50 allowed)
//	MaxRules               1000   rules per condition (5 allowed)
//	MaxWaitMinutes        86400   a CloudWatchAlarm rule's WaitTime: 60 days, the
//	                              longest timeout CodePipeline documents for any
//	                              action (it documents none for WaitTime)
//
// A config file is at most 1 MiB, a pattern at most 1000 characters (Go's
// regular expressions run in linear time), a floor at most 30 days, a
// cron expression at most 1000 characters. The assembly walk never leaves
// the assembly directory (it resolves paths with os.Root, symbolic links
// included, and refuses absolute paths and ".."), reads each directory
// once however it is reached (os.SameFile: device and inode), and reads
// regular files only, each through an io.LimitReader; a FIFO or device is
// refused before it is opened.
//
// Text output and error messages escape control characters, bidirectional
// overrides and invalid UTF-8 ([Escape]), so a name in a template cannot
// move the cursor or reverse what a reviewer reads.
//
// # Where the AWS documentation is silent
//
// verify takes the safe side, and says so here: alarm rules in a
// BeforeEntry condition with a DeploymentWindow rule are not counted as
// blockers; a CloudWatchAlarm rule without AlarmStates ALARM is not a
// gate; a WaitTime written as an intrinsic function counts as 0 minutes;
// an AppConfig strategy or environment verify cannot resolve in the
// assembly is reported (SP025, SP026) rather than assumed safe; a stage
// whose OnFailure rolls back under a condition is not reported by SP029
// (verify cannot tell what the condition exempts); a V1 pipeline that
// carries conditions is reported whatever CloudFormation would make of it.
package verify
