package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safepipe/safepipe/internal/termsafe"
)

// Exit codes of a run (safepipe simulate's contract).
const (
	ExitReached  = 0 // the change reached every production region and no property failed
	ExitViolated = 1 // a safety property failed
	ExitBadInput = 2 // bad input
	ExitStopped  = 3 // the change was stopped (and rolled back) as designed
)

// Result is the outcome of a run. Its JSON form is the stable output of
// "safepipe simulate --format json".
type Result struct {
	// Pipeline is the simulated pipeline's name.
	Pipeline string `json:"pipeline"`
	// Start is when the execution started.
	Start time.Time `json:"start"`
	// End is when the simulation ended.
	End time.Time `json:"end"`
	// Outcome is "reached", "stopped" or "violated"; ExitCode the matching
	// exit code.
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exitCode"`
	// Summary says in one line what happened (where the change stopped).
	Summary string `json:"summary"`
	// Reached are the production regions that run the new version at the
	// end; RolledBack those that ran it and no longer do; BlastRadius every
	// production region that ever ran it.
	Reached     []string `json:"reached"`
	RolledBack  []string `json:"rolledBack"`
	BlastRadius []string `json:"blastRadius"`
	// TimeToGlobalHours is from Start until the last production region
	// serves only the new version (null when it never does); BusinessDays
	// counts Monday–Friday dates without holidays, in the window's zone.
	TimeToGlobalHours *float64 `json:"timeToGlobalHours"`
	BusinessDays      *int     `json:"businessDays"`
	// Stages are the stage runs in order of arrival: the standard
	// execution's, then each rollback execution's.
	Stages []StageResult `json:"stages"`
	// Violations are the safety properties that failed.
	Violations []Violation `json:"violations"`
	// Faults are the injected faults and when they fired.
	Faults []FaultResult `json:"faults"`
	// Regions is each production region's share of the new version over
	// time.
	Regions []RegionResult `json:"regions"`
	// Closed are the stretches when the deployment window admits no start.
	Closed []Interval `json:"closed"`
	// Events is what happened, in order.
	Events []Event `json:"events"`
	// Notes are what the simulator did not model in this input, and the
	// readings it ran under.
	Notes []string `json:"notes"`
	// Options echoes the readings and durations of the run.
	Options RunOptions `json:"options"`
}

// RunOptions are the options a result was produced with.
type RunOptions struct {
	DeployMinutes      int     `json:"deployMinutes"`
	ActionMinutes      int     `json:"actionMinutes"`
	RollbackConditions Reading `json:"rollbackConditions"`
	BakeWatch          Reading `json:"bakeWatch"`
	AlarmAtStart       Reading `json:"alarmAtStart"`
	RuleTimeout        Reading `json:"ruleTimeout"`
	OneBoxShare        float64 `json:"oneBoxShare"`
}

// StageResult is one run of a stage.
type StageResult struct {
	Name string `json:"name"`
	// Execution is STANDARD or ROLLBACK.
	Execution string `json:"execution"`
	// Arrived is when the execution reached the stage; Start when it
	// entered (its entry condition passed); Baking when its actions had all
	// succeeded; End when it finished. Empty when it did not happen.
	Arrived string `json:"arrived,omitempty"`
	Start   string `json:"start"`
	Baking  string `json:"baking,omitempty"`
	End     string `json:"end"`
	// Result: Succeeded, Failed, RolledBack (failed and rolled back),
	// Refused (its entry condition failed), Skipped, InProgress, NotReached.
	Result string `json:"result"`
	// Production, Wave, OneBox and Regions describe the stage.
	Production bool     `json:"production,omitempty"`
	Wave       int      `json:"wave,omitempty"`
	OneBox     bool     `json:"oneBox,omitempty"`
	Regions    []string `json:"regions,omitempty"`
	// Gates lists the stage's conditions for the diagram.
	Gates []string `json:"gates,omitempty"`
	// Detail says why it ended as it did.
	Detail string `json:"detail,omitempty"`
}

// Violation is a failed safety property.
type Violation struct {
	Property string `json:"property"`
	Stage    string `json:"stage"`
	Region   string `json:"region"`
	Detail   string `json:"detail"`
}

// FaultResult is an injected fault.
type FaultResult struct {
	Spec    string `json:"spec"`
	Alarm   string `json:"alarm"`
	Fired   string `json:"fired"`
	Cleared string `json:"cleared"`
	During  string `json:"during,omitempty"`
}

