package waves

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkPlanInvariants asserts the safety properties every plan must have.
func checkPlanInvariants(t *testing.T, c *Catalog, p *Plan) {
	t.Helper()
	require.NotEmpty(t, p.Stages)
	assert.LessOrEqual(t, len(p.Stages)+p.ReservedStages, MaxStages)
	first := p.Stages[0]
	assert.Len(t, first.Targets, 1, "the first production stage touches exactly one region")
	seenStage := map[string]bool{}
	for _, s := range p.Stages {
		assert.False(t, seenStage[s.Name], "stage name %s is unique", s.Name)
		seenStage[s.Name] = true
		assert.True(t, strings.HasPrefix(s.Name, "Prod-"), s.Name)
		assert.LessOrEqual(t, s.Actions, MaxActionsPerStage, s.Name)
		assert.Positive(t, s.Bake, s.Name)
		regions := map[string]bool{}
		for _, tg := range s.Targets {
			assert.False(t, regions[tg.Region], "stage %s touches region %s twice", s.Name, tg.Region)
			regions[tg.Region] = true
			r, ok := c.Region(tg.Region)
			require.True(t, ok)
			if tg.AZ != "" {
				assert.Contains(t, r.AZs, tg.AZ)
			}
			assert.Equal(t, s.Kind == KindOneBox, tg.OneBox, s.Name)
		}
	}
	// Every region of the plan is in exactly one wave and reaches every
	// one of its AZs (zonal) or its regional step exactly once.
	inWave := map[string]int{}
	for _, w := range p.Waves {
		for _, r := range w.Regions {
			inWave[r]++
		}
	}
	for r, n := range inWave {
		assert.Equal(t, 1, n, "region %s in %d waves", r, n)
	}
	deployed := map[string]int{}
	for _, s := range p.Stages {
		if s.Kind == KindOneBox {
			continue
		}
		for _, tg := range s.Targets {
			deployed[tg.ID()]++
		}
	}
	for code := range inWave {
		r, _ := c.Region(code)
		if p.Shape == ShapeRegional {
			assert.Equal(t, 1, deployed[code], code)
			continue
		}
		for _, az := range r.AZs {
			assert.Equal(t, 1, deployed[code+"-"+az], "%s %s", code, az)
		}
	}
}

func TestReferencePlan(t *testing.T) {
	c := DefaultCatalog()
	for _, shape := range []Shape{ShapeZonal, ShapeRegional} {
		t.Run(string(shape), func(t *testing.T) {
			p, err := NewPlan(c, ReferencePolicy(shape))
			require.NoError(t, err)
			checkPlanInvariants(t, c, p)
			lacking := []string{"ap-east-2", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "mx-central-1"}
			assert.ElementsMatch(t, slices.DeleteFunc(c.Codes(), func(code string) bool { return slices.Contains(lacking, code) }), p.Regions(),
				"every catalog region exactly once, but those without CodePipeline")
			for _, code := range lacking {
				assert.Equal(t, []string{"codepipeline"}, p.LackingServices[code], "%s: no CodePipeline endpoint in the SDK's data", code)
			}
			assert.Len(t, p.LackingServices, len(lacking))
			first, _ := c.Region(p.Stages[0].Targets[0].Region)
			assert.Equal(t, TierLow, first.Tier, "wave 1 is a low-traffic region")
			second, _ := c.Region(p.Waves[1].Regions[0])
			assert.Equal(t, TierHigh, second.Tier, "wave 2 is a high-traffic region")
			var sizes []int
			for _, w := range p.Waves {
				sizes = append(sizes, len(w.Regions))
			}
			assert.Equal(t, []int{1, 1, 3, 12, len(c.Regions) - len(lacking) - 17}, sizes)
			assert.Equal(t, 12*time.Hour, lastOfWave(p, 1).Bake)
			assert.Equal(t, 2*time.Hour, lastOfWave(p, 2).Bake)
			assert.Equal(t, KindOneBox, p.Stages[0].Kind)
			assert.Equal(t, time.Hour, p.Stages[0].Bake)
		})
	}
}

