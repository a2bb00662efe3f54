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
// # Errors
//
// Every problem in the props — a nil Service, a wave without an account, a
// region not in the catalog, a plan over CodePipeline's limits, a stage with
// too many actions — is reported at once, as a synth error on the construct
// and by BasePipeline.Err. A panic raised by the team's Service or by a CDK
// call is turned into such an error too.
package pipeline
