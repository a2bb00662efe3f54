package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/safepipe/safepipe/internal/junit"
	"github.com/safepipe/safepipe/internal/termsafe"
)

// The review formats: SARIF for code scanning, JUnit XML for test report
// readers (CodeBuild report groups, CI), Markdown for a pull-request
// comment. Each writes the findings at or above the threshold, as the
// text report does, and escapes the input's text for its reader.

// SARIFSchema is the JSON schema the SARIF output declares (SARIF 2.1.0,
// OASIS; TestSARIFValidates checks the output against the published file).
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// sarifLevel maps a severity to a SARIF result level ("error", "warning",
// "note").
func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	ShortDescription     sarifText `json:"shortDescription"`
	FullDescription      sarifText `json:"fullDescription"`
	Help                 sarifText `json:"help"`
	DefaultConfiguration struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
}

type sarifLocation struct {
	PhysicalLocation *struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
	} `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifResult struct {
	RuleID       string            `json:"ruleId"`
	RuleIndex    int               `json:"ruleIndex"`
	Level        string            `json:"level"`
	Message      sarifText         `json:"message"`
	Locations    []sarifLocation   `json:"locations"`
	Suppressions []sarifSuppressed `json:"suppressions,omitempty"`
	Properties   map[string]string `json:"properties,omitempty"`
}

type sarifSuppressed struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification"`
}

// WriteSARIF writes the report as SARIF 2.1.0: one run of the tool
// "safepipe verify" with every rule (id, name, short and full description,
// the fix as help, the default level), and a result per finding at or
// above threshold with its rule, level, message and location — the
// template (base joined with the finding's template path, slash-separated;
// base is the assembly directory verify read, "" for a lone template) and,
// as logical locations, the pipeline, stage and resource. A suppressed
// finding carries a SARIF suppression with its reason.
func WriteSARIF(w io.Writer, r *Report, threshold Severity, base string) error {
	rules := make([]sarifRule, len(Rules))
	index := map[string]int{}
	for i, ri := range Rules {
		sr := sarifRule{ID: ri.ID, Name: ri.Name, FullDescription: sarifText{ri.Rationale}, Help: sarifText{ri.Fix}}
		sr.ShortDescription = sarifText{firstSentence(ri.Rationale)}
		sr.DefaultConfiguration.Level = sarifLevel(ri.Severity)
		rules[i], index[ri.ID] = sr, i
	}
	results := []sarifResult{}
	for _, f := range r.Findings {
		if f.Severity < threshold {
			continue
		}
		res := sarifResult{RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity), Message: sarifText{f.Message}}
		loc := sarifLocation{}
		tpl := f.Template
		if tpl == "" && f.Pipeline != "" {
			tpl = r.pipelineTemplates[f.Pipeline]
		}
		if tpl != "" {
			uri := tpl
			if base != "" {
				uri = filepath.Join(base, tpl)
			}
			loc.PhysicalLocation = &struct {
				ArtifactLocation struct {
					URI string `json:"uri"`
				} `json:"artifactLocation"`
			}{}
			loc.PhysicalLocation.ArtifactLocation.URI = path.Clean(filepath.ToSlash(uri))
		}
		var fq []string
		for _, part := range []struct{ name, kind string }{{f.Pipeline, "module"}, {f.Stage, "namespace"}, {f.Resource, "resource"}} {
			if part.name == "" {
				continue
			}
			fq = append(fq, part.name)
			loc.LogicalLocations = append(loc.LogicalLocations, sarifLogical{Name: part.name, FullyQualifiedName: strings.Join(fq, "/"), Kind: part.kind})
		}
		res.Locations = []sarifLocation{loc}
		if f.Suppressed {
			res.Suppressions = []sarifSuppressed{{Kind: "external", Justification: f.Reason}}
		}
		if f.Region != "" {
			res.Properties = map[string]string{"region": f.Region}
		}
		results = append(results, res)
	}
	doc := map[string]any{
		"$schema": SARIFSchema,
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name":           "safepipe verify",
				"informationUri": "https://github.com/safepipe/safepipe",
				"rules":          rules,
			}},
			"columnKind": "unicodeCodePoints",
			"results":    results,
		}},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(termsafe.JSON(b.Bytes()))
	return err
}