func lastOfWave(p *Plan, wave int) Stage {
	var last Stage
	for _, s := range p.Stages {
		if s.Wave == wave {
			last = s
		}
	}
	return last
}

func TestPlanIsDeterministic(t *testing.T) {
	render := func() string {
		p, err := NewPlan(DefaultCatalog(), Policy{Kind: PolicyAmazon, OptIn: []string{"*"}, Pin: map[string]int{"eu-west-1": 3, "us-east-2": 4}})
		require.NoError(t, err)
		b, err := json.Marshal(p)
		require.NoError(t, err)
		return string(b)
	}
	first := render()
	for i := 0; i < 5; i++ {
		assert.Equal(t, first, render())
	}
}

func TestPlanPolicies(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		name   string
		policy Policy
		check  func(t *testing.T, p *Plan)
	}{
		{"opt-in regions are left out unless listed", Policy{}, func(t *testing.T, p *Plan) {
			for _, code := range p.Regions() {
				r, _ := c.Region(code)
				assert.False(t, r.OptIn, code)
			}
		}},
		{"listed opt-in region is included", Policy{OptIn: []string{"af-south-1"}}, func(t *testing.T, p *Plan) {
			assert.Contains(t, p.Regions(), "af-south-1")
			assert.NotContains(t, p.Regions(), "ap-east-1")
		}},
		{"exclude", Policy{OptIn: []string{"*"}, Exclude: []string{"us-east-1", "eu-west-1"}}, func(t *testing.T, p *Plan) {
			assert.NotContains(t, p.Regions(), "us-east-1")
			assert.NotContains(t, p.Regions(), "eu-west-1")
			assert.Len(t, p.Regions(), len(c.Regions)-2)
		}},
		{"pin", Policy{OptIn: []string{"*"}, Pin: map[string]int{"us-east-1": 2, "eu-north-1": 1}}, func(t *testing.T, p *Plan) {
			assert.Equal(t, []string{"eu-north-1"}, p.Waves[0].Regions)
			assert.Equal(t, []string{"us-east-1"}, p.Waves[1].Regions)
		}},
		{"doubling", Policy{Kind: PolicyDoubling, OptIn: []string{"*"}}, func(t *testing.T, p *Plan) {
			var sizes []int
			for _, w := range p.Waves {
				sizes = append(sizes, len(w.Regions))
			}
			assert.Equal(t, Doubling(len(c.Regions)), sizes)
		}},
		{"explicit", Policy{Kind: PolicyExplicit, Waves: [][]string{{"eu-north-1"}, {"eu-west-1", "us-east-1"}}}, func(t *testing.T, p *Plan) {
			assert.Equal(t, []string{"eu-north-1", "eu-west-1", "us-east-1"}, p.Regions())
			assert.Len(t, p.Waves, 2)
		}},
		{"regional shape", Policy{Shape: ShapeRegional}, func(t *testing.T, p *Plan) {
			for _, s := range p.Stages {
				assert.Contains(t, []StageKind{KindOneBox, KindRegional}, s.Kind)
				for _, tg := range s.Targets {
					assert.Empty(t, tg.AZ)
				}
			}
			assert.Len(t, p.Stages, 2*len(p.Waves))
		}},
		{"zonal one-box lives in the first AZ", Policy{}, func(t *testing.T, p *Plan) {
			r, _ := c.Region(p.Stages[0].Targets[0].Region)
			assert.Equal(t, r.AZs[0], p.Stages[0].Targets[0].AZ)
		}},
		{"expedited bakes below the floor", Policy{ExpediteReason: "SEV2 fix, approved by J. Doe", Bakes: Bakes{OneBox: 10 * time.Minute, FirstWave: time.Hour}}, func(t *testing.T, p *Plan) {
			assert.Equal(t, 10*time.Minute, p.Stages[0].Bake)
			assert.NotEmpty(t, p.ExpediteReason)
		}},
		{"large stages split into parts", Policy{OptIn: []string{"*"}, ActionsPerTarget: 4, ActionsPerStage: 2}, func(t *testing.T, p *Plan) {
			var parts []string
			for _, s := range p.Stages {
				if strings.Contains(s.Name, "-P") {
					parts = append(parts, s.Name)
				}
			}
			assert.Contains(t, parts, "Prod-W5-OneBox-P1")
			assert.Contains(t, parts, "Prod-W5-OneBox-P2")
			// Only the last part of a wave's last stage carries the wave bake.
			for _, s := range p.Stages {
				if s.Wave == 5 && strings.Contains(s.Name, "-P") && s.Kind == KindZonal {
					if s.LastOfWave {
						assert.Equal(t, 2*time.Hour, s.Bake, s.Name)
					} else {
						assert.LessOrEqual(t, s.Bake, time.Hour, s.Name)
					}
				}
			}
			// The last part's bake watches every part's regions; every
			// other stage watches its own.
			partRE := regexp.MustCompile(`-P\d+$`)
			groups := map[string][]Stage{}
			var order []string
			for _, s := range p.Stages {
				base := partRE.ReplaceAllString(s.Name, "")
				if groups[base] == nil {
					order = append(order, base)
				}
				groups[base] = append(groups[base], s)
			}
			for _, base := range order {
				parts := groups[base]
				var all []Target
				for i, s := range parts {
					all = append(all, s.Targets...)
					if i < len(parts)-1 {
						assert.Equal(t, s.Targets, s.Watch, s.Name)
					}
				}
				assert.Equal(t, all, parts[len(parts)-1].Watch, parts[len(parts)-1].Name)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(c, tt.policy)
			require.NoError(t, err)
			checkPlanInvariants(t, c, p)
			tt.check(t, p)
		})
	}
}

