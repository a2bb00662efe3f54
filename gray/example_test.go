package gray_test

import (
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
