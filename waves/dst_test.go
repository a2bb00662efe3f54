package waves

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWindowFollowsTheWallClockAcrossDST: a window is wall-clock hours in
// its zone. On a spring-forward day the hours that do not exist hold no
// start (time.Date normalises 02:00 on 2026-03-08 in New York to 01:00
// EST, which opened the window an hour early); on a fall-back day the
// repeated hour is in the window both times. Two zones, both directions.
func TestWindowFollowsTheWallClockAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	ber, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	sunday := []time.Weekday{time.Sunday}
	cases := []struct {
		name       string
		w          Window
		from, want time.Time
	}{
		// New York springs forward at 02:00 on Sunday 2026-03-08: 02:00–02:59 do not exist.
		{"NY 02-03 on the spring day opens the next Sunday", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 2, EndHour: 3},
			time.Date(2026, 3, 8, 0, 30, 0, 0, ny), time.Date(2026, 3, 15, 2, 0, 0, 0, ny)},
		{"NY 02-04 on the spring day opens at 03:00 EDT", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 2, EndHour: 4},
			time.Date(2026, 3, 8, 0, 30, 0, 0, ny), time.Date(2026, 3, 8, 3, 0, 0, 0, ny)},
		{"NY 01-02 on the spring day closes at 03:00 EDT", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 1, EndHour: 2},
			time.Date(2026, 3, 8, 1, 59, 0, 0, ny), time.Date(2026, 3, 8, 1, 59, 0, 0, ny)},
		// New York falls back at 02:00 EDT on Sunday 2026-11-01: 01:00–01:59 happen twice.
		{"NY 01-02 on the fall day: the first 01:00", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 1, EndHour: 2},
			time.Date(2026, 11, 1, 0, 30, 0, 0, ny), time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)},
		{"NY 01-02 on the fall day: the repeated hour is open", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 1, EndHour: 2},
			time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)},
		{"NY 02-03 on the fall day opens at 02:00 EST", Window{TimeZone: "America/New_York", Days: sunday, StartHour: 2, EndHour: 3},
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)},
		// Berlin springs forward at 02:00 on Sunday 2026-03-29 and falls back at 03:00 on Sunday 2026-10-25.
		{"Berlin 02-03 on the spring day opens the next Sunday", Window{TimeZone: "Europe/Berlin", Days: sunday, StartHour: 2, EndHour: 3},
			time.Date(2026, 3, 29, 0, 0, 0, 0, ber), time.Date(2026, 4, 5, 2, 0, 0, 0, ber)},
		{"Berlin 02-03 on the fall day: the first 02:00 (CEST)", Window{TimeZone: "Europe/Berlin", Days: sunday, StartHour: 2, EndHour: 3},
			time.Date(2026, 10, 25, 0, 0, 0, 0, ber), time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)},
		{"Berlin 02-03 on the fall day: the repeated hour (CET) is open", Window{TimeZone: "Europe/Berlin", Days: sunday, StartHour: 2, EndHour: 3},
			time.Date(2026, 10, 25, 1, 15, 0, 0, time.UTC), time.Date(2026, 10, 25, 1, 15, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.w.NextStart(c.from)
			require.NoError(t, err)
			assert.True(t, got.Equal(c.want), "got %s, want %s", got.In(c.w.Location()), c.want.In(c.w.Location()))
			l := got.In(c.w.Location())
			assert.GreaterOrEqual(t, l.Hour(), c.w.StartHour, "the wall clock is inside the window")
			assert.Less(t, l.Hour(), c.w.EndHour)
			assert.True(t, c.w.Open(got))
		})
	}
	// Where a DST change skips midnight (America/Santiago springs forward
	// at 24:00 on Saturday 2026-09-05), the day still opens at its first
	// instant: a Sunday 00:00–02:00 window opens at 01:00.
	santiago, err := time.LoadLocation("America/Santiago")
	require.NoError(t, err)
	sw := Window{TimeZone: "America/Santiago", Days: []time.Weekday{time.Sunday}, StartHour: 0, EndHour: 2}
	got, err := sw.NextStart(time.Date(2026, 9, 5, 20, 0, 0, 0, santiago))
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 9, 6, 1, 0, 0, 0, santiago), got.In(santiago), "%s", got.In(santiago))
	assert.True(t, sw.Open(got))

	// Open agrees with the wall clock at every minute of both New York days.
	w := Window{TimeZone: "America/New_York", Days: sunday, StartHour: 1, EndHour: 3}
	for _, day := range []time.Time{time.Date(2026, 3, 8, 4, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC)} {
		for m := 0; m < 6*60; m++ {
			at := day.Add(time.Duration(m) * time.Minute)
			l := at.In(ny)
			want := l.Weekday() == time.Sunday && l.Hour() >= 1 && l.Hour() < 3
			assert.Equal(t, want, w.Open(at), "%s", l)
			next, err := w.NextStart(at)
			require.NoError(t, err)
			assert.Equal(t, want, next.Equal(at), "%s: NextStart %s", l, next.In(ny))
		}
	}
}

// TestLocationLoadsOnce: a window's zone is loaded from tzdata once, not on
// every question (a gate's default entry wait asks it for 400 days in every
// stage); the zone is the one time.LoadLocation gives, and a name that is
// no zone is an error every time and is not kept.
func TestLocationLoadsOnce(t *testing.T) {
	for _, tz := range []string{"Asia/Tokyo", "America/New_York", "UTC"} {
		w := Window{TimeZone: tz}
		want, err := time.LoadLocation(tz)
		require.NoError(t, err)
		got := w.Location()
		assert.Equal(t, want.String(), got.String())
		instant := time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC) // a DST change in New York
		assert.Equal(t, instant.In(want).Format(time.RFC3339), instant.In(got).Format(time.RFC3339), tz)
		assert.Same(t, got, w.Location(), "%s: the same zone, not a new load", tz)
		assert.Zero(t, testing.AllocsPerRun(20, func() { w.Location() }), "%s: loaded again", tz)
	}
	for range 2 {
		_, err := loadLocation("Mars/Olympus_Mons")
		assert.Error(t, err)
	}
	_, kept := zones.Load("Mars/Olympus_Mons")
	assert.False(t, kept, "a name that is no zone is not kept")
	assert.Equal(t, time.UTC, Window{TimeZone: "Mars/Olympus_Mons"}.Location(), "Location falls back to UTC as before")
}
