package waves

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hostile inputs of issue 15, for the catalog, the policy, the plan and
// the schedule: each is rejected with an error that names the field, the
// value and the limit, and none builds anything large first.

const oneRegion = `{"code":"eu-north-1","partition":"aws","name":"Stockholm","azs":["eun1-az1"],"tier":"low","tz":"Europe/Stockholm"}`

func TestCatalogIsDecodedStrictly(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"trailing }]}":      {`{"version":"1","regions":[` + oneRegion + `]}}]}`, `catalog: line 1: unexpected "}]}" after the document`},
		"trailing }":        {`{"version":"1","regions":[` + oneRegion + `]}}`, `unexpected "}" after the document`},
		"duplicate key":     {"{\"version\":\"1\",\n\"version\":\"2\",\"regions\":[" + oneRegion + `]}`, `catalog: line 2: duplicate key "version" (first at line 1)`},
		"case variant":      {`{"version":"1","Regions":[` + oneRegion + `]}`, `catalog: line 1: unknown field "Regions": field names are case-sensitive; did you mean "regions"?`},
		"case variant deep": {`{"version":"1","regions":[{"CODE":"eu-north-1"}]}`, `regions[0]: unknown field "CODE"`},
		"wrong type":        {`{"version":1,"regions":{}}`, "version: want a string, got a number\ncatalog: line 1: regions: want a list, got an object"},
		"not UTF-8":         {"{\"version\":\"\xff\",\"regions\":[]}", `catalog: line 1: the file is not UTF-8`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseCatalog([]byte(c.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
			for _, line := range strings.Split(err.Error(), "\n") {
				assert.True(t, strings.HasPrefix(line, "catalog: "), "every line names its source: %q", line)
			}
		})
	}
}

