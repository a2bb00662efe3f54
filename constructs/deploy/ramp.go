package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/internal/synth"
)

// RampStep is one step of a ramp.
type RampStep struct {
	// After is how long the candidate's previous share must have held,
	// with the ramp's alarm OK throughout, before this step. At least
	// MinRampHold, at most MaxRampHold. Required.
	After time.Duration
	// Percent is the candidate's share from this step on, in whole
	// percent, above the previous step's; 100 makes the candidate the
	// alias's only version and ends the ramp. Required.
	Percent int
}

// Ramp raises a canary's share in steps after its stack deploys (10% → 50%
// → 100%, say), in one deployment: no code change and no pipeline run per
// step. A driver function, invoked every minute, advances the share once
// it has held for the step's After with Alarm OK throughout, and gives the
// candidate nothing again (the alias serves the version live before the
// deployment alone) as soon as Alarm is in ALARM or does not exist.
type Ramp struct {
	// Steps are the shares after the deployment's first one, in order.
	// At least one. Required.
	Steps []RampStep
	// Alarm halts the ramp and takes the candidate's share away when in
	// ALARM, or when no alarm of its name exists; a hold waits while it is
	// not OK. The region's aggregate rollback alarm, a composite, is the
	// choice a pipeline accepts: a metric alarm can sit in
	// INSUFFICIENT_DATA and hold the ramp past the stage's bake (verify
	// SP038). Required.
	Alarm awscloudwatch.IAlarm
}

// The bounds of a ramp step's hold. The driver looks every minute, and a
// CloudWatch alarm evaluates one-minute periods at best, so a hold under
// five minutes would advance before the alarm could see the share it
// holds; fourteen days is CloudWatch's longest look back at an alarm's
// history, past which no one could audit a step.
const (
	MinRampHold = 5 * time.Minute
	MaxRampHold = 14 * 24 * time.Hour
)

// Duration is the shortest time the ramp takes from deployment to its last
// step: the sum of the steps' holds. A pipeline whose bake should cover
// the whole ramp bakes at least this long.
func (r *Ramp) Duration() time.Duration {
	var d time.Duration
	for _, s := range r.Steps {
		d += s.After
	}
	return d
}

// validate reports every problem of a ramp that starts from first percent,
// naming fields under field.
func (r *Ramp) validate(field string, first int) error {
	var errs []error
	if len(r.Steps) == 0 {
		errs = append(errs, fmt.Errorf("%s.Steps is empty; a ramp has at least one step", field))
	}
	if r.Alarm == nil {
		errs = append(errs, fmt.Errorf("%s.Alarm is nil; a ramp that watches nothing cannot stop", field))
	}
	prev := first
	for i, s := range r.Steps {
		if s.After < MinRampHold || s.After > MaxRampHold {
			errs = append(errs, fmt.Errorf("%s.Steps[%d].After is %s; a step holds %s to %s", field, i, s.After, MinRampHold, MaxRampHold))
		}
		if s.After%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%s.Steps[%d].After is %s; the driver counts whole seconds", field, i, s.After))
		}
		if s.Percent <= prev || s.Percent > 100 {
			errs = append(errs, fmt.Errorf("%s.Steps[%d].Percent is %d; each step raises the share, above %d and at most 100", field, i, s.Percent, prev))
		}
		if s.Percent == 100 && i != len(r.Steps)-1 {
			errs = append(errs, fmt.Errorf("%s.Steps[%d].Percent is 100 before the last step; 100 ends the ramp", field, i))
		}
		prev = max(prev, s.Percent)
	}
	return errors.Join(errs...)
}

// rampStep is a step as the driver reads it.
type rampStep struct {
	After   int64 `json:"after"` // seconds
	Percent int   `json:"percent"`
}

// rampResources are what a ramp adds to its stack: the state parameter the
// alias controller starts and the driver advances, and the driver.
type rampResources struct {
	state awsssm.StringParameter
}

