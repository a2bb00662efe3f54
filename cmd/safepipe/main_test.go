package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/waves"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// planJSON is the documented JSON contract of "safepipe plan".
type planJSON struct {
	Waves []struct {
		Name    string   `json:"name"`
		Regions []string `json:"regions"`
	} `json:"waves"`
	Stages []struct {
		Name    string `json:"name"`
		Wave    int    `json:"wave"`
		Kind    string `json:"kind"`
		Targets []struct {
			Region string `json:"region"`
			AZ     string `json:"az"`
		} `json:"targets"`
		BakeMinutes int `json:"bakeMinutes"`
		Actions     int `json:"actions"`
	} `json:"stages"`
	Timeline struct {
		TimeToGlobalHours float64 `json:"timeToGlobalHours"`
		BusinessDays      int     `json:"businessDays"`
	} `json:"timeline"`
	LackingServices map[string][]string `json:"lackingServices"`
}

func TestPlanJSONReference(t *testing.T) {
	code, out, errOut := runCLI("plan", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var p planJSON
	require.NoError(t, json.Unmarshal([]byte(out), &p))

	cat := waves.DefaultCatalog()
	var regions []string
	for _, w := range p.Waves {
		regions = append(regions, w.Regions...)
	}
	sort.Strings(regions)
	var offering []string
	for _, code := range cat.Codes() {
		if _, lacking := p.LackingServices[code]; !lacking {
			offering = append(offering, code)
		}
	}
	assert.Equal(t, offering, regions, "every catalog region that offers what the pipeline needs, exactly once")
	assert.Equal(t, map[string][]string{"ap-east-2": {"codepipeline"}, "ap-southeast-6": {"codepipeline"}, "ap-southeast-7": {"codepipeline"},
		"ca-west-1": {"codepipeline"}, "mx-central-1": {"codepipeline"}}, p.LackingServices, "and the others, each with what it lacks")
	require.NotEmpty(t, p.Stages)
	first := p.Stages[0]
	require.Len(t, first.Targets, 1, "starts with a single region")
	r, _ := cat.Region(first.Targets[0].Region)
	assert.Equal(t, waves.TierLow, r.Tier)
	assert.LessOrEqual(t, len(p.Stages), waves.MaxStages)
	for _, s := range p.Stages {
		assert.LessOrEqual(t, s.Actions, waves.MaxActionsPerStage, s.Name)
		assert.Positive(t, s.BakeMinutes, s.Name)
		seen := map[string]bool{}
		for _, tg := range s.Targets {
			assert.False(t, seen[tg.Region], "%s touches two AZs of %s", s.Name, tg.Region)
			seen[tg.Region] = true
		}
		assert.Contains(t, []string{"one-box", "zonal"}, s.Kind)
	}
	assert.Positive(t, p.Timeline.TimeToGlobalHours)
	assert.Positive(t, p.Timeline.BusinessDays)

	_, again, _ := runCLI("plan", "--format", "json")
	assert.Equal(t, out, again, "identical across runs")
}

// The reference zonal plan takes 7 business days; plan says which policy
// changes, with their safety cost, would reach the goal of 5.
func TestPlanGoal(t *testing.T) {
	code, out, errOut := runCLI("plan")
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"goal of 5 business days: not met (7)",
		"  bakes.zonal 30m (its floor) → 172.5 h, 6 business days",
		"smallest change that reaches it: bakes.zonal 30m (its floor) + window closes two hours later → 79.0 h, 4 business days",
		"left out, lacking a service the pipeline needs there: ap-east-2 (codepipeline), ap-southeast-6 (codepipeline), ap-southeast-7 (codepipeline), ca-west-1 (codepipeline), mx-central-1 (codepipeline)",
		"safety cost of bakes.zonal 30m (its floor): each AZ step is watched for 30 minutes",
	} {
		assert.Contains(t, out, want)
	}
	code, out, _ = runCLI("plan", "--goal-days", "7")
	assert.Equal(t, 0, code)
	assert.NotContains(t, out, "goal of")

	code, out, _ = runCLI("plan", "--format", "json")
	require.Equal(t, 0, code)
	var doc struct {
		Goal struct {
			GoalDays int
			Before   struct{ BusinessDays int }
			Smallest []struct{ Levers []string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, 5, doc.Goal.GoalDays)
	assert.Equal(t, 7, doc.Goal.Before.BusinessDays)
	require.NotEmpty(t, doc.Goal.Smallest)
	assert.Len(t, doc.Goal.Smallest[0].Levers, 2)

	code, _, errOut = runCLI("plan", "--goal-days", "-1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--goal-days -1 is outside 0–365")
}

func TestPlanRegionalAndTable(t *testing.T) {
	code, out, errOut := runCLI("plan", "--shape", "regional", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var p planJSON
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	for _, s := range p.Stages {
		assert.Contains(t, []string{"one-box", "regional"}, s.Kind)
		for _, tg := range s.Targets {
			assert.Empty(t, tg.AZ)
		}
	}
	code, out, _ = runCLI("plan", "--policy", "doubling")
	require.Equal(t, 0, code)
	for _, want := range []string{"WAVES", "STAGES", "Prod-W1-OneBox", "time to global", "entry gates hold a stage until the window opens and its blockers clear, for at most 113h"} {
		assert.Contains(t, out, want)
	}
}

func TestPlanPolicyFile(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	require.NoError(t, os.WriteFile(policy, []byte(`{"kind":"explicit","waves":[["eu-north-1"],["eu-west-1","us-east-1"]],"shape":"regional"}`), 0o644))
	code, out, errOut := runCLI("plan", "--policy", policy, "--format", "json")
	require.Equal(t, 0, code, errOut)
	var p planJSON
	require.NoError(t, json.Unmarshal([]byte(out), &p))
	assert.Len(t, p.Waves, 2)
	assert.Len(t, p.Stages, 4)
}

// TestPlanSaysWhichOptInRegionsItLeavesOut: a policy file opts into no
// opt-in region unless it says so; the table says how many it left out and
// how to include them, instead of planning half the catalog silently.
func TestPlanSaysWhichOptInRegionsItLeavesOut(t *testing.T) {
	policy := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(policy, []byte(`{"kind":"amazon"}`), 0o644))
	code, out, errOut := runCLI("plan", "--policy", policy)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `; \d+ regions; \d+ opt-in regions of the catalog left out: the policy does not opt into them \("optIn": \["\*"\] or their codes\)`, out)
	code, out, _ = runCLI("plan", "--policy", "amazon")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "of the catalog left out")
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	badCatalog := filepath.Join(dir, "catalog.json")
	require.NoError(t, os.WriteFile(badCatalog, []byte(`{"version":"x","regions":[{"code":"eu-west-1","partition":"aws","name":"n","azs":["use1-az1"],"tier":"huge","tz":"UTC"}]}`), 0o644))
	badPolicy := filepath.Join(dir, "policy.json")
	require.NoError(t, os.WriteFile(badPolicy, []byte(`{"kind":"amazon","exclude":["mars-1"],"bakes":{"oneBoxMinutes":5}}`), 0o644))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command", []string{"deploy"}, []string{`unknown command "deploy"`}},
		{"unknown policy", []string{"plan", "--policy", "fastest"}, []string{`--policy "fastest" is neither amazon, doubling nor a readable file`}},
		{"unreadable catalog", []string{"plan", "--catalog", filepath.Join(dir, "none.json")}, []string{"none.json: no such file"}},
		{"invalid catalog", []string{"plan", "--catalog", badCatalog}, []string{`az "use1-az1" does not belong to this region`, `tier "huge" is unknown`}},
		{"invalid override", []string{"plan", "--policy", badPolicy}, []string{`policy ` + badPolicy + `: exclude: region "mars-1" is not in the catalog`, `policy ` + badPolicy + `: bakes.oneBox is 5m0s, below the floor`}},
		{"shape flag", []string{"plan", "--shape", "Regional"}, []string{`--shape "Regional" is unknown (want zonal or regional)`}},
		{"bad start and format", []string{"plan", "--start", "soon", "--format", "xml"}, []string{`--format "xml" is unknown`}},
		{"bad start", []string{"plan", "--start", "soon"}, []string{`--start "soon" is not a time`}},
		{"unknown flag", []string{"plan", "--fast"}, []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(tt.args...)
			assert.Equal(t, 2, code)
			for _, w := range tt.want {
				assert.Contains(t, errOut, w)
			}
			assert.NotContains(t, errOut, "goroutine", "no stack traces")
			assert.NotContains(t, errOut, "panic")
		})
	}
}

