// Command shapes is a CDK app with one stack per deployment shape a team
// uses inside a region, each wired to the region's rollback alarms:
//
//	npx cdk synth --app 'go run ./examples/shapes'
//
// Lambda (a one-box step: the live version keeps 90% of invocations), an
// EC2 fleet (a one-box instance, then one AZ at a time), doubling batches
// of named hosts, an ECS service (rolling, circuit breaker, alarms built on
// the service's own metrics), an A/B test of two Lambda versions, and the
// AppConfig flags of a gray release over a call chain.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/safepipe/safepipe/constructs/pipeline"
)

// Env is where the shapes deploy.
var Env = &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}

// Stacks are the shapes' stacks.
type Stacks struct {
	Lambda, Server, Batched, Ecs, ABTest, Gray awscdk.Stack
}

// Zones are the account's zones in Env's region. A real app lets CDK look
// them up once and commits the answer in cdk.context.json; the example
// records them in the app's context under the key the lookup uses
// (https://docs.aws.amazon.com/cdk/v2/guide/context.html: "the AWS CDK
// CLI ... stores the values in the cdk.context.json file"), so that
// `cdk synth` needs no AWS account.
var Zones = []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"}

// New adds every shape's stack to app, with the example's cdk-nag policy.
func New(app awscdk.App) Stacks {
	app.Node().SetContext(jsii.String("availability-zones:account="+*Env.Account+":region="+*Env.Region), Zones)
	s := Stacks{
		Lambda:  NewLambda(app, Env),
		Server:  NewServerFleet(app, Env),
		Batched: NewBatchedFleet(app, Env),
		Ecs:     NewEcsService(app, Env),
		ABTest:  NewABTest(app, Env),
		Gray:    NewGray(app, Env),
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(&NagSuppressions{Name: "shapes"}, nil)
	return s
}

func main() {
	app := awscdk.NewApp(nil)
	New(app)
	// Synth also checks every template against CloudFormation's quotas.
	_, err := pipeline.Synth(app)
	if err != nil {
		// Before jsii.Close: when the jsii runtime's process exits, the
		// runtime may print a line of its own without a newline.
		fmt.Fprintln(os.Stderr, err)
	}
	jsii.Close()
	if err != nil {
		os.Exit(1)
	}
}
