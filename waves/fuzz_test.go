package waves

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/internal/fuzzseed"
)

// Seeds of the hostile inputs of issue 15 too large to commit: generated
// here (small ones live in testdata/fuzz/<target>/).

// hostileCatalogSeeds: a region with many AZs (over MaxAZsPerRegion, under
// the size cap), a file just over the size cap, and the /dev/zero prefix.
func hostileCatalogSeeds() [][]byte {
	var b bytes.Buffer
	b.WriteString(`{"version":"x","regions":[{"code":"us-east-1","partition":"aws","name":"n","tier":"low","tz":"UTC","azs":[`)
	for i := range 2000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"use1-az%d"`, i+1)
	}
	b.WriteString(`]}]}`)
	return [][]byte{b.Bytes(), bytes.Repeat([]byte(" "), MaxCatalogBytes+1), make([]byte, 4096)}
}

// FuzzParsePolicy: any policy parses or fails with an error; a policy that
// parses plans or fails with an error; a plan keeps the safety invariants
// and schedules or fails with an error. Nothing panics or runs unbounded.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(`{"kind":"doubling","exclude":["us-west-1"],"bakes":{"oneBoxMinutes":90},"window":{"timeZone":"Europe/Dublin","days":["MON","tue"],"startHour":8,"endHour":15,"holidays":["2026-12-25"]}}`))
	f.Add([]byte(`{"kind":"explicit","waves":[["eu-north-1"],["eu-west-1","us-east-1"]],"shape":"regional","pin":{}}`))
	f.Add([]byte(`{"kind":"amazon","pin":{"us-east-1":3},"optIn":["*"],"actionsPerTarget":7,"actionsPerStage":3,"reservedStages":10,"minDatapoints":5,"expediteReason":"fix","bakes":{"firstWaveMinutes":60}}`))
	holidays := make([]string, MaxHolidays+1)
	for i := range holidays {
		holidays[i] = strconv.Quote(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly))
	}
	fuzzseed.Add(f, []byte(`{"window":{"days":["MON"],"holidays":[`+strings.Join(holidays, ",")+`]}}`), bytes.Repeat([]byte("\x00"), MaxPolicyBytes+1))
	c := DefaultCatalog()
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			require.NotEmpty(t, err.Error())
			return
		}
		plan, err := NewPlan(c, p)
		if err != nil {
			return
		}
		checkPlanInvariants(t, c, plan)
		for _, s := range plan.Stages {
			require.LessOrEqual(t, s.Bake, MaxStageDuration)
		}
		if tl, err := Schedule(plan, start, 0); err == nil {
			require.Len(t, tl.Steps, len(plan.Stages))
			require.False(t, tl.Global.Before(tl.Start))
		}
	})
}

// FuzzWindow: any window validates or fails; a valid window's cron
// expression allows exactly the window's days and hours (parsed back
// here), and NextStart returns a time inside the window, at or after the
// time asked, or says it found none within two years.
func FuzzWindow(f *testing.F) {
	f.Add("UTC", uint8(0b0011110), 9, 16, "2026-12-25", int64(1767603600))
	f.Add("Europe/Dublin", uint8(0b1000001), 0, 24, "", int64(0))
	f.Add("America/St_Johns", uint8(0b0100000), 23, 24, "2026-01-09,2026-01-16", int64(-62135596800))
	f.Add("Local", uint8(0xff), -1, 25, "25/12/2026", int64(math.MaxInt64))
	f.Add("Asia/Kathmandu", uint8(0b0000010), 5, 6, strings.Repeat("2026-01-05,", 200), int64(253402300799))
	f.Fuzz(func(t *testing.T, tz string, days uint8, startHour, endHour int, holidays string, unix int64) {
		w := Window{TimeZone: tz, StartHour: startHour, EndHour: endHour}
		for d := range 7 {
			if days&(1<<d) != 0 {
				w.Days = append(w.Days, time.Weekday(d))
			}
		}
		if holidays != "" {
			w.Holidays = strings.Split(holidays, ",")
		}
		_ = w.String()
		if err := w.withDefaults().validate(); err != nil {
			require.Empty(t, w.Cron(), "an invalid window has no cron")
			return
		}
		d := w.withDefaults()
		gotDays, gotHours := parseCron(t, w.Cron())
		for wd := range 7 {
			want := false
			for _, x := range d.Days {
				want = want || int(x) == wd
			}
			require.Equal(t, want, gotDays[wd], "day %d of %q", wd, w.Cron())
		}
		for h := range 24 {
			require.Equal(t, h >= d.StartHour && h < d.EndHour, gotHours[h], "hour %d of %q", h, w.Cron())
		}
		at := time.Unix(unix%(400*366*24*3600), 0)
		next, err := w.NextStart(at)
		if err != nil {
			require.Contains(t, err.Error(), "no start time within two years")
			return
		}
		local := next.In(d.Location())
		require.False(t, next.Before(at), "%s before %s", next, at)
		require.True(t, gotDays[int(local.Weekday())], "%s is not a window day", local)
		require.True(t, gotHours[local.Hour()], "%s is not a window hour", local)
		require.False(t, d.IsHoliday(next), "%s is a holiday", local)
	})
}

// parseCron reads the six-field DeploymentWindow cron Window.Cron writes
// ("* * 9-15 ? * MON-THU") back into the days and hours it allows.
func parseCron(t *testing.T, cron string) (days [7]bool, hours [24]bool) {
	t.Helper()
	f := strings.Fields(cron)
	require.Len(t, f, 6, cron)
	require.Equal(t, []string{"*", "*"}, f[:2], cron)
	require.Equal(t, []string{"?", "*"}, f[3:5], cron)
	lo, hi, ok := strings.Cut(f[2], "-")
	if !ok {
		hi = lo
	}
	a, err := strconv.Atoi(lo)
	require.NoError(t, err, cron)
	b, err := strconv.Atoi(hi)
	require.NoError(t, err, cron)
	require.True(t, 0 <= a && a <= b && b <= 23, cron)
	for h := a; h <= b; h++ {
		hours[h] = true
	}
	day := func(s string) int {
		for i, n := range weekdayNames {
			if n == s {
				return i
			}
		}
		t.Fatalf("%q: day %q", cron, s)
		return 0
	}
	for _, part := range strings.Split(f[5], ",") {
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			hi = lo
		}
		a, b := day(lo), day(hi)
		require.LessOrEqual(t, a, b, cron)
		for d := a; d <= b; d++ {
			days[d] = true
		}
	}
	return days, hours
}
