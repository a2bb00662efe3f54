package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type inner struct {
	Name  string   `json:"name"`
	Count *int     `json:"count,omitempty"`
	Tags  []string `json:"tags"`
}

type doc struct {
	Kind    string         `json:"kind"`
	N       int            `json:"n"`
	Small   int8           `json:"small"`
	U       uint16         `json:"u"`
	F       float64        `json:"f"`
	On      bool           `json:"on"`
	Pin     map[string]int `json:"pin"`
	Items   []inner        `json:"items"`
	Nested  *doc           `json:"nested"`
	Skipped string         `json:"-"`
	Raw     any            `json:"raw"`
}

var lim = Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxAliasBytes: 1 << 10}

func TestJSONAcceptsAStrictDocument(t *testing.T) {
	var d doc
	require.NoError(t, JSON([]byte(`{"kind": "a", "n": -3, "small": 127, "u": 65535, "f": 0.25, "on": true,
		"pin": {"x": 1, "X": 2}, "items": [{"name": "i", "count": 2, "tags": ["t"]}], "nested": {"kind": "b"},
		"raw": {"any": [1, "two", null]}}`+"\n\t "), &d, lim))
	assert.Equal(t, "a", d.Kind)
	assert.Equal(t, -3, d.N)
	assert.Equal(t, map[string]int{"x": 1, "X": 2}, d.Pin, "map keys are data: case matters, nothing merges")
	require.Len(t, d.Items, 1)
	assert.Equal(t, 2, *d.Items[0].Count)
	assert.Equal(t, "b", d.Nested.Kind)
	assert.Equal(t, map[string]any{"any": []any{1.0, "two", nil}}, d.Raw)
}

// problemsOf decodes and returns the error lines.
func problemsOf(t *testing.T, decode func([]byte, any, Limits) error, src string) string {
	t.Helper()
	var d doc
	err := decode([]byte(src), &d, lim)
	require.Error(t, err, "%s", src)
	return err.Error()
}

func TestJSONRejects(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"trailing }":            {`{"kind": "a"}}`, `line 1: unexpected "}" after the document`},
		"trailing }]}":          {"{\"kind\": \"a\"}\n}]}", `line 2: unexpected "}]}" after the document`},
		"second document":       {`{"kind": "a"} {"kind": "b"}`, `unexpected "{\"kind\": \"b\"}" after the document`},
		"trailing garbage":      {`{"kind": "a"} x`, `unexpected "x"`},
		"duplicate key":         {"{\"kind\": \"a\",\n\"kind\": \"b\"}", `line 2: duplicate key "kind" (first at line 1)`},
		"duplicate map key":     {"{\"pin\": {\"x\": 1,\n \"x\": 2}}", `line 2: pin: duplicate key "x" (first at line 1)`},
		"case-variant key":      {`{"KIND": "a"}`, `line 1: unknown field "KIND": field names are case-sensitive; did you mean "kind"?`},
		"case variant beside":   {"{\"items\": [],\n\"Items\": [{\"name\": \"x\"}]}", `line 2: unknown field "Items"`},
		"unknown field":         {`{"kinds": "a"}`, `unknown field "kinds" (want one of f, items, kind, n, nested, on, pin, raw, small, u)`},
		"ignored field":         {`{"Skipped": "a"}`, `unknown field "Skipped"`},
		"nested unknown":        {`{"items": [{"name": "a", "nmae": "b"}]}`, `items[0]: unknown field "nmae"`},
		"number for string":     {`{"kind": 5}`, `kind: want a string, got a number`},
		"string for number":     {`{"n": "5"}`, `n: want a whole number, got a string`},
		"fraction":              {`{"n": 1.5}`, `n: 1.5 is not a whole number written in decimal`},
		"exponent":              {`{"n": 1e3}`, `n: 1e3 is not a whole number`},
		"int overflow":          {`{"n": 9223372036854775808}`, `n: 9223372036854775808 is out of range (-9223372036854775808 to 9223372036854775807)`},
		"int8 overflow":         {`{"small": 128}`, `small: 128 is out of range (-128 to 127)`},
		"uint negative":         {`{"u": -1}`, `u: -1 is out of range (0 to 65535)`},
		"float overflow":        {`{"f": 1e400}`, `f: 1e400 is not a finite decimal number`},
		"object for list":       {`{"items": {}}`, `items: want a list, got an object`},
		"null in list":          {`{"items": [null]}`, `items[0]: want an object, got null`},
		"bool for string":       {`{"kind": true}`, `kind: want a string, got true`},
		"root list":             {`[]`, `want an object, got a list`},
		"root null":             {`null`, `want an object, got null`},
		"empty":                 {``, `the file is empty`},
		"blank":                 {"  \n", `the file is empty`},
		"truncated":             {`{"kind": "a"`, `unexpected end of the file`},
		"syntax":                {"{\n\"kind\": 'a'}", `line 2: invalid character '\''`},
		"not utf-8":             {"{\"kind\": \"\xff\"}", `line 1: the file is not UTF-8 (byte 0xff at offset 10)`},
		"byte order mark":       {"\xef\xbb\xbf{}", `line 1: the file starts with a byte order mark (U+FEFF)`},
		"too deep":              {strings.Repeat(`{"nested":`, 20) + `{}` + strings.Repeat(`}`, 20), `nested deeper than the limit of 16 levels`},
		"long number":           {`{"n": 1` + strings.Repeat("0", 1000) + `}`, `n: 1` + strings.Repeat("0", 63) + `… (1001 bytes) is out of range`},
		"long key":              {`{"` + strings.Repeat("k", 1000) + `": 1}`, `unknown field "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk… (1000 bytes)"`},
		"every problem at once": {`{"KIND": "a", "n": "x", "items": {}}`, "unknown field \"KIND\": field names are case-sensitive; did you mean \"kind\"?\nline 1: n: want a whole number, got a string\nline 1: items: want a list, got an object"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, problemsOf(t, JSON, c.src), c.want)
		})
	}
}

