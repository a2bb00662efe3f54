// Package model is the one reader of what safepipe's tools are pointed at
// — cloud assemblies and CloudFormation templates, often written by
// someone else — below verify (rules over a pipeline) and sim (an
// execution of it). Both read through it, so that they cannot read one
// pipeline two ways:
//
//   - DecodeJSON: one JSON document strictly (no duplicate or case-variant
//     keys, no trailing data, bounded nesting);
//   - Flatten and Evaluator: the intrinsic functions, within bounds of
//     depth, work and output — Flatten writes what it does not resolve as
//     "${…}" placeholders, the Evaluator resolves Ref (pseudo parameters,
//     parameters by their Default, resources by their name property),
//     Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::If on the
//     template's Conditions;
//   - ParseCron and ParseWindow: a DeploymentWindow rule, read as the rule
//     reference documents it;
//   - the documented ranges of the numbers a template gives (RunOrder,
//     WaitTime, an alarm's Period and EvaluationPeriods, CodeBuild
//     timeouts), checked before any reader uses them, and CheckArtifacts,
//     how actions pass artifacts, as CodePipeline's own validation does;
//   - Limits: how much one input may cost.
//
// It is pure Go (no jsii, no CDK, no AWS SDK), starts no process and
// evaluates nothing it reads but the intrinsic functions above.
package model
