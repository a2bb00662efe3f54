// Package alarms renders a team's alarms in one region: the high-severity
// alarms of each microservice, the aggregate rollback alarm, the one-box
// alarm, the anomaly guard and the bake alarms the pipeline watches.
//
// # What a team declares
//
// A [ServiceSpec] per microservice: the metrics (a [Preset] for Lambda, API
// Gateway, ALB or ECS, or explicit [Metric] values), the dimensions that
// select the service, and each alarm it wants — fault rate, p50/p90/p99
// latency, CPU, memory, disk, unhealthy hosts, error lines in logs, the
// anomaly guard. Each is optional; each [Threshold] defaults to
// DatapointsToAlarm 3 of EvaluationPeriods 5 one-minute periods.
//
// # What it becomes
//
// [NewRollbackAlarms] creates, in the stack's region, every alarm named by
// the deployment's [Names] (prefix "<team>-<environment>[-<cell>]"):
//
//   - the high-severity alarms, named <prefix>-<service>-<signal>;
//   - the aggregate rollback alarm <prefix>-aggregate-rollback, a composite
//     that ORs them and any extra alarm (the synthetic-traffic canary's).
//     The pipeline blocks on it; CodeDeploy and ECS, which document metric
//     alarms, watch its metric alarms (MetricAlarms) unless a team opts
//     into composites. CloudWatch allows 100 children and 10,240
//     characters per composite rule; past either, the aggregate is split
//     into nested composites <prefix>-aggregate-rollback-part-N and the top
//     alarm ORs the parts, so the name never changes;
//   - the one-box alarm <prefix>-onebox-rollback on one-box-scoped metrics
//     OR the aggregate. A one-box that stays in the fleet after its step
//     (OneBox.Persistent: an EC2 instance or group) serves the region from
//     then on, so the aggregate ORs its alarms too;
//   - the bake alarms <prefix>-bake and <prefix>-onebox-bake: the aggregate
//     (or one-box) alarm OR a low-traffic alarm, so that a region that
//     served too little traffic during the bake fails promotion instead of
//     passing silently.
//
// # One naming contract
//
// Alarm names are unique per account and region, and alpha and beta (or
// the per-AZ stacks of a zonal service) share an account and region, so
// every name carries the team, the environment and the cell. The names
// are one value, [Names], that the pipeline makes for each deployment
// (pipeline.Deployment.Alarms) and hands to the service: the service
// passes it to NewRollbackAlarms, and the pipeline's gates watch the names
// it gives. The pipeline also reads back which alarms each service stage
// really creates, and refuses to synthesize a gate that watches an alarm
// no stack of that account and region creates, or two stacks that create
// the same alarm name in one account and region.
//
// # The anomaly guard
//
// [AnomalyGuard] adds an alarm on requests falling below a floor (no data
// counts as none) and CloudWatch anomaly-detection alarms on p99 latency
// and faults above their learned band. All three are in the aggregate.
//
// Invalid props are reported all at once, as a synth error on the
// construct and by Err; the constructors never panic on user input.
package alarms
