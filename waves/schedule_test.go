package waves

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWindowNextStart(t *testing.T) {
	w := Window{TimeZone: "Europe/Dublin", Holidays: []string{"2026-12-24"}}
	loc := w.Location()
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		require.NoError(t, err)
		return tm
	}
	tests := []struct{ name, from, want string }{
		{"inside the window", "2026-12-01 10:15", "2026-12-01 10:15"},
		{"before opening", "2026-12-01 07:00", "2026-12-01 09:00"},
		{"at closing", "2026-12-01 16:00", "2026-12-02 09:00"},
		{"Thursday evening skips Friday and the weekend", "2026-12-03 17:00", "2026-12-07 09:00"},
		{"Friday", "2026-12-04 10:00", "2026-12-07 09:00"},
		{"holiday", "2026-12-24 10:00", "2026-12-28 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.NextStart(at(tt.from))
			require.NoError(t, err)
			assert.Equal(t, at(tt.want), got)
		})
	}
	_, err := Window{Days: []time.Weekday{time.Monday}, Holidays: mondays(2026, 120)}.NextStart(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.ErrorContains(t, err, "no start time within two years")
}

func mondays(year, n int) []string {
	var out []string
	d := time.Date(year, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		out = append(out, d.AddDate(0, 0, 7*i).Format(time.DateOnly))
	}
	return out
}

func TestWindowCron(t *testing.T) {
	assert.Equal(t, "* * 9-15 ? * MON-THU", Window{}.Cron())
	assert.Equal(t, "* * 8 ? * MON,WED-FRI", Window{Days: []time.Weekday{time.Friday, time.Monday, time.Wednesday, time.Thursday}, StartHour: 8, EndHour: 9}.Cron())
	assert.Equal(t, "MON-THU 09:00–16:00 UTC", Window{}.String())
}

func TestScheduleReference(t *testing.T) {
	p, err := NewPlan(DefaultCatalog(), ReferencePolicy(ShapeZonal))
	require.NoError(t, err)
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC) // a Monday
	tl, err := Schedule(p, start, 0)
	require.NoError(t, err)
	require.Len(t, tl.Steps, len(p.Stages))
	prev := start
	for i, st := range tl.Steps {
		s := p.Stages[i]
		assert.False(t, st.Start.Before(prev), "%s starts after the previous bake", s.Name)
		next, err := p.Window.NextStart(st.Start)
		require.NoError(t, err)
		assert.Equal(t, st.Start, next, "%s starts inside the window", s.Name)
		assert.Equal(t, DefaultDeployDuration, st.Deployed.Sub(st.Start))
		assert.Equal(t, s.Bake, st.Baked.Sub(st.Deployed))
		prev = st.Baked
	}
	// Wave 1's 12 h bake pushes wave 2 to the next morning.
	assert.Equal(t, time.Tuesday, tl.Steps[4].Start.Weekday())
	assert.Equal(t, tl.Steps[len(tl.Steps)-1].Deployed, tl.Global)
	assert.InDelta(t, tl.Global.Sub(start).Hours(), tl.TimeToGlobalHours, 1e-9)
	assert.Equal(t, businessDays(p.Window.calendar(), start, tl.Global), tl.BusinessDays)
	assert.GreaterOrEqual(t, tl.BusinessDays, 4)

	again, err := Schedule(p, start, 0)
	require.NoError(t, err)
	assert.Equal(t, tl, again)
}

func TestBusinessDays(t *testing.T) {
	w := Window{Holidays: []string{"2026-01-07"}}.withDefaults().calendar()
	mon := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	assert.Equal(t, 1, businessDays(w, mon, mon.Add(3*time.Hour)))
	assert.Equal(t, 4, businessDays(w, mon, mon.AddDate(0, 0, 4)), "Mon–Fri less one holiday")
	assert.Equal(t, 5, businessDays(w, mon, mon.AddDate(0, 0, 7)), "the weekend does not count")
}

func TestScheduleErrors(t *testing.T) {
	_, err := Schedule(nil, time.Now(), 0)
	assert.Error(t, err)
	p, err := NewPlan(DefaultCatalog(), Policy{})
	require.NoError(t, err)
	_, err = Schedule(p, time.Now(), -time.Minute)
	assert.ErrorContains(t, err, "cannot be negative")
}
