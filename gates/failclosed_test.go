package gates

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnknownIsNotOK: hostile but possible API answers never count as OK.
// Each case failed open before: an alarm state other than exactly ALARM
// was OK, a bake whose start was after the clock was not looked at, and
// history entries without a time or in another case were skipped.
func TestUnknownIsNotOK(t *testing.T) {
	start := open.Add(-30 * time.Minute)
	cases := []struct {
		name   string
		now    time.Time
		mutate func(*world)
		entry  string // an entry reason of Prod-W1
		bake   string // a bake reason of Prod-W1 (the scheduled, condition path)
	}{
		{name: "empty state", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-aggregate-rollback"] = "" },
			entry: `is in state "", which is none of OK, ALARM and INSUFFICIENT_DATA: not OK`},
		{name: "lower-case alarm", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-aggregate-rollback"] = "alarm" },
			entry: `is in state "alarm"`},
		{name: "a state CloudWatch does not document", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-aggregate-rollback"] = "MUTED" },
			entry: `is in state "MUTED"`},
		{name: "unknown bake alarm state", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-bake"] = "Alarm" },
			bake: `bake alarm "t-prod-bake" in account 333333333333, region us-east-1: is in state "Alarm"`},
		{name: "clock skew with the alarm in ALARM", now: open, mutate: func(w *world) {
			w.stages["Prod-W1"] = StageState{BakeStart: open.Add(5 * time.Minute)}
			w.alarms[use1]["t-prod-bake"] = StateAlarm
		}, bake: "is in ALARM"},
		{name: "clock skew", now: open, mutate: func(w *world) { w.stages["Prod-W1"] = StageState{BakeStart: open.Add(5 * time.Minute)} },
			bake: "is after the controller's clock"},
		{name: "a history entry without a time", now: open, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{From: StateOK, To: StateAlarm}}}
		}, bake: "its history cannot be trusted (entry 0 has no time)"},
		{name: "a history entry in lower case", now: open, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{At: start.Add(time.Minute), From: "ok", To: "alarm"}}}
		}, bake: `its history cannot be trusted (entry 0 goes from "ok" to "alarm"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := healthy()
			w.stages["Prod-W1"] = StageState{BakeStart: start}
			if c.mutate != nil {
				c.mutate(w)
			}
			d := decision(t, Evaluate(context.Background(), config(), w, c.now), "Prod-W1")
			if c.entry != "" {
				assert.True(t, d.EntryBlocked)
				assert.Contains(t, strings.Join(d.EntryReasons, "\n"), c.entry)
			}
			if c.bake != "" {
				assert.True(t, d.BakeBreached, "a bake rule can only pass or roll back: not OK closes it")
				assert.Contains(t, strings.Join(d.BakeReasons, "\n"), c.bake)
			}
		})
	}
}

// TestLedgerIsReadStrictly: a ledger with a key twice, a key in another
// case or an unknown key proves nothing prepared (encoding/json kept the
// last "changes" and read "FULL" as "full").
func TestLedgerIsReadStrictly(t *testing.T) {
	const param = "/safepipe/two-phase/svc"
	cfg := config()
	for i := range cfg.Stages {
		cfg.Stages[i].Prepared = []Requirement{{Account: prod, Region: "eu-west-1", Role: role, Parameter: param, Change: "c"}}
	}
	for name, ledger := range map[string]string{
		"changes twice":    `{"changes":{"c":{"full":"none","canary":"none"}},"changes":{"c":{"full":"prepare","canary":"none"}}}`,
		"FULL":             `{"changes":{"c":{"FULL":"prepare","canary":"none"}}}`,
		"Changes":          `{"Changes":{"c":{"full":"prepare","canary":"none"}}}`,
		"an unknown field": `{"changes":{"c":{"full":"prepare","canary":"none"}},"prepared":true}`,
		"trailing data":    `{"changes":{"c":{"full":"prepare","canary":"none"}}} {}`,
		"too large":        `{"changes":{"c":{"full":"prepare","canary":"none"}},"alias":"` + strings.Repeat("a", MaxLedgerBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := &ledgerWorld{world: healthy(), ledgers: map[Place]map[string]string{euw1: {param: ledger}}}
			d := decision(t, Evaluate(context.Background(), cfg, w, open), "Prod-W1")
			assert.True(t, d.EntryBlocked)
			assert.Contains(t, strings.Join(d.EntryReasons, "\n"), "cannot be read")
		})
	}
	w := &ledgerWorld{world: healthy(), ledgers: map[Place]map[string]string{euw1: {param: `{"changes":{"c":{"full":"prepare","canary":"none","version":"7"}},"alias":"live","main":"7","at":"2026-01-06T10:00:00Z"}`}}}
	d := decision(t, Evaluate(context.Background(), cfg, w, open), "Prod-W1")
	assert.False(t, d.EntryBlocked, "%v", d.EntryReasons)
}

