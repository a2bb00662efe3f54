// Package pipeline renders a waves.Plan into a deployable CDK app: a
// CodePipeline (V2), built with CDK Pipelines, that takes a commit from
// source through build, alpha, beta, a gamma one-box, gamma (two or more
// regions), an optional zeta, and then the production stages of the plan —
// a one-box step and zonal or regional steps per wave, every region of a
// step in parallel.
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
// tooling — and accepts the team's parts: a [Service] (the factory that
// returns the cdk.Stage for one [Deployment]: environment, account, region,
// AZ, one-box or not), optional capabilities detected by type assertion
// ([Tester] for integration and zeta tests), and a few overrides the
// organisation chooses to expose (say, excluded regions).
//
// # Gates
//
// Safety gates are [Gate] values the organisation plugs in; each sees every
// gamma and production stage ([GatedStage]) and may add stage conditions or
// steps. CDK Pipelines has no API for stage conditions, so this package
// writes them onto the built CfnPipeline by stage index (conditions.go);
// that layer is the only place safepipe reaches under CDK Pipelines.
//
// # Safety gates and the fan-in
//
// [SafetyGates] is the organisation's standard Gate. It relies on the
// alarm names of package alarms, which every service stack creates with
// alarms.NewRollbackAlarms, and renders on gamma and every production
// stage:
//
//   - Rollback: OnFailure ROLLBACK.
//   - Window (production): a BeforeEntry condition (result FAIL) with the
//     plan window's DeploymentWindow rule; it holds the stage until the
//     window opens.
//   - Blockers: the organisation alarm and every region's aggregate alarm.
//     CodePipeline does not re-check alarm rules that share a condition
//     with a DeploymentWindow rule once the window opens, so production
//     stages check them in a "Blockers" action that runs before any
//     deployment of the stage (and fails on a holiday of the window, which
//     no cron can express). Gamma, which has no window, uses native
//     CloudWatchAlarm rules when they fit in the condition's five.
//   - Bake: every watched region's bake alarm, for the plan's bake. Up to
//     five regions (MaxNativeRegions) this is an OnSuccess condition
//     (result ROLLBACK) with one CloudWatchAlarm rule per region, WaitTime
//     = the bake in minutes: no compute, visible and overridable in the
//     console. Larger stages — a later wave has a dozen regions or more —
//     fan in through one "Bake" action after the deployments: a small
//     CodeBuild action that assumes each region's watch role and polls
//     every region's bake alarm once a minute for the bake, failing on the
//     first ALARM or missing alarm (and on INSUFFICIENT_DATA at the end);
//     the stage then fails and rolls back. CodePipeline stops CodeBuild
//     actions after 8 hours, so a fan-in bake may be at most MaxFanInBake.
//   - The last part of a split stage bakes every part's regions (the
//     plan's Stage.Watch), so no region of a step misses the step's bake.
//
// Every region of a stage is watched, by exactly one rule or by the
// action; none is sampled. The actions let rollback executions through
// (they look up their own execution's type), so a failing gate never
// blocks the rollback it caused. One action per stage (not per region)
// keeps the 50-action limit: SafetyGates reserves two actions per stage
// ([ActionReserver]) so the planner splits a stage before it overflows.
// A Bake action costs CodeBuild minutes for the bake (a small instance);
// native rules cost nothing. SafetyGates adds its rules to conditions
// other gates started, and fails if that would exceed five rules or
// conflict with their result.
//
// The watch role defaults to the CDK bootstrap lookup role of each target
// account and region (read-only; trusted by the pipeline account when the
// targets are bootstrapped with --trust); set SafetyGates.WatchRole to use
// another.
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
// # Errors
//
// Every problem in the props — a nil Service, a wave without an account, a
// region not in the catalog, a plan over CodePipeline's limits, a stage with
// too many actions — is reported at once, as a synth error on the construct
// and by BasePipeline.Err. A panic raised by the team's Service or by a CDK
// call is turned into such an error too.
package pipeline
