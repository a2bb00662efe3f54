package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeFile writes a test input and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// assertTerminalSafe fails if out holds a rune that can take over a
// terminal: a C0 or C1 control other than newline, a format character
// such as a bidi override, or a line separator.
func assertTerminalSafe(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if r == '\n' {
			continue
		}
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Fatalf("raw %U at byte %d of output:\n%s", r, i, out)
		}
	}
}

const evil = "\x1b[2J\x1b[31mred\x1b[0m \u202eevil\u202c \u009b31m del\x7f tab\tnl\nend"

// evilCatalog is a valid catalog whose free-text fields carry escapes.
func evilCatalog(t *testing.T) string {
	return writeFile(t, "catalog.json", `{"version": "1\u001b]0;pwned\u0007", "regions": [
		{"code": "eu-north-1", "partition": "aws", "name": `+jsonString(evil)+`, "azs": ["eun1-az1"], "tier": "low", "tz": "Europe/Stockholm"},
		{"code": "us-east-1", "partition": "aws", "name": "US East", "azs": ["use1-az1"], "tier": "high", "tz": "America/New_York"}]}`)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // C0 controls escaped; DEL, C1 and U+202E raw in the file
	return string(b)
}

func TestOutputCannotTakeOverTheTerminal(t *testing.T) {
	cat := evilCatalog(t)
	policy := writeFile(t, "policy.json", `{"kind": "explicit", "waves": [["eu-north-1"], ["us-east-1"]], "bakes": {"oneBoxMinutes": 5},
		"expediteReason": `+jsonString("fix "+evil)+`}`)
	rules := writeFile(t, "rules.yaml", "stable: \"v1\\e[2J\"\nrules:\n  - {name: a, target: \"v2\\e[31m\\u202e\\x85\", match: {ids: [\"u\\e[2J\"]}}\n  - {name: b, target: \"v2\\e[31m\\u202e\\x85\", match: {ids: [\"u\\e[2J\"]}}\n")
	for _, args := range [][]string{
		{"regions", "--catalog", cat},
		{"regions", "--catalog", cat, "--format", "json"},
		{"plan", "--catalog", cat, "--policy", policy},
		{"plan", "--catalog", cat, "--policy", policy, "--format", "json"},
		{"gray", "check", rules},
		{"gray", "check", "--format", "json", rules},
	} {
		t.Run(strings.Join(args[:2], " ")+" "+args[len(args)-1], func(t *testing.T) {
			code, out, errOut := runCLI(args...)
			assert.Contains(t, []int{0, 1}, code, errOut)
			assertTerminalSafe(t, out)
			assertTerminalSafe(t, errOut)
			if slices.Contains(args, "json") {
				assert.Contains(t, out, `\u001b[`, "the escape is shown, not applied")
			} else {
				assert.Contains(t, out, `\x1b[`, "the escape is shown, not applied")
			}
		})
	}
	// Errors quote user text too.
	bad := writeFile(t, "bad.json", `{"version": "1", "regions": [{"code": "eu-north-1", "partition": `+jsonString(evil)+`, "name": "n", "azs": ["eun1-az1"], "tier": "low", "tz": "UTC"}]}`)
	code, _, errOut := runCLI("regions", "--catalog", bad)
	assert.Equal(t, 2, code)
	assertTerminalSafe(t, errOut)
}

