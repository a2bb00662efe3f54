package gates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/waves"
)

// world is a fake Observer.
type world struct {
	alarms    map[Place]map[string]State
	history   map[string][]Transition // by alarm name
	stacks    map[string]bool         // "account/region/stack"
	stackErr  error
	stages    map[string]StageState
	stagesErr error
	placeErr  map[Place]error
	reads     int
}

func (w *world) Alarms(_ context.Context, p Place, names []string) (map[string]State, error) {
	w.reads++
	if err := w.placeErr[p]; err != nil {
		return nil, err
	}
	out := map[string]State{}
	for _, n := range names {
		if s, ok := w.alarms[p][n]; ok {
			out[n] = s
		}
	}
	return out, nil
}

func (w *world) History(_ context.Context, _ Place, name string, since time.Time) ([]Transition, error) {
	var out []Transition
	for _, t := range w.history[name] {
		// As the API filters by StartDate; an entry without a time is
		// what the SDK gives for a malformed answer, and comes through.
		if t.At.IsZero() || !t.At.Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (w *world) StackExists(_ context.Context, p Place, stack string) (bool, error) {
	return w.stacks[p.Account+"/"+p.Region+"/"+stack], w.stackErr
}

func (w *world) Stages(context.Context) (map[string]StageState, error) {
	return w.stages, w.stagesErr
}

const (
	prod = "333333333333"
	tool = "111111111111"
	role = "arn:aws:iam::333333333333:role/watch"
)

var (
	euw1 = Place{Account: prod, Region: "eu-west-1", Role: role}
	use1 = Place{Account: prod, Region: "us-east-1", Role: role}
	org  = Place{Account: tool, Region: "us-west-2"}
	// Tuesday 2026-01-06 10:00 in Los Angeles: inside the window.
	open = time.Date(2026, 1, 6, 18, 0, 0, 0, time.UTC)
)

func config() *Config {
	alarm := func(p Place, name string) Alarm {
		return Alarm{Account: p.Account, Region: p.Region, Role: p.Role, Name: name, Stack: "svc"}
	}
	return &Config{
		Version:  Version,
		Pipeline: "p",
		Window: Window{TimeZone: "America/Los_Angeles", Days: []string{"MON", "TUE", "WED", "THU"}, StartHour: 9, EndHour: 16,
			Holidays: []string{"2026-01-07"}},
		Organization: &Alarm{Account: org.Account, Region: org.Region, Name: "org-freeze"},
		Stages: []Stage{
			{Name: "Gamma", Blockers: []Alarm{alarm(euw1, "t-gamma-aggregate-rollback")}},
			{Name: "Prod-W1", Window: true, BakeMinutes: 60,
				Blockers: []Alarm{alarm(euw1, "t-prod-aggregate-rollback"), alarm(use1, "t-prod-aggregate-rollback")},
				Bake:     []Alarm{alarm(euw1, "t-prod-bake"), alarm(use1, "t-prod-bake")}},
		},
	}
}

func healthy() *world {
	return &world{
		alarms: map[Place]map[string]State{
			euw1: {"t-gamma-aggregate-rollback": StateOK, "t-prod-aggregate-rollback": StateOK, "t-prod-bake": StateOK},
			use1: {"t-prod-aggregate-rollback": StateOK, "t-prod-bake": StateOK},
			org:  {"org-freeze": StateOK},
		},
		stacks: map[string]bool{prod + "/eu-west-1/svc": true, prod + "/us-east-1/svc": true},
		stages: map[string]StageState{},
	}
}

func decision(t *testing.T, ds []Decision, stage string) Decision {
	t.Helper()
	for _, d := range ds {
		if d.Stage == stage {
			return d
		}
	}
	t.Fatalf("no decision for %s", stage)
	return Decision{}
}

func TestEntry(t *testing.T) {
	cases := []struct {
		name    string
		now     time.Time
		mutate  func(*world)
		blocked string // a reason of Prod-W1, "" when open
		gamma   string // a reason of Gamma, "" when open
	}{
		{name: "all clear inside the window", now: open},
		{name: "before the window opens", now: open.Add(-2 * time.Hour), blocked: "outside the deployment window (MON-THU 09:00–16:00 America/Los_Angeles"},
		{name: "Friday", now: open.AddDate(0, 0, 3), blocked: "outside the deployment window"},
		{name: "a holiday", now: open.AddDate(0, 0, 1), blocked: "2026-01-07 is a holiday (America/Los_Angeles)"},
		{name: "organisation alarm", now: open, mutate: func(w *world) { w.alarms[org]["org-freeze"] = StateAlarm },
			blocked: `organization alarm "org-freeze" in account 111111111111, region us-west-2: is in ALARM`, gamma: "org-freeze"},
		{name: "one region's aggregate", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-aggregate-rollback"] = StateAlarm },
			blocked: `alarm "t-prod-aggregate-rollback" in account 333333333333, region us-east-1: is in ALARM`},
		{name: "missing alarm whose stack exists blocks", now: open, mutate: func(w *world) { delete(w.alarms[use1], "t-prod-aggregate-rollback") },
			blocked: "does not exist although stack svc, which creates it, does"},
		{name: "missing alarm before the first deployment passes", now: open, mutate: func(w *world) {
			delete(w.alarms[use1], "t-prod-aggregate-rollback")
			delete(w.stacks, prod+"/us-east-1/svc")
		}},
		{name: "missing organisation alarm blocks", now: open, mutate: func(w *world) { delete(w.alarms[org], "org-freeze") },
			blocked: `organization alarm "org-freeze" in account 111111111111, region us-west-2: does not exist`, gamma: "org-freeze"},
		{name: "an unreadable region fails closed", now: open, mutate: func(w *world) { w.placeErr = map[Place]error{use1: errors.New("AccessDenied")} },
			blocked: "cannot be read (AccessDenied)"},
		{name: "INSUFFICIENT_DATA does not block", now: open, mutate: func(w *world) { w.alarms[euw1]["t-prod-aggregate-rollback"] = StateInsufficientData }},
		{name: "an unreadable pipeline fails closed", now: open, mutate: func(w *world) { w.stagesErr = errors.New("throttled") },
			blocked: "cannot read the pipeline's state (throttled)", gamma: "throttled"},
		{name: "gamma has no window", now: open.Add(-10 * time.Hour), blocked: "outside the deployment window"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := healthy()
			if c.mutate != nil {
				c.mutate(w)
			}
			ds := Evaluate(context.Background(), config(), w, c.now)
			p := decision(t, ds, "Prod-W1")
			if c.blocked == "" {
				assert.False(t, p.EntryBlocked, "%v", p.EntryReasons)
			} else {
				assert.True(t, p.EntryBlocked)
				assert.Contains(t, strings.Join(p.EntryReasons, "\n"), c.blocked)
			}
			g := decision(t, ds, "Gamma")
			if c.gamma == "" {
				assert.False(t, g.EntryBlocked, "%v", g.EntryReasons)
			} else {
				assert.Contains(t, strings.Join(g.EntryReasons, "\n"), c.gamma)
			}
		})
	}
}

func TestAlarmsAreReadOncePerPlace(t *testing.T) {
	w := healthy()
	Evaluate(context.Background(), config(), w, open)
	assert.Equal(t, 3, w.reads, "one DescribeAlarms per account, region and role")
}

func TestBake(t *testing.T) {
	start := open.Add(-30 * time.Minute)
	cases := []struct {
		name     string
		now      time.Time
		mutate   func(*world)
		breached string
	}{
		{name: "not deployed yet", now: open, mutate: func(w *world) { w.stages["Prod-W1"] = StageState{}; w.alarms[euw1]["t-prod-bake"] = StateAlarm }},
		{name: "healthy bake", now: open},
		{name: "in ALARM now", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-bake"] = StateAlarm }, breached: `bake alarm "t-prod-bake" in account 333333333333, region us-east-1: is in ALARM`},
		{name: "a short alarm during the bake is not lost", now: open, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {
				{At: start.Add(10 * time.Minute), From: StateOK, To: StateAlarm},
				{At: start.Add(12 * time.Minute), From: StateAlarm, To: StateOK},
			}}
		}, breached: "was in ALARM at 2026-01-06T17:40:00Z, during the bake that started at 2026-01-06T17:30:00Z"},
		{name: "in ALARM when the bake started", now: open, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{At: start.Add(time.Minute), From: StateAlarm, To: StateOK}}}
		}, breached: "was in ALARM at 2026-01-06T17:30:00Z"},
		{name: "an alarm before the bake does not count", now: open, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {
				{At: start.Add(-20 * time.Minute), From: StateOK, To: StateAlarm},
				{At: start.Add(-10 * time.Minute), From: StateAlarm, To: StateOK},
			}}
		}},
		{name: "missing after deploying", now: open, mutate: func(w *world) { delete(w.alarms[euw1], "t-prod-bake") }, breached: "does not exist although stack svc, which creates it, does"},
		// Another AZ's aggregate, watched by a zonal stage whose cell deploys
		// first: before that AZ's stack exists, its alarm cannot.
		{name: "missing, of a stack not created yet", now: open, mutate: func(w *world) {
			delete(w.alarms[use1], "t-prod-bake")
			delete(w.stacks, prod+"/us-east-1/svc")
		}},
		{name: "missing, of a stack that cannot be read", now: open, mutate: func(w *world) {
			delete(w.alarms[use1], "t-prod-bake")
			w.stackErr = errors.New("AccessDenied")
		}, breached: "stack svc cannot be read (AccessDenied)"},
		{name: "no data early in the bake is fine", now: open, mutate: func(w *world) { w.alarms[euw1]["t-prod-bake"] = StateInsufficientData }},
		{name: "no data at the end of the bake", now: start.Add(59 * time.Minute), mutate: func(w *world) { w.alarms[euw1]["t-prod-bake"] = StateInsufficientData }, breached: "has no data at the end of the bake"},
		{name: "a rollback execution opens both gates", now: open, mutate: func(w *world) {
			w.stages["Prod-W1"] = StageState{Rollback: true}
			w.alarms[use1]["t-prod-bake"] = StateAlarm
			w.alarms[use1]["t-prod-aggregate-rollback"] = StateAlarm
		}},
		{name: "unknown bake start judges the trailing bake", now: open, mutate: func(w *world) {
			w.stagesErr = errors.New("throttled")
			w.history = map[string][]Transition{"t-prod-bake": {{At: open.Add(-50 * time.Minute), From: StateOK, To: StateAlarm}, {At: open.Add(-49 * time.Minute), From: StateAlarm, To: StateOK}}}
		}, breached: "was in ALARM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := healthy()
			w.stages["Prod-W1"] = StageState{BakeStart: start}
			if c.mutate != nil {
				c.mutate(w)
			}
			d := decision(t, Evaluate(context.Background(), config(), w, c.now), "Prod-W1")
			if c.breached == "" {
				assert.False(t, d.BakeBreached, "%v", d.BakeReasons)
				return
			}
			assert.True(t, d.BakeBreached)
			assert.Contains(t, strings.Join(d.BakeReasons, "\n"), c.breached)
		})
	}
}

