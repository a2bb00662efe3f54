package gates

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/safepipe/safepipe/internal/strict"
	"github.com/safepipe/safepipe/waves"
)

// Version is the configuration format this package reads.
const Version = 1

// Namespace is the CloudWatch namespace of the gate metrics.
const Namespace = "safepipe/gates"

// The gate metrics, one of each per gated stage, with the dimensions
// Pipeline and Stage. A value of 1 closes the gate, 0 opens it.
const (
	MetricEntryBlocked = "EntryBlocked"
	MetricBakeBreached = "BakeBreached"
)

// MetricHeartbeat is 1 for every round the controller completes, with the
// dimension Pipeline: an alarm on it missing tells the operators the
// controller is not running (every entry gate is then closed: its alarm
// treats missing data as breaching).
const MetricHeartbeat = "Heartbeat"

// MaxConfigBytes caps the configuration a controller reads.
const MaxConfigBytes = 4 << 20

// Config is everything the gate controller of one pipeline watches: for
// every gated stage, the alarms that block its entry and the alarms its
// bake watches, and the deployment window. The pipeline construct writes
// it; the controller, verify and the simulator read it.
type Config struct {
	// Version is the format version, 1.
	Version int `json:"version"`
	// Pipeline is the CodePipeline name.
	Pipeline string `json:"pipeline"`
	// Window is the deployment window and holidays of production stages.
	Window Window `json:"window"`
	// Organization is the organisation-wide alarm that blocks every gated
	// stage while in ALARM. Default: none.
	Organization *Alarm `json:"organization,omitempty"`
	// Stages are the gated stages, in pipeline order.
	Stages []Stage `json:"stages"`
}

// Window is the deployment window in the configuration's JSON form.
type Window struct {
	// TimeZone is the IANA time zone.
	TimeZone string `json:"timeZone"`
	// Days are weekday names: "MON" … "SUN".
	Days []string `json:"days"`
	// StartHour and EndHour bound the hours stages may start in.
	StartHour int `json:"startHour"`
	EndHour   int `json:"endHour"`
	// Holidays are dates ("2026-12-25") with no starts.
	Holidays []string `json:"holidays,omitempty"`
}

// Alarm is one alarm the controller reads.
type Alarm struct {
	// Account and Region locate the alarm.
	Account string `json:"account"`
	Region  string `json:"region"`
	// Name is the alarm name.
	Name string `json:"name"`
	// Role is the role the controller assumes to read it; "" reads it with
	// the controller's own role (an alarm of the pipeline's account).
	Role string `json:"role,omitempty"`
	// Stack is the CloudFormation stack that creates the alarm. While that
	// stack does not exist (the region's first deployment), a missing alarm
	// neither blocks entry nor breaches a bake; once it exists, a missing
	// alarm does both. Default: "" (a missing alarm always blocks and
	// breaches).
	Stack string `json:"stack,omitempty"`
}

// Place is where the alarm is read: account, region and role.
func (a Alarm) Place() Place { return Place{Account: a.Account, Region: a.Region, Role: a.Role} }

// Place is an account and region, read with a role.
type Place struct {
	Account, Region, Role string
}

// Stage is one gated stage.
type Stage struct {
	// Name is the pipeline stage name.
	Name string `json:"name"`
	// Window is true when the stage starts only inside the deployment
	// window and never on a holiday (production stages).
	Window bool `json:"window"`
	// Blockers block the stage's entry while any is in ALARM.
	Blockers []Alarm `json:"blockers"`
	// Bake are the alarms the stage's bake watches after it deploys.
	Bake []Alarm `json:"bake,omitempty"`
	// BakeMinutes is the bake, in minutes.
	BakeMinutes int `json:"bakeMinutes,omitempty"`
	// BakeAction is true when the stage bakes through its bake actions
	// (EvaluateBake, bake.go), which hold the stage until the bake has
	// passed and fail it on a breach. The scheduled controller then leaves
	// the bake alone. When false, the stage bakes through an OnSuccess
	// rule on its bake gate alarm (the scheduled controller publishes
	// BakeBreached), which is safe only under some readings of the
	// documentation: docs/aws-semantics.md Q2.
	BakeAction bool `json:"bakeAction,omitempty"`
	// RollbackTarget keeps the entry closed while the stage has no
	// execution to roll back to in the pipeline's current structure
	// version: "The pipeline can only roll back to a previous execution if
	// the previous execution was started in the current pipeline
	// structure version" (stage-rollback.html), so the first execution
	// after a change of the pipeline's definition could not roll the stage
	// back. An operator overrides the entry of one execution to let it
	// through (OverrideStageCondition; README: overriding a gate).
	RollbackTarget bool `json:"rollbackTarget,omitempty"`
	// Serial are stages the entry waits for: it stays closed while any of
	// them runs an execution (StageState.Running). The upgrade-downgrade
	// test's first step names the other four, so that the test region
	// takes one release at a time: by default a pipeline runs executions
	// in its stages concurrently ("A more recent execution can overtake
	// an older one", SUPERSEDED mode, concepts-how-it-works.html), and a
	// second release's upgrade-half would otherwise change what the
	// first's downgrade steps find.
	Serial []string `json:"serial,omitempty"`
	// RollsBack are the earlier stages of this stage's regions that must
	// go back with it: a zonal step after the region's first (the one-box,
	// earlier AZs) deploys other stacks and groups than they did, and
	// CodePipeline rolls back the failed stage only ("You can roll back a
	// stage to an execution that was successful in that stage",
	// stage-rollback.html). Once this stage's rollback execution has
	// succeeded, the controller rolls each of them back to the same target
	// execution (RollbackStage; latest first, one at a time, each only if
	// its latest execution is the change that reached this stage), and
	// keeps the entries of all of them closed until it is done
	// (regionRollbacks, region.go). Earlier gated stages, in pipeline
	// order.
	RollsBack []string `json:"rollsBack,omitempty"`
	// Prepared are the two-phase changes this stage's release activates,
	// one per target that must run the change's prepare release: the
	// stage's entry stays closed until every one is prepared there.
	Prepared []Requirement `json:"prepared,omitempty"`
}

