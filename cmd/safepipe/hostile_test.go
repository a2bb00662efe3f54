package main

import (
	"encoding/json"
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
