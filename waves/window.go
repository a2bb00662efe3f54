package waves

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Window is the weekly deployment window: production stages start only on
// its days, between its hours, in its time zone, and never on its holidays.
// A stage that is already running (deploying or baking) is not stopped when
// the window closes; only starts are held.
type Window struct {
	// TimeZone is the IANA time zone of the window. Default: "UTC".
	TimeZone string
	// Days are the weekdays on which stages may start.
	// Default: Monday to Thursday (Fridays and weekends excluded).
	Days []time.Weekday
	// StartHour is the hour (0–23) the window opens each day.
	// Default: 9 (when both StartHour and EndHour are zero).
	StartHour int
	// EndHour is the hour (1–24) the window closes each day; a stage may
	// start at any time before it. Default: 16 (when both are zero).
	EndHour int
	// Holidays are dates ("2026-12-25") on which no stage starts. The
	// schedule honours them; a DeploymentWindow cron cannot, so a pipeline
	// gate must block them. Default: none.
	Holidays []string
}

func (w Window) withDefaults() Window {
	q := w
	if q.TimeZone == "" {
		q.TimeZone = "UTC"
	}
	if len(q.Days) == 0 {
		q.Days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday}
	} else {
		q.Days = append([]time.Weekday(nil), q.Days...)
		sort.Slice(q.Days, func(i, j int) bool { return q.Days[i] < q.Days[j] })
	}
	if q.StartHour == 0 && q.EndHour == 0 {
		q.StartHour, q.EndHour = 9, 16
	}
	q.Holidays = append([]string(nil), q.Holidays...)
	sort.Strings(q.Holidays)
	return q
}

func (w Window) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if _, err := loadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
		add("policy: window.timeZone %q is not an IANA time zone", w.TimeZone)
	}
	if w.StartHour < 0 || w.StartHour > 23 {
		add("policy: window.startHour is %d (want 0–23)", w.StartHour)
	}
	if w.EndHour < 1 || w.EndHour > 24 {
		add("policy: window.endHour is %d (want 1–24)", w.EndHour)
	}
	if w.StartHour >= w.EndHour {
		add("policy: window.startHour %d is not before window.endHour %d", w.StartHour, w.EndHour)
	}
	seen := map[time.Weekday]bool{}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			add("policy: window.days: %d is not a weekday", int(d))
		} else if seen[d] {
			add("policy: window.days: %s is listed twice", d)
		}
		seen[d] = true
	}
	if len(w.Holidays) > MaxHolidays {
		add("policy: window.holidays has %d dates, over the limit of %d", len(w.Holidays), MaxHolidays)
		return errors.Join(errs...) // not worth parsing one by one
	}
	for _, h := range w.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			add("policy: window.holidays: %q is not a date (want YYYY-MM-DD)", h)
		}
	}
	return errors.Join(errs...)
}

