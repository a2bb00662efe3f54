package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/waves"
)

// referenceStart is the default --start: a Monday at 09:00, so that the
// reference plan's timeline is the same on every run.
const referenceStart = "2026-01-05T09:00"

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	catalogPath := fs.String("catalog", "", "catalog `FILE` (JSON); default: the embedded catalog, or $SAFEPIPE_CATALOG")
	policyArg := fs.String("policy", "amazon", "wave policy: amazon, doubling, or a policy `FILE` (JSON)")
	shape := fs.String("shape", "zonal", "service shape: zonal (one-box, then one AZ per region per step) or regional (one-box, then the region)")
	start := fs.String("start", referenceStart, "rollout start `TIME` (RFC 3339, or YYYY-MM-DDTHH:MM or YYYY-MM-DD (midnight) in the window's zone, or \"now\")")
	deployMinutes := fs.Int("deploy-minutes", int(waves.DefaultDeployDuration/time.Minute), "assumed deploy duration of one stage, in minutes")
	format := fs.String("format", "table", "output format: table or json")
	from := fs.String("from", "", "print the plan of a synthesized `PATH` (cdk.out or a template) instead, read from its templates")
	goalDays := fs.Int("goal-days", 5, "business days to every region: when the plan takes longer, show which policy changes (and their safety cost) would reach it; 0 to skip")
	if code, done := parseFlags(fs, "safepipe plan [--catalog FILE] [--policy amazon|doubling|FILE] [--shape zonal|regional] [--start TIME] [--deploy-minutes N] [--goal-days N] [--format table|json] [--from PATH]", args, stdout, stderr); done {
		return code
	}
	if *from != "" {
		return runPlanFrom(*from, *start, *deployMinutes, *format, fs.Args(), stdout, stderr)
	}
	if fs.NArg() > 0 {
		return fail(stderr, fmt.Errorf("plan takes no arguments, got %q", fs.Args()))
	}
	var errs []error
	if *shape != string(waves.ShapeZonal) && *shape != string(waves.ShapeRegional) {
		errs = append(errs, fmt.Errorf("--shape %q is unknown (want zonal or regional)", *shape))
	}
	cat, err := loadCatalog(*catalogPath)
	errs = append(errs, err)
	policy, err := loadPolicy(*policyArg, *shape)
	errs = append(errs, err)
	if *format != "table" && *format != "json" {
		errs = append(errs, fmt.Errorf("--format %q is unknown (want table or json)", *format))
	}
	errs = append(errs, checkDeployMinutes(*deployMinutes))
	if *goalDays < 0 || *goalDays > waves.MaxGoalDays {
		errs = append(errs, fmt.Errorf("--goal-days %d is outside 0–%d", *goalDays, waves.MaxGoalDays))
	}
	t0, err := parseStart(*start, policy.Window.Location()) // the plan's window zone
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	plan, err := waves.NewPlan(cat, policy)
	if err != nil {
		if *policyArg != "amazon" && *policyArg != "doubling" {
			err = inPolicyFile(*policyArg, err)
		}
		return fail(stderr, err)
	}
	deploy := time.Duration(*deployMinutes) * time.Minute
	tl, err := waves.Schedule(plan, t0, deploy)
	if err != nil {
		return fail(stderr, err)
	}
	var goal *waves.GoalReport
	if *goalDays > 0 {
		if goal, err = waves.CheckGoal(cat, policy, t0, deploy, *goalDays); err != nil {
			return fail(stderr, err)
		}
	}
	if *format == "json" {
		if err := writeJSON(stdout, planReport{Plan: plan, Window: plan.Window.String(), Timeline: tl, Goal: goal}); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	printPlan(stdout, plan, tl)
	printGoal(stdout, goal)
	return 0
}