// hostileRegion is a valid catalog region with n AZs.
func hostileRegion(n int) string {
	var b strings.Builder
	b.WriteString(`{"version": "x", "regions": [{"code": "us-east-1", "partition": "aws", "name": "n", "tier": "low", "tz": "UTC", "azs": [`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"use1-az%d"`, i+1)
	}
	b.WriteString("]}]}")
	return b.String()
}

// grayRules40 is the analysis bomb of issue 15: 40 rules, each requiring
// 3 attributes of 32 values; every rule's own check stayed under the old
// per-question bound, so the whole ran for minutes.
func grayRules40() string {
	var b strings.Builder
	b.WriteString("rules:\n")
	var vals []string
	for j := range 32 {
		vals = append(vals, fmt.Sprintf("v%d", j))
	}
	in := strings.Join(vals, ",")
	for i := range 40 {
		fmt.Fprintf(&b, "- {name: r%d, target: t%d, priority: %d, match: {all: [{attribute: {name: a0, in: [%s]}}, {attribute: {name: a1, in: [%s]}}, {attribute: {name: a2, in: [%s]}}]}}\n", i, i, i, in, in, in)
	}
	return b.String()
}

// TestHostileInputsAreRejected: every hostile input of issue 15 in the
// CLI's scope (plan, regions, gray check) exits 2, one line per problem,
// naming the problem; nothing panics, hangs or is accepted silently.
func TestHostileInputsAreRejected(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	region := `{"code": "us-east-1", "partition": "aws", "name": "n", "azs": ["use1-az1"], "tier": "low", "tz": "UTC"}`
	rule := `{"name": "a", "target": "b", "match": {"ids": ["x"]}}`
	yamlRules := "rules:\n  - {name: a, target: v2, priority: 5, match: {ids: [x]}}\n"
	tests := []struct {
		name  string
		args  []string
		files map[string]string // written to a temp dir; "@name" in args is its path
		want  []string          // one per line of stderr, in order
	}{
		{"catalog /dev/zero", []string{"plan", "--catalog", "/dev/zero"}, nil, []string{"catalog /dev/zero: larger than the limit of 1 MiB"}},
		{"policy /dev/zero", []string{"plan", "--policy", "/dev/zero"}, nil, []string{"policy /dev/zero: larger than the limit of 1 MiB"}},
		{"regions /dev/zero", []string{"regions", "--catalog", "/dev/zero"}, nil, []string{"catalog /dev/zero: larger than the limit of 1 MiB"}},
		{"gray /dev/zero", []string{"gray", "check", "/dev/zero"}, nil, []string{"gray: larger than the limit of 1 MiB"}},
		{"700,000 AZs", []string{"plan", "--catalog", "@c.json"}, map[string]string{"c.json": hostileRegion(700_000)}, []string{"larger than the limit of 1 MiB"}},
		{"51 AZs", []string{"plan", "--catalog", "@c.json"}, map[string]string{"c.json": hostileRegion(51)}, []string{`region "us-east-1" has 51 AZs, over the limit of 50`}},
		{"catalog trailing }]}", []string{"regions", "--catalog", "@c.json"}, map[string]string{"c.json": `{"version": "1", "regions": [` + region + "]}\n}]}"},
			[]string{`line 2: unexpected "}]}" after the document`}},
		{"catalog Regions", []string{"regions", "--catalog", "@c.json"}, map[string]string{"c.json": `{"version": "1", "regions": [` + region + `], "Regions": []}`},
			[]string{`unknown field "Regions": field names are case-sensitive; did you mean "regions"?`}},
		{"bake wraps to 12h", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": `{"bakes": {"firstWaveMinutes": 307446455}}`},
			[]string{"bakes.firstWaveMinutes is 307446455, over the limit of 86400 minutes"}},
		{"reserved max int", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": `{"reservedStages": 9223372036854775807}`},
			[]string{"reservedStages is 9223372036854775807, over the limit of 49"}},
		{"policy trailing }", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": `{"kind": "amazon"}}`}, []string{`line 1: unexpected "}" after the document`}},
		{"policy KIND", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": `{"KIND": "doubling"}`}, []string{`unknown field "KIND": field names are case-sensitive; did you mean "kind"?`}},
		{"policy duplicate", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": "{\"kind\": \"amazon\",\n\"kind\": \"doubling\"}"}, []string{`line 2: duplicate key "kind" (first at line 1)`}},
		{"deploy minutes wrap", []string{"plan", "--deploy-minutes", "307446455"}, nil, []string{"--deploy-minutes 307446455 is over the limit of 86400 (60 days)"}},
		{"deploy minutes zero", []string{"plan", "--deploy-minutes", "0"}, nil, []string{"--deploy-minutes 0 must be positive"}},
		{"start +24:00", []string{"plan", "--start", "2026-01-05T09:00:00+24:00"}, nil, []string{`--start "2026-01-05T09:00:00+24:00": the offset +24:00 is outside -12:00 to +14:00`}},
		{"start year 9999", []string{"plan", "--start", "9999-12-31T09:00:00Z"}, nil, []string{`--start "9999-12-31T09:00:00Z": the year 9999 is outside 1970 to 2999`}},
		{"gray trailing }]}", []string{"gray", "check", "@r.json"}, map[string]string{"r.json": `{"rules": [` + rule + `]}}]}`}, []string{`line 1: unexpected "}]}" after the document`}},
		{"gray second document", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": yamlRules + "---\ngarbage: [\n"}, []string{"a second YAML document that does not parse"}},
		{"gray Rules", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": yamlRules + "Rules:\n  - {name: c, target: v4, priority: 1, match: {ids: [x]}}\n"},
			[]string{`line 3: unknown field "Rules": field names are case-sensitive; did you mean "rules"?`}},
		{"gray duplicate", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": yamlRules + "rules: []\n"}, []string{`line 3: duplicate key "rules" (first at line 1)`}},
		{"gray KIND", []string{"gray", "check", "@r.json"}, map[string]string{"r.json": `{"rules": [{"NAME": "a", "target": "b", "match": {"ids": ["x"]}}]}`},
			[]string{`unknown field "NAME": field names are case-sensitive; did you mean "name"?`}},
		{"gray !!binary", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": "rules:\n  - {name: !!binary aGVsbG8=, target: b, match: {ids: [x]}}\n"}, []string{"line 2: rules[0].name: the YAML tag !!binary is not allowed"}},
		{"gray alias bomb", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": "a: &a " + strings.Repeat("x", 4<<20) + "\nb: [" + strings.TrimSuffix(strings.Repeat("*a,", 100), ",") + "]\nrules: []\n"},
			[]string{"gray: larger than the limit of 1 MiB"}},
		{"gray 40 rules", []string{"gray", "check", "@r.yaml"}, map[string]string{"r.yaml": grayRules40()}, []string{"gray: too complex: "}},
		{"every problem of regions", []string{"regions", "--format", "xml", "--catalog", "/dev/zero", "extra"}, nil,
			[]string{`regions takes no arguments, got ["extra"]`, `--format "xml" is unknown`, "catalog /dev/zero: larger than the limit of 1 MiB"}},
		{"two problems, two lines", []string{"plan", "--policy", "@p.json"}, map[string]string{"p.json": `{"bakes": {"oneBoxMinutes": -1, "zonalMinutes": 86401}}`},
			[]string{"bakes.oneBoxMinutes is -1; a bake cannot be negative", "bakes.zonalMinutes is 86401, over the limit of 86400 minutes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			args := slices.Clone(tt.args)
			for i, a := range args {
				if strings.HasPrefix(a, "@") {
					args[i] = filepath.Join(dir, a[1:])
				}
			}
			code, out, errOut := runCLI(args...)
			assert.Equal(t, 2, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			require.Len(t, lines, len(tt.want), "one line per problem:\n%s", errOut)
			for i, w := range tt.want {
				assert.True(t, strings.HasPrefix(lines[i], "safepipe: "), lines[i])
				assert.Contains(t, lines[i], w)
			}
			assert.NotContains(t, errOut, "goroutine")
		})
	}
}

// TestYAMLScalarsStayStrings: a rule named 2026-01-01 is that name, not a
// timestamp (the old code printed "2026-01-01T00:00:00Z").
func TestYAMLScalarsStayStrings(t *testing.T) {
	p := writeFile(t, "r.yaml", "rules:\n  - {name: 2026-01-01, target: 007, match: {ids: [x]}}\n")
	code, out, errOut := runCLI("gray", "check", p)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "2026-01-01  007")
	assert.NotContains(t, out, "T00:00:00Z")
}

// TestHelpExitsZero: -h and --help print usage to stdout and exit 0, on
// the command and on each subcommand in scope.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"plan", "-h"}, {"plan", "--help"},
		{"regions", "-h"}, {"regions", "--help"},
		{"gray", "-h"}, {"gray", "--help"}, {"gray", "check", "-h"}, {"gray", "check", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(args...)
			assert.Equal(t, 0, code)
			assert.Contains(t, strings.ToLower(out), "usage")
			assert.Empty(t, errOut)
		})
	}
}

// TestUsageErrorsAreOneLine: a bad flag or command is one line on stderr,
// exit 2, pointing at -h.
func TestUsageErrorsAreOneLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy"}, `safepipe: unknown command "deploy" (see safepipe --help)`},
		{[]string{"plan", "--fast"}, "safepipe plan: flag provided but not defined: -fast (see safepipe plan -h)"},
		{[]string{"plan", "--deploy-minutes", "x"}, `safepipe plan: invalid value "x" for flag -deploy-minutes: parse error (see safepipe plan -h)`},
		{[]string{"plan", "extra"}, `safepipe: plan takes no arguments, got ["extra"]`},
		{[]string{"regions", "--fast"}, "safepipe regions: flag provided but not defined: -fast (see safepipe regions -h)"},
		{[]string{"regions", "extra"}, `safepipe: regions takes no arguments, got ["extra"]`},
		{[]string{"gray"}, "safepipe: usage: safepipe gray check [--format text|json] FILE..."},
		{[]string{"gray", "lint"}, `safepipe: unknown gray command "lint" (see safepipe gray --help)`},
		{[]string{"gray", "check", "--fast", "x"}, "safepipe gray check: flag provided but not defined: -fast (see safepipe gray check -h)"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(c.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Equal(t, c.want+"\n", errOut)
		})
	}
}

// TestErrorOutputIsBounded: a policy with thousands of bad days, or a
// name a megabyte long, gives at most 100 lines of at most 1 KiB each.
func TestErrorOutputIsBounded(t *testing.T) {
	days := strings.TrimSuffix(strings.Repeat(`"FUNDAY",`, 5000), ",")
	p := writeFile(t, "p.json", `{"window": {"days": [`+days+`]}}`)
	code, _, errOut := runCLI("plan", "--policy", p)
	assert.Equal(t, 2, code)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	require.Len(t, lines, maxErrorLines+1)
	assert.Equal(t, "safepipe: … and 4900 more problems", lines[maxErrorLines])

	long := strings.Repeat("x", 1<<19)
	c := writeFile(t, "c.json", `{"version": "1", "regions": [{"code": "`+long+`", "partition": "aws", "name": "n", "azs": ["use1-az1"], "tier": "low", "tz": "UTC"}]}`)
	code, _, errOut = runCLI("regions", "--catalog", c)
	assert.Equal(t, 2, code)
	for _, l := range strings.Split(strings.TrimSuffix(errOut, "\n"), "\n") {
		assert.LessOrEqual(t, len(l), len("safepipe: ")+maxErrorLineBytes+len("… (1000000 bytes more)"), l[:80])
	}
}

// hostileAssembly is the simulator's "good" fixture with a pipeline name,
// a stage name and an action name that carry terminal escapes: a title
// change, a screen clear, a carriage return and a forged verdict line.
func hostileAssembly(t *testing.T) string {
	t.Helper()
	const forged = "\x1b]0;pwned\x07\r\x1b[2JREACHED (exit 0)\u202e"
	dir := t.TempDir()
	src := filepath.Join("..", "..", "sim", "testdata", "good")
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		if e.Name() == "pipeline.template.json" {
			var doc map[string]any
			require.NoError(t, json.Unmarshal(b, &doc))
			props := doc["Resources"].(map[string]any)["Pipeline"].(map[string]any)["Properties"].(map[string]any)
			props["Name"] = "pipe" + forged
			for _, st := range props["Stages"].([]any) {
				st := st.(map[string]any)
				if st["Name"] == "Build" {
					st["Name"] = "Build" + forged
					st["Actions"].([]any)[0].(map[string]any)["Name"] = "Synth" + forged
				}
			}
			b, err = json.Marshal(doc)
			require.NoError(t, err)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644))
	}
	return dir
}

// TestHostileAssemblyNamesAreEscaped: names read from an assembly reach no
// terminal raw, from simulate (text, JSON, HTML) and plan --from (table,
// JSON), on stdout or stderr.
func TestHostileAssemblyNamesAreEscaped(t *testing.T) {
	dir := hostileAssembly(t)
	html := filepath.Join(t.TempDir(), "sim.html")
	for _, args := range [][]string{
		{"simulate", dir},
		{"simulate", "--format", "json", dir},
		{"simulate", "--format", "html", "--out", html, dir},
		{"plan", "--from", dir},
		{"plan", "--from", dir, "--format", "json"},
		{"simulate", "--fault", "fail:Build/Synth", dir},
		{"simulate", "--format", "junit", dir},
		{"simulate", "--format", "markdown", dir},
		{"simulate", "--format", "markdown", "--all-readings", dir},
		{"verify", "--format", "sarif", dir},
		{"verify", "--format", "junit", dir},
		{"verify", "--format", "markdown", dir},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(args...)
			assertTerminalSafe(t, out)
			assertTerminalSafe(t, errOut)
			if code == 2 {
				return // refused, and the refusal is safe
			}
			if slices.Contains(args, "html") {
				b, err := os.ReadFile(html)
				require.NoError(t, err)
				out = string(b)
				assertTerminalSafe(t, out)
			}
			if args[0] == "verify" {
				return // verify reads the names; the escaping of its formats is verify's TestReviewFormatsEscapeHostileNames
			}
			assert.Contains(t, out, `pipe`)
			assert.NotContains(t, out, "\rREACHED")
			switch {
			case slices.Contains(args, "json"):
				assert.Contains(t, out, `\u001b]0;pwned`, "the escape is shown, not applied")
			case slices.Contains(args, "markdown"):
				assert.Contains(t, out, `\\x1b\]0;pwned`, "the escape is shown (Markdown renders a doubled backslash as one), not applied")
			default:
				assert.Contains(t, out, `\x1b]0;pwned`, "the escape is shown, not applied")
			}
		})
	}
}