func TestRegions(t *testing.T) {
	code, out, _ := runCLI("regions")
	require.Equal(t, 0, code)
	assert.Contains(t, out, "us-east-1")
	assert.Contains(t, out, "use1-az6")
	code, out, _ = runCLI("regions", "--format", "json")
	require.Equal(t, 0, code)
	c, err := waves.ParseCatalog([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, waves.DefaultCatalog().Codes(), c.Codes())
	// Each region's services, with their source.
	assert.Regexp(t, `^botocore \d+\.\d+\.\d+ data/endpoints.json`, c.ServicesSource)
	r, _ := c.Region("ca-west-1")
	assert.False(t, r.Offers("codepipeline"), "no CodePipeline endpoint in ca-west-1 in the SDK's data")
	assert.True(t, r.Offers("cloudformation"))
	var raw struct {
		Regions []struct {
			Code     string   `json:"code"`
			Services []string `json:"services"`
		} `json:"regions"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	for _, r := range raw.Regions {
		assert.NotEmpty(t, r.Services, r.Code)
	}
	_, out, _ = runCLI("regions")
	assert.Contains(t, out, "services (24 tracked) from botocore")
	assert.Regexp(t, `(?m)^ca-west-1 .* codebuild,codecommit,codepipeline$`, out, "what a region lacks")
}

func TestFmtDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30m", 12 * time.Hour: "12h", 113 * time.Hour: "113h",
		5310 * time.Minute: "88h30m", 124 * time.Minute: "2h04m",
	} {
		assert.Equal(t, want, fmtDuration(d), "%s", d)
	}
}