func TestPolicyIsDecodedStrictly(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"trailing }":     {`{"kind":"amazon"}}`, `policy: line 1: unexpected "}" after the document`},
		"trailing }]}":   {`{"kind":"amazon"}]}`, `unexpected "]}"`},
		"duplicate key":  {`{"kind":"amazon","kind":"doubling"}`, `policy: line 1: duplicate key "kind"`},
		"KIND":           {`{"KIND":"doubling"}`, `policy: line 1: unknown field "KIND": field names are case-sensitive; did you mean "kind"?`},
		"nested variant": {`{"bakes":{"OneBoxMinutes":90}}`, `bakes: unknown field "OneBoxMinutes"`},
		"fraction":       {`{"bakes":{"oneBoxMinutes":90.5}}`, `bakes.oneBoxMinutes: 90.5 is not a whole number`},
		"int overflow":   {`{"reservedStages":9223372036854775808}`, `reservedStages: 9223372036854775808 is out of range`},
		"string number":  {`{"minDatapoints":"100"}`, `minDatapoints: want a whole number, got a string`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(c.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// TestPolicyRangesBeforeArithmetic: minutes are checked before they become
// a time.Duration, so 307446455 minutes (584 years) cannot wrap around to
// 720 minutes and pass the 12 h floor.
func TestPolicyRangesBeforeArithmetic(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"firstWave wraps to 12h": {`{"bakes":{"firstWaveMinutes":307446455}}`, `policy: bakes.firstWaveMinutes is 307446455, over the limit of 86400 minutes`},
		"oneBox max int":         {`{"bakes":{"oneBoxMinutes":9223372036854775807}}`, `bakes.oneBoxMinutes is 9223372036854775807, over the limit of 86400`},
		"negative zonal":         {`{"bakes":{"zonalMinutes":-307446455}}`, `bakes.zonalMinutes is -307446455; a bake cannot be negative`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(c.src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	// 307446455 minutes is 720 minutes modulo 2^64 nanoseconds: the wrap the
	// old code accepted as a 12 h bake.
	minutes := 307446455
	assert.Equal(t, 720, int(time.Duration(minutes)*time.Minute/time.Minute))

	c := DefaultCatalog()
	for name, tt := range map[string]struct {
		policy Policy
		want   string
	}{
		"reserved max int":    {Policy{ReservedStages: math.MaxInt}, fmt.Sprintf("policy: reservedStages is %d, over the limit of 49", math.MaxInt)},
		"actions wrap":        {Policy{ActionsPerTarget: math.MaxInt/2 + 1}, "actionsPerTarget is 4611686018427387904, over the limit of 50"},
		"per-stage max int":   {Policy{ActionsPerStage: math.MaxInt}, "actionsPerStage is 9223372036854775807, over the limit of 49"},
		"bake over limit":     {Policy{Bakes: Bakes{LaterWaves: 61 * 24 * time.Hour}}, "bakes.laterWaves is 1464h0m0s, over the limit of 1440h0m0s"},
		"bake max duration":   {Policy{Bakes: Bakes{OneBox: math.MaxInt64}}, "bakes.oneBox is 2562047h47m16.854775807s, over the limit of 1440h0m0s"},
		"too many holidays":   {Policy{Window: Window{Holidays: manyDays(MaxHolidays + 1)}}, fmt.Sprintf("window.holidays has %d dates, over the limit of %d", MaxHolidays+1, MaxHolidays)},
		"min datapoints wrap": {Policy{MinDatapoints: -1}, "minDatapoints is -1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewPlan(c, tt.policy)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func manyDays(n int) []string {
	out := make([]string, n)
	d := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = d.AddDate(0, 0, i).Format(time.DateOnly)
	}
	return out
}

// TestFilesAreReadWithACap: /dev/zero, a FIFO or a huge file is read only
// up to the cap plus one byte.
func TestFilesAreReadWithACap(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, err := LoadCatalogFile("/dev/zero")
	assert.EqualError(t, err, "catalog /dev/zero: larger than the limit of 1 MiB")
	_, err = LoadPolicyFile("/dev/zero")
	assert.EqualError(t, err, "policy /dev/zero: larger than the limit of 1 MiB")
	_, err = ParseCatalog(make([]byte, MaxCatalogBytes+1))
	assert.EqualError(t, err, "catalog: larger than the limit of 1 MiB")
	_, err = ParsePolicy(make([]byte, MaxPolicyBytes+1))
	assert.EqualError(t, err, "policy: larger than the limit of 1 MiB")

	dir := t.TempDir()
	p := filepath.Join(dir, "catalog.json")
	require.NoError(t, os.WriteFile(p, []byte(`{"version":"1","regions":[`+oneRegion+`]}`), 0o644))
	_, err = LoadCatalogFile(p)
	require.NoError(t, err)
}

// bigCatalog is a hand-built catalog: one region with n AZs, or n regions.
func bigCatalog(regions, azs int) *Catalog {
	c := &Catalog{Version: "big"}
	for i := range regions {
		r := Region{Code: fmt.Sprintf("us-east-%d", i+1), Partition: "aws", Name: "r", Tier: TierLow, TimeZone: "UTC"}
		prefix, _ := AZIDPrefix(r.Code)
		for j := range azs {
			r.AZs = append(r.AZs, fmt.Sprintf("%s-az%d", prefix, j+1))
		}
		c.Regions = append(c.Regions, r)
	}
	return c
}

// TestCountsAreCheckedBeforePlanning: a catalog with 700,000 AZs fails on
// the count, before 700,001 stages are built (the old code built them, 647
// MB, then failed on the 50-stage limit).
func TestCountsAreCheckedBeforePlanning(t *testing.T) {
	_, err := NewPlan(bigCatalog(1, 700_000), Policy{})
	require.Error(t, err)
	assert.Equal(t, `catalog: region "us-east-1" has 700000 AZs, over the limit of 50`, err.Error())

	_, err = NewPlan(bigCatalog(MaxRegions+1, 1), Policy{})
	require.Error(t, err)
	assert.Equal(t, "catalog: 1001 regions, over the limit of 1000", err.Error())

	b, err := json.Marshal(bigCatalog(1, MaxAZsPerRegion+1))
	require.NoError(t, err)
	_, err = ParseCatalog(b)
	assert.EqualError(t, err, `catalog: region "us-east-1" has 51 AZs, over the limit of 50`)

	// Under the caps, the stage count is computed before any stage is.
	_, err = NewPlan(bigCatalog(1, 50), Policy{})
	assert.EqualError(t, err, "plan: 51 production stages + 0 reserved stages = 51, over the CodePipeline limit of 50 stages by 1 (use fewer waves, a regional shape, or fewer pre-production stages)")
	_, err = NewPlan(bigCatalog(1000, 2), Policy{Kind: PolicyDoubling, Shape: ShapeRegional})
	assert.ErrorContains(t, err, "over the CodePipeline limit of 50 stages")
}

func TestStageCountMatchesThePlan(t *testing.T) {
	c := DefaultCatalog()
	for _, p := range []Policy{
		ReferencePolicy(ShapeZonal), ReferencePolicy(ShapeRegional), {Kind: PolicyDoubling, OptIn: []string{"*"}},
		{Kind: PolicyDoubling, ActionsPerTarget: 7, ActionsPerStage: 3, OptIn: []string{"*"}},
		{Kind: PolicyExplicit, Waves: [][]string{{"eu-north-1"}, {"us-east-1", "eu-west-1"}}, ActionsPerTarget: 25},
	} {
		plan, err := NewPlan(c, p)
		require.NoError(t, err)
		q := p.withDefaults()
		n := 0
		for _, w := range plan.Waves {
			n += stageCount(c, q, w)
		}
		assert.Equal(t, len(plan.Stages), n, "%+v", p)
	}
}

func TestScheduleRanges(t *testing.T) {
	plan, err := NewPlan(DefaultCatalog(), ReferencePolicy(ShapeZonal))
	require.NoError(t, err)
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	_, err = Schedule(plan, start, MaxStageDuration+time.Minute)
	assert.EqualError(t, err, "schedule: deploy duration is 1440h1m0s, over the limit of 1440h0m0s")

	// A plan edited by hand cannot make the business-day count run for
	// ever: every bake is range-checked.
	bad := *plan
	bad.Stages = append([]Stage(nil), plan.Stages...)
	bad.Stages[3].Bake = math.MaxInt64
	_, err = Schedule(&bad, start, 0)
	assert.EqualError(t, err, fmt.Sprintf("schedule: stage %s: bake is 2562047h47m16.854775807s, over the limit of 1440h0m0s", plan.Stages[3].Name))
}
