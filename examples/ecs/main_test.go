package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/cdktest"
	"github.com/safepipe/safepipe/constructs/pipeline"
	"github.com/safepipe/safepipe/sim/simtest"
	"github.com/safepipe/safepipe/verify"
	"github.com/safepipe/safepipe/verify/verifytest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

var (
	once sync.Once
	dir  string
	err  error
)

// assembly synthesizes the example once per test binary.
func assembly(t *testing.T) string {
	t.Helper()
	once.Do(func() {
		if dir, err = cdktest.TempDir("safepipe-ecs-*"); err != nil {
			return
		}
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
		NewPipeline(app)
		_, err = pipeline.Synth(app)
	})
	require.NoError(t, err)
	return dir
}

// TestEcsOneBoxIsTheCanaryService: each production one-box stage deploys
// the region's base and canary stacks (the one-task service), each
// regional stage the base, the canary and the main service: the one-box
// step puts the new task on one task of ten.
func TestEcsOneBoxIsTheCanaryService(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(assembly(t), "LedgerPipeline.template.json"))
	require.NoError(t, err)
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				Stages []struct {
					Name    string
					Actions []struct {
						Name          string
						Configuration map[string]any
					}
				}
			}
		}
	}
	require.NoError(t, json.Unmarshal(b, &tpl))
	stacks := map[string][]string{} // stage → stack names deployed
	for _, r := range tpl.Resources {
		if r.Type != "AWS::CodePipeline::Pipeline" {
			continue
		}
		for _, s := range r.Properties.Stages {
			for _, a := range s.Actions {
				if name, ok := a.Configuration["StackName"].(string); ok && !slices.Contains(stacks[s.Name], name) {
					stacks[s.Name] = append(stacks[s.Name], name)
				}
			}
		}
	}
	for stage, names := range stacks {
		if !strings.HasPrefix(stage, "Prod-") {
			continue
		}
		slices.Sort(names)
		if strings.HasSuffix(stage, "-OneBox") {
			assert.Equal(t, []string{"ledger-prod-base", "ledger-prod-canary"}, names, stage)
		} else {
			assert.Equal(t, []string{"ledger-prod-api", "ledger-prod-base", "ledger-prod-canary"}, names, stage)
		}
	}
	assert.Contains(t, stacks, "Prod-W1-OneBox")
}

// TestEcsPipelineVerifies: every verify rule passes but the
// upgrade-downgrade test, which the ledger service does without (below).
func TestEcsPipelineVerifies(t *testing.T) {
	verifytest.Clean(t, assembly(t), &verify.Config{Suppressions: []verify.Suppression{{
		Rule:   "SP031",
		Reason: "the ledger example's service is stateless (nginx): no version writes anything another could misread; a service with data adds BasePipelineProps.UpgradeDowngrade",
	}}})
}

// TestEcsPipelineRehearses: the happy path reaches every region and a bad
// task in any step of the first wave is stopped there, under every
// reading; the canary's share of a region is its share of the tasks, so
// the one-box step holds a tenth.
func TestEcsPipelineRehearses(t *testing.T) {
	simtest.Safe(t, assembly(t), nil)
}