// newRamp adds the ramp of fn's alias under scope.
func newRamp(scope constructs.Construct, fn awslambda.IFunction, alias string, r *Ramp) *rampResources {
	state := awsssm.NewStringParameter(scope, jsii.String("RampState"), &awsssm.StringParameterProps{
		Description: jsii.String("safepipe: where the ramp of the alias stands (written by the alias controller and the ramp driver)"),
		// The alias controller writes the state at each deployment; this
		// value is only the parameter's first one.
		StringValue: jsii.String(`{"status":"idle"}`),
	})
	steps := make([]rampStep, len(r.Steps))
	for i, s := range r.Steps {
		steps[i] = rampStep{After: int64(s.After / time.Second), Percent: s.Percent}
	}
	stepsJSON, _ := json.Marshal(steps) // plain structs: cannot fail
	driver := awslambda.NewFunction(scope, jsii.String("RampDriver"), &awslambda.FunctionProps{
		Description: jsii.String("safepipe: raises a canary's share step by step while its alarm stays OK, and takes it away on alarm"),
		Runtime:     awslambda.Runtime_NODEJS_LATEST(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(rampDriverCode)),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(50)),
		MemorySize:  jsii.Number(128),
		// One tick at a time: two concurrent ticks could both advance.
		ReservedConcurrentExecutions: jsii.Number(1),
		Environment: &map[string]*string{
			"FUNCTION_NAME": fn.FunctionName(),
			"ALIAS_NAME":    jsii.String(alias),
			"ALARM_NAME":    literalAlarmName(r.Alarm),
			"STATE":         state.ParameterName(),
			"STEPS":         jsii.String(string(stepsJSON)),
		},
	})
	driver.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:GetAlias", "lambda:UpdateAlias"),
		Resources: qualifiedArns(fn),
	}))
	// The alarm is often a composite (the region's aggregate), and
	// DescribeAlarms returns composites only to a permission scoped to *:
	// "To use this operation and return information about composite
	// alarms, you must be signed on with the cloudwatch:DescribeAlarms
	// permission that is scoped to *. You can't return information about
	// composite alarms if your cloudwatch:DescribeAlarms permission has a
	// narrower scope."
	// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html).
	// A narrower scope would make the driver see no alarm, and halt.
	driver.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudwatch:DescribeAlarms"),
		Resources: jsii.Strings("*"),
	}))
	state.GrantRead(driver)
	state.GrantWrite(driver)
	// Every minute: "rate(1 minute)", the shortest schedule EventBridge
	// rules take (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html:
	// "The finest resolution using a cron expression is one minute").
	awsevents.NewRule(scope, jsii.String("RampTick"), &awsevents.RuleProps{
		Description: jsii.String("safepipe: the ramp driver's tick"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(driver, nil)},
	})
	if role := driver.Role(); role != nil {
		synth.NagSuppress(role, "AwsSolutions-IAM4", "The ramp driver's role uses AWSLambdaBasicExecutionRole, scoped by AWS to writing its own logs.")
		if p, ok := role.Node().TryFindChild(jsii.String("DefaultPolicy")).(awsiam.Policy); ok {
			synth.NagSuppress(p, "AwsSolutions-IAM5", "Alias operations on the team's function's aliases (<function ARN>:*), and cloudwatch:DescribeAlarms, which takes * for composite alarms.")
		}
	}
	return &rampResources{state: state}
}

