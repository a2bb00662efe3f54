// Command empty is the floor of make bench-synth: a CDK Go app with one
// empty stack, synthesized the way examples/orders is (same jsii runtime,
// same CDK_OUTDIR handling), so that the ratio of the two measures what
// safepipe's constructs add to the jsii start-up and CDK's synthesis.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	app := awscdk.NewApp(nil)
	awscdk.NewStack(app, jsii.String("Empty"), nil)
	app.Synth(nil)
	jsii.Close()
}