func TestPlanErrors(t *testing.T) {
	c := DefaultCatalog()
	tests := []struct {
		name   string
		policy Policy
		want   []string
	}{
		{"unknown kind and shape", Policy{Kind: "yolo", Shape: "global"}, []string{`kind "yolo" is unknown`, `shape "global" is unknown`}},
		{"unknown regions", Policy{Exclude: []string{"mars-east-1"}, Pin: map[string]int{"moon-1": 2}}, []string{`exclude: region "mars-east-1" is not in the catalog`, `pin: region "moon-1" is not in the catalog`}},
		{"pin excluded", Policy{Exclude: []string{"us-east-1"}, Pin: map[string]int{"us-east-1": 2}}, []string{`region "us-east-1" is pinned to wave 2 but also excluded`}},
		{"pin wave zero", Policy{Pin: map[string]int{"us-east-1": 0}}, []string{`has wave 0`}},
		{"pin beyond waves", Policy{Pin: map[string]int{"us-east-1": 9}}, []string{`pinned to wave 9, but the amazon policy makes 4 waves`}},
		{"two pinned to wave 1", Policy{Pin: map[string]int{"us-east-1": 1, "eu-west-1": 1}}, []string{`2 regions pinned to wave 1`}},
		{"waves without explicit", Policy{Waves: [][]string{{"us-east-1"}}}, []string{`waves is set but kind is "amazon"`}},
		{"explicit problems", Policy{Kind: PolicyExplicit, Exclude: []string{"eu-west-1"}, Waves: [][]string{{"us-east-1", "us-west-2"}, {}, {"us-east-1", "eu-west-1"}}},
			[]string{`waves[0] has 2 regions`, `waves[1] is empty`, `waves[2]: region "us-east-1" is already in waves[0]`, `waves[2]: region "eu-west-1" is excluded`}},
		{"bakes below floor", Policy{Bakes: Bakes{OneBox: 5 * time.Minute, Zonal: time.Minute, FirstWave: time.Hour, LaterWaves: time.Hour}},
			[]string{`bakes.oneBox is 5m0s, below the floor of 1h0m0s`, `bakes.zonal is 1m0s`, `bakes.firstWave is 1h0m0s`, `bakes.laterWaves is 1h0m0s`}},
		{"negative numbers", Policy{Bakes: Bakes{OneBox: -time.Hour}, MinDatapoints: -1, ActionsPerTarget: -1, ReservedStages: -2},
			[]string{`bakes.oneBox is -1h0m0s; a bake cannot be negative`, `minDatapoints is -1`, `actionsPerTarget is -1`, `reservedStages is -2`}},
		{"bad window", Policy{Window: Window{TimeZone: "Mars/Olympus", StartHour: 18, EndHour: 9, Holidays: []string{"25/12/2026"}}},
			[]string{`window.timeZone "Mars/Olympus"`, `window.startHour 18 is not before window.endHour 9`, `"25/12/2026" is not a date`}},
		{"opt-in that is not", Policy{OptIn: []string{"us-east-1"}}, []string{`optIn: region "us-east-1" is not an opt-in region`}},
		{"no region left", Policy{Partition: "aws-cn"}, []string{`no region left to deploy to`}},
		{"pins empty a wave", Policy{Exclude: exceptFor("eu-north-1", "eu-west-1", "us-east-1"), Pin: map[string]int{"eu-west-1": 3, "us-east-1": 3}},
			[]string{`wave 1 would have 0 regions`}},
		{"action limit", Policy{ActionsPerTarget: 45, ActionsPerStage: 15}, []string{`one target needs 60 actions`, `limit of 50 actions per stage by 10`}},
		{"stage limit", Policy{OptIn: []string{"*"}, ReservedStages: 40}, []string{`over the CodePipeline limit of 50 stages by 13`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(c, tt.policy)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// exceptFor excludes every non-opt-in catalog region but the given ones.
func exceptFor(keep ...string) []string {
	var out []string
	for _, r := range DefaultCatalog().Regions {
		if !r.OptIn && !toSet(keep)[r.Code] {
			out = append(out, r.Code)
		}
	}
	return out
}

func TestPlanRejectsHandBuiltInvalidCatalog(t *testing.T) {
	c := &Catalog{Version: "hand", Regions: []Region{{Code: "eu-west-1", Partition: "aws", Name: "Ireland", Tier: TierLow, TimeZone: "UTC"}}}
	_, err := NewPlan(c, Policy{})
	assert.ErrorContains(t, err, `region "eu-west-1": azs is empty`)
}

func TestPlanDoesNotMutateInputs(t *testing.T) {
	c := DefaultCatalog()
	policy := Policy{Exclude: []string{"us-west-1"}, Pin: map[string]int{"us-east-1": 3}, Window: Window{Days: []time.Weekday{time.Thursday, time.Monday}}}
	before := fmt.Sprintf("%#v", policy)
	_, err := NewPlan(c, policy)
	require.NoError(t, err)
	assert.Equal(t, before, fmt.Sprintf("%#v", policy))
	assert.Equal(t, DefaultCatalog().Codes(), c.Codes())
}

func TestDoubling(t *testing.T) {
	for n := 0; n <= 300; n++ {
		sizes := Doubling(n)
		total := 0
		for i, s := range sizes {
			total += s
			if i < len(sizes)-1 {
				assert.Equal(t, 1<<i, s, "n=%d batch %d", n, i)
			} else {
				assert.LessOrEqual(t, s, 1<<i, "n=%d last batch", n)
				assert.Positive(t, s)
			}
		}
		assert.Equal(t, n, total)
		// ⌈log2(n+1)⌉ batches.
		want := 0
		for (1<<want)-1 < n {
			want++
		}
		assert.Equal(t, want, len(sizes), "n=%d", n)
	}
	assert.Equal(t, []int{1, 2, 4, 8, 16, 3}, Doubling(34))
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy([]byte(`{"kind":"doubling","exclude":["us-west-1"],"bakes":{"oneBoxMinutes":90},
		"window":{"timeZone":"Europe/Dublin","days":["MON","tue","Wednesday"],"startHour":8,"endHour":15,"holidays":["2026-12-25"]}}`))
	require.NoError(t, err)
	assert.Equal(t, PolicyDoubling, p.Kind)
	assert.Equal(t, 90*time.Minute, p.Bakes.OneBox)
	assert.Equal(t, []time.Weekday{time.Monday, time.Tuesday, time.Wednesday}, p.Window.Days)
	assert.Equal(t, 8, p.Window.StartHour)

	_, err = ParsePolicy([]byte(`{"kind":"amazon","window":{"days":["MON","FUNDAY"]}}`))
	assert.ErrorContains(t, err, `"FUNDAY" is not a weekday`)
	_, err = ParsePolicy([]byte(`{"kind":"amazon","bake":{}}`))
	assert.ErrorContains(t, err, `unknown field "bake"`)
}

func BenchmarkPlanAndSchedule(b *testing.B) {
	c := DefaultCatalog()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		p, err := NewPlan(c, ReferencePolicy(ShapeZonal))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Schedule(p, start, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBatchesProperties: every item exactly once and in order, batch sizes
// 1, 2, 4, … with the last taking the rest, ⌈log2(N+1)⌉ batches.
func TestBatchesProperties(t *testing.T) {
	for n := 0; n <= 1100; n++ {
		items := make([]int, n)
		for i := range items {
			items[i] = i
		}
		batches := Batches(items)
		want := bits.Len(uint(n)) // ⌈log2(n+1)⌉
		require.Len(t, batches, want, "n=%d", n)
		next := 0
		for b, batch := range batches {
			if b < len(batches)-1 {
				require.Len(t, batch, 1<<b, "n=%d batch %d", n, b)
			} else {
				require.LessOrEqual(t, len(batch), 1<<b, "n=%d last batch", n)
				require.Positive(t, len(batch))
			}
			for _, it := range batch {
				require.Equal(t, next, it, "n=%d: every item once, in order", n)
				next++
			}
		}
		require.Equal(t, n, next)
	}
}

// TestPlanNamesTheOptInRegionsLeftOut: a policy that opts into no opt-in
// region (a policy file's default) plans the other regions only; the plan
// names the ones it leaves out, so that half a catalog is not dropped
// silently. Excluded regions are the user's own choice and not listed.
func TestPlanNamesTheOptInRegionsLeftOut(t *testing.T) {
	c := DefaultCatalog()
	var optIn []string
	for _, r := range c.Regions {
		if r.OptIn && r.Partition == "aws" && r.Code != "il-central-1" {
			optIn = append(optIn, r.Code)
		}
	}
	require.NotEmpty(t, optIn)
	slices.Sort(optIn)
	for _, tc := range []struct {
		name string
		opt  []string
		want []string
	}{
		{"none opted into", nil, optIn},
		{"all", []string{"*"}, nil},
		{"all but one, by name", optIn[1:], optIn[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(c, Policy{Kind: PolicyAmazon, Shape: ShapeRegional, OptIn: tc.opt, Exclude: []string{"il-central-1"}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.NotOptedIn)
			for _, r := range p.Regions() {
				assert.NotContains(t, p.NotOptedIn, r)
			}
		})
	}
}

// TestPlanRequiredServices: a region that lacks a service the pipeline
// needs there is refused, naming it and the services, or — where the
// policy says so — left out and listed; a region the policy names itself
// is always refused; a service no region lists is an error (the catalog
// does not track it), and a catalog without services offers nothing.
func TestPlanRequiredServices(t *testing.T) {
	c := DefaultCatalog()
	need := []string{"codepipeline", "s3"}
	t.Run("refuse", func(t *testing.T) {
		_, err := NewPlan(c, Policy{OptIn: []string{"*"}, RequiredServices: need})
		require.Error(t, err)
		for _, code := range []string{"ap-east-2", "ap-southeast-6", "ap-southeast-7", "ca-west-1", "mx-central-1"} {
			assert.Contains(t, err.Error(), "plan: region "+code+" lacks codepipeline, which the pipeline needs there")
		}
		assert.Contains(t, err.Error(), `services from "botocore 1.43.11 data/endpoints.json`)
		assert.NotContains(t, err.Error(), "us-east-1")
	})
	t.Run("exclude", func(t *testing.T) {
		p, err := NewPlan(c, Policy{OptIn: []string{"*"}, RequiredServices: need, LackingServices: LackingExclude})
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{"ap-east-2": {"codepipeline"}, "ap-southeast-6": {"codepipeline"}, "ap-southeast-7": {"codepipeline"},
			"ca-west-1": {"codepipeline"}, "mx-central-1": {"codepipeline"}}, p.LackingServices)
		assert.NotContains(t, p.Regions(), "ca-west-1")
		checkPlanInvariants(t, c, p)
	})
	t.Run("named by the policy", func(t *testing.T) {
		for name, policy := range map[string]Policy{
			"pinned":    {OptIn: []string{"*"}, Pin: map[string]int{"ca-west-1": 3}},
			"opted in":  {OptIn: []string{"ap-east-2"}},
			"in a wave": {Kind: PolicyExplicit, Waves: [][]string{{"us-east-1"}, {"mx-central-1"}}},
		} {
			policy.RequiredServices, policy.LackingServices = need, LackingExclude
			_, err := NewPlan(c, policy)
			assert.ErrorContains(t, err, "lacks codepipeline", name)
		}
	})
	t.Run("untracked", func(t *testing.T) {
		_, err := NewPlan(c, Policy{RequiredServices: []string{"gamelift", "Bad Name"}, LackingServices: "maybe"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), `requiredServices: no region of catalog 2026.12 lists "gamelift"`)
		assert.Contains(t, err.Error(), `requiredServices: "Bad Name" is not a service's endpoint name`)
		assert.Contains(t, err.Error(), `lackingServices "maybe" is unknown`)
	})
	t.Run("a catalog without services", func(t *testing.T) {
		bare := &Catalog{Version: "bare", Regions: []Region{{Code: "eu-west-1", Partition: "aws", Name: "Ireland", AZs: []string{"euw1-az1"}, Tier: TierLow, TimeZone: "UTC"}}}
		_, err := NewPlan(bare, Policy{RequiredServices: need})
		assert.ErrorContains(t, err, `no region of catalog bare lists "codepipeline"`)
		_, err = NewPlan(bare, Policy{})
		assert.NoError(t, err, "nothing required, nothing checked")
	})
	p, err := ParsePolicy([]byte(`{"requiredServices":["lambda","codepipeline"],"lackingServices":"exclude"}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"lambda", "codepipeline"}, p.RequiredServices)
	assert.Equal(t, LackingExclude, p.LackingServices)
}

// TestCatalogServicesMatchTheSDKData: the embedded catalog's services are
// what the SDK endpoint data its servicesSource names says — checked
// against botocore's data/endpoints.json when that version is installed.
func TestCatalogServicesMatchTheSDKData(t *testing.T) {
	c := DefaultCatalog()
	out, err := exec.Command("python3", "-c", "import botocore, os; print(botocore.__version__); print(os.path.join(os.path.dirname(botocore.__file__), 'data', 'endpoints.json'))").Output()
	if err != nil {
		t.Skip("botocore is not installed: the catalog's services are not re-checked here")
	}
	version, path, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if !strings.HasPrefix(c.ServicesSource, "botocore "+version+" ") {
		t.Skipf("botocore %s is installed; the catalog's services come from %q", version, c.ServicesSource)
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var data struct {
		Partitions []struct {
			Partition string
			Services  map[string]struct {
				Endpoints map[string]struct {
					Deprecated bool `json:"deprecated"`
				} `json:"endpoints"`
			} `json:"services"`
		} `json:"partitions"`
	}
	require.NoError(t, json.Unmarshal(b, &data))
	tracked := map[string]bool{}
	for _, r := range c.Regions {
		for _, s := range r.Services {
			tracked[s] = true
		}
	}
	for _, p := range data.Partitions {
		if p.Partition != "aws" {
			continue
		}
		for _, r := range c.Regions {
			var want []string
			for s := range tracked {
				if e, ok := p.Services[s].Endpoints[r.Code]; ok && !e.Deprecated {
					want = append(want, s)
				}
			}
			slices.Sort(want)
			assert.Equal(t, want, r.Services, r.Code)
		}
	}
}
