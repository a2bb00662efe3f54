package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/cdktest"
	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/examples/orgbase"
	"github.com/safepipe/safepipe/waves"
)

// TestAFailingSynthShowsItsError: a team's first pipeline, under the
// organisation's cdk-nag policy, whose service creates none of the alarms
// the gates watch. Synth fails with that error first, not under the
// cdk-nag findings of the library's resources (the pipeline's reasons are
// recorded before rendering can fail; any other finding is counted in one
// line while an error stands).
func TestAFailingSynthShowsItsError(t *testing.T) {
	dir, err := cdktest.TempDir("safepipe-failing-*")
	require.NoError(t, err)
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
	orgbase.New(app, "FailingPipeline", &orgbase.Props{
		Repo: "example-org/failing", Team: "failing", Shape: waves.ShapeRegional,
		Service: pipeline.ServiceFunc(func(scope constructs.Construct, id string, d pipeline.Deployment) awscdk.Stage {
			st := awscdk.NewStage(scope, jsii.String(id), &awscdk.StageProps{Env: d.Env()})
			stack := awscdk.NewStack(st, jsii.String("Svc"), nil)
			awscdk.NewCfnWaitConditionHandle(stack, jsii.String("Nothing"), nil)
			return st
		}),
	})
	_, err = pipeline.Synth(app)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Contains(t, lines[0], "FailingPipeline/Pipeline", "the pipeline's own error comes first")
	for _, l := range lines {
		assert.NotRegexp(t, `AwsSolutions-[A-Z]+[0-9]*`, l, "no cdk-nag finding is listed over the error")
	}
	assert.Less(t, len(lines), 12, "one line per missing alarm, one for cdk-nag: %s", err)
}