func TestRollbackNote(t *testing.T) {
	w := healthy()
	w.stages["Prod-W1"] = StageState{Rollback: true}
	w.alarms[use1]["t-prod-aggregate-rollback"] = StateAlarm
	d := decision(t, Evaluate(context.Background(), config(), w, open.Add(-5*time.Hour)), "Prod-W1")
	assert.False(t, d.EntryBlocked, "a rollback is never held by the window or by the alarm that caused it")
	assert.Contains(t, d.Notes[0], "rollback execution")
}

func TestParse(t *testing.T) {
	good := `{"version":1,"pipeline":"p","window":{"timeZone":"UTC","days":["MON"],"startHour":9,"endHour":16},
	"stages":[{"name":"Prod-W1","window":true,"bakeMinutes":60,
	  "blockers":[{"account":"333333333333","region":"eu-west-1","name":"a","role":"arn:aws:iam::333333333333:role/r","stack":"s"}],
	  "bake":[{"account":"333333333333","region":"eu-west-1","name":"b"}]}]}`
	c, err := Parse(strings.NewReader(good), "gates.json")
	require.NoError(t, err)
	assert.Equal(t, "a", c.Stages[0].Blockers[0].Name)

	bad := []struct{ in, want string }{
		{`{"version":2,"pipeline":"","window":{"timeZone":"Mars/Base","days":["MONDAY"],"startHour":16,"endHour":9},"stages":[{"name":"a b","bakeMinutes":-1,"blockers":[{"account":"1","region":"x","name":""}]}]}`,
			"version is 2|pipeline is empty|time zone \"Mars/Base\"|day \"MONDAY\"|hours 16–9|stage name must match|bakeMinutes is -1|account \"1\"|region \"x\"|alarm name \"\""},
		{good + `}`, "after the document"},
		{strings.Replace(good, `"pipeline":"p"`, `"pipeline":"p","Pipeline":"q"`, 1), "field names are case-sensitive"},
		{strings.Replace(good, `"bakeMinutes":60`, `"bakeMinutes":99999999`, 1), "bakeMinutes is 99999999 (want 0–10080)"},
	}
	for _, b := range bad {
		_, err := Parse(strings.NewReader(b.in), "gates.json")
		require.Error(t, err)
		for _, want := range strings.Split(b.want, "|") {
			assert.ErrorContains(t, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"version":1,"pipeline":"p","window":{"timeZone":"UTC","days":["MON"],"startHour":9,"endHour":16},"stages":[]}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(strings.NewReader(string(b)), "fuzz")
		if err != nil {
			return
		}
		// A valid configuration always evaluates, whatever the world says.
		Evaluate(context.Background(), c, healthy(), open)
	})
}