// Requirement is a two-phase change that must be prepared in an account
// and region: the ledger there (an SSM parameter the alias controller
// writes from what the alias serves) shows the change's prepare, or its
// activation, serving all of the traffic.
type Requirement struct {
	// Account and Region locate the ledger.
	Account string `json:"account"`
	Region  string `json:"region"`
	// Role is the role the controller assumes to read it; "" reads it with
	// the controller's own role.
	Role string `json:"role,omitempty"`
	// Parameter is the ledger's SSM parameter name.
	Parameter string `json:"parameter"`
	// Change is the change's name.
	Change string `json:"change"`
}

// Place is where the ledger is read.
func (r Requirement) Place() Place { return Place{Account: r.Account, Region: r.Region, Role: r.Role} }

// Parse reads a configuration strictly (one JSON document, no unknown,
// duplicate or case-variant keys, at most MaxConfigBytes) and validates it.
func Parse(r io.Reader, name string) (*Config, error) {
	var c Config
	data, err := strict.ReadAll(r, MaxConfigBytes)
	if err == nil {
		err = strict.JSON(data, &c, strict.Limits{MaxBytes: MaxConfigBytes, MaxDepth: 8})
	}
	if err != nil {
		return nil, fmt.Errorf("gates: %s: %w", name, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	roleRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	stageRE   = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)
)

// MaxBakeMinutes bounds a bake (CodePipeline rule timeouts go to 86,400
// minutes; no bake is near that).
const MaxBakeMinutes = 7 * 24 * 60

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("gates: "+format, args...)) }
	if c.Version != Version {
		add("version is %d; this controller reads version %d", c.Version, Version)
	}
	if c.Pipeline == "" {
		add("pipeline is empty")
	}
	if _, err := c.Window.waves(); err != nil {
		add("window: %v", err)
	}
	checkAlarm := func(where string, a Alarm) {
		if !accountRE.MatchString(a.Account) {
			add("%s: account %q is not a 12-digit account ID", where, a.Account)
		}
		if !waves.IsRegionCode(a.Region) {
			add("%s: region %q is not a region code", where, a.Region)
		}
		if a.Name == "" || len(a.Name) > 255 {
			add("%s: alarm name %q must be 1–255 characters", where, a.Name)
		}
		if a.Role != "" && !roleRE.MatchString(a.Role) {
			add("%s: role %q is not an IAM role ARN", where, a.Role)
		}
	}
	if c.Organization != nil {
		checkAlarm("organization", *c.Organization)
	}
	seen := map[string]bool{}
	for i, s := range c.Stages {
		where := fmt.Sprintf("stages[%d] (%s)", i, s.Name)
		if !stageRE.MatchString(s.Name) {
			add("%s: stage name must match %s", where, stageRE)
		}
		if seen[s.Name] {
			add("%s: stage is listed twice", where)
		}
		seen[s.Name] = true
		for j, a := range s.Blockers {
			checkAlarm(fmt.Sprintf("%s.blockers[%d]", where, j), a)
		}
		for j, a := range s.Bake {
			checkAlarm(fmt.Sprintf("%s.bake[%d]", where, j), a)
		}
		if s.BakeMinutes < 0 || s.BakeMinutes > MaxBakeMinutes {
			add("%s: bakeMinutes is %d (want 0–%d)", where, s.BakeMinutes, MaxBakeMinutes)
		}
		if len(s.Bake) > 0 && s.BakeMinutes == 0 {
			add("%s: bake alarms without bakeMinutes", where)
		}
		for j, name := range s.Serial {
			if !stageRE.MatchString(name) || name == s.Name {
				add("%s.serial[%d]: %q is not another stage's name", where, j, name)
			}
		}
		for j, name := range s.RollsBack {
			switch k := slices.IndexFunc(c.Stages[:i], func(e Stage) bool { return e.Name == name }); {
			case k < 0:
				add("%s.rollsBack[%d]: %q is not an earlier gated stage", where, j, name)
			case j > 0 && slices.Index(s.RollsBack[:j], name) >= 0:
				add("%s.rollsBack[%d]: %q is listed twice", where, j, name)
			case j > 0 && k < slices.IndexFunc(c.Stages, func(e Stage) bool { return e.Name == s.RollsBack[j-1] }):
				add("%s.rollsBack[%d]: %q comes before %q in the pipeline: list them in pipeline order", where, j, name, s.RollsBack[j-1])
			}
		}
		for j, r := range s.Prepared {
			at := fmt.Sprintf("%s.prepared[%d]", where, j)
			checkAlarm(at, Alarm{Account: r.Account, Region: r.Region, Role: r.Role, Name: r.Change})
			if !strings.HasPrefix(r.Parameter, "/") || len(r.Parameter) > 1011 {
				add("%s: parameter %q is not an SSM parameter path", at, r.Parameter)
			}
		}
	}
	return errors.Join(errs...)
}

