package verify

import (
	"testing"

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
