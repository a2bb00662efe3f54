package sim

import (
	"fmt"
	"io"
	"strings"

	"github.com/safepipe/safepipe/internal/junit"
	"github.com/safepipe/safepipe/internal/termsafe"
)

// PropertyFix is what to change when a property fails, by property.
var PropertyFix = map[string]string{
	PropWaveOrder:         "Bake every stage that promotes to the next wave (a bake action or an OnSuccess rule on the region's aggregate alarm, for the plan's bake), and start no region of a wave before the previous wave's bake ends.",
	PropOneBoxShare:       "Give the one-box step a small target of its own: a Lambda alias canary (deploy.LambdaProps.OneBox), a one-task ECS service beside the main one, a one-instance CodeDeploy group; not a deployment that shifts the whole region before the bake.",
	PropContainment:       "Roll back every step of the wave that took the change when a later one fails (safepipe's gate controller does it for the zonal shape), bake long enough for a latent fault to show, and block entry on the region's aggregate alarm.",
	PropRollbackCompletes: "Keep gates out of rollback executions (safepipe's entry gates close only for standard executions), and let deployments roll back through alarms already in ALARM.",
	PropNoOp:              "Make each stage deploy something the earlier ones did not (the regional step the region, the one-box step its small target), or drop the stage.",
	PropStart:             "Block entry outside the deployment window, on holidays and while a watched alarm is in ALARM, with one entry gate the rollback does not pass through.",
	PropAlarmsExist:       "Create every alarm a gate or deployment watches in that account and region (safepipe: the names of Deployment.Alarms), or declare it external.",
	PropUniqueNames:       "Name resources per environment and cell (safepipe: Deployment.Alarms carries both), so that no two stacks of one account and region create the same name.",
	PropBakeHolds:         "Hold each production stage for its bake after it deploys: a bake action (safepipe's gate controller), not a condition that may pass at once.",
}

// junitCases are a run's test cases: one per property, failing with its
// violations and fix.
func (r *Result) junitCases(class string) []junit.Case {
	var cases []junit.Case
	for _, p := range Properties {
		c := junit.Case{ClassName: class, Name: p}
		var lines []string
		for _, v := range r.Violations {
			if v.Property == p {
				lines = append(lines, strings.TrimSpace(strings.Join(nonEmpty(v.Stage, v.Region), " ")+": "+v.Detail))
			}
		}
		if len(lines) > 0 {
			c.Failure = &junit.Failure{Message: lines[0], Type: "violation", Text: strings.Join(lines, "\n") + "\nfix: " + PropertyFix[p]}
		}
		cases = append(cases, c)
	}
	return cases
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// WriteJUnit writes the run as JUnit XML: a test suite for the scenario
// and a test case per safety property, failing with the violations and the
// fix (for CodeBuild report groups and CI).
func (r *Result) WriteJUnit(w io.Writer) error {
	return junit.Write(w, junit.Suites{Name: "safepipe simulate", Suites: []junit.Suite{{
		Name:  "safepipe simulate " + r.Pipeline + ": " + r.Outcome,
		Cases: r.junitCases(r.Pipeline),
	}}})
}

// WriteJUnit writes every reading's run as a test suite, a test case per
// safety property.
func (r *ReadingsResult) WriteJUnit(w io.Writer) error {
	doc := junit.Suites{Name: "safepipe simulate --all-readings"}
	for _, run := range r.Readings {
		res := &Result{Pipeline: r.Worst.Pipeline, Violations: run.Violations}
		name := readingName(run.Reading)
		doc.Suites = append(doc.Suites, junit.Suite{Name: "safepipe simulate " + r.Worst.Pipeline + " [" + name + "]: " + run.Outcome, Cases: res.junitCases(r.Worst.Pipeline + "." + name)})
	}
	return junit.Write(w, doc)
}

func readingName(rd map[string]Reading) string {
	var parts []string
	for _, q := range Questions {
		if v, ok := rd[q.Name]; ok {
			parts = append(parts, q.Name+"="+string(v))
		}
	}
	return strings.Join(parts, ",")
}

// WriteMarkdown writes a summary fit for a pull-request comment: the
// outcome, the regions reached, the blast radius, the time to global and
// the violations with their fix, every input text escaped for Markdown.
func (r *Result) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	r.markdown(&b, "###")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) markdown(b *strings.Builder, h string) {
	icon := map[string]string{"reached": "✅", "stopped": "🛑"}[r.Outcome]
	if icon == "" {
		icon = "❌"
	}
	fmt.Fprintf(b, "%s safepipe simulate: %s %s (exit %d)\n\n", h, icon, strings.ToUpper(r.Outcome), r.ExitCode)
	fmt.Fprintf(b, "%s\n\n", termsafe.Markdown(r.Summary))
	fmt.Fprintf(b, "- pipeline: %s\n", termsafe.Markdown(r.Pipeline))
	fmt.Fprintf(b, "- reached: %d region(s)%s\n", len(r.Reached), regionList(r.Reached))
	fmt.Fprintf(b, "- blast radius: %d region(s)%s\n", len(r.BlastRadius), regionList(r.BlastRadius))
	if len(r.RolledBack) > 0 {
		fmt.Fprintf(b, "- rolled back: %d region(s)%s\n", len(r.RolledBack), regionList(r.RolledBack))
	}
	if r.TimeToGlobalHours != nil {
		fmt.Fprintf(b, "- time to global: %.1f h", *r.TimeToGlobalHours)
		if r.BusinessDays != nil {
			fmt.Fprintf(b, ", %d business days", *r.BusinessDays)
		}
		b.WriteString("\n")
	}
	if len(r.Violations) == 0 {
		b.WriteString("\nEvery safety property held.\n")
		return
	}
	b.WriteString("\n| Property | Stage | Region | What happened | Fix |\n|---|---|---|---|---|\n")
	for i, v := range r.Violations {
		if i == 50 {
			fmt.Fprintf(b, "\n… and %d more (safepipe simulate lists them all).\n", len(r.Violations)-50)
			break
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", termsafe.Markdown(v.Property), termsafe.Markdown(v.Stage), termsafe.Markdown(v.Region), termsafe.Markdown(v.Detail), termsafe.Markdown(PropertyFix[v.Property]))
	}
}

func regionList(rs []string) string {
	if len(rs) == 0 {
		return ""
	}
	const max = 12
	list := rs
	more := ""
	if len(list) > max {
		list, more = list[:max], fmt.Sprintf(" and %d more", len(rs)-max)
	}
	parts := make([]string, len(list))
	for i, r := range list {
		parts[i] = termsafe.Markdown(r)
	}
	return " (" + strings.Join(parts, ", ") + more + ")"
}

// WriteMarkdown writes the worst outcome, a line per reading, and the
// worst run's summary.
func (r *ReadingsResult) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### safepipe simulate: %s (exit %d) under the worst of %d readings\n\n| Reading | Outcome | Violations |\n|---|---|---|\n", strings.ToUpper(r.Outcome), r.ExitCode, len(r.Readings))
	for _, run := range r.Readings {
		props := map[string]bool{}
		var names []string
		for _, v := range run.Violations {
			if !props[v.Property] {
				props[v.Property] = true
				names = append(names, termsafe.Markdown(v.Property))
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", termsafe.Markdown(readingName(run.Reading)), run.Outcome, strings.Join(names, ", "))
	}
	b.WriteString("\n")
	r.Worst.markdown(&b, "####")
	_, err := io.WriteString(w, b.String())
	return err
}
