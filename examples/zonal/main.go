// Command zonal is the catalog team's pipeline: the organisation's base
// pipeline deploying an EC2 fleet one Availability Zone at a time, in every
// region of the catalog, the one-box instance first:
//
//	npx cdk synth --app 'go run ./examples/zonal'
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/examples/zonal/fleet"
	"github.com/safepipe/safepipe/waves"
)

// NewPipeline adds the catalog pipeline stack to app.
func NewPipeline(app awscdk.App) pipeline.BasePipeline {
	return orgbase.New(app, "CatalogPipeline", &orgbase.Props{
		Repo:    "example-org/catalog",
		Team:    fleet.Team,
		Service: fleet.New(),
		Shape:   waves.ShapeZonal, // one AZ per region per step
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
