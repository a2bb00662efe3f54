package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/safepipe/safepipe/model"
	"github.com/safepipe/safepipe/sim"
	"github.com/safepipe/safepipe/waves"
)

// faultFlags collects repeated --fault values.
type faultFlags []string

func (f *faultFlags) String() string     { return strings.Join(*f, ",") }
func (f *faultFlags) Set(v string) error { *f = append(*f, v); return nil }

const simulateUsage = `usage: safepipe simulate [flags] PATH

Runs the synthesized pipeline at PATH (a cdk.out directory or one template)
against the documented semantics of CodePipeline, CloudFormation, CodeDeploy
and CloudWatch, taking one change through every stage, with the faults you
inject, and checks the safety properties.

Faults (--fault, repeatable):
  REGION:STAGE+DURATION        that region's aggregate alarm fires DURATION after STAGE starts
  ALARM@REGION:STAGE+DURATION  the named alarm fires DURATION after STAGE starts
  org:STAGE+DURATION           the organisation alarm fires DURATION after STAGE starts
  REGION@+DURATION             that region's aggregate alarm fires DURATION after the run starts
  org@+DURATION                the organisation alarm fires DURATION after the run starts
  …~HOLD                       the alarm stays in ALARM for HOLD (an unrelated incident)
  fail:STAGE/ACTION            that opaque action fails when the change runs it
  bad:STAGE                    the change is bad from STAGE on: wherever it serves, the alarm
                               that stage watches there fires (none watched: how far it goes)
  bad:STAGE+LATENCY            the same, latent: the alarm fires once the change has served
                               there for LATENCY (what a bake must outlast)
The simulator never runs what it reads: an action it does not model (a
CodeBuild or Commands build, a Lambda invoke, a test) is opaque and succeeds
unless fail:STAGE/ACTION says otherwise.
Readings (--reading NAME=VALUE, repeatable; --all-readings runs them all):
  rollback-conditions=evaluated|skipped     whether a rollback execution passes the stage's conditions (Q5)
  onsuccess-alarm=continuous|at-end|immediate how an OnSuccess alarm rule with a WaitTime checks (Q2)
  alarm-at-start=stops|ignored               whether CodeDeploy stops on an alarm already in ALARM (Q9)
  rule-timeout=none|5                        how long a condition's rule may wait (no documented default)
The first of each is the default; docs/aws-semantics.md has each question.
--structure-changed: the pipeline's definition changed since the execution
that deployed what runs now (a new region, a new bake, self-mutation), so no
stage can roll back until the change has passed it; production entries stay
closed. --override STAGE (repeatable): an operator overrides that stage's
entry for the change (OverrideStageCondition); the bake still holds it.
--unprepared REGION (repeatable): a region where the version live before
the change did not take a two-phase change's prepare everywhere; an
activating release must not start anywhere.
DURATION and HOLD: 20m, 1h30m, 2d, 1d12h. Without ~HOLD a region's alarm stays
in ALARM while the change is in that region; the organisation alarm to the end.

Exit codes: 0 the change reached every production region and no property
failed; 3 the change was stopped (and rolled back) as designed; 1 a safety
property failed; 2 bad input.

Flags:
`

func runSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	start := fs.String("start", referenceStart, "when the change's execution starts (RFC 3339, or YYYY-MM-DDTHH:MM in the window's zone)")
	deployMinutes := fs.Int("deploy-minutes", int(waves.DefaultDeployDuration/time.Minute), "how long a CloudFormation stack update takes, apart from traffic shifting, in minutes")
	var faults faultFlags
	fs.Var(&faults, "fault", "inject a fault `SPEC` (repeatable; see above)")
	var unprepared faultFlags
	fs.Var(&unprepared, "unprepared", "a `REGION` where the version live before the change did not take a two-phase change's prepare everywhere (repeatable)")
	var overrides faultFlags
	fs.Var(&overrides, "override", "an operator overrides the entry condition of `STAGE` for the change's execution (repeatable)")
	structureChanged := fs.Bool("structure-changed", false, "the pipeline's definition changed since the execution that deployed what runs now: no stage has a rollback target")
	var readingFlags faultFlags
	fs.Var(&readingFlags, "reading", "run under reading `NAME=VALUE` of a behaviour the AWS documentation leaves open (repeatable; see above)")
	allReadings := fs.Bool("all-readings", false, "run under every reading (the cross product, or each question alone when that is too many) and exit with the worst outcome")
	format := fs.String("format", "text", "output format: text, json, html, junit (JUnit XML: a test case per safety property, for CodeBuild report groups and CI) or markdown (a pull-request comment)")
	out := fs.String("out", "", "write the output to `FILE` (required for html)")
	production := fs.String("production", "", "a `REGEXP` that names the production stages, for a pipeline whose stage names do not say it (default: the word prod, production or prd in any case and word form, or in another language; a production tag; a deployment window)")
	// Flags may come before or after PATH.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, simulateUsage)
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				fs.SetOutput(io.Discard)
				return 0
			}
			fmt.Fprintf(stderr, "safepipe simulate: %s (see safepipe simulate -h)\n", esc(err.Error()))
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	var errs []error
	if len(paths) != 1 {
		errs = append(errs, fmt.Errorf("simulate takes one PATH (a cdk.out directory or a template), got %d arguments", len(paths)))
	}
	switch *format {
	case "text", "json", "junit", "markdown":
	case "html":
		if *out == "" {
			errs = append(errs, errors.New("--format html needs --out FILE"))
		}
	default:
		errs = append(errs, fmt.Errorf("--format %q is unknown (want text, json, html, junit or markdown)", *format))
	}
	errs = append(errs, checkDeployMinutes(*deployMinutes))
	parsed, err := sim.ParseFaults(faults)
	errs = append(errs, err)
	opts := sim.Options{DeployMinutes: *deployMinutes, Faults: parsed, Unprepared: unprepared, Overrides: overrides, StructureChanged: *structureChanged}
	pinned := map[string]bool{}
	for _, rf := range readingFlags {
		name, value, ok := strings.Cut(rf, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("--reading %q: want NAME=VALUE", rf))
			continue
		}
		if pinned[name] {
			errs = append(errs, fmt.Errorf("--reading %s is given twice", name))
		}
		pinned[name] = true
		errs = append(errs, opts.SetReading(name, value))
	}
	var rules *model.RoleRules
	if *production != "" {
		re, err := regexp.Compile(*production)
		if err != nil || len(*production) > 1000 {
			errs = append(errs, fmt.Errorf("--production %q is not a regular expression of at most 1000 characters: %v", *production, err))
		} else {
			rr := model.DefaultRoleRules()
			rr.Production = re
			rules = &rr
		}
	}
	if *allReadings && *format == "html" {
		errs = append(errs, errors.New("--all-readings writes text, json, junit or markdown, not html (run one reading with --reading for a page)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	m, err := loadModel(paths[0])
	if err != nil {
		return fail(stderr, err)
	}
	if rules != nil {
		m.SetRoles(*rules)
	}
	t0, err := parseStart(*start, m.Location())
	if err != nil {
		return fail(stderr, err)
	}
	opts.Start = t0
	w := stdout
	if *allReadings {
		all, err := sim.RunReadings(m, opts, pinned)
		if err != nil {
			return fail(stderr, err)
		}
		if w, err = output(*out, stdout); err != nil {
			return fail(stderr, err)
		}
		defer closeOutput(w, stdout)
		switch *format {
		case "json":
			err = all.WriteJSON(w)
		case "junit":
			err = all.WriteJUnit(w)
		case "markdown":
			err = all.WriteMarkdown(w)
		default:
			err = all.WriteText(w)
		}
		if err != nil {
			return fail(stderr, err)
		}
		return all.ExitCode
	}
	res, err := sim.Run(m, opts)
	if err != nil {
		return fail(stderr, err)
	}
	if w, err = output(*out, stdout); err != nil {
		return fail(stderr, err)
	}
	defer closeOutput(w, stdout)
	switch *format {
	case "json":
		err = res.WriteJSON(w)
	case "junit":
		err = res.WriteJUnit(w)
	case "markdown":
		err = res.WriteMarkdown(w)
	case "html":
		err = res.WriteHTML(w)
		if err == nil {
			fmt.Fprintf(stdout, "%s (exit %d): %s\nwrote %s\n", strings.ToUpper(res.Outcome), res.ExitCode, esc(res.Summary), esc(*out))
		}
	default:
		err = res.WriteText(w)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return res.ExitCode
}

func loadModel(path string) (*sim.Model, error) {
	a, err := sim.Load(path, sim.Limits{})
	if err != nil {
		return nil, err
	}
	return sim.NewModel(a)
}

// output is where the report goes: the file path names (created), else
// stdout.
func output(path string, stdout io.Writer) (io.Writer, error) {
	if path == "" {
		return stdout, nil
	}
	return os.Create(path)
}

// closeOutput closes an output file output opened.
func closeOutput(w, stdout io.Writer) {
	if f, ok := w.(*os.File); ok && w != stdout {
		f.Close()
	}
}
