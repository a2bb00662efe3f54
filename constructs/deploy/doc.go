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
// account.
//
//   - [NewLambdaDeployment]: the function's current version behind an
//     alias ("live"), shifted by CodeDeploy: on the one-box step a canary
//     that holds OneBoxPercent (10%) for the one-box bake, then the rest;
//     on the regional step linear (10% a minute) or all at once. CodeDeploy
//     watches the alarms and rolls back on failure, on alarm and when
//     stopped; optional pre/post-traffic hooks.
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
// Lambda blue/green, weighted canaries and A/B tests on aliases are in
// package release.
package deploy
