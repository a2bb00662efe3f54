package pipeline

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gates"
)

// TestUpgradeDowngradeStages: the test's five steps run after gamma and
// before production, in one region of their own, each gated and baked,
// and the team's Service is told which step each stage takes.
func TestUpgradeDowngradeStages(t *testing.T) {
	_, stack := toolchain()
	props := smallProps()
	steps := map[string]UpgradeDowngradeStep{}
	props.Service = ServiceFunc(func(scope constructs.Construct, id string, d Deployment) awscdk.Stage {
		if d.Environment == UpDown {
			steps[d.StageName] = d.UpgradeDowngrade
			assert.Equal(t, "ap-southeast-2", d.Target.Region)
			assert.Equal(t, 90*time.Minute, d.Bake)
		} else {
			assert.Empty(t, d.UpgradeDowngrade, d.StageName)
		}
		return alarmedService.NewStage(scope, id, d)
	})
	props.UpgradeDowngrade = &UpgradeDowngrade{Region: "ap-southeast-2", Bake: 90 * time.Minute}
	p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
	require.NoError(t, p.Err())
	out := synthesize(t, stack)

	names := []string{"UpDown-UpgradeHalf", "UpDown-UpgradeFull", "UpDown-DowngradeHalf", "UpDown-DowngradeFull", "UpDown-Reupgrade"}
	assert.Equal(t, map[string]UpgradeDowngradeStep{
		names[0]: UpgradeHalf, names[1]: UpgradeFull, names[2]: DowngradeHalf, names[3]: DowngradeFull, names[4]: Reupgrade,
	}, steps)
	gamma := slices.Index(out.order, StageGamma)
	first := slices.Index(out.order, names[0])
	require.Greater(t, first, gamma, "after gamma")
	assert.Equal(t, names, out.order[first:first+5], "in order, one after another")
	assert.Equal(t, p.Plan().Stages[0].Name, out.order[first+5], "then production")
	for _, n := range names {
		s := out.stages[n]
		result, entry := rules(s.BeforeEntry)
		assert.Equal(t, "FAIL", result, n)
		assert.Contains(t, entry, RuleEntryGate, n)
		assert.Equal(t, []gates.BakeRequest{{Stage: n, Part: 1, Parts: 1, Minutes: 90}}, bakeActions(t, out, s), "%s: any alarm in its bake fails the pipeline before production", n)
		assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, s.OnFailure, n)
		gs, ok := gateStage(out.gates, n)
		require.True(t, ok, n)
		assert.False(t, gs.Window, "%s: pre-production has no window", n)
		require.Len(t, gs.Blockers, 1, n)
		assert.Equal(t, "shop-updown-aggregate-rollback", gs.Blockers[0].Name, n)
		if n == names[0] {
			assert.Equal(t, names[1:], gs.Serial, "the test takes one release at a time")
		} else {
			assert.Empty(t, gs.Serial, n)
		}
	}
}

func TestUpgradeDowngradeRefuses(t *testing.T) {
	cases := []struct {
		name string
		u    UpgradeDowngrade
		want []string
	}{
		{"no region", UpgradeDowngrade{}, []string{"UpgradeDowngrade.Region is empty"}},
		{"a gamma region, a short bake", UpgradeDowngrade{Region: "eu-west-1", Bake: 10 * time.Minute},
			[]string{`UpgradeDowngrade.Region "eu-west-1" is deployed by alpha, beta or gamma`, "UpgradeDowngrade.Bake is 10m0s; each step bakes 1h0m0s"}},
		{"not in the catalog", UpgradeDowngrade{Region: "xx-nowhere-1"}, []string{`UpgradeDowngrade.Region "xx-nowhere-1" is not in the catalog`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stack := toolchain()
			props := smallProps()
			props.UpgradeDowngrade = &c.u
			p := NewBasePipeline(stack, jsii.String("Pipeline"), props)
			require.Error(t, p.Err())
			for _, w := range c.want {
				assert.Contains(t, p.Err().Error(), w)
			}
		})
	}
}