// TestWindowAcrossDST: the controller's window is the zone's wall clock,
// as the planner's is: a Sunday 02:00–03:00 New York window holds no start
// on the spring-forward day (2026-03-08, when 02:00–02:59 do not exist),
// and is open in both 01:xx hours of the fall-back day for a 01:00–02:00
// window.
func TestWindowAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	for _, c := range []struct {
		name        string
		start, end  int
		at          time.Time
		wantBlocked bool
	}{
		{"spring day 01:00 EST", 2, 3, time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC), true},
		{"spring day 01:59 EST", 2, 3, time.Date(2026, 3, 8, 6, 59, 0, 0, time.UTC), true},
		{"spring day 03:00 EDT", 2, 3, time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC), true},
		{"a normal Sunday 02:30", 2, 3, time.Date(2026, 3, 15, 2, 30, 0, 0, ny), false},
		{"fall day 01:30 EDT", 1, 2, time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), false},
		{"fall day 01:30 EST", 1, 2, time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), false},
		{"fall day 02:00 EST", 1, 2, time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := config()
			cfg.Window = Window{TimeZone: "America/New_York", Days: []string{"SUN"}, StartHour: c.start, EndHour: c.end}
			d := decision(t, Evaluate(context.Background(), cfg, healthy(), c.at), "Prod-W1")
			assert.Equal(t, c.wantBlocked, d.EntryBlocked, "%s: %v", c.at.In(ny), d.EntryReasons)
		})
	}
}

