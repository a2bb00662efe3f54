package deploy

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/internal/synth"
)

// SyntheticTrafficProps configure a region's synthetic traffic: a canary
// that calls the service every minute, so that gamma (which has no users)
// and quiet production regions serve enough requests for the bake's
// minimum, and whose failures join the region's aggregate alarm.
//
// Why not a CloudWatch Synthetics canary: for API calls a scheduled
// Lambda function does the same work with no artifact bucket, no browser
// runtime to keep off the deprecation list (Synthetics runtimes are
// deprecated on a schedule: "You can't create canaries using deprecated
// runtime versions",
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Synthetics_Runtime_Support_Policy.html),
// and its verdict is the function's own Errors metric.
type SyntheticTrafficProps struct {
	// Names names the canary's alarm (the deployment's alarm names).
	// Required.
	Names alarms.Names
	// Function is the function the canary invokes; its invocations count
	// toward the traffic of Qualifier. Exactly one of Function and URL is
	// required.
	Function awslambda.IFunction
	// Qualifier is the alias (or version) of Function to invoke, usually
	// the live alias. Default: none (the unqualified function, $LATEST).
	Qualifier string
	// URL is an https:// endpoint the canary calls (GET, or POST with
	// Payload). Exactly one of Function and URL is required.
	URL string
	// Payload is the invocation payload (JSON) or the request body.
	// Default: "{}" for a function, none (GET) for a URL. Make it
	// recognisably synthetic: it reaches production.
	Payload string
	// Expect is a substring every response must contain. Default: none
	// (any response that is not an error).
	Expect string
	// PerMinute is the number of calls per minute. Default: 6; at most 60.
	PerMinute int
}

// SyntheticTraffic is the canary: a function run every minute and the
// alarm on its failures.
type SyntheticTraffic interface {
	constructs.Construct
	// Alarm is the canary's alarm, named Names.HighSeverity("canary",
	// false, "failures"): add it to RollbackAlarmsProps.Extra so that it
	// joins the aggregate. Nil on error.
	Alarm() alarms.Child
	// Function is the canary function (nil on error).
	Function() awslambda.Function
	// Err reports invalid props (also synth errors on the construct).
	Err() error
}

type syntheticTraffic struct {
	constructs.Construct
	alarm alarms.Child
	fn    awslambda.Function
	err   error
}

func (s *syntheticTraffic) Alarm() alarms.Child          { return s.alarm }
func (s *syntheticTraffic) Function() awslambda.Function { return s.fn }
func (s *syntheticTraffic) Err() error                   { return s.err }

// canaryCode is the canary: it calls the target PER_MINUTE times and
// throws if any call fails or lacks EXPECT, so that the function's Errors
// metric counts failing runs. The Node.js runtime ships the AWS SDK v3.
const canaryCode = `const { LambdaClient, InvokeCommand } = require("@aws-sdk/client-lambda");
const lambda = new LambdaClient({});
const env = process.env;
async function call() {
  if (env.TARGET_FUNCTION) {
    const out = await lambda.send(new InvokeCommand({ FunctionName: env.TARGET_FUNCTION, Qualifier: env.QUALIFIER || undefined, Payload: Buffer.from(env.PAYLOAD) }));
    const body = Buffer.from(out.Payload || []).toString();
    if (out.FunctionError) throw new Error("function error: " + body.slice(0, 200));
    return body;
  }
  const res = await fetch(env.TARGET_URL, env.PAYLOAD ? { method: "POST", body: env.PAYLOAD, headers: { "content-type": "application/json", "x-safepipe-synthetic": "1" } } : { headers: { "x-safepipe-synthetic": "1" } });
  const body = await res.text();
  if (!res.ok) throw new Error("HTTP " + res.status + ": " + body.slice(0, 200));
  return body;
}
exports.handler = async () => {
  const n = Number(env.PER_MINUTE), failures = [];
  for (let i = 0; i < n; i++) {
    try {
      const body = await call();
      if (env.EXPECT && !body.includes(env.EXPECT)) failures.push("response lacks " + JSON.stringify(env.EXPECT) + ": " + body.slice(0, 200));
    } catch (e) { failures.push(String(e)); }
  }
  console.log(JSON.stringify({ calls: n, failures }));
  if (failures.length) throw new Error(failures.length + " of " + n + " synthetic calls failed: " + failures[0]);
};
`