func TestLongestClosed(t *testing.T) {
	w := Window{TimeZone: "UTC", Days: []string{"MON", "TUE", "WED", "THU"}, StartHour: 9, EndHour: 16}
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	d, err := w.LongestClosed(from, 14)
	require.NoError(t, err)
	assert.Equal(t, 89*time.Hour, d, "Thursday 16:00 to Monday 09:00")
	w.Holidays = []string{"2026-01-12"}
	d, err = w.LongestClosed(from, 14)
	require.NoError(t, err)
	assert.Equal(t, 113*time.Hour, d, "to Tuesday when Monday is a holiday")
}

// TestRegionCodesAgreeWithTheCatalog: the controller's configuration is
// written from the pipeline's plan, so a region the catalog accepts must be
// accepted here and one it refuses refused (both use waves.IsRegionCode).
func TestRegionCodesAgreeWithTheCatalog(t *testing.T) {
	for _, tc := range []struct {
		region string
		ok     bool
	}{
		{"eu-west-1", true},
		{"us-gov-west-1", true},
		{"ap-southeast-7", true},
		{"us-foo-1", false},   // no direction word: the catalog refuses it
		{"us-east-100", true}, // the catalog has no bound on the number
		{"us-east-", false},
		{"US-east-1", false},
	} {
		t.Run(tc.region, func(t *testing.T) {
			c := config()
			c.Stages[0].Blockers[0].Region = tc.region
			err := c.Validate()
			assert.Equal(t, tc.ok, waves.IsRegionCode(tc.region), "waves.IsRegionCode")
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, fmt.Sprintf("region %q is not a region code", tc.region))
			}
		})
	}
}

