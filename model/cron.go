package model

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed DeploymentWindow cron expression: the one reader of
// the format for verify and the simulator.
//
// The format is CodePipeline's
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html:
// "Cron expressions are comprised of 6 required fields and one optional
// field separated by white space"): seconds (N/A: only *), minutes 0-59,
// hours 0-23, day-of-month 1-31 (with ? L W), month 1-12 or JAN-DEC,
// day-of-week 1-7 or SUN-SAT (1 is Sunday; with ? L #), and an optional
// year 1970-2199; "The rule succeeds when the date and time in the
// deployment window meet the criteria in the cron expression for the
// rule." The window is open during every minute the expression matches,
// in the rule's TimeZone (docs/aws-semantics.md Q3).
type Cron struct {
	// Expr is the expression as written.
	Expr string
	// Loc is the rule's time zone (UTC when it names none).
	Loc                           *time.Location
	minutes, hours, months, years map[int]bool
	day                           func(time.Time) bool
}

// ParseCron reads a DeploymentWindow rule's Cron and TimeZone.
func ParseCron(expr, tz string) (*Cron, error) {
	c := &Cron{Expr: expr}
	loc, err := CronZone(tz)
	if err != nil {
		return nil, err
	}
	c.Loc = loc
	if len(expr) > maxCronLen {
		return nil, fmt.Errorf("cron expression is longer than %d characters (limit %d)", maxCronLen, maxCronLen)
	}
	f := strings.Fields(expr)
	if len(f) != 6 && len(f) != 7 {
		return nil, fmt.Errorf("cron expression has %d fields; it needs 6 (seconds minutes hours day-of-month month day-of-week) and an optional year", len(f))
	}
	if f[0] != "*" {
		return nil, fmt.Errorf("seconds field %q must be * (the rule reference allows no other value)", f[0])
	}
	if c.minutes, err = cronSet(f[1], 0, 59, nil, "minutes"); err != nil {
		return nil, err
	}
	if c.hours, err = cronSet(f[2], 0, 23, nil, "hours"); err != nil {
		return nil, err
	}
	if c.months, err = cronSet(f[4], 1, 12, monthNames, "month"); err != nil {
		return nil, err
	}
	c.years = allOf(1970, 2199)
	if len(f) == 7 {
		if c.years, err = cronSet(f[6], 1970, 2199, nil, "year"); err != nil {
			return nil, err
		}
	}
	dom, dow := f[3], f[5]
	if dom != "?" && dow != "?" {
		// One of the two must be "?"; a "*" in one of them is read as "?".
		switch {
		case dom == "*":
			dom = "?"
		case dow == "*":
			dow = "?"
		default:
			return nil, fmt.Errorf("day-of-month %q and day-of-week %q are both set; one of them must be ?", dom, dow)
		}
	}
	switch {
	case dom == "?" && dow == "?":
		c.day = func(time.Time) bool { return true }
	case dom != "?":
		if c.day, err = domMatcher(dom); err != nil {
			return nil, err
		}
	default:
		if c.day, err = dowMatcher(dow); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Open reports whether the window admits the minute of t (in the rule's
// time zone).
func (c *Cron) Open(t time.Time) bool {
	l := t.In(c.Loc)
	return c.minutes[l.Minute()] && c.hours[l.Hour()] && c.months[int(l.Month())] && c.years[l.Year()] &&
		c.day(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC))
}

// CronZone reads a DeploymentWindow rule's TimeZone: "UTC format ... This
// is the default format if the parameter is not set otherwise" (UTC,
// UTC+05:30), or an IANA Region/City name. Abbreviations are refused:
// "certain abbreviations are duplicated abbreviations, such as CST"
// (docs/aws-semantics.md Q3).
func CronZone(tz string) (*time.Location, error) {
	switch {
	case tz == "" || tz == "UTC":
		return time.UTC, nil
	case strings.HasPrefix(tz, "UTC+") || strings.HasPrefix(tz, "UTC-"):
		hh, mm, ok := strings.Cut(tz[4:], ":")
		h, err1 := strconv.Atoi(hh)
		m, err2 := strconv.Atoi(mm)
		if !ok || err1 != nil || err2 != nil || h < 0 || h > 14 || m < 0 || m > 59 || len(hh) > 2 || len(mm) != 2 {
			return nil, fmt.Errorf("time zone %q: want UTC±HH:MM", tz)
		}
		off := h*3600 + m*60
		if tz[3] == '-' {
			off = -off
		}
		return time.FixedZone(tz, off), nil
	case strings.Contains(tz, "/") && len(tz) <= 64:
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
		return loc, nil
	}
	return nil, fmt.Errorf("time zone %q is an abbreviation or unknown; want UTC±HH:MM or a Region/City name (abbreviations such as CST are ambiguous)", tz)
}

// Window is what a DeploymentWindow cron expression allows, measured over
// a fixed span of days.
type Window struct {
	// Cron is the expression as written.
	Cron string
	// MinutesPerDay is how many minutes of a matching day are open.
	MinutesPerDay int
	// Days and OpenDays count the days of the reference span (the eight
	// years from Start) and those the expression matches.
	Days, OpenDays int
	// Start is the first day of the reference span.
	Start time.Time
}

// AlwaysOpen reports whether the window allows every minute of every day.
func (w Window) AlwaysOpen() bool { return w.MinutesPerDay == 24*60 && w.OpenDays == w.Days }

// NeverOpen reports whether the window allows no minute at all in the
// reference span.
func (w Window) NeverOpen() bool { return w.MinutesPerDay == 0 || w.OpenDays == 0 }

// WeeklyHours is the average number of open hours per week.
func (w Window) WeeklyHours() float64 {
	if w.Days == 0 {
		return 0
	}
	return float64(w.MinutesPerDay) / 60 * float64(w.OpenDays) / float64(w.Days) * 7
}

// maxCronLen bounds the expression parsed; CodePipeline allows
// configuration values of up to 1000 characters
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html).
const maxCronLen = 1000

// cronSpanStart and cronSpanYears fix the span over which days are
// counted, so the result does not depend on when it runs.
var cronSpanStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const cronSpanYears = 8

// ParseWindow parses a DeploymentWindow cron expression (in UTC) and
// measures what it allows over the reference span.
func ParseWindow(expr string) (Window, error) {
	w := Window{Cron: expr, Start: cronSpanStart}
	c, err := ParseCron(expr, "")
	if err != nil {
		return w, err
	}
	for h := range 24 {
		for m := range 60 {
			if c.hours[h] && c.minutes[m] {
				w.MinutesPerDay++
			}
		}
	}
	end := cronSpanStart.AddDate(cronSpanYears, 0, 0)
	for d := cronSpanStart; d.Before(end); d = d.AddDate(0, 0, 1) {
		w.Days++
		if c.years[d.Year()] && c.months[int(d.Month())] && c.day(d) {
			w.OpenDays++
		}
	}
	return w, nil
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func allOf(lo, hi int) map[int]bool {
	m := make(map[int]bool, hi-lo+1)
	for i := lo; i <= hi; i++ {
		m[i] = true
	}
	return m
}

// cronSet reads a field of values, ranges (wrapping when the start is
// after the end), steps and names into the set of values it allows.
func cronSet(field string, lo, hi int, names map[string]int, what string) (map[int]bool, error) {
	out := map[int]bool{}
	bad := func(format string, args ...any) (map[int]bool, error) {
		return nil, fmt.Errorf("%s field %q: "+format, append([]any{what, field}, args...)...)
	}
	val := func(s string) (int, bool) {
		if n, ok := names[strings.ToUpper(s)]; ok {
			return n, true
		}
		if len(s) == 0 || len(s) > 4 {
			return 0, false
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, false
		}
		return n, true
	}
	for _, part := range strings.Split(field, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > hi-lo+1 {
				return bad("step %q is not a whole number from 1 to %d", stepStr, hi-lo+1)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var ok1, ok2 bool
			from, ok1 = val(a)
			to, ok2 = val(b)
			if !ok1 || !ok2 {
				return bad("range %q is not within %d-%d", rng, lo, hi)
			}
		default:
			v, ok := val(rng)
			if !ok {
				return bad("value %q is not within %d-%d", rng, lo, hi)
			}
			from, to = v, v
			if hasStep {
				to = hi
			}
		}
		span := to - from
		if span < 0 {
			span += hi - lo + 1 // a wrapping range
		}
		for i := 0; i <= span; i += step {
			v := from + i
			if v > hi {
				v -= hi - lo + 1
			}
			out[v] = true
		}
	}
	return out, nil
}

func lastDay(d time.Time) int {
	return time.Date(d.Year(), d.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// domMatcher reads a day-of-month field: values, ranges and steps, L (the
// last day), L-n (n days before it), nW (the weekday nearest day n, within
// the month) and LW (the last weekday).
func domMatcher(field string) (func(time.Time) bool, error) {
	var preds []func(time.Time) bool
	var plain []string
	for _, part := range strings.Split(field, ",") {
		up := strings.ToUpper(part)
		switch {
		case up == "L":
			preds = append(preds, func(d time.Time) bool { return d.Day() == lastDay(d) })
		case strings.HasPrefix(up, "L-"):
			n, err := strconv.Atoi(up[2:])
			if err != nil || n < 0 || n > 30 {
				return nil, fmt.Errorf("day-of-month field %q: offset %q is not from 0 to 30", field, up[2:])
			}
			preds = append(preds, func(d time.Time) bool { return d.Day() == lastDay(d)-n })
		case up == "LW":
			preds = append(preds, func(d time.Time) bool { return d.Day() == nearestWeekday(d, lastDay(d)) })
		case strings.HasSuffix(up, "W"):
			n, err := strconv.Atoi(up[:len(up)-1])
			if err != nil || n < 1 || n > 31 {
				return nil, fmt.Errorf("day-of-month field %q: %q is not a day from 1 to 31 before W", field, part)
			}
			preds = append(preds, func(d time.Time) bool { return n <= lastDay(d) && d.Day() == nearestWeekday(d, n) })
		default:
			plain = append(plain, part)
		}
	}
	if len(plain) > 0 {
		set, err := cronSet(strings.Join(plain, ","), 1, 31, nil, "day-of-month")
		if err != nil {
			return nil, err
		}
		preds = append(preds, func(d time.Time) bool { return set[d.Day()] })
	}
	return anyOf(preds), nil
}

// nearestWeekday returns the day of d's month nearest to day n that is a
// weekday, without leaving the month.
func nearestWeekday(d time.Time, n int) int {
	t := time.Date(d.Year(), d.Month(), n, 0, 0, 0, 0, time.UTC)
	switch t.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == lastDay(d) {
			return n - 2
		}
		return n + 1
	}
	return n
}

// dowMatcher reads a day-of-week field: values, ranges, steps and names
// (1 or SUN to 7 or SAT), L alone (Saturday), nL (the last day n of the
// month) and n#k (the k-th day n of the month).
func dowMatcher(field string) (func(time.Time) bool, error) {
	var preds []func(time.Time) bool
	var plain []string
	day := func(s string) (int, bool) {
		if n, ok := dayNames[strings.ToUpper(s)]; ok {
			return n, true
		}
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 1 && n <= 7
	}
	wd := func(d time.Time) int { return int(d.Weekday()) + 1 }
	for _, part := range strings.Split(field, ",") {
		up := strings.ToUpper(part)
		switch {
		case up == "L":
			preds = append(preds, func(d time.Time) bool { return wd(d) == 7 })
		case strings.HasSuffix(up, "L"):
			n, ok := day(up[:len(up)-1])
			if !ok {
				return nil, fmt.Errorf("day-of-week field %q: %q is not a day before L", field, part)
			}
			preds = append(preds, func(d time.Time) bool { return wd(d) == n && d.Day()+7 > lastDay(d) })
		case strings.Contains(up, "#"):
			a, b, _ := strings.Cut(up, "#")
			n, ok := day(a)
			k, err := strconv.Atoi(b)
			if !ok || err != nil || k < 1 || k > 5 {
				return nil, fmt.Errorf("day-of-week field %q: %q is not day#week with week 1 to 5", field, part)
			}
			preds = append(preds, func(d time.Time) bool { return wd(d) == n && (d.Day()-1)/7+1 == k })
		default:
			plain = append(plain, part)
		}
	}
	if len(plain) > 0 {
		set, err := cronSet(strings.Join(plain, ","), 1, 7, dayNames, "day-of-week")
		if err != nil {
			return nil, err
		}
		preds = append(preds, func(d time.Time) bool { return set[wd(d)] })
	}
	return anyOf(preds), nil
}

func anyOf(preds []func(time.Time) bool) func(time.Time) bool {
	return func(d time.Time) bool {
		for _, p := range preds {
			if p(d) {
				return true
			}
		}
		return false
	}
}