// NewSyntheticTraffic creates the canary in scope's stack.
func NewSyntheticTraffic(scope constructs.Construct, id *string, props *SyntheticTrafficProps) SyntheticTraffic {
	s := &syntheticTraffic{}
	constructs.NewConstruct_Override(s, scope, id)
	var p SyntheticTrafficProps
	if props != nil {
		p = *props
	}
	if p.PerMinute == 0 {
		p.PerMinute = 6
	}
	if p.Payload == "" && p.Function != nil {
		p.Payload = "{}"
	}
	if s.err = p.validate(); s.err != nil {
		synth.Report(s, s.err)
		return s
	}
	env := map[string]*string{
		"PER_MINUTE": jsii.String(strconv.Itoa(p.PerMinute)),
		"PAYLOAD":    jsii.String(p.Payload),
		"EXPECT":     jsii.String(p.Expect),
	}
	if p.Function != nil {
		env["TARGET_FUNCTION"] = p.Function.FunctionArn()
		env["QUALIFIER"] = jsii.String(p.Qualifier)
	} else {
		env["TARGET_URL"] = jsii.String(p.URL)
	}
	logs := awslogs.NewLogGroup(s, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	s.fn = awslambda.NewFunction(s, jsii.String("Canary"), &awslambda.FunctionProps{
		Description: jsii.String(fmt.Sprintf("safepipe synthetic traffic of %s: %d calls a minute", p.Names.Prefix(), p.PerMinute)),
		Runtime:     awslambda.Runtime_NODEJS_LATEST(),
		Handler:     jsii.String("index.handler"),
		Code:        awslambda.Code_FromInline(jsii.String(canaryCode)),
		Timeout:     awscdk.Duration_Seconds(jsii.Number(50)),
		MemorySize:  jsii.Number(128),
		Environment: &env,
		LogGroup:    logs,
	})
	if p.Function != nil {
		// Exactly the function (or its qualifier), not every version
		// (GrantInvoke's "<arn>:*").
		target := *p.Function.FunctionArn()
		if p.Qualifier != "" {
			target += ":" + p.Qualifier
		}
		s.fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: jsii.Strings(target),
		}))
	}
	awsevents.NewRule(s, jsii.String("EveryMinute"), &awsevents.RuleProps{
		Description: jsii.String("safepipe: synthetic traffic every minute"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(s.fn, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)})},
	})
	name := p.Names.HighSeverity("canary", false, "failures")
	// Two failing minutes of three; a canary that stops running (no data)
	// counts as failing: the region then cannot prove its health.
	alarm := awscloudwatch.NewAlarm(s, jsii.String("Failures"), &awscloudwatch.AlarmProps{
		AlarmName:          jsii.String(name),
		AlarmDescription:   jsii.String(fmt.Sprintf("%s synthetic traffic: failing calls in 2 of the last 3 minutes, or the canary stopped (high severity: rolls back).", p.Names.Prefix())),
		Metric:             s.fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: awscdk.Duration_Minutes(jsii.Number(1))}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(3),
		DatapointsToAlarm:  jsii.Number(2),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	s.alarm = alarms.Child{Alarm: alarm, Name: name}
	synth.NagSuppress(s.fn.Role(), "AwsSolutions-IAM4", "The canary's role uses AWSLambdaBasicExecutionRole, scoped by AWS to writing its own logs.")
	return s
}

func (p SyntheticTrafficProps) validate() error {
	var errs []error
	errs = append(errs, p.Names.Validate())
	switch {
	case p.Function == nil && p.URL == "":
		errs = append(errs, errors.New("deploy: SyntheticTrafficProps: set Function or URL"))
	case p.Function != nil && p.URL != "":
		errs = append(errs, errors.New("deploy: SyntheticTrafficProps: set Function or URL, not both"))
	case p.URL != "" && p.Qualifier != "":
		errs = append(errs, errors.New("deploy: SyntheticTrafficProps.Qualifier applies to Function, not URL"))
	case p.URL != "":
		if u, err := url.Parse(p.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("deploy: SyntheticTrafficProps.URL %q is not an https:// URL", p.URL))
		}
	}
	if p.PerMinute < 1 || p.PerMinute > 60 {
		errs = append(errs, fmt.Errorf("deploy: SyntheticTrafficProps.PerMinute is %d; want 1–60", p.PerMinute))
	}
	return errors.Join(errs...)
}