// Location returns the window's time zone (UTC if it does not load).
func (w Window) Location() *time.Location {
	tz := w.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	loc, err := loadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// zones holds the time zones loaded so far, by name (string →
// *time.Location). time.LoadLocation reads and parses the zone's tzdata
// on every call, and a gate's default entry wait asks its window's zone for
// each of 400 days, in every stage. A *time.Location is immutable and safe
// for concurrent use ("A Location maps time instants to the zone in use at
// that time", package time). Only zones that load are kept, so the map is
// bounded by the tz database, whatever names the input holds.
var zones sync.Map

// loadLocation is time.LoadLocation, remembered by name.
func loadLocation(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// IsHoliday reports whether the date of t, in the window's zone, is a holiday.
func (w Window) IsHoliday(t time.Time) bool {
	d := t.In(w.Location()).Format(time.DateOnly)
	return slices.Contains(w.Holidays, d)
}

// calendar is a window ready for day-by-day questions: its zone loaded
// once and its holidays in a set, so that a schedule of fifty stages asks
// them in constant time per day.
type calendar struct {
	w        Window
	loc      *time.Location
	holidays map[string]bool
}

// calendar assumes w is defaulted.
func (w Window) calendar() calendar {
	c := calendar{w: w, loc: w.Location(), holidays: make(map[string]bool, len(w.Holidays))}
	for _, h := range w.Holidays {
		c.holidays[h] = true
	}
	return c
}

func (c calendar) isHoliday(t time.Time) bool {
	return c.holidays[t.In(c.loc).Format(time.DateOnly)]
}

func (c calendar) allowsDay(t time.Time) bool {
	return slices.Contains(c.w.Days, t.Weekday()) && !c.isHoliday(t)
}

// NextStart returns the earliest time at or after t at which a stage may
// start. It fails if the window does not open within two years.
func (w Window) NextStart(t time.Time) (time.Time, error) {
	return w.withDefaults().calendar().nextStart(t)
}

// Open reports whether a stage may start at t: t's date in the window's
// zone is one of its days and no holiday, and t's wall clock there reads
// an hour from StartHour to EndHour−1.
func (w Window) Open(t time.Time) bool {
	return w.withDefaults().calendar().open(t)
}

// Span returns the stretch of t's date, in the window's zone, in which
// stages may start — from the first instant whose wall clock reads
// StartHour:00 or later to the first that reads EndHour:00 or later (the
// next midnight for 24) — and false when that date has none (not one of
// its days, a holiday, or hours that a DST change skips).
func (w Window) Span(t time.Time) (open, close time.Time, ok bool) {
	c := w.withDefaults().calendar()
	y, m, d := t.In(c.loc).Date()
	return c.span(y, m, d)
}

// The window is wall-clock hours: "09:00–16:00" means the hours whose
// clock reads 9 to 15 in the zone, whatever the offset. time.Date cannot
// be asked for that directly around a DST change: for a wall time that a
// change skips (02:30 on a spring-forward night) or repeats (01:30 on a
// fall-back night) "the choice of time zone, and therefore the time, is
// not guaranteed" (package time), and in practice it may answer an instant
// whose clock reads an hour earlier — which opened a 02:00–03:00 window
// at 01:00 EST on 2026-03-08 in New York. So the window's bounds are
// found by their wall clock: firstAtOrAfter.

// open reports whether t is inside the window by its wall clock.
func (c calendar) open(t time.Time) bool {
	l := t.In(c.loc)
	return c.allowsDay(l) && l.Hour() >= c.w.StartHour && l.Hour() < c.w.EndHour
}

// span is Span for a date.
func (c calendar) span(y int, m time.Month, d int) (open, close time.Time, ok bool) {
	noon := time.Date(y, m, d, 12, 0, 0, 0, c.loc)
	if !c.allowsDay(noon) {
		return time.Time{}, time.Time{}, false
	}
	open, ok = firstAtOrAfter(y, m, d, c.w.StartHour, c.loc)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	if c.w.EndHour >= 24 {
		close, _ = firstAtOrAfter(y, m, d+1, 0, c.loc)
	} else if close, ok = firstAtOrAfter(y, m, d, c.w.EndHour, c.loc); !ok {
		close, _ = firstAtOrAfter(y, m, d+1, 0, c.loc)
	}
	if !open.Before(close) {
		return time.Time{}, time.Time{}, false
	}
	return open, close, true
}

// firstAtOrAfter returns the first instant of the date (y, m, d) in loc
// whose wall clock reads hour:00 or later, and false if the date has none.
// It starts from time.Date's answer and moves by quarter hours (every DST
// change in the tz database is a multiple of 15 minutes, at most two
// hours): forward while the clock reads earlier than hour, back while the
// instant before still reads hour or later (the first of a repeated hour).
func firstAtOrAfter(y int, m time.Month, d, hour int, loc *time.Location) (time.Time, bool) {
	const step = 15 * time.Minute
	onDate := func(t time.Time) bool {
		ly, lm, ld := t.In(loc).Date()
		return ly == y && lm == m && ld == d
	}
	date := time.Date(y, m, d, 12, 0, 0, 0, loc) // normalises d past the month's end
	y, m, d = date.Date()
	before := func(t time.Time) bool { // t's local date is before (y, m, d)
		ly, lm, ld := t.In(loc).Date()
		return time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC).Before(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
	}
	x := time.Date(y, m, d, hour, 0, 0, 0, loc)
	// Forward while the clock reads the day before (a midnight that a DST
	// change skips, as in America/Santiago, normalises back into it) or
	// an earlier hour of the date.
	for i := 0; i < 12 && (before(x) || (onDate(x) && x.In(loc).Hour() < hour)); i++ {
		x = x.Add(step)
	}
	if !onDate(x) || x.In(loc).Hour() < hour {
		return time.Time{}, false
	}
	for i := 0; i < 12; i++ {
		prev := x.Add(-step)
		if !onDate(prev) || prev.In(loc).Hour() < hour {
			break
		}
		x = prev
	}
	return x, true
}

func (c calendar) nextStart(t time.Time) (time.Time, error) {
	w := c.w
	local := t.In(c.loc)
	y, m, d := local.Date()
	for i := 0; i < 2*366; i++ {
		open, close, ok := c.span(y, m, d+i)
		if !ok {
			continue
		}
		if local.Before(open) {
			return open, nil
		}
		if local.Before(close) && c.open(local) {
			return local, nil
		}
	}
	return time.Time{}, fmt.Errorf("window: no start time within two years of %s (days %v, %02d:00–%02d:00 %s)", t.Format(time.RFC3339), w.Days, w.StartHour, w.EndHour, w.TimeZone)
}

// Cron returns the window as a cron expression of the form the CodePipeline
// DeploymentWindow rule takes: six fields, "seconds minutes hours
// day-of-month month day-of-week" (seconds must be "*"), e.g.
// "* * 9-15 ? * MON-THU". Holidays cannot be expressed in cron: today they
// shape only the simulated Schedule; a pipeline gate must block them.
// Cron assumes a valid window (see NewPlan).
func (w Window) Cron() string {
	w = w.withDefaults()
	if w.validate() != nil {
		return ""
	}
	hours := fmt.Sprintf("%d-%d", w.StartHour, w.EndHour-1)
	if w.EndHour-1 == w.StartHour {
		hours = fmt.Sprint(w.StartHour)
	}
	return fmt.Sprintf("* * %s ? * %s", hours, cronDays(w.Days))
}

var weekdayNames = [...]string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

func parseWeekday(s string) (time.Weekday, bool) {
	u := strings.ToUpper(strings.TrimSpace(s))
	for i, n := range weekdayNames {
		if u == n || (len(u) > 3 && strings.HasPrefix(strings.ToUpper(time.Weekday(i).String()), u)) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// cronDays renders sorted weekdays as cron day-of-week ranges, e.g. MON-THU.
func cronDays(days []time.Weekday) string {
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && days[j+1] == days[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, weekdayNames[days[i]])
		} else {
			parts = append(parts, weekdayNames[days[i]]+"-"+weekdayNames[days[j]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// String renders the window for people, e.g. "MON-THU 09:00–16:00 UTC".
func (w Window) String() string {
	w = w.withDefaults()
	if err := w.validate(); err != nil {
		return "invalid window"
	}
	s := fmt.Sprintf("%s %02d:00–%02d:00 %s", cronDays(w.Days), w.StartHour, w.EndHour, w.TimeZone)
	if len(w.Holidays) > 0 {
		if len(w.Holidays) == 1 {
			s += ", 1 holiday excluded"
		} else {
			s += fmt.Sprintf(", %d holidays excluded", len(w.Holidays))
		}
	}
	return s
}