func TestSizeLimit(t *testing.T) {
	var d doc
	err := JSON(bytes.Repeat([]byte(" "), 2<<20), &d, lim)
	assert.EqualError(t, err, "larger than the limit of 1 MiB")
	err = YAML(bytes.Repeat([]byte(" "), 2<<20), &d, lim)
	assert.EqualError(t, err, "larger than the limit of 1 MiB")
	_, err = ReadAll(zeros{}, 1<<20)
	assert.EqualError(t, err, "larger than the limit of 1 MiB")
	b, err := ReadAll(strings.NewReader("abc"), 3)
	require.NoError(t, err)
	assert.Equal(t, "abc", string(b))
}

// zeros reads like /dev/zero: without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestTooManyProblems(t *testing.T) {
	src := `{"items": [` + strings.TrimSuffix(strings.Repeat(`{"x": 1},`, 150), ",") + `]}`
	msg := problemsOf(t, JSON, src)
	assert.Equal(t, MaxProblems+1, strings.Count(msg, "\n")+1)
	assert.Contains(t, msg, "… and 50 more problems")
}

func TestYAMLAcceptsAStrictDocument(t *testing.T) {
	var d doc
	require.NoError(t, YAML([]byte(`
# a comment
kind: 2026-01-01      # a plain date stays the string as written
n: +42
f: 1.5e3
on: True
pin: {x: 1}
items:
  - name: 007         # not the number 7
    tags: [true, 1e3, null-ish, "quoted"]
  - &shared {name: s, tags: [a, b]}
  - *shared
nested: {kind: ~}
`), &d, lim))
	assert.Equal(t, "2026-01-01", d.Kind)
	assert.Equal(t, 42, d.N)
	assert.Equal(t, 1500.0, d.F)
	assert.True(t, d.On)
	require.Len(t, d.Items, 3)
	assert.Equal(t, "007", d.Items[0].Name)
	assert.Equal(t, []string{"true", "1e3", "null-ish", "quoted"}, d.Items[0].Tags)
	assert.Equal(t, d.Items[1], d.Items[2])
	assert.Equal(t, "", d.Nested.Kind, "null is unset")

	var j doc
	require.NoError(t, YAML([]byte(`{"kind": "a\/b\u0041", "n": 1, "items": [{"name": "x"}]}`), &j, lim), "JSON is YAML")
	assert.Equal(t, "a/bA", j.Kind)
	var c doc
	require.NoError(t, YAML([]byte("{\"kind\": \"a\"}  # a YAML comment after a JSON object\n"), &c, lim))
	assert.Equal(t, "a", c.Kind)
	var y doc
	require.NoError(t, YAML([]byte("{kind: a, n: 2}\n"), &y, lim), "a YAML flow mapping")
	assert.Equal(t, 2, y.N)
	assert.ErrorContains(t, YAML([]byte(`{"kind": "a"}}`), &y, lim), `line 1: unexpected "}" after the document`)
}