// firstSentence is the text up to its first ". " (the whole text when it
// has none).
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// WriteJUnit writes the report as JUnit XML: a test suite per pipeline
// (and one for templates verified outside a pipeline), and in it, per
// stage, a failing test case for each rule with findings there at or above
// threshold (the messages and the fix as its text), a skipped one for each
// rule whose findings are all suppressed (the reasons), and one passing
// case for the stage's other rules.
func WriteJUnit(w io.Writer, r *Report, threshold Severity) error {
	type key struct{ pipeline, stage, rule string }
	var order []key
	found := map[key][]Finding{}
	var pipelines []string
	stages := map[string][]string{}
	add := func(p, s string) {
		if !slices.Contains(pipelines, p) {
			pipelines = append(pipelines, p)
		}
		if !slices.Contains(stages[p], s) {
			stages[p] = append(stages[p], s)
		}
	}
	for _, st := range r.Stages {
		add(st.Pipeline, st.Stage)
	}
	for _, f := range r.Findings {
		if f.Severity < threshold {
			continue
		}
		stage := f.Stage
		if stage == "" {
			stage = "(pipeline)"
		}
		p := f.Pipeline
		if p == "" {
			p = "(templates)"
		}
		add(p, stage)
		k := key{p, stage, f.Rule}
		if _, ok := found[k]; !ok {
			order = append(order, k)
		}
		found[k] = append(found[k], f)
	}
	doc := junit.Suites{Name: "safepipe verify"}
	for _, p := range pipelines {
		suite := junit.Suite{Name: "safepipe verify " + p}
		for _, s := range stages[p] {
			class := p + "." + s
			checked := 0
			for _, k := range order {
				if k.pipeline != p || k.stage != s {
					continue
				}
				checked++
				fs := found[k]
				c := junit.Case{ClassName: class, Name: fs[0].Rule + " " + fs[0].Name}
				var active, reasons []string
				for _, f := range fs {
					where := ""
					if f.Region != "" {
						where = " [" + f.Region + "]"
					}
					if f.Resource != "" {
						where += " " + f.Resource
					}
					if f.Suppressed {
						reasons = append(reasons, strings.TrimSpace(where+" "+f.Reason))
					} else {
						active = append(active, strings.TrimSpace(where+" "+f.Message))
					}
				}
				if len(active) > 0 {
					c.Failure = &junit.Failure{Message: active[0], Type: fs[0].Severity.String(),
						Text: strings.Join(active, "\n") + "\nfix: " + fs[0].Fix}
				} else {
					c.Skipped = &junit.Skipped{Message: "suppressed: " + strings.Join(reasons, "; ")}
				}
				suite.Cases = append(suite.Cases, c)
			}
			suite.Cases = append(suite.Cases, junit.Case{ClassName: class, Name: fmt.Sprintf("the other %d rules", len(Rules)-checked)})
		}
		doc.Suites = append(doc.Suites, suite)
	}
	return junit.Write(w, doc)
}

// WriteMarkdown writes a summary fit for a pull-request comment: the
// verdict, the counts, and a table of the findings at or above threshold
// (rule, where, what, fix), every input text escaped for Markdown.
func WriteMarkdown(w io.Writer, r *Report, threshold Severity) error {
	var b strings.Builder
	counts := map[Severity]int{}
	var rows []Finding
	suppressed := 0
	for _, f := range r.Findings {
		if f.Severity < threshold {
			continue
		}
		if f.Suppressed {
			suppressed++
			continue
		}
		counts[f.Severity]++
		rows = append(rows, f)
	}
	verdict := "✅ passed"
	if r.Failed(threshold) {
		verdict = "❌ failed"
	}
	fmt.Fprintf(&b, "### safepipe verify: %s\n\n%d pipeline(s), %d template(s): **%d error(s)**, %d warning(s), %d info, %d suppressed (threshold %s).\n",
		verdict, r.Pipelines, r.Templates, counts[Error], counts[Warning], counts[Info], suppressed, threshold)
	if len(rows) > 0 {
		b.WriteString("\n| | Rule | Where | Finding | Fix |\n|---|---|---|---|---|\n")
		const max = 50
		for i, f := range rows {
			if i == max {
				fmt.Fprintf(&b, "\n… and %d more (safepipe verify lists them all).\n", len(rows)-max)
				break
			}
			where := []string{}
			for _, part := range []string{f.Pipeline, f.Stage, f.Region, f.Resource} {
				if part != "" {
					where = append(where, termsafe.Markdown(part))
				}
			}
			icon := map[Severity]string{Error: "❌", Warning: "⚠️", Info: "ℹ️"}[f.Severity]
			fmt.Fprintf(&b, "| %s | %s %s | %s | %s | %s |\n", icon, f.Rule, termsafe.Markdown(f.Name), strings.Join(where, " · "), termsafe.Markdown(f.Message), termsafe.Markdown(f.Fix))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
