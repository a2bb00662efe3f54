// Command shapes is a CDK app with one stack per deployment shape a team
// uses inside a region, each wired to the region's rollback alarms:
//
//	npx cdk synth --app 'go run ./examples/shapes'
//
// Lambda (a one-box step: the live version keeps 90% of invocations), an
// EC2 fleet (a one-box instance, then one AZ at a time), doubling batches
// of named hosts, an ECS service (rolling, circuit breaker, alarms built on
// the service's own metrics) and an A/B test of two Lambda versions.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Env is where the shapes deploy.
var Env = &awscdk.Environment{Account: jsii.String("333333333333"), Region: jsii.String("eu-west-1")}

// Stacks are the shapes' stacks.
type Stacks struct {
	Lambda, Server, Batched, Ecs, ABTest awscdk.Stack
}

// New adds every shape's stack to app, with the example's cdk-nag policy.
func New(app awscdk.App) Stacks {
	s := Stacks{
		Lambda:  NewLambda(app, Env),
		Server:  NewServerFleet(app, Env),
		Batched: NewBatchedFleet(app, Env),
		Ecs:     NewEcsService(app, Env),
		ABTest:  NewABTest(app, Env),
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(&NagSuppressions{Name: "shapes"}, nil)
	return s
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	New(app)
	app.Synth(nil)
}