func TestYAMLRejects(t *testing.T) {
	big := strings.Repeat("x", 200)
	for name, c := range map[string]struct{ src, want string }{
		"second document":     {"kind: a\n---\nkind: b\n", "line 2: a second YAML document"},
		"second garbage":      {"kind: a\n---\ngarbage: [\n", "a second YAML document that does not parse"},
		"duplicate key":       {"kind: a\nn: 1\nkind: b\n", `line 3: duplicate key "kind" (first at line 1)`},
		"case-variant key":    {"items: []\nItems: [{name: x}]\n", `line 2: unknown field "Items": field names are case-sensitive; did you mean "items"?`},
		"binary tag":          {"kind: !!binary aGVsbG8=\n", "line 1: kind: the YAML tag !!binary is not allowed"},
		"str tag":             {"kind: !!str 5\n", "line 1: kind: the YAML tag !!str is not allowed"},
		"custom tag":          {"kind: !env HOME\n", "line 1: kind: the YAML tag !env is not allowed"},
		"tag in any":          {"raw: {a: [!!binary \"!!!\"]}\n", "line 1: raw.a[0]: the YAML tag !!binary is not allowed"},
		"tagged key":          {"!!str kind: a\n", "line 1: a key must be a plain string"},
		"merge key":           {"base: &b {kind: a}\n", `unknown field "base"`},
		"merge":               {"items:\n  - &b {name: a}\n  - <<: *b\n    tags: []\n", "line 3: items[1]: YAML merge keys (<<) are not supported"},
		"hex int":             {"n: 0x10\n", "n: 0x10 is not a whole number written in decimal"},
		"octal int":           {"n: 017\n", "n: 017 is not a whole number written in decimal (no leading zeros"},
		"underscore int":      {"n: 1_000\n", "n: 1_000 is not a whole number written in decimal"},
		"quoted number":       {"n: \"5\"\n", "n: want a whole number, got a string"},
		"date for number":     {"n: 2026-01-01\n", "n: want a whole number, got a string"},
		"infinity":            {"f: .inf\n", "f: .inf is not a finite decimal number"},
		"yes is not a bool":   {"on: yes\n", "on: want true or false, got a string"},
		"list for object":     {"nested: []\n", "nested: want an object, got a list"},
		"empty":               {"", "the file is empty"},
		"comment only":        {"# nothing\n", "the file is empty"},
		"syntax":              {"kind: [\n", "line 1: did not find expected node content"},
		"alias cycle":         {"items: &a [*a]\n", "alias *a refers to a value that contains it"},
		"unknown anchor":      {"kind: *nope\n", "unknown anchor 'nope'"},
		"alias expansion":     {"raw: [&s " + big + ", *s, *s, *s, *s, *s, *s]\n", "line 1: aliases repeat more than the limit of 1 KiB (alias *s)"},
		"nested alias bomb":   {"raw: [&a [x,x,x,x,x,x,x,x,x,x], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], *c, *c]\n", "aliases repeat more than the limit"},
		"alias too deep":      {"raw: [&a [[[[[[[[[[[x]]]]]]]]]]], [[[[[[*a]]]]]]]\n", "alias *a nests deeper than the limit of 16 levels"},
		"too deep":            {"raw: " + strings.Repeat("[", 20) + strings.Repeat("]", 20) + "\n", "nested deeper than the limit of 16 levels"},
		"tab indentation":     {"items:\n\t- name: a\n", "line 2"},
		"not utf-8":           {"kind: \xc3\x28\n", "the file is not UTF-8"},
		"root scalar":         {"hello\n", "want an object, got a string"},
		"every problem":       {"KIND: a\nn: x\n", "line 1: unknown field \"KIND\": field names are case-sensitive; did you mean \"kind\"?\nline 2: n: want a whole number, got a string"},
		"null root":           {"~\n", "want an object, got null"},
		"null in list":        {"items: [~]\n", "items[0]: want an object, got null"},
		"complex key":         {"? [a]\n: b\n", "line 1: a key must be a plain string"},
		"document end marker": {"kind: a\n...\nkind: b\n", "a second YAML document"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Contains(t, problemsOf(t, YAML, c.src), c.want)
		})
	}
}

// TestAliasBombIsRejectedBeforeExpansion: a string under the size limit,
// aliased a hundred times, is refused by counting, not by building.
func TestAliasBombIsRejectedBeforeExpansion(t *testing.T) {
	big := strings.Repeat("x", 900<<10)
	src := "raw: [&a " + big + strings.Repeat(", *a", 100) + "]\n"
	var d doc
	err := YAML([]byte(src), &d, Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxAliasBytes: 1 << 20})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aliases repeat more than the limit of 1 MiB (alias *a)")
}

func TestDecodeNeedsAPointer(t *testing.T) {
	var d doc
	err := JSON([]byte(`{}`), d, lim)
	assert.ErrorContains(t, err, "non-nil pointer")
}

// FuzzYAML: any input decodes or fails with an error, never a panic; what
// decodes re-encodes to JSON that decodes strictly to the same value; and
// what decodes from YAML, yaml.v3 reads too (no duplicate key got past).
func FuzzYAML(f *testing.F) {
	f.Add([]byte("kind: a\nitems: [{name: x, tags: [a]}]\n"))
	f.Add([]byte("raw: [&a [x], *a, *a]\n"))
	f.Add([]byte(`{"kind": "a"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		if err := YAML(b, &d, lim); err != nil {
			return
		}
		if !json.Valid(b) {
			var m any
			require.NoError(t, yaml.Unmarshal(b, &m), "%q", b)
		}
		again, err := json.Marshal(&d)
		require.NoError(t, err)
		var e doc
		require.NoError(t, JSON(again, &e, Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10, MaxAliasBytes: 0}), "%s", again)
		require.Equal(t, d, e)
	})
}

// FuzzJSON: any input decodes or fails with an error, never a panic, and
// whatever decodes, encoding/json accepts too.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"kind": "a", "items": [{"name": "x"}], "pin": {"a": 1}}`))
	f.Add([]byte(`{"kind": "a"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		if err := JSON(b, &d, lim); err != nil {
			var se *json.SyntaxError
			require.False(t, errors.As(err, &se), "syntax errors carry a line: %v", err)
			return
		}
		require.True(t, json.Valid(b), "%q", b)
	})
}