// rampDriverCode is the ramp driver. Each tick it reads the ramp's state
// (the SSM parameter), the alias and the alarm, and does at most one of:
// nothing (no ramp under way, the hold not over, or the alarm not OK but
// not in ALARM); take the candidate's share away (the alarm in ALARM or
// missing); raise the share to the next step. It counts a hold from the
// later of the step's start and the alarm's StateTransitionedTimestamp
// ("The date and time that the alarm's StateValue most recently changed",
// API_MetricAlarm; of a composite, "The timestamp of the last change to
// the alarm's StateValue", API_CompositeAlarm), so that an alarm that
// fired and recovered between two ticks restarts the hold instead of
// passing unseen. Not StateUpdatedTimestamp, which a composite alarm
// updates "even if StateValue doesn't change" (API_CompositeAlarm): a
// hold on the region's aggregate would restart at every evaluation and
// the ramp stall. Where StateTransitionedTimestamp is absent (moto), it
// falls back to StateUpdatedTimestamp. It changes the alias only with the
// RevisionId it read ("Only update the alias if the revision ID matches
// the ID that's specified",
// https://docs.aws.amazon.com/lambda/latest/api/API_UpdateAlias.html), so
// a deployment that moved the alias in between wins, and it stops (writes
// nothing) when the alias no longer serves the ramp's two versions: a new
// deployment, or a person, has taken over.
//
// Its state write is guarded by a re-read, not made conditional: SSM has
// no conditional write (PutParameter's only guard is Overwrite,
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
// A deployment that writes its state in the instant between the driver's
// re-read and put is overwritten; the next tick then finds the alias
// serving the new deployment's versions, not the state's, and stops: the
// new deployment's share stays at its first step (the safe side) until the
// next deployment. A release with two-phase changes does not ramp
// (AliasControllerProps.Ramp).
const rampDriverCode = `const { LambdaClient, GetAliasCommand, UpdateAliasCommand } = require("@aws-sdk/client-lambda");
const { CloudWatchClient, DescribeAlarmsCommand } = require("@aws-sdk/client-cloudwatch");
const { SSMClient, GetParameterCommand, PutParameterCommand } = require("@aws-sdk/client-ssm");
const lambda = new LambdaClient({}), cw = new CloudWatchClient({}), ssm = new SSMClient({});
const env = process.env, steps = JSON.parse(env.STEPS);
async function readState() {
  const out = await ssm.send(new GetParameterCommand({ Name: env.STATE }));
  return JSON.parse(out.Parameter.Value);
}
async function writeState(read, next) {
  // Between this tick's read and now, a deployment may have started a new
  // ramp: never write over it.
  const now = await readState();
  if (JSON.stringify(now) !== JSON.stringify(read)) { log("state changed under the tick; leaving it", now); return; }
  await ssm.send(new PutParameterCommand({ Name: env.STATE, Value: JSON.stringify(next), Type: "String", Overwrite: true }));
}
function log(what, data) { console.log(JSON.stringify({ ramp: what, alias: env.ALIAS_NAME, ...data })); }
async function setAlias(a, main, weights) {
  await lambda.send(new UpdateAliasCommand({ FunctionName: env.FUNCTION_NAME, Name: env.ALIAS_NAME,
    FunctionVersion: main, RoutingConfig: { AdditionalVersionWeights: weights }, RevisionId: a.RevisionId }));
}
// tick takes the time as an argument so that tests can move it; the
// handler is what Lambda invokes, with (event, context, callback).
exports.handler = async () => exports.tick(Date.now());
exports.tick = async (now) => {
  const st = await readState();
  if (st.status !== "ramping") return { status: st.status };
  const a = await lambda.send(new GetAliasCommand({ FunctionName: env.FUNCTION_NAME, Name: env.ALIAS_NAME }));
  const w = (a.RoutingConfig && a.RoutingConfig.AdditionalVersionWeights) || {};
  if (a.FunctionVersion !== st.live || !(st.version in w)) {
    log("the alias no longer serves the ramp's versions; stopping", { alias: a.FunctionVersion, weights: w, state: st });
    return { status: "superseded" };
  }
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [env.ALARM_NAME], AlarmTypes: ["MetricAlarm", "CompositeAlarm"] }));
  const alarm = [...(out.MetricAlarms || []), ...(out.CompositeAlarms || [])].find(x => x.AlarmName === env.ALARM_NAME);
  if (!alarm || alarm.StateValue === "ALARM") {
    const reason = alarm ? "alarm " + env.ALARM_NAME + " is in ALARM" : "alarm " + env.ALARM_NAME + " does not exist";
    await setAlias(a, st.live, {});
    await writeState(st, { ...st, status: "halted", reason, at: new Date(now).toISOString() });
    log("halted: the candidate serves nothing", { version: st.version, live: st.live, reason });
    return { status: "halted", reason };
  }
  const step = steps[st.step];
  if (!step) { await writeState(st, { ...st, status: "done" }); return { status: "done" }; }
  const changed = alarm.StateTransitionedTimestamp || alarm.StateUpdatedTimestamp;
  const since = Math.max(Date.parse(st.since), changed ? new Date(changed).getTime() : 0);
  if (alarm.StateValue !== "OK" || now - since < step.after * 1000) {
    return { status: "holding", state: alarm.StateValue, heldSeconds: Math.floor((now - since) / 1000) };
  }
  let next;
  if (step.percent >= 100) {
    await setAlias(a, st.version, {});
    next = { ...st, status: "done", step: st.step + 1, since: new Date(now).toISOString() };
  } else {
    await setAlias(a, st.live, { [st.version]: step.percent / 100 });
    next = { ...st, step: st.step + 1, since: new Date(now).toISOString() };
  }
  await writeState(st, next);
  log("step", { version: st.version, percent: step.percent });
  return { status: next.status, percent: step.percent };
};
`
