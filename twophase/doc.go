// Package twophase declares changes that are not rollback-safe in one step
// (a data format, a protocol, a schema) as two releases, after "Ensuring
// rollback safety during deployments" (Amazon Builders' Library; seed 001):
//
//   - prepare: every reader accepts the old and the new form; writers keep
//     writing the old. Safe to roll back: nothing new has been written.
//   - activate: writers write the new form. Safe to roll back to prepare,
//     whose readers accept it.
//
// The two are never one release, and activate starts only once prepare
// serves all traffic in every target; back out in the reverse order,
// deactivate (writers) before un-preparing (readers).
//
// A Change value is the one contract between the code that ships it and
// the pipeline that gates it. safepipe enforces it from deployed state, in
// three places:
//
//   - the Lambda alias controller (constructs/deploy) keeps a ledger per
//     alias, the SSM parameter /safepipe/two-phase/<stack>/<alias> in each
//     account and region, written after the alias has moved, from what it
//     serves: for each change, the phase all of the traffic runs (full) and
//     the phase of the share (canary), and which function (its ARN) and
//     code (the main version's CodeSha256) it describes. It refuses (fails
//     the stack update, which CloudFormation rolls back) to activate a
//     change whose full phase is not yet prepare — unless the alias does
//     not exist yet, when nothing serves — and to serve a version that
//     does not declare a change the ledger shows active anywhere on the
//     alias: a rollback past prepare while writers write the new form. A
//     ledger whose function or code is gone (it outlived its stack) proves
//     nothing prepared, but the changes it shows active still bind: the
//     data their writers wrote can outlive the function;
//   - the pipeline's gate controller (package gates) keeps the entry of
//     every gated stage of a release that activates a change closed until
//     every ledger of the production stages, and of the stage's own, shows
//     the change's prepare (or activation) serving all traffic;
//   - safepipe verify reports a release that both prepares and activates
//     one change.
//
// What rests on AWS documentation: an alias with no routing configuration
// sends every invocation to its version (Lambda, AliasRoutingConfiguration);
// a failed custom resource fails the stack update and CloudFormation rolls
// the stack back; SSM GetParameter answers ParameterNotFound for a missing
// parameter. What rests on our own reasoning: that a version "reads" a
// change exactly when its release declares it (the team's declaration);
// that the ledger, written after UpdateAlias succeeded, is the deployed
// state (a person moving the alias by hand is not seen until the next
// deployment; a release with changes does not ramp, since the ramp driver
// does not write it). Rolling back to a template built before safepipe kept
// ledgers cannot be refused: that template has no ledger to read.
// Fleets deployed by CodeDeploy (EC2), where minimum-healthy-hosts lets
// some hosts fail silently, are not covered yet: their deployments do not
// write a ledger, so a change they carry cannot be activated through the
// gate (it stays closed).
package twophase
