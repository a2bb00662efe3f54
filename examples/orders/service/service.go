// Package service is the orders team's service: a Go Lambda function behind
// the alias "live", shifted by CodeDeploy with automatic rollback. It is
// what the team's pipeline deploys to every target.
package service

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/pipelines"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/alarms"
	"github.com/safepipe/safepipe/constructs/deploy"
	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/twophase"
)

// StackName is the CloudFormation stack of the service in every production
// region. The one-box step and the regional step of a wave deploy the same
// stack: the one-box step with a canary that holds a small share of
// invocations for the one-box bake, the regional step with the fleet-wide
// configuration. Pre-production environments share an account, so their
// stacks carry the environment: "orders-service-alpha".
const StackName = "orders-service"

func stackName(env pipeline.Environment) string {
	if env == pipeline.Prod {
		return StackName
	}
	return StackName + "-" + string(env)
}

// Team names the orders team's alarms in every region.
const Team = "orders"

// AliasName is the alias callers invoke.
const AliasName = "live"

// OrderRecordV2 is the order record's change of format (handler/record.go),
// in two releases: this one prepares it (reads v1 and v2, writes v1); the
// next one sets Phase to twophase.ChangeActivate and the handler's writeV2.
// The same value goes to the alias (which refuses an activation before the
// prepare serves everything, and a rollback past prepare while activation
// is on) and to the pipeline's gates (which start an activating release
// nowhere before every production ledger shows the prepare).
var OrderRecordV2 = twophase.Change{Name: "order-record-v2", Phase: twophase.ChangePrepare}

// newAlarms declares the team's alarms in the region: the API's
// high-severity alarms on the live alias, the same alarms scoped to the
// version being deployed (the one-box: the canary share of invocations),
// the anomaly guard, and the minimum traffic for promotion (the plan's
// datapoints over the bake). Every stage creates the one-box alarms, so
// that the one-box and the regional steps deploy the same stack.
func newAlarms(stack awscdk.Stack, fn awslambda.Function, logs awslogs.LogGroup, d pipeline.Deployment, extra []alarms.Child) alarms.RollbackAlarms {
	name := *fn.FunctionName() // a token: read once
	live := fmt.Sprintf("%s:%s", name, AliasName)
	api := alarms.ServiceSpec{
		Name:       "api",
		Preset:     alarms.PresetLambda,
		Dimensions: map[string]string{"FunctionName": name, "Resource": live},
		FaultRate:  &alarms.Threshold{Value: 1},
		LatencyP50: &alarms.Threshold{Value: 200},
		LatencyP99: &alarms.Threshold{Value: 2000},
		LogErrors:  &alarms.LogErrors{LogGroupName: *logs.LogGroupName(), Threshold: alarms.Threshold{Value: 5}},
		Anomaly:    &alarms.AnomalyGuard{MinRequests: 1},
	}
	oneBox := api
	oneBox.Dimensions = map[string]string{"FunctionName": name, "Resource": live, "ExecutedVersion": *fn.CurrentVersion().Version()}
	oneBox.LogErrors, oneBox.Anomaly = nil, nil // logs and traffic shape are not per version
	minRequests := 10.0                         // gamma: synthetic traffic
	if d.Stage != nil {
		minRequests = float64(d.Stage.MinDatapoints)
	}
	invocations := func(dims map[string]string) awscloudwatch.Metric {
		m := map[string]*string{}
		for k, v := range dims {
			m[k] = jsii.String(v)
		}
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("AWS/Lambda"), MetricName: jsii.String("Invocations"), DimensionsMap: &m})
	}
	return alarms.NewRollbackAlarms(stack, jsii.String("Alarms"), &alarms.RollbackAlarmsProps{
		Names:    d.Alarms,
		Services: []alarms.ServiceSpec{api},
		Extra:    extra,
		Traffic:  &alarms.Traffic{Metric: invocations(api.Dimensions), MinRequests: minRequests, Window: d.Bake},
		OneBox: &alarms.OneBox{
			Services: []alarms.ServiceSpec{oneBox},
			// The one-box's traffic is checked on the alias, not the new
			// version: a version-scoped count starts at zero when the bake
			// starts and would fail every bake. The canary sends the one-box
			// its share of this traffic.
			Traffic: &alarms.Traffic{Metric: invocations(api.Dimensions), MinRequests: minRequests, Window: d.Bake},
		},
	})
}

// OneBoxPercent is the share of invocations the new version takes during the
// one-box step.
const OneBoxPercent = 10

// handlerDir is the handler's source directory, found from this file so
// that synth works from any working directory.
func handlerDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "handler")
}

