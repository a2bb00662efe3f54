package waves

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckGoal(t *testing.T) {
	monday := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		policy   Policy
		goal     int
		before   int
		singles  int
		smallest [][]string // the levers of each smallest combination, cheapest first
	}{
		{"the reference zonal service needs two changes to reach 5 days", ReferencePolicy(ShapeZonal), 5, 7, len(Levers),
			[][]string{{"bakes.zonal 30m (its floor)", "window closes two hours later"}}},
		{"a goal the policy meets: nothing to pull", ReferencePolicy(ShapeZonal), 7, 7, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CheckGoal(DefaultCatalog(), tc.policy, monday, 0, tc.goal)
			require.NoError(t, err)
			assert.Equal(t, tc.before, r.Before.BusinessDays)
			assert.Len(t, r.Singles, tc.singles)
			for _, o := range r.Singles {
				assert.Greater(t, o.BusinessDays, tc.goal, "no single lever reaches the goal: %s", o)
			}
			var got [][]string
			for _, o := range r.Smallest {
				got = append(got, o.Levers)
				assert.LessOrEqual(t, o.BusinessDays, tc.goal, o.String())
				assert.Len(t, o.Costs, len(o.Levers))
			}
			if len(tc.smallest) > 0 {
				require.NotEmpty(t, got)
				assert.Equal(t, tc.smallest[0], got[0], "the cheapest combination first; all: %v", got)
			} else {
				assert.Empty(t, got)
			}
		})
	}
}

// Every lever keeps the floors: the changed plans' bakes never go under
// them, and their stages still start inside their (changed) windows.
func TestLeversKeepTheFloors(t *testing.T) {
	for _, l := range Levers {
		p := ReferencePolicy(ShapeZonal).withDefaults()
		require.True(t, l.apply(&p), l.Name)
		require.False(t, l.apply(&Policy{Window: Window{StartHour: 0, EndHour: 24, Days: []time.Weekday{time.Friday}}, Bakes: Bakes{Zonal: FloorZonal}}), "%s: no change on a policy that has it", l.Name)
		plan, err := NewPlan(DefaultCatalog(), p)
		require.NoError(t, err, l.Name)
		for _, s := range plan.Stages {
			floor := FloorZonal
			switch {
			case s.Kind == KindOneBox:
				floor = FloorOneBox
			case s.Wave == 1 && s.LastOfWave:
				floor = FloorFirstWave
			case s.LastOfWave:
				floor = FloorLaterWave
			}
			assert.GreaterOrEqual(t, s.Bake, floor, "%s: %s", l.Name, s.Name)
		}
	}
}

func TestCheckGoalRefuses(t *testing.T) {
	_, err := CheckGoal(DefaultCatalog(), ReferencePolicy(ShapeZonal), time.Now(), 0, 0)
	assert.ErrorContains(t, err, "goal: 0 business days is outside 1–365")
	_, err = CheckGoal(DefaultCatalog(), Policy{Kind: "nope"}, time.Now(), 0, 5)
	assert.Error(t, err)
}

// BenchmarkCheckGoal: the reference plan, each lever alone and every pair
// (what "safepipe plan" runs by default).
func BenchmarkCheckGoal(b *testing.B) {
	monday := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := CheckGoal(DefaultCatalog(), ReferencePolicy(ShapeZonal), monday, 0, 5); err != nil {
			b.Fatal(err)
		}
	}
}
