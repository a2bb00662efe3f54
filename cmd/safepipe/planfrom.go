package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safepipe/safepipe/sim"
)

// fromReport is the JSON output of "safepipe plan --from": what was
// synthesized, read by the simulator's model, with the happy path's times.
type fromReport struct {
	Path              string      `json:"path"`
	Pipeline          string      `json:"pipeline"`
	Waves             []fromWave  `json:"waves"`
	Stages            []fromStage `json:"stages"`
	TimeToGlobalHours *float64    `json:"timeToGlobalHours"`
	BusinessDays      *int        `json:"businessDays"`
	Violations        int         `json:"violations"`
	// HeldAfterStructureChange names the stages whose entry waits for an
	// execution of the current structure version to have passed them
	// (gates.Stage.RollbackTarget): after a change of the pipeline's
	// definition, each needs an override once.
	HeldAfterStructureChange []string `json:"heldAfterStructureChange"`
}

type fromWave struct {
	Name    string   `json:"name"`
	Regions []string `json:"regions"`
}

type fromStage struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Regions    []string `json:"regions"`
	Actions    int      `json:"actions"`
	BakeMinute int      `json:"bakeMinutes"`
	Start      string   `json:"start,omitempty"`
	Deployed   string   `json:"deployed,omitempty"`
	Baked      string   `json:"baked,omitempty"`
}

// runPlanFrom prints the plan table of a synthesized assembly: its stages,
// regions and bakes as the templates say, timed by a simulated happy path.
func runPlanFrom(path, start string, deployMinutes int, format string, args []string, stdout, stderr io.Writer) int {
	var errs []error
	if len(args) > 0 {
		errs = append(errs, fmt.Errorf("plan takes no arguments, got %q", args))
	}
	if format != "table" && format != "json" {
		errs = append(errs, fmt.Errorf("--format %q is unknown (want table or json)", format))
	}
	errs = append(errs, checkDeployMinutes(deployMinutes))
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	model, err := loadModel(path)
	if err != nil {
		return fail(stderr, err)
	}
	loc := model.Location()
	t0, err := parseStart(start, loc)
	if err != nil {
		return fail(stderr, err)
	}
	res, err := sim.Run(model, sim.Options{Start: t0, DeployMinutes: deployMinutes})
	if err != nil {
		return fail(stderr, err)
	}
	rep := fromReport{Path: path, Pipeline: res.Pipeline, TimeToGlobalHours: res.TimeToGlobalHours, BusinessDays: res.BusinessDays, Violations: len(res.Violations), HeldAfterStructureChange: []string{}}
	for _, st := range model.Pipeline.Stages {
		if st.Gate != nil && st.Gate.RollbackTarget {
			rep.HeldAfterStructureChange = append(rep.HeldAfterStructureChange, st.Name)
		}
	}
	runs := map[string]sim.StageResult{}
	for _, s := range res.Stages {
		if _, ok := runs[s.Name]; !ok && s.Execution == "STANDARD" {
			runs[s.Name] = s
		}
	}
	for _, st := range model.Pipeline.Stages {
		fs := fromStage{Name: st.Name, Regions: st.Regions(), Actions: len(st.Actions), BakeMinute: bakeMinutes(st)}
		if fs.Regions == nil {
			fs.Regions = []string{}
		}
		switch r := runs[st.Name]; {
		case st.Production && r.OneBox:
			fs.Kind = "one-box"
		case st.Production:
			fs.Kind = "production"
		case len(fs.Regions) > 0:
			fs.Kind = "pre-production"
		default:
			fs.Kind = "build"
		}
		r := runs[st.Name]
		fs.Start, fs.Deployed, fs.Baked = r.Start, r.Baking, r.End
		rep.Stages = append(rep.Stages, fs)
		if st.Wave > 0 {
			name := fmt.Sprintf("W%d", st.Wave)
			if len(rep.Waves) == 0 || rep.Waves[len(rep.Waves)-1].Name != name {
				rep.Waves = append(rep.Waves, fromWave{Name: name, Regions: st.Regions()})
			}
		}
	}
	if format == "json" {
		if err := writeJSON(stdout, rep); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	const layout = "Mon 01-02 15:04"
	local := func(s string) string {
		if s == "" {
			return "-"
		}
		t, err := time.Parse("2006-01-02T15:04Z07:00", s)
		if err != nil {
			return s
		}
		return t.In(loc).Format(layout)
	}
	fmt.Fprintf(stdout, "from %s · pipeline %s · times in %s\n", esc(path), esc(rep.Pipeline), loc)
	fmt.Fprintln(stdout, "\nWAVES")
	for _, w := range rep.Waves {
		fmt.Fprintf(stdout, "  %-4s %2d  %s\n", w.Name, len(w.Regions), strings.Join(w.Regions, " "))
	}
	fmt.Fprintln(stdout, "\nSTAGES")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTAGE\tKIND\tREGIONS\tACTIONS\tBAKE\tSTART\tDEPLOYED\tBAKED")
	prod := 0
	for i, s := range rep.Stages {
		if s.Kind == "production" || s.Kind == "one-box" {
			prod++
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", i+1, esc(s.Name), s.Kind, len(s.Regions), s.Actions,
			fmtDuration(time.Duration(s.BakeMinute)*time.Minute), local(s.Start), local(s.Deployed), local(s.Baked))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d production stages of %d; %d production regions\n", prod, len(rep.Stages), len(res.Regions))
	if rep.TimeToGlobalHours != nil {
		fmt.Fprintf(stdout, "time to global: %.1f h, %d business days (simulated happy path from %s)\n", *rep.TimeToGlobalHours, *rep.BusinessDays, t0.Format(layout))
	} else {
		fmt.Fprintf(stdout, "the simulated happy path did not reach every region: %s\n", esc(res.Summary))
	}
	if rep.Violations > 0 {
		fmt.Fprintf(stdout, "%d safety violation(s) on the happy path: run safepipe simulate %s\n", rep.Violations, esc(path))
	}
	if n := len(rep.HeldAfterStructureChange); n > 0 {
		fmt.Fprintf(stdout, "after a change of the pipeline's structure, %d production stage(s) hold the first execution until an operator overrides their entry (no rollback target yet; README: Structure changes)\n", n)
	}
	return 0
}

// bakeMinutes is a stage's bake: the longest WaitTime of its OnSuccess
// alarm rules, or its gate's bake.
func bakeMinutes(st *sim.Stage) int {
	m := 0
	if st.OnSuccess != nil {
		for _, r := range st.OnSuccess.Rules {
			m = max(m, r.Wait)
		}
	}
	if st.Gate != nil {
		m = max(m, st.Gate.BakeMinutes)
	}
	return m
}