// TestSerial: an entry that names other stages (the upgrade-downgrade
// test's first step) stays closed while any of them runs an execution,
// and opens when none does; a name that is not another stage's is a
// configuration error.
func TestSerial(t *testing.T) {
	c := config()
	c.Stages[0].Serial = []string{"Prod-W1"}
	require.NoError(t, c.Validate())
	w := healthy()
	d := decision(t, Evaluate(context.Background(), c, w, open), "Gamma")
	assert.False(t, d.EntryBlocked, "%v", d.EntryReasons)
	w.stages["Prod-W1"] = StageState{Running: true}
	d = decision(t, Evaluate(context.Background(), c, w, open), "Gamma")
	assert.True(t, d.EntryBlocked)
	assert.Contains(t, d.EntryReasons, "stage Prod-W1 runs an execution: this stage takes one release at a time with it (serial)")
	c.Stages[0].Serial = []string{"Gamma", "bad name!"}
	err := c.Validate()
	assert.ErrorContains(t, err, `serial[0]: "Gamma" is not another stage's name`)
	assert.ErrorContains(t, err, `serial[1]: "bad name!"`)
}

// BenchmarkDefaultEntryWait is the entry wait every production stage's
// gate computes at synth: 400 days of a window in its zone.
func BenchmarkDefaultEntryWait(b *testing.B) {
	w := waves.Window{TimeZone: "America/New_York", Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday}, StartHour: 9, EndHour: 17, Holidays: []string{"2026-12-25"}}
	for b.Loop() {
		if _, err := DefaultEntryWait(w); err != nil {
			b.Fatal(err)
		}
	}
}