// RegionResult is a production region's share of the new version.
type RegionResult struct {
	Region string       `json:"region"`
	Wave   int          `json:"wave"`
	Share  []SharePoint `json:"share"`
}

// SharePoint is a change of a region's share.
type SharePoint struct {
	At    string  `json:"at"`
	Share float64 `json:"share"`
}

// Interval is a stretch of time.
type Interval struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Holiday bool      `json:"holiday,omitempty"`
}

// Event is one thing that happened.
type Event struct {
	At    string `json:"at"`
	Stage string `json:"stage,omitempty"`
	What  string `json:"what"`
}

const timeLayout = "2006-01-02T15:04Z07:00"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// WriteJSON writes the result as indented JSON. Strings decode to what the
// assembly said, but no control or format character is written raw
// (termsafe.JSON): a name cannot take over the terminal that shows it.
func (r *Result) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// writeJSON writes v as indented JSON, strings escaped for a terminal
// (termsafe.JSON).
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termsafe.JSON(b.Bytes()))
	return err
}

// escaped is a copy of the result whose every string (names read from the
// assembly, details and notes quoting them) went through termsafe.Escape:
// what the text and HTML forms print. It works on the JSON form, so that a
// field added later is escaped too.
func (r *Result) escaped() (*Result, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if b, err = json.Marshal(escapeStrings(doc)); err != nil {
		return nil, err
	}
	var out Result
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// escapeStrings escapes every string of a decoded JSON value, keys
// included.
func escapeStrings(v any) any {
	switch v := v.(type) {
	case string:
		return termsafe.Escape(v)
	case []any:
		for i := range v {
			v[i] = escapeStrings(v[i])
		}
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[termsafe.Escape(k)] = escapeStrings(x)
		}
		return out
	}
	return v
}

// WriteText writes the result for people, every name escaped
// (termsafe.Escape).
func (r *Result) WriteText(w io.Writer) error {
	r, err := r.escaped()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pipeline %s · start %s\n", r.Pipeline, fmtTime(r.Start))
	fmt.Fprintf(&b, "%s (exit %d): %s\n", strings.ToUpper(r.Outcome), r.ExitCode, r.Summary)
	if r.TimeToGlobalHours != nil {
		fmt.Fprintf(&b, "time to global: %.1f h, %d business days\n", *r.TimeToGlobalHours, *r.BusinessDays)
	}
	fmt.Fprintf(&b, "reached: %d region(s)", len(r.Reached))
	if len(r.RolledBack) > 0 {
		fmt.Fprintf(&b, " · rolled back: %s", strings.Join(r.RolledBack, " "))
	}
	fmt.Fprintf(&b, " · blast radius: %d region(s)", len(r.BlastRadius))
	if len(r.BlastRadius) > 0 && len(r.BlastRadius) <= 8 {
		fmt.Fprintf(&b, " (%s)", strings.Join(r.BlastRadius, " "))
	}
	b.WriteString("\n\nSTAGES\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STAGE\tEXECUTION\tSTART\tBAKING\tEND\tRESULT\tDETAIL")
	short := func(s string) string {
		if s == "" {
			return "-"
		}
		return strings.TrimSuffix(s, "Z")
	}
	for _, s := range r.Stages {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Execution, short(s.Start), short(s.Baking), short(s.End), s.Result, s.Detail)
	}
	tw.Flush()
	if len(r.Faults) > 0 {
		b.WriteString("\nFAULTS\n")
		for _, f := range r.Faults {
			fmt.Fprintf(&b, "  %s: %s fired %s, cleared %s", f.Spec, f.Alarm, short(f.Fired), short(f.Cleared))
			if f.During != "" {
				fmt.Fprintf(&b, " (during %s)", f.During)
			}
			b.WriteString("\n")
		}
	}
	if len(r.Violations) > 0 {
		b.WriteString("\nVIOLATIONS\n")
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "  %s", v.Property)
			if v.Stage != "" {
				fmt.Fprintf(&b, " · %s", v.Stage)
			}
			if v.Region != "" {
				fmt.Fprintf(&b, " · %s", v.Region)
			}
			fmt.Fprintf(&b, "\n    %s\n", v.Detail)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNOTES\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	_, err = io.WriteString(w, b.String())
	return err
}
