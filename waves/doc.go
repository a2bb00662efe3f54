// Package waves is the pure-Go core of safepipe's rollout planning: the
// central region/AZ catalog every pipeline pulls, the wave policies, the
// plan (waves → production stages → targets, with bakes and traffic floors),
// the CodePipeline limits, and a schedule that simulates a rollout through
// deployment windows to estimate the time to global.
//
// # Catalog
//
// [DefaultCatalog] is an embedded, versioned list of every generally
// available commercial AWS region with its AZ IDs (never account-specific AZ
// names), traffic tier, IANA time zone and opt-in flag. The tiers are the
// default judgement of an organisation; publish your own catalog to change
// them. Precedence, applied by the CDK edge (constructs/pipeline): a file
// named by the "safepipe:catalog" context key or $SAFEPIPE_CATALOG, then a
// catalog published in an SSM parameter (CDK context lookup, cached in
// cdk.context.json), then the embedded default. [ParseCatalog] validates
// every source the same way and reports every problem at once.
//
// Each region lists the services it offers ([Region.Services], endpoint
// names), with the catalog's [Catalog.ServicesSource] saying where they
// come from (the embedded catalog: the SDK endpoint data of a named
// botocore release). [Policy.RequiredServices] are what every region of a
// plan must offer; a region that lacks one is refused, or left out and
// listed in [Plan.LackingServices] ([LackingExclude]). Unknown is not
// offered: a region without services lacks every one.
//
// # Plan
//
// [NewPlan] groups the catalog's regions into waves ([PolicyAmazon]: 1
// low-traffic region, 1 high-traffic region, 3, 12, the rest;
// [PolicyDoubling]: 1, 2, 4, 8, …; [PolicyExplicit]: the team's list), then
// expands each wave into stages: a one-box step (one target per region),
// then one AZ per region per step ([ShapeZonal]) or one regional step
// ([ShapeRegional]). Within a wave, remaining regions are taken least
// traffic first, ties broken by region code, so the same inputs always give
// the same plan. A stage whose actions exceed the CodePipeline limit of 50
// is split into parts ("-P1", "-P2"), only the last carrying a wave bake; a plan
// over 50 stages is an error saying by how much.
//
// Bakes default to the design digest: 1 h after each one-box, 1 h after each
// zonal step, 12 h after wave 1, 2 h after each later wave. A bake below its
// floor ([FloorOneBox], [FloorZonal], [FloorFirstWave], [FloorLaterWave]) is
// an error unless the policy carries an ExpediteReason.
//
// # Schedule
//
// [Schedule] walks the plan from a start time: a stage starts at the next
// opening of the deployment [Window] (default Monday–Thursday 09:00–16:00,
// holidays excluded), deploys, then bakes; bakes run through nights and
// weekends. It reports each stage's times and the time to global.
//
// [CheckGoal] compares the time to global with a goal in business days
// and, when the policy misses it, schedules the plan again with each of
// [Levers] — policy changes that keep every floor (the zonal bake at its
// 30-minute floor, the window an hour earlier or later, Fridays) — alone
// and then the fewest together that reach the goal, each with what it
// costs in safety. Reshaping waves by AZ count is not a lever: every wave
// is on the critical path, and a region of six AZs takes six steps in
// whichever wave it is.
//
// # Limits
//
// Catalogs and policies are written by many people and read in CI, so
// every input is bounded before it is planned, and every number is
// range-checked before arithmetic (an error names the field, the value
// and the limit):
//
//   - Files: [MaxCatalogBytes] and [MaxPolicyBytes] (1 MiB each; the
//     embedded catalog of 34 regions is 6 KB), read through a limit
//     reader, so /dev/zero is rejected after 1 MiB + 1 byte.
//   - Decoding ([ParseCatalog], [ParsePolicy]): exactly one JSON value and
//     nothing after it but white space ("}}" or "}]}" after a document is
//     an error); no duplicate keys; field names exactly as documented
//     ("Regions" or "KIND" is an unknown field, named with its line);
//     values of the documented types, integers in decimal and in range;
//     UTF-8 only; nesting at most 8 deep.
//   - Counts, checked before anything else is validated or built:
//     [MaxRegions] regions (1000; AWS has 34 commercial regions today) and
//     [MaxAZsPerRegion] AZs per region (50 = [MaxStages]: a zonal plan
//     takes a stage per AZ; the largest region has 6). [NewPlan] computes
//     the number of stages before making any, so a plan over [MaxStages]
//     costs arithmetic, not memory.
//   - Numbers: a bake and a deploy estimate are at most
//     [MaxStageDuration] (86400 minutes, the longest a CodePipeline rule
//     may run), checked on the minutes before they become a
//     time.Duration; actionsPerTarget at most [MaxActionsPerStage],
//     actionsPerStage and reservedStages below the action and stage
//     limits, so no sum or product wraps around.
//   - A window lists at most [MaxHolidays] holidays (1000), looked up in
//     a set; [Window.NextStart] looks two years ahead at most; [Schedule]
//     checks the bakes and stage count of a plan built or edited by hand,
//     so the simulated rollout stays finite.
//
// This package imports no jsii or CDK package; a test enforces it.
package waves
