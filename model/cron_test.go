package model

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseWindow(t *testing.T) {
	for _, c := range []struct {
		cron          string
		minutesPerDay int
		hoursPerWeek  float64
		always, never bool
	}{
		{"* * 9-15 ? * MON-THU", 7 * 60, 28, false, false},
		{"* * * ? * *", 1440, 168, true, false},
		{"* * * * * ?", 1440, 168, true, false},
		{"* 0-59 0-23 ? JAN-DEC SUN,MON,TUE,WED,THU,FRI,SAT", 1440, 168, true, false},
		{"* 0-59 0-23 ? 1-12 1-7", 1440, 168, true, false},
		{"* */1 0/1 1-31 * ?", 1440, 168, true, false},
		{"* * 22-5 ? * *", 8 * 60, 56, false, false}, // wrapping hours
		{"* * 9-15 30 FEB ?", 7 * 60, 0, false, true},
		{"* * 9-15 ? * MON-FRI 2020", 7 * 60, 0, false, true}, // the past
		{"* 0 9 ? * 6#3", 1, 0, false, false},                 // third Friday
		{"* 0 9 L * ?", 1, 0, false, false},                   // last day of the month
		{"* 0 9 LW * ?", 1, 0, false, false},
		{"* 0 9 15W * ?", 1, 0, false, false},
		{"* 0 9 ? * 6L", 1, 0, false, false},
		{"* 0 9 L-3 * ?", 1, 0, false, false},
	} {
		t.Run(c.cron, func(t *testing.T) {
			w, err := ParseWindow(c.cron)
			require.NoError(t, err)
			assert.Equal(t, c.minutesPerDay, w.MinutesPerDay)
			assert.Equal(t, c.always, w.AlwaysOpen())
			assert.Equal(t, c.never, w.NeverOpen())
			if c.hoursPerWeek > 0 || c.never {
				assert.InDelta(t, c.hoursPerWeek, w.WeeklyHours(), 0.1)
			}
		})
	}
	// The third Friday: 12 a year, 96 in the span.
	w, err := ParseWindow("* 0 9 ? * 6#3")
	require.NoError(t, err)
	assert.Equal(t, 96, w.OpenDays)
	w, err = ParseWindow("* 0 9 L * ?")
	require.NoError(t, err)
	assert.Equal(t, 96, w.OpenDays)
}

func TestParseWindowErrors(t *testing.T) {
	for cron, want := range map[string]string{
		"* * 9-15 ? *":                 "has 5 fields",
		"0 * 9-15 ? * MON":             `seconds field "0" must be *`,
		"* 60 * ? * *":                 `minutes field "60": value "60" is not within 0-59`,
		"* * 9-25 ? * *":               `range "9-25" is not within 0-23`,
		"* */0 * ? * *":                `step "0" is not a whole number from 1 to 60`,
		"* * * 1 * MON":                `day-of-month "1" and day-of-week "MON" are both set`,
		"* * * ? * FUNDAY":             `value "FUNDAY" is not within 1-7`,
		"* * * ? * 6#9":                `"6#9" is not day#week with week 1 to 5`,
		"* * * 32W * ?":                `"32W" is not a day from 1 to 31 before W`,
		"* * * ? * * 1969":             `value "1969" is not within 1970-2199`,
		"* * \x1b[2J ? * *":            `hours field "\x1b[2J"`,
		"* * 1,2,3,4,5,6,7,8,99 ? * *": `value "99" is not within 0-23`,
	} {
		_, err := ParseWindow(cron)
		if assert.Error(t, err, cron) {
			assert.Contains(t, err.Error(), want, cron)
		}
	}
	long := "* * " + string(make([]byte, 1001))
	_, err := ParseWindow(long)
	assert.ErrorContains(t, err, "longer than 1000 characters (limit 1000)")
}

// TestCronOpen: the simulator's reading of a window, minute by minute, in
// the rule's time zone; a range that wraps (15-9) runs past midnight.
func TestCronOpen(t *testing.T) {
	c, err := ParseCron("* * 9-15 ? * MON-THU", "America/Los_Angeles")
	require.NoError(t, err)
	la, _ := time.LoadLocation("America/Los_Angeles")
	assert.True(t, c.Open(time.Date(2026, 1, 5, 9, 0, 0, 0, la)), "Monday 09:00")
	assert.True(t, c.Open(time.Date(2026, 1, 8, 15, 59, 0, 0, la)), "Thursday 15:59")
	assert.False(t, c.Open(time.Date(2026, 1, 8, 16, 0, 0, 0, la)), "Thursday 16:00")
	assert.False(t, c.Open(time.Date(2026, 1, 9, 10, 0, 0, 0, la)), "Friday")
	assert.True(t, c.Open(time.Date(2026, 1, 5, 17, 0, 0, 0, time.UTC)), "Monday 09:00 LA is 17:00 UTC")
	assert.False(t, c.Open(time.Date(2026, 1, 5, 16, 59, 0, 0, time.UTC)), "08:59 LA is closed")

	c, err = ParseCron("* 0/30 8-10 1,15 JAN,JUL ? 2026", "UTC+05:30")
	require.NoError(t, err)
	ist := time.FixedZone("x", 5*3600+1800)
	assert.True(t, c.Open(time.Date(2026, 7, 15, 8, 30, 0, 0, ist)))
	assert.False(t, c.Open(time.Date(2026, 7, 15, 8, 31, 0, 0, ist)))
	assert.False(t, c.Open(time.Date(2027, 7, 15, 8, 30, 0, 0, ist)))

	c, err = ParseCron("* * 22-2 ? * *", "UTC")
	require.NoError(t, err)
	assert.True(t, c.Open(time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)), "a range that wraps past midnight")
	assert.False(t, c.Open(time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)))

	for _, bad := range []struct{ cron, tz, err string }{
		{"* * 9-15 ? *", "UTC", "has 5 fields"},
		{"* * 25 ? * MON", "UTC", `value "25" is not within 0-23`},
		{"0 * 9 ? * MON", "UTC", "seconds field \"0\" must be *"},
		{"* * 9 ? * MON", "PST", "abbreviation"},
		{"* * 9 ? * MON", "UTC+25:00", "UTC±HH:MM"},
		{"* * 9 ? * FUNDAY", "UTC", `"FUNDAY"`},
	} {
		_, err := ParseCron(bad.cron, bad.tz)
		assert.ErrorContains(t, err, bad.err, bad.cron)
	}
}

func FuzzCron(f *testing.F) {
	f.Add("* * 9-15 ? * MON-THU", "America/Los_Angeles")
	f.Add("* 0/5 * 1,15 JAN-MAR ? 2026", "UTC-03:00")
	f.Fuzz(func(t *testing.T, expr, tz string) {
		if c, err := ParseCron(expr, tz); err == nil {
			c.Open(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
		}
	})
}
