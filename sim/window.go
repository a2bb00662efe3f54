package sim

import (
	"slices"
	"time"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/waves"
)

// windowCal is the gates configuration's deployment window as a plan
// window (days, hours, holidays in its zone): the calendar the gate
// controller closes entry gates by.
type windowCal struct {
	waves.Window
	loc      *time.Location
	days     [7]bool
	holidays map[string]bool
}

var dayIndex = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

func newWindowCal(g gates.Window) (windowCal, bool) {
	w := waves.Window{TimeZone: g.TimeZone, StartHour: g.StartHour, EndHour: g.EndHour, Holidays: slices.Clone(g.Holidays)}
	for _, d := range g.Days {
		if i := slices.Index(dayIndex, d); i >= 0 {
			w.Days = append(w.Days, time.Weekday(i))
		}
	}
	if len(w.Days) == 0 {
		return windowCal{}, false
	}
	c := windowCal{Window: w, loc: w.Location(), holidays: map[string]bool{}}
	for _, d := range w.Days {
		c.days[d] = true
	}
	for _, h := range w.Holidays {
		c.holidays[h] = true
	}
	return c, true
}

// open reports whether a stage may start at t: on a window day that is not
// a holiday, between the hours of the wall clock in the window's zone (as
// waves.Window.Open decides, without its defaults).
func (c windowCal) open(t time.Time) bool {
	l := t.In(c.loc)
	return c.days[l.Weekday()] && !c.holiday(t) && l.Hour() >= c.StartHour && l.Hour() < c.EndHour
}

// holiday reports whether t's date, in the window's zone, is a holiday.
func (c windowCal) holiday(t time.Time) bool {
	return len(c.holidays) > 0 && c.holidays[t.In(c.loc).Format(time.DateOnly)]
}

// businessDays counts Monday–Friday dates, holidays excluded, from a's
// date to b's date inclusive, in the window's zone (as plan counts them).
func (c windowCal) businessDays(a, b time.Time) int {
	loc := c.loc
	a, b = a.In(loc), b.In(loc)
	day := time.Date(a.Year(), a.Month(), a.Day(), 12, 0, 0, 0, loc)
	end := time.Date(b.Year(), b.Month(), b.Day(), 12, 0, 0, 0, loc)
	n := 0
	for ; !day.After(end); day = day.AddDate(0, 0, 1) {
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday && !c.IsHoliday(day) {
			n++
		}
	}
	return n
}

// closed returns the stretches between from and to when no stage may start
// (nights, weekends, holidays).
func (c windowCal) closed(from, to time.Time) []Interval {
	var out []Interval
	loc := c.loc
	t := from
	for i := 0; t.Before(to) && i < 1000; i++ {
		next, err := c.NextStart(t)
		if err != nil {
			out = append(out, Interval{Start: t, End: to})
			break
		}
		if next.After(t) {
			end := next
			if end.After(to) {
				end = to
			}
			out = append(out, Interval{Start: t, End: end, Holiday: c.IsHoliday(t)})
			t = next
			continue
		}
		l := t.In(loc)
		if _, end, ok := c.Span(t); ok && end.After(l) {
			t = end // the day's window closes (by its wall clock: waves.Window.Span)
		} else {
			t = l.Add(time.Hour)
		}
	}
	return out
}