// TestEvaluateBake: the bake action's verdicts. Only a seen breach fails
// it; whatever cannot be judged keeps it waiting; it passes once its
// minutes have elapsed with every alarm OK.
func TestEvaluateBake(t *testing.T) {
	start := open.Add(-30 * time.Minute)
	req := BakeRequest{Stage: "Prod-W1", Part: 1, Parts: 1, Minutes: 60}
	cases := []struct {
		name   string
		now    time.Time
		req    *BakeRequest
		mutate func(*world)
		want   BakeStatus
		reason string
	}{
		{name: "halfway", now: open, want: BakeWaiting},
		{name: "over, all OK", now: start.Add(60 * time.Minute), want: BakePassed},
		{name: "in ALARM now", now: open, mutate: func(w *world) { w.alarms[use1]["t-prod-bake"] = StateAlarm }, want: BakeBreachedStatus, reason: "is in ALARM"},
		{name: "a blip during the bake", now: start.Add(70 * time.Minute), mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{At: start.Add(50 * time.Minute), From: StateOK, To: StateAlarm}, {At: start.Add(51 * time.Minute), From: StateAlarm, To: StateOK}}}
		}, want: BakeBreachedStatus, reason: "was in ALARM at 2026-01-06T18:20:00Z"},
		{name: "a chained part looks back over the gap", now: start.Add(70 * time.Minute), req: &BakeRequest{Stage: "Prod-W1", Part: 2, Parts: 2, Minutes: 60}, mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{At: start.Add(-2 * time.Minute), From: StateOK, To: StateAlarm}, {At: start.Add(-time.Minute), From: StateAlarm, To: StateOK}}}
		}, want: BakeBreachedStatus, reason: "was in ALARM"},
		{name: "unreadable: waits, never passes", now: start.Add(90 * time.Minute), mutate: func(w *world) { w.placeErr = map[Place]error{use1: errors.New("AccessDenied")} },
			want: BakeWaiting, reason: "cannot be read (AccessDenied)"},
		{name: "unknown state: waits", now: start.Add(90 * time.Minute), mutate: func(w *world) { w.alarms[use1]["t-prod-bake"] = "alarm" }, want: BakeWaiting, reason: `is in state "alarm"`},
		{name: "clock skew: waits", now: start.Add(-time.Minute), want: BakeWaiting, reason: "clock skew"},
		{name: "clock skew, in ALARM: breached", now: start.Add(-time.Minute), mutate: func(w *world) { w.alarms[use1]["t-prod-bake"] = StateAlarm }, want: BakeBreachedStatus},
		{name: "unparsable history: waits", now: start.Add(90 * time.Minute), mutate: func(w *world) {
			w.history = map[string][]Transition{"t-prod-bake": {{From: StateOK, To: StateAlarm}}}
		}, want: BakeWaiting, reason: "has no time"},
		{name: "no data at the end: waits", now: start.Add(60 * time.Minute), mutate: func(w *world) { w.alarms[euw1]["t-prod-bake"] = StateInsufficientData }, want: BakeWaiting, reason: "has no data"},
		{name: "missing although its stack exists", now: open, mutate: func(w *world) { delete(w.alarms[euw1], "t-prod-bake") }, want: BakeBreachedStatus, reason: "does not exist although stack svc"},
		{name: "missing before its stack exists", now: start.Add(60 * time.Minute), mutate: func(w *world) {
			delete(w.alarms[use1], "t-prod-bake")
			delete(w.stacks, prod+"/us-east-1/svc")
		}, want: BakePassed},
		{name: "unreadable pipeline: waits", now: start.Add(90 * time.Minute), mutate: func(w *world) { w.stagesErr = errors.New("throttled") }, want: BakeWaiting, reason: "cannot read the pipeline's state"},
		{name: "a rollback execution passes at once", now: open, mutate: func(w *world) {
			w.stages["Prod-W1"] = StageState{Rollback: true}
			w.alarms[use1]["t-prod-bake"] = StateAlarm
		}, want: BakePassed},
		{name: "an unknown stage", now: open, req: &BakeRequest{Stage: "Nope", Part: 1, Parts: 1, Minutes: 60}, want: BakeBreachedStatus, reason: `no stage "Nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := healthy()
			if c.mutate != nil {
				c.mutate(w)
			}
			r := req
			if c.req != nil {
				r = *c.req
			}
			v := EvaluateBake(context.Background(), config(), r, w, start, c.now, Options{})
			assert.Equal(t, c.want, v.Status, "%v", v.Reasons)
			if c.reason != "" {
				assert.Contains(t, strings.Join(v.Reasons, "\n"), c.reason)
			}
		})
	}
}

func TestBakeParts(t *testing.T) {
	assert.Nil(t, BakeParts(0))
	assert.Equal(t, []int{60}, BakeParts(60))
	assert.Equal(t, []int{1200}, BakeParts(1200))
	assert.Equal(t, []int{600, 601}, BakeParts(1201))
	assert.Equal(t, []int{1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1124}, BakeParts(MaxBakeMinutes+4))
	for m := 1; m <= MaxBakeMinutes; m += 97 {
		sum := 0
		for _, p := range BakeParts(m) {
			assert.LessOrEqual(t, p, MaxBakeActionMinutes)
			sum += p
		}
		assert.Equal(t, m, sum)
	}
}

func TestParseBakeRequest(t *testing.T) {
	r, err := ParseBakeRequest([]byte(`{"stage":"Prod-W1","part":1,"parts":1,"minutes":720}`))
	require.NoError(t, err)
	assert.Equal(t, BakeRequest{Stage: "Prod-W1", Part: 1, Parts: 1, Minutes: 720}, r)
	for _, bad := range []string{
		`{"stage":"Prod-W1","part":1,"parts":1,"minutes":720,"stage":"X"}`,
		`{"Stage":"Prod-W1","part":1,"parts":1,"minutes":720}`,
		`{"stage":"a b","part":2,"parts":1,"minutes":0}`,
		`{"stage":"Prod-W1","part":1,"parts":1,"minutes":99999}`,
		`{"stage":"Prod-W1","part":1,"parts":1,"minutes":720}x`,
		``,
	} {
		_, err := ParseBakeRequest([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func FuzzParseLedger(f *testing.F) {
	f.Add([]byte(`{"changes":{"c":{"full":"prepare","canary":"none","version":"7"}},"alias":"live","main":"7","at":"x","upgradeDowngrade":{"before":"6"}}`))
	f.Add([]byte(`{"changes":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLedger(b)
		if err == nil && len(b) > MaxLedgerBytes {
			t.Fatalf("a ledger of %d bytes was read", len(b))
		}
		_ = l
	})
}