// NewWindow converts a plan window to the configuration's form.
func NewWindow(w waves.Window) Window {
	out := Window{TimeZone: w.TimeZone, StartHour: w.StartHour, EndHour: w.EndHour, Holidays: slices.Clone(w.Holidays)}
	if out.TimeZone == "" {
		out.TimeZone = "UTC"
	}
	days := w.Days
	if len(days) == 0 {
		days = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday}
	}
	if out.StartHour == 0 && out.EndHour == 0 {
		out.StartHour, out.EndHour = 9, 16
	}
	for _, d := range days {
		out.Days = append(out.Days, dayNames[d])
	}
	return out
}

var dayNames = [...]string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}

// waves returns the window as a plan window, validated.
func (w Window) waves() (waves.Window, error) {
	var errs []error
	out := waves.Window{TimeZone: w.TimeZone, StartHour: w.StartHour, EndHour: w.EndHour, Holidays: slices.Clone(w.Holidays)}
	if len(w.Days) == 0 {
		errs = append(errs, errors.New("days is empty"))
	}
	for _, d := range w.Days {
		i := slices.Index(dayNames[:], d)
		if i < 0 {
			errs = append(errs, fmt.Errorf("day %q is not one of %v", d, dayNames))
			continue
		}
		out.Days = append(out.Days, time.Weekday(i))
	}
	if w.StartHour < 0 || w.StartHour > 23 || w.EndHour < 1 || w.EndHour > 24 || w.StartHour >= w.EndHour {
		errs = append(errs, fmt.Errorf("hours %d–%d: want 0 ≤ start < end ≤ 24", w.StartHour, w.EndHour))
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "" || w.TimeZone == "Local" {
		errs = append(errs, fmt.Errorf("time zone %q is not an IANA time zone", w.TimeZone))
	}
	for _, h := range w.Holidays {
		if _, err := time.Parse(time.DateOnly, h); err != nil {
			errs = append(errs, fmt.Errorf("holiday %q is not a date (YYYY-MM-DD)", h))
		}
	}
	return out, errors.Join(errs...)
}

// LongestClosed is the longest stretch, within days days from from, during
// which the window lets no stage start (nights, weekends, holidays): how
// long an entry gate must be able to wait for a stage that arrives just as
// the window closes.
func (w Window) LongestClosed(from time.Time, days int) (time.Duration, error) {
	pw, err := w.waves()
	if err != nil {
		return 0, err
	}
	loc := pw.Location()
	end := from.AddDate(0, 0, days)
	var longest time.Duration
	for t := from; t.Before(end); {
		open, err := pw.NextStart(t)
		if err != nil {
			return 0, err
		}
		if open.After(t) {
			longest = max(longest, open.Sub(t))
			t = open
			continue
		}
		// The day's window closes, by its wall clock (waves.Window.Span:
		// time.Date would misplace a close in a DST change's hour).
		_, end, ok := pw.Span(t)
		if !ok || !end.After(t) {
			return 0, fmt.Errorf("window: %s is open but has no span", t.In(loc).Format(time.RFC3339))
		}
		t = end
	}
	return longest, nil
}

// MinEntryWait is the shortest default entry wait: a long weekend.
const MinEntryWait = 4 * 24 * time.Hour

// MaxEntryWait is the longest entry wait: CodePipeline's rule timeout
// goes to 86,400 minutes (RuleDeclaration.timeoutInMinutes, "Maximum value
// of 86400",
// https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html).
const MaxEntryWait = 86400 * time.Minute

// DefaultEntryWait is how long an entry gate waits by default: the longest
// stretch in which w lets nothing start, over the year of its first
// holiday (2026 without holidays) and the following weeks, plus a day for
// a freeze; at least MinEntryWait, at most MaxEntryWait. A stage that
// waits longer fails at its entry (it refuses; nothing rolls back).
func DefaultEntryWait(w waves.Window) (time.Duration, error) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if len(w.Holidays) > 0 {
		if t, err := time.Parse(time.DateOnly, slices.Min(w.Holidays)); err == nil {
			from = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	longest, err := NewWindow(w).LongestClosed(from, 400)
	if err != nil {
		return 0, err
	}
	return min(max(longest+24*time.Hour, MinEntryWait), MaxEntryWait), nil
}
