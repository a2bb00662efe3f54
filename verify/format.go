package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteText prints the findings at or above threshold grouped by pipeline
// and stage, each with its fix, then a summary line. Names and messages
// from the input are escaped (see Escape): a template cannot write control
// sequences to the terminal.
func WriteText(w io.Writer, r *Report, threshold Severity) error {
	var b strings.Builder
	group := "\x00"
	counts := map[Severity]int{}
	suppressed, hidden := 0, map[string]int{}
	for _, f := range r.Findings {
		if f.Severity < threshold {
			if !f.Suppressed {
				hidden[f.Rule]++
			}
			continue
		}
		if f.Suppressed {
			suppressed++
		} else {
			counts[f.Severity]++
		}
		g := f.Stage
		switch {
		case g == "" && f.Template != "" && f.Pipeline == "":
			g = f.Template
		case g == "":
			g = "(pipeline)"
		}
		if f.Pipeline != "" {
			g = f.Pipeline + " / " + g
		}
		if g != group {
			fmt.Fprintf(&b, "%s\n", Escape(g))
			group = g
		}
		where := ""
		if f.Region != "" {
			where += " [" + Escape(f.Region) + "]"
		}
		if f.Resource != "" {
			where += " " + Escape(f.Resource)
		}
		status := strings.ToUpper(f.Severity.String())
		if f.Suppressed {
			status = "suppressed"
		}
		fmt.Fprintf(&b, "  %-10s %s %s%s: %s\n", status, f.Rule, f.Name, where, Escape(f.Message))
		if f.Suppressed {
			fmt.Fprintf(&b, "             reason: %s\n", Escape(f.Reason))
		} else {
			fmt.Fprintf(&b, "             fix: %s\n", f.Fix)
		}
	}
	fmt.Fprintf(&b, "safepipe verify: %d pipeline(s), %d template(s): %d error(s), %d warning(s), %d info, %d suppressed (threshold %s)\n",
		r.Pipelines, r.Templates, counts[Error], counts[Warning], counts[Info], suppressed, threshold)
	if len(hidden) > 0 {
		// Below the threshold is not shown, but not unsaid: SP035 (the
		// production stacks verify could not read) is info.
		var rules []string
		n := 0
		for rule, k := range hidden {
			rules = append(rules, rule)
			n += k
		}
		slices.Sort(rules)
		fmt.Fprintf(&b, "safepipe verify: %d finding(s) below the threshold not shown (%s; --severity %s shows them)\n", n, strings.Join(rules, ", "), Info)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as indented JSON, with the rules it used.
func WriteJSON(w io.Writer, r *Report, threshold Severity) error {
	out := struct {
		Threshold Severity   `json:"threshold"`
		Failed    bool       `json:"failed"`
		Report    *Report    `json:"report"`
		Rules     []RuleInfo `json:"rules"`
	}{threshold, r.Failed(threshold), r, Rules}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
