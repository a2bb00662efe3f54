// Package gates decides, for every gated stage of a pipeline, whether its
// entry gate is closed (a blocker: the deployment window, a holiday, the
// organisation alarm, an aggregate alarm of one of its regions) and
// whether its bake has been breached (a watched alarm was in ALARM after
// the stage deployed). It is pure Go: the gate controller (a Lambda
// function the pipeline deploys, cmd/safepipe-gates) runs it every minute
// against the AWS APIs, the simulator (package sim) runs the very same
// code against its simulated world, and both publish the decisions as two
// metrics per stage — EntryBlocked and BakeBreached, 1 or 0, in the
// namespace safepipe/gates with the dimensions Pipeline and Stage.
//
// # Why a controller
//
// The pipeline's stage conditions watch one alarm per gate, on those
// metrics, in the pipeline's own account and region; package
// constructs/pipeline explains in its documentation why this is the way
// the documented semantics of CodePipeline allow a blocker to hold a stage
// before it starts, fan in any number of regions and accounts, and stay
// fresh while the stage waits for its window. In short: a stage has one
// entry condition of at most five rules, rules of one condition are
// evaluated together, and "after the deployment window opens, CodePipeline
// does not check the CloudWatchAlarm alarm again"
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html).
// An entry gate that is itself closed whenever the window is closed can
// only open once the window is open and every blocker is clear.
//
// # Decisions
//
// Entry is blocked while any of these holds (each is a reason in the
// log):
//
//   - production stages: the time is outside the window, or the day is a
//     holiday, in the window's time zone;
//   - the organisation alarm or any blocker alarm is in ALARM;
//   - a blocker alarm does not exist although the stack that creates it
//     does (strict: a renamed or deleted alarm blocks rather than passing
//     forever). While that stack does not exist — the region's first
//     deployment, when no alarm can have fired — a missing alarm does not
//     block; the decision says so in a note;
//   - anything cannot be read (an API error, a denied role): the gate
//     fails closed.
//
// The bake is breached, once the stage's actions have all succeeded (its
// bake start, from the pipeline's state), while any bake alarm is in
// ALARM, has been in ALARM at any moment since the bake started (read
// from its state history, so a short alarm during a long bake is not
// lost whichever way CodePipeline's OnSuccess WaitTime samples the
// alarm), does not exist, cannot be read, or has no data within
// EndOfBakeSlack of the bake's end.
//
// While a rollback execution runs in a stage or waits to enter it, both
// of its gates open: CodePipeline does not document whether stage
// conditions are evaluated during a rollback execution
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html
// is silent), and the alarm that caused the rollback must never block it.
//
// When a later step of a region rolled back (Stage.RollsBack: the zonal
// shape, where each step deploys its own AZ's stacks and CodePipeline
// rolls back the failed stage only), the decisions ask the controller to
// roll the region's earlier steps back to the same target (Decision.
// RollBackTo; the latest first, one at a time) and keep the region's
// entries closed until it has: region.go, docs/aws-semantics.md Q24.
//
// Where the documentation is silent the package chooses the safe side and
// says so: alarms it cannot read close the gate; INSUFFICIENT_DATA does not
// block entry (an aggregate composite is in that state only right after
// it is created: "this initial time after creation is the only time that
// the alarm can be in INSUFFICIENT_DATA state",
// https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-compositealarm.html),
// but a bake alarm without data at the end of the bake fails it.
//
// # Configuration
//
// [Config] is written by the pipeline construct at synth (one JSON
// document, strictly parsed by [Parse], at most MaxConfigBytes) and
// carried inside the controller's code asset and, for verify and the
// simulator, in the controller function's template metadata
// ("safepipe:gates").
package gates