// printGoal says whether the plan meets the goal in business days and,
// when not, what each policy change alone would give and the fewest
// changes that reach it, with what they cost in safety.
func printGoal(w io.Writer, g *waves.GoalReport) {
	if g == nil || g.Before.BusinessDays <= g.GoalDays {
		return
	}
	fmt.Fprintf(w, "\ngoal of %d business days: not met (%d). Each change alone, keeping every bake floor and one AZ per region per step:\n", g.GoalDays, g.Before.BusinessDays)
	for _, o := range g.Singles {
		fmt.Fprintf(w, "  %s\n", esc(o.String()))
	}
	if len(g.Smallest) == 0 {
		fmt.Fprintln(w, "no combination of up to three of these changes reaches the goal")
		return
	}
	best := g.Smallest[0]
	fmt.Fprintf(w, "smallest change that reaches it: %s\n", esc(best.String()))
	for i, l := range best.Levers {
		fmt.Fprintf(w, "  safety cost of %s: %s\n", esc(l), esc(best.Costs[i]))
	}
	if len(g.Smallest) > 1 {
		fmt.Fprintf(w, "others of the same size, in order of cost:\n")
		for _, o := range g.Smallest[1:] {
			fmt.Fprintf(w, "  %s\n", esc(o.String()))
		}
	}
}

// planReport is the JSON output of "safepipe plan".
type planReport struct {
	*waves.Plan
	Window   string          `json:"window"`
	Timeline *waves.Timeline `json:"timeline"`
	// Goal is the time-to-global goal's report (absent with --goal-days 0).
	Goal *waves.GoalReport `json:"goal,omitempty"`
}

func loadCatalog(path string) (*waves.Catalog, error) {
	if path == "" {
		path = os.Getenv("SAFEPIPE_CATALOG")
	}
	if path == "" {
		return waves.DefaultCatalog(), nil
	}
	return waves.LoadCatalogFile(path)
}

// inPolicyFile names the policy file in each "policy: …" problem the
// planner found in it.
func inPolicyFile(path string, err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		if msg, ok := strings.CutPrefix(e.Error(), "policy: "); ok {
			e = fmt.Errorf("policy %s: %s", esc(path), msg)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func loadPolicy(arg, shape string) (waves.Policy, error) {
	var p waves.Policy
	switch arg {
	case "amazon", "doubling":
		p = waves.ReferencePolicy(waves.Shape(shape))
		p.Kind = waves.PolicyKind(arg)
	default:
		var err error
		if p, err = waves.LoadPolicyFile(arg); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return p, fmt.Errorf("--policy %q is neither amazon, doubling nor a readable file: %w", arg, err)
			}
			return p, err
		}
		if p.Shape == "" {
			p.Shape = waves.Shape(shape)
		}
	}
	return p, nil
}

// Bounds of --start: offsets in use run from UTC-12:00 to UTC+14:00 (Go
// accepts any two-digit hour, +24:00 included); the year range keeps the
// whole timeline (at most 50 stages, each waiting up to two years for its
// window) inside what JSON timestamps can carry (years up to 9999).
const (
	minOffset, maxOffset = -12 * time.Hour, 14 * time.Hour
	minYear, maxYear     = 1970, 2999
)

func parseStart(s string, loc *time.Location) (time.Time, error) {
	if s == "now" {
		return time.Now().In(loc), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly} {
			if t, err = time.ParseInLocation(layout, s, loc); err == nil {
				break
			}
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("--start %q is not a time (want RFC 3339, YYYY-MM-DDTHH:MM, YYYY-MM-DD or now)", s)
	}
	if _, off := t.Zone(); time.Duration(off)*time.Second < minOffset || time.Duration(off)*time.Second > maxOffset {
		return time.Time{}, fmt.Errorf("--start %q: the offset %s is outside -12:00 to +14:00", s, t.Format("-07:00"))
	}
	if t.Year() < minYear || t.Year() > maxYear {
		return time.Time{}, fmt.Errorf("--start %q: the year %d is outside %d to %d", s, t.Year(), minYear, maxYear)
	}
	return t, nil
}

