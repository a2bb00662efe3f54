package gray_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/safepipe/safepipe/gray"
)

func Example() {
	rs, err := gray.Load(strings.NewReader(`
stable: v1
rules:
  - {name: staff, target: v2-staff, priority: 1, match: {ids: [alice]}}
  - {name: ten-percent, target: v2, priority: 10, match: {percent: {percent: 10, group: checkout}}}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := gray.Compile(rs)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, key := range []string{"alice", "bob"} {
		variant, rule := e.Evaluate(&gray.Context{Key: key})
		name := "(none)"
		if rule != nil {
			name = rule.Name
		}
		fmt.Printf("%s → %s by %s (checkout bucket %d)\n", key, variant, name, gray.Bucket("checkout", key, 100))
	}
	// Output:
	// alice → v2-staff by staff (checkout bucket 10)
	// bob → v1 by (none) (checkout bucket 40)
}

func ExampleAnalyze() {
	rs, _ := gray.Load(strings.NewReader(`
rules:
  - {name: first, target: a, priority: 1, match: {percent: {percent: 20, group: g}}}
  - {name: second, target: b, priority: 2, match: {percent: {percent: 20, group: g}}}
`))
	a, _ := gray.Analyze(rs)
	for _, f := range a.Findings {
		fmt.Println(f.Severity, f.Kind, f.Rule, f.Message)
	}
	// Output:
	// error shadowed second never matches: every request it accepts is taken first by first
}

// Load is strict: a differently cased field, a YAML tag or a second
// document is an error naming the line, never silently merged or
// re-typed; a plain 2026-01-01 stays the name written.
func ExampleLoad_strict() {
	_, err := gray.Load(strings.NewReader(`rules:
  - {name: a, target: v2, priority: !!int "1", match: {ids: [alice]}}
Rules:
  - {name: b, target: v3, match: {ids: [bob]}}
`))
	fmt.Println(err)
	rs, _ := gray.Load(strings.NewReader("rules: [{name: 2026-01-01, target: v2, match: {ids: [alice]}}]\n"))
	fmt.Println(rs.Rules[0].Name)
	// Output:
	// gray: line 2: rules[0].priority: the YAML tag !!int is not allowed (values are read as the field's type)
	// gray: line 3: unknown field "Rules": field names are case-sensitive; did you mean "rules"?
	// 2026-01-01
}

// The analysis is priced before it runs; a rule set over the budget is
// an error, not minutes of work.
func ExampleAnalyze_tooComplex() {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 40 {
		fmt.Fprintf(&b, "  - {name: r%d, target: t%d, priority: %d, match: {all: [{attribute: {name: city, in: [%s]}}, {attribute: {name: os, in: [%s]}}, {attribute: {name: channel, in: [%s]}}]}}\n",
			i, i, i, values(32), values(32), values(32))
	}
	rs, _ := gray.Load(strings.NewReader(b.String()))
	_, err := gray.Analyze(rs)
	fmt.Println(errors.Is(err, gray.ErrTooComplex))
	// Output:
	// true
}

func values(n int) string {
	var vs []string
	for i := range n {
		vs = append(vs, fmt.Sprintf("v%d", i))
	}
	return strings.Join(vs, ", ")
}