// Orders implements pipeline.Service and pipeline.Tester. It remembers
// each pre-production deployment's function-name output for its test.
type Orders struct {
	outputs map[string]awscdk.CfnOutput
}

// New returns the orders service.
func New() *Orders { return &Orders{outputs: map[string]awscdk.CfnOutput{}} }

// NewStage returns the cdk.Stage that deploys the orders service to d.
func (o *Orders) NewStage(scope constructs.Construct, id string, d pipeline.Deployment) awscdk.Stage {
	stage := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
	stack := awscdk.NewStack(stage, jsii.String("Service"), &awscdk.StackProps{
		StackName:   jsii.String(stackName(d.Environment)),
		Description: jsii.String(fmt.Sprintf("orders service (%s)", d.Name())),
	})
	// The log group is the service's, not Lambda's lazily created one, so
	// that the log-errors metric filter has a group to attach to.
	logs := awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	fn := awslambda.NewFunction(stack, jsii.String("Handler"), &awslambda.FunctionProps{
		LogGroup:     logs,
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         deploy.GoCode(handlerDir(), nil),
		MemorySize:   jsii.Number(256),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(10)),
		Tracing:      awslambda.Tracing_ACTIVE,
	})
	// Gamma has no users and quiet regions few: a canary calls the live
	// alias every minute, its requests count toward the bake's minimum and
	// its failures join the aggregate. (The payload marks itself as
	// synthetic.)
	var extra []alarms.Child
	if d.Environment == pipeline.Gamma || d.Environment == pipeline.Prod || d.Environment == pipeline.UpDown {
		canary := deploy.NewSyntheticTraffic(stack, jsii.String("SyntheticTraffic"), &deploy.SyntheticTrafficProps{
			Names: d.Alarms, Function: fn, Qualifier: AliasName,
			Payload: `{"id":"synthetic","items":1,"synthetic":true}`, Expect: `"status":"ok"`,
		})
		extra = append(extra, canary.Alarm())
	}
	newAlarms(stack, fn, logs, d, extra)
	// Pre-production: the integration test's role, and the function's
	// name as a stack output for the test step.
	if d.Environment != pipeline.Prod {
		tests := pipeline.NewTestRole(stack, "IntegrationTestRole", d)
		tests.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("lambda:InvokeFunction"),
			Resources: jsii.Strings(*fn.FunctionArn() + ":" + AliasName), // the live alias only
		}))
		o.outputs[d.Name()] = awscdk.NewCfnOutput(stack, jsii.String("FunctionName"), &awscdk.CfnOutputProps{Value: fn.FunctionName()})
	}
	// The alias "live": on the one-box step the live version keeps 90% of
	// invocations and the new one takes 10% for the one-box bake (the
	// pipeline's gate watches the one-box alarm meanwhile); on the regional
	// step the new version takes all of them. A rollback redeploys the
	// previous template, which repoints the alias at once. In the
	// upgrade-downgrade test's stages the alias takes the test's steps.
	deploy.NewLambdaDeployment(stack, jsii.String("Live"), &deploy.LambdaProps{
		Function:         fn,
		OneBox:           d.Target.OneBox,
		OneBoxPercent:    OneBoxPercent,
		AliasName:        AliasName,
		UpgradeDowngrade: d.UpgradeDowngrade,
		Changes:          []twophase.Change{OrderRecordV2},
	})
	return stage
}

// RequiredServices implements pipeline.ServiceNeeds: the function, its
// alias controller's ledger (SSM), its logs and the synthetic traffic's
// schedule (EventBridge).
func (o *Orders) RequiredServices() []string {
	return []string{"events", "lambda", "logs", "ssm"}
}

// Tests returns the integration test run after each pre-production
// deployment: as the deployment's test role, it invokes the live alias of
// the function the stage just deployed (named by the stack's output) and
// checks the acknowledgement.
func (o *Orders) Tests(d pipeline.Deployment) []pipelines.Step {
	out := o.outputs[d.Name()]
	if out == nil {
		return nil
	}
	return []pipelines.Step{pipeline.TestStep("IntegrationTest-"+d.Target.Region, d, &pipeline.TestStepProps{
		EnvFromCfnOutputs: map[string]awscdk.CfnOutput{"FUNCTION_NAME": out},
		Commands: []string{
			`aws lambda invoke --function-name "$FUNCTION_NAME:` + AliasName + `" --cli-binary-format raw-in-base64-out --payload '{"id":"itest","items":1}' out.json`,
			`grep -q '"status":"ok"' out.json`,
		},
	})}
}
