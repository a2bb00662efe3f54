package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronWindow is a DeploymentWindow rule: "Cron expressions are comprised of
// 6 required fields and one optional field separated by white space"
// (seconds, minutes, hours, day-of-month, month, day-of-week, year), and
// "The rule succeeds when the date and time in the deployment window meet
// the criteria in the cron expression for the rule."
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-DeploymentWindow.html;
// docs/aws-semantics.md Q3). The simulator works in minutes: a minute
// matches when any of its seconds does. Month numbers are read as 1–12 and
// day-of-week numbers as 1–7 = SUN–SAT (Quartz); the page's versions
// disagree on months (Q3), so names are safest.
type cronWindow struct {
	expr                      string
	min, hour, dom, mon, dow  []bool
	domAny, dowAny, anySecond bool
	years                     map[int]bool
	loc                       *time.Location
}

var monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
var dowNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

func parseCron(expr, tz string) (*cronWindow, error) {
	f := strings.Fields(expr)
	if len(f) != 6 && len(f) != 7 {
		return nil, fmt.Errorf("cron %q has %d fields (want 6 or 7: seconds minutes hours day-of-month month day-of-week [year])", expr, len(f))
	}
	loc, err := cronZone(tz)
	if err != nil {
		return nil, err
	}
	c := &cronWindow{expr: expr, loc: loc}
	sec, err := cronField(f[0], 0, 59, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("cron %q seconds: %w", expr, err)
	}
	for _, ok := range sec {
		c.anySecond = c.anySecond || ok
	}
	if c.min, err = cronField(f[1], 0, 59, nil, 0); err != nil {
		return nil, fmt.Errorf("cron %q minutes: %w", expr, err)
	}
	if c.hour, err = cronField(f[2], 0, 23, nil, 0); err != nil {
		return nil, fmt.Errorf("cron %q hours: %w", expr, err)
	}
	c.domAny = f[3] == "?" || f[3] == "*"
	if c.dom, err = cronField(strings.ReplaceAll(f[3], "?", "*"), 1, 31, nil, 0); err != nil {
		return nil, fmt.Errorf("cron %q day-of-month: %w", expr, err)
	}
	if c.mon, err = cronField(f[4], 1, 12, monthNames, 1); err != nil {
		return nil, fmt.Errorf("cron %q month: %w", expr, err)
	}
	c.dowAny = f[5] == "?" || f[5] == "*"
	if c.dow, err = cronField(strings.ReplaceAll(f[5], "?", "*"), 1, 7, dowNames, 1); err != nil {
		return nil, fmt.Errorf("cron %q day-of-week: %w", expr, err)
	}
	if len(f) == 7 && f[6] != "*" {
		ys, err := cronField(f[6], 1970, 2199, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("cron %q year: %w", expr, err)
		}
		c.years = map[int]bool{}
		for y, ok := range ys {
			if ok {
				c.years[y] = true
			}
		}
	}
	return c, nil
}

// cronZone reads the rule's TimeZone: "UTC format ... This is the default
// format if the parameter is not set otherwise" (UTC, UTC+05:30), or an
// IANA Region/City name. Abbreviations are refused: "certain abbreviations
// are duplicated abbreviations, such as CST" (Q3).
func cronZone(tz string) (*time.Location, error) {
	switch {
	case tz == "" || tz == "UTC":
		return time.UTC, nil
	case strings.HasPrefix(tz, "UTC+") || strings.HasPrefix(tz, "UTC-"):
		hh, mm, ok := strings.Cut(tz[4:], ":")
		h, err1 := strconv.Atoi(hh)
		m, err2 := strconv.Atoi(mm)
		if !ok || err1 != nil || err2 != nil || h > 14 || m > 59 {
			return nil, fmt.Errorf("time zone %q: want UTC±HH:MM", tz)
		}
		off := h*3600 + m*60
		if tz[3] == '-' {
			off = -off
		}
		return time.FixedZone(tz, off), nil
	case strings.Contains(tz, "/"):
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", tz, err)
		}
		return loc, nil
	}
	return nil, fmt.Errorf("time zone %q is an abbreviation or unknown; the simulator reads UTC±HH:MM or Region/City names (abbreviations such as CST are ambiguous)", tz)
}

// cronField parses one field into a set indexed by value (index lo.. hi).
func cronField(s string, lo, hi int, names []string, nameBase int) ([]bool, error) {
	set := make([]bool, hi+1)
	num := func(v string) (int, error) {
		for i, n := range names {
			if strings.EqualFold(v, n) {
				return i + nameBase, nil
			}
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q is not in %d–%d", v, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(s, ",") {
		step := 1
		if b, st, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(st)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("step %q", st)
			}
			step, part = n, b
		}
		a, b := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			x, y, _ := strings.Cut(part, "-")
			var err error
			if a, err = num(x); err != nil {
				return nil, err
			}
			if b, err = num(y); err != nil {
				return nil, err
			}
			if a > b {
				return nil, fmt.Errorf("range %q runs backwards", part)
			}
		default:
			n, err := num(part)
			if err != nil {
				return nil, err
			}
			a = n
			if step == 1 {
				b = n
			}
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
	return set, nil
}

// open reports whether the window admits the minute of t.
func (c *cronWindow) open(t time.Time) bool {
	l := t.In(c.loc)
	if !c.anySecond || !c.min[l.Minute()] || !c.hour[l.Hour()] || !c.mon[int(l.Month())] {
		return false
	}
	if c.years != nil && !c.years[l.Year()] {
		return false
	}
	domOK := c.dom[l.Day()]
	dowOK := c.dow[int(l.Weekday())+1]
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dowOK
	case c.dowAny:
		return domOK
	}
	return domOK && dowOK
}
