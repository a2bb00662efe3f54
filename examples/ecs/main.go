// Command ecs is the ledger team's pipeline: an ECS service on the
// organisation's base pipeline, in three regions, whose one-box step is a
// one-task canary service beside the main one (package service):
//
//	npx cdk synth --app 'go run ./examples/ecs'
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/ecs/service"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/waves"
)

// NewPipeline adds the ledger pipeline stack to app.
func NewPipeline(app awscdk.App) pipeline.BasePipeline {
	// The services' VPCs span two zones of each account and region. A real
	// app lets CDK look the zones up once and commits the answer in
	// cdk.context.json ("the AWS CDK CLI ... stores the values in the
	// cdk.context.json file", https://docs.aws.amazon.com/cdk/v2/guide/context.html);
	// the example records names of the lookup's form under the key the
	// lookup uses, so that synth needs no AWS account (without them CDK
	// writes placeholder zones, "dummy1a", which no region has).
	for _, account := range []string{orgbase.PreProdAccount, orgbase.ProdAccount} {
		for _, region := range waves.DefaultCatalog().Codes() {
			app.Node().SetContext(jsii.String("availability-zones:account="+account+":region="+region),
				[]string{region + "a", region + "b", region + "c"})
		}
	}
	return orgbase.New(app, "LedgerPipeline", &orgbase.Props{
		Repo:    "example-org/ledger",
		Team:    service.Team,
		Service: service.New(),
		Shape:   waves.ShapeRegional, // the one-box (the canary service), then the region
		Waves:   [][]string{{"eu-north-1"}, {"us-east-1", "eu-west-1"}},
	})
}

func main() {
	app := awscdk.NewApp(nil)
	NewPipeline(app)
	_, err := pipeline.Synth(app)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	jsii.Close()
	if err != nil {
		os.Exit(1)
	}
}