func FuzzParseBakeRequest(f *testing.F) {
	f.Add([]byte(`{"stage":"Prod-W1","part":1,"parts":1,"minutes":720}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseBakeRequest(b)
		if err != nil {
			return
		}
		if r.Minutes < 1 || r.Minutes > MaxBakeActionMinutes || r.Part < 1 || r.Part > r.Parts {
			t.Fatalf("accepted %+v", r)
		}
		// A valid request always evaluates, whatever the world says.
		EvaluateBake(context.Background(), config(), r, healthy(), open, open, Options{})
	})
}

// lockedWorld is the fake world, safe for concurrent reads.
type lockedWorld struct {
	mu sync.Mutex
	*world
}

func (w *lockedWorld) Alarms(ctx context.Context, p Place, names []string) (map[string]State, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.world.Alarms(ctx, p, names)
}

// TestConcurrentReadsDecideTheSame: reading with concurrency gives the
// decisions reading one at a time gives, and each place is read once.
func TestConcurrentReadsDecideTheSame(t *testing.T) {
	cfg := config()
	w := healthy()
	var regions []string
	for i := range 36 {
		region := fmt.Sprintf("us-east-%d", i+10)
		regions = append(regions, region)
		p := Place{Account: prod, Region: region, Role: role}
		w.alarms[p] = map[string]State{"t-prod-aggregate-rollback": StateOK}
		cfg.Stages[1].Blockers = append(cfg.Stages[1].Blockers, Alarm{Account: prod, Region: region, Role: role, Name: "t-prod-aggregate-rollback"})
	}
	w.alarms[Place{Account: prod, Region: regions[7], Role: role}]["t-prod-aggregate-rollback"] = StateAlarm
	one := Evaluate(context.Background(), cfg, w, open)
	lw := &lockedWorld{world: healthy()}
	lw.alarms = w.alarms
	many := EvaluateWith(context.Background(), cfg, lw, open, Options{Concurrency: 8})
	assert.Equal(t, one, many)
	assert.Equal(t, 3+36, lw.reads, "one read per account, region and role")
	assert.True(t, decision(t, many, "Prod-W1").EntryBlocked)
}

// TestSkipBakes: a stage whose bake is its action's reads no bake alarm
// in the scheduled round, and publishes no breach.
func TestSkipBakes(t *testing.T) {
	cfg := config()
	cfg.Stages[1].BakeAction = true
	w := healthy()
	w.stages["Prod-W1"] = StageState{BakeStart: open.Add(-time.Minute)}
	w.alarms[use1]["t-prod-bake"] = StateAlarm
	d := decision(t, Evaluate(context.Background(), cfg, w, open), "Prod-W1")
	assert.False(t, d.BakeBreached)
	assert.False(t, d.EntryBlocked, "%v", d.EntryReasons)
}

func TestStackCreated(t *testing.T) {
	for status, want := range map[string]bool{
		"CREATE_COMPLETE": true, "UPDATE_COMPLETE": true, "UPDATE_ROLLBACK_COMPLETE": true, "UPDATE_IN_PROGRESS": true,
		"CREATE_IN_PROGRESS": true, "DELETE_IN_PROGRESS": true, "IMPORT_COMPLETE": true, "SOMETHING_NEW": true, "": true,
		"ROLLBACK_COMPLETE": false, "ROLLBACK_IN_PROGRESS": false, "ROLLBACK_FAILED": false, "CREATE_FAILED": false,
		"REVIEW_IN_PROGRESS": false, "DELETE_COMPLETE": false,
	} {
		assert.Equal(t, want, StackCreated(status), status)
	}
}

// targetWorld answers HasRollbackTarget.
type targetWorld struct {
	*world
	has map[string]bool
	err error
}

func (w *targetWorld) HasRollbackTarget(_ context.Context, stage string) (bool, error) {
	return w.has[stage], w.err
}

// TestRollbackTarget: a stage that requires a rollback target stays
// closed while it has none in the current structure version, while that
// cannot be read, and with an observer that cannot tell; rollback
// executions are never held.
func TestRollbackTarget(t *testing.T) {
	cfg := config()
	cfg.Stages[1].RollbackTarget = true
	for _, c := range []struct {
		name    string
		o       Observer
		blocked string
	}{
		{"has a target", &targetWorld{world: healthy(), has: map[string]bool{"Prod-W1": true}}, ""},
		{"first execution of a new structure", &targetWorld{world: healthy(), has: map[string]bool{}}, "a failure here could not roll the stage back"},
		{"unreadable", &targetWorld{world: healthy(), err: errors.New("throttled")}, "cannot tell whether the stage can roll back (throttled)"},
		{"an observer that cannot tell", healthy(), "the controller cannot tell whether the stage can roll back"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := decision(t, Evaluate(context.Background(), cfg, c.o, open), "Prod-W1")
			if c.blocked == "" {
				assert.False(t, d.EntryBlocked, "%v", d.EntryReasons)
				return
			}
			assert.True(t, d.EntryBlocked)
			assert.Contains(t, strings.Join(d.EntryReasons, "\n"), c.blocked)
			g := decision(t, Evaluate(context.Background(), cfg, c.o, open), "Gamma")
			assert.False(t, g.EntryBlocked, "a stage that does not require it: %v", g.EntryReasons)
		})
	}
	w := &targetWorld{world: healthy(), has: map[string]bool{}}
	w.stages["Prod-W1"] = StageState{Rollback: true}
	assert.False(t, decision(t, Evaluate(context.Background(), cfg, w, open), "Prod-W1").EntryBlocked, "a rollback is never held")
}

// timedWorld answers BakeTimes as CodePipeline records them.
type timedWorld struct {
	*world
	times BakeTimes
	err   error
}

func (w *timedWorld) BakeTimes(context.Context, BakeRequest) (BakeTimes, error) {
	return w.times, w.err
}

// TestBakeTimesComeFromThePipeline: with a BakeTimer the bake's start is
// what CodePipeline recorded, whatever the invocation says; a chained part
// judges the alarms from the first part's start (no gap between parts);
// only a rollback execution running the stage passes at once (a rollback
// merely waiting to enter it, which the entry gates open for, does not).
func TestBakeTimesComeFromThePipeline(t *testing.T) {
	start := open.Add(-30 * time.Minute)
	req := BakeRequest{Stage: "Prod-W1", Part: 2, Parts: 2, Minutes: 20}
	w := &timedWorld{world: healthy(), times: BakeTimes{PartStart: start, BakeStart: start.Add(-2 * time.Hour)}}
	// A forged early start in the invocation changes nothing.
	v := EvaluateBake(context.Background(), config(), req, w, start.Add(-10*time.Hour), open, Options{Concurrency: 4})
	assert.Equal(t, BakePassed, v.Status, "%v", v.Reasons)
	v = EvaluateBake(context.Background(), config(), req, w, start.Add(-10*time.Hour), start.Add(10*time.Minute), Options{})
	assert.Equal(t, BakeWaiting, v.Status, "the part is 20 minutes")

	w.history = map[string][]Transition{"t-prod-bake": {{At: start.Add(-90 * time.Minute), From: StateOK, To: StateAlarm}, {At: start.Add(-89 * time.Minute), From: StateAlarm, To: StateOK}}}
	v = EvaluateBake(context.Background(), config(), req, w, start, open, Options{})
	assert.Equal(t, BakeBreachedStatus, v.Status, "an alarm during the first part fails the second")

	w.history = nil
	w.stages["Prod-W1"] = StageState{Rollback: true} // a rollback waits to enter
	v = EvaluateBake(context.Background(), config(), req, w, start, start.Add(time.Minute), Options{})
	assert.Equal(t, BakeWaiting, v.Status, "a standard execution's bake is not passed by a waiting rollback")
	w.times.Rollback = true
	v = EvaluateBake(context.Background(), config(), req, w, start, start.Add(time.Minute), Options{})
	assert.Equal(t, BakePassed, v.Status)
	assert.True(t, v.Rollback)

	w.err = errors.New("throttled")
	v = EvaluateBake(context.Background(), config(), req, w, start, open, Options{})
	assert.Equal(t, BakeWaiting, v.Status)
	assert.Contains(t, strings.Join(v.Reasons, "\n"), "cannot read when the bake started")
}

func TestBakeActionName(t *testing.T) {
	assert.Equal(t, "Bake", BakeActionName(BakeRequest{Part: 1, Parts: 1}))
	assert.Equal(t, "Bake-2of3", BakeActionName(BakeRequest{Part: 2, Parts: 3}))
}