func printPlan(w io.Writer, p *waves.Plan, tl *waves.Timeline) {
	fmt.Fprintf(w, "catalog %s · policy %s · shape %s · window %s\n", esc(p.CatalogVersion), esc(string(p.Policy)), esc(string(p.Shape)), esc(p.Window.String()))
	if p.ExpediteReason != "" {
		fmt.Fprintf(w, "EXPEDITED: %s\n", esc(p.ExpediteReason))
	}
	fmt.Fprintln(w, "\nWAVES")
	for _, wv := range p.Waves {
		fmt.Fprintf(w, "  %-4s %2d  %s\n", wv.Name, len(wv.Regions), esc(strings.Join(wv.Regions, " ")))
	}
	fmt.Fprintln(w, "\nSTAGES")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tSTAGE\tKIND\tTARGETS\tACTIONS\tBAKE\tSTART\tDEPLOYED\tBAKED")
	const layout = "Mon 01-02 15:04"
	for i, s := range p.Stages {
		st := tl.Steps[i]
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", i+1, esc(s.Name), s.Kind, len(s.Targets), s.Actions,
			fmtDuration(s.Bake), st.Start.Format(layout), st.Deployed.Format(layout), st.Baked.Format(layout))
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d production stages (+%d reserved) of %d; %s%s\n", len(p.Stages), p.ReservedStages, waves.MaxStages, plural(len(p.Regions()), "region"), leftOut(p))
	if len(p.LackingServices) > 0 {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(p.LackingServices)) {
			parts = append(parts, code+" ("+strings.Join(p.LackingServices[code], ", ")+")")
		}
		fmt.Fprintf(w, "left out, lacking a service the pipeline needs there: %s\n", esc(strings.Join(parts, ", ")))
	}
	fmt.Fprintf(w, "time to global: %.1f h, %d business days (start %s, every region deployed %s)\n",
		tl.TimeToGlobalHours, tl.BusinessDays, tl.Start.Format(layout), tl.Global.Format(layout))
	printEntryWaits(w, p, tl)
}

// leftOut says which opt-in regions the policy left out, and how to
// include them.
func leftOut(p *waves.Plan) string {
	n := len(p.NotOptedIn)
	if n == 0 {
		return ""
	}
	which := ""
	if n < 4 {
		which = " (" + esc(strings.Join(p.NotOptedIn, ", ")) + ")"
	}
	return fmt.Sprintf("; %s of the catalog left out%s: the policy does not opt into them (\"optIn\": [\"*\"] or their codes)", plural(n, "opt-in region"), which)
}

// plural is "1 region" or "n regions".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// printEntryWaits says what the pipeline really does while a stage waits
// for its window: its entry gate holds it, for at most the default entry
// wait (longer than any closed stretch of the window), after which it
// would fail the stage without rolling anything back.
func printEntryWaits(w io.Writer, p *waves.Plan, tl *waves.Timeline) {
	wait, err := gates.DefaultEntryWait(p.Window)
	if err != nil {
		return
	}
	longest := 0
	for _, st := range tl.Steps {
		longest = max(longest, st.WaitedMinutes)
	}
	fmt.Fprintf(w, "entry gates hold a stage until the window opens and its blockers clear, for at most %s (the longest closed stretch plus a day), then fail it without rolling back; the longest wait above is %s\n",
		fmtDuration(wait), fmtDuration(time.Duration(longest)*time.Minute))
}

// fmtDuration writes whole hours as "12h", under an hour as "30m", and
// the rest as "88h30m", so that durations side by side read in one unit.
func fmtDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Bounds of the error output: a file of a hundred thousand bad entries,
// or a megabyte-long name, must not flood the terminal or the CI log.
const (
	maxErrorLines     = 100
	maxErrorLineBytes = 1024
)

// fail prints every joined error on its own line, escaped (see esc), at
// most maxErrorLines lines of maxErrorLineBytes, and returns exit code 2.
func fail(stderr io.Writer, err error) int {
	lines := strings.Split(err.Error(), "\n")
	for i, line := range lines {
		if i == maxErrorLines {
			fmt.Fprintf(stderr, "safepipe: … and %d more problems\n", len(lines)-i)
			break
		}
		line = esc(line)
		if len(line) > maxErrorLineBytes {
			line = fmt.Sprintf("%s… (%d bytes more)", line[:maxErrorLineBytes], len(line)-maxErrorLineBytes)
		}
		fmt.Fprintf(stderr, "safepipe: %s\n", line)
	}
	return 2
}

// checkDeployMinutes range-checks --deploy-minutes before the minutes
// become a time.Duration, which could wrap around.
func checkDeployMinutes(n int) error {
	maxDeploy := int(waves.MaxStageDuration / time.Minute)
	switch {
	case n <= 0:
		return fmt.Errorf("--deploy-minutes %d must be positive", n)
	case n > maxDeploy:
		return fmt.Errorf("--deploy-minutes %d is over the limit of %d (60 days)", n, maxDeploy)
	}
	return nil
}
