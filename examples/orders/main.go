// Command orders is the orders team's pipeline: the organisation's base
// pipeline, deploying the orders Lambda service everywhere but Tel Aviv,
// with an integration test after each pre-production deployment (the
// service implements pipeline.Tester).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orders/service"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/twophase"
	"github.com/safepipe/safepipe/waves"
)

// NewPipeline adds the orders pipeline stack to app.
func NewPipeline(app awscdk.App) pipeline.BasePipeline {
	return orgbase.New(app, "OrdersPipeline", &orgbase.Props{
		Repo:    "example-org/orders",
		Team:    service.Team,
		Service: service.New(),
		Shape:   waves.ShapeRegional,      // a Lambda service: one-box, then the region
		Exclude: []string{"il-central-1"}, // the override: orders does not run in Tel Aviv
		// Before production, the new version next to the old one and back,
		// in a pre-production region of its own (multi-AZ, like production).
		UpgradeDowngrade: &pipeline.UpgradeDowngrade{Region: "us-east-2"},
		Changes:          []twophase.Change{service.OrderRecordV2},
	})
}

func main() {
	app := awscdk.NewApp(nil)
	NewPipeline(app)
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
