// Package deploy renders how one region takes a change, with the AWS-native
// mechanisms a team would choose by hand, pre-wired to the region's alarms
// (package alarms) and to automatic rollback. The pipeline decides where
// and when; a team's service stage factory calls one of these in a few
// lines.
//
// CodeDeploy and ECS watch the region's high-severity metric alarms (and,
// on a one-box step, the one-box-scoped ones), at most
// MaxDeploymentAlarms: both services document metric alarms, and one that
// looked a composite alarm up as a metric alarm would not find it.
// CompositeAlarms (EcsRolling's composite argument) hands them the
// composite one-box and aggregate alarms instead, without the limit; turn
// it on once you have seen composites work with the service in your
// account. ECS deployment alarms are passed by literal name (read from the
// alarm's own resource), never as a reference into the service's stack,
// which would make the alarm and the service depend on each other.
//
//   - [NewLambdaDeployment]: the function's current version behind an
//     alias ("live"), pointed by the alias controller ([NewAliasController],
//     a custom resource) when the stack deploys. On the one-box step the
//     alias keeps the version it serves at that moment (read then, not
//     written in code) and sends OneBoxPercent (10%) of invocations to the
//     new one, for as long as the pipeline's one-box bake; the regional
//     step sends all of them. CodeDeploy is not used for Lambda: a
//     CodeDeploy canary would shift all traffic after its interval, before
//     the pipeline's bake, and a pipeline rollback would redeploy through a
//     deployment group whose alarms are firing. A rollback redeploys the
//     previous template, whose controller repoints the alias at once. The
//     pipeline's gates (package constructs/pipeline) watch the alarms and
//     roll the stage back.
//   - [Ramp] (on [NewAliasController] and release.WeightedAlias): a canary
//     raised in steps after one deployment (10% → 50% after an hour → 100%
//     after another) by a driver function run every minute, which advances
//     only after a step held with the alarm OK the whole time (counted from
//     the alarm's last state change), takes the candidate's share away at
//     once when the alarm is in ALARM or missing, and stops without writing
//     anything when a deployment or a person has moved the alias.
//   - [NewServerDeployment] (EC2 / Auto Scaling): a one-box deployment
//     group (the one instance carrying the one-box tag) deployed first,
//     then the fleet with CodeDeploy's zonal configuration — one AZ at a
//     time, first-zone and per-zone monitor times from the plan's bakes —
//     keeping 67% of the fleet and of each zone healthy. Replacing more than
//     a third at a time, or an empty one-box group, is a synth error unless
//     overridden with a reason.
//   - [EcsRolling]: ECS's own rolling deployment made safe — circuit
//     breaker with rollback, rollback on the aggregate alarm, 100%/200%
//     healthy by default and never under 67%.
//   - [NewBatchedServerDeployment]: a fleet deployed in doubling batches
//     (1, 2, 4, 8, … the last takes the rest; waves.Batches), one
//     deployment group per batch, deployed in order.
//   - [GoCode] builds a Go Lambda handler for provided.al2023 during synth,
//     without Docker.
//
// Lambda blue/green, weighted canaries (with ramps) and A/B tests on
// aliases are in package release.
package deploy
