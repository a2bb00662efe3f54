package model

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeJSON(t *testing.T) {
	v, err := DecodeJSON([]byte(` {"a": [1, -2.5e3, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"], "b": {}} `), "t", 8)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{
		"a": []any{json.Number("1"), json.Number("-2.5e3"), true, false, nil, "x\"\\/\b\f\n\r\té😀\uFFFD"},
		"b": map[string]any{},
	}, v)
	for in, want := range map[string]string{
		`{"a": 1, "a": 2}`:        `t:1:10: duplicate key "a" (first at line 1)`,
		"{\"a\": 1,\n \"A\": 2}":  `t:2:2: key "A" differs from key "a" (line 1) only in case`,
		`{"ǅ": 1, "ǆ": 2}`:        `key "ǆ" differs from key "ǅ"`,
		`{"a": {"b": 1, "b": 2}}`: `(in a)`,
		`[1, 2] x`:                "t:1:8: data after the JSON document",
		`{} }`:                    "data after the JSON document",
		`[[[1]]]`:                 "nesting deeper than 2 levels (limit 2)",
		`{"a" 1}`:                 `expected ':' after key "a"`,
		`[1 2]`:                   "expected ',' or ']'",
		`01`:                      "data after the JSON document",
		`-`:                       "invalid number",
		`1.`:                      "invalid number",
		`1e`:                      "invalid number",
		`"\x"`:                    `invalid escape "\\x"`,
		`"\u12"`:                  `invalid \u escape`,
		"\"a\tb\"":                "control character 0x09 in a string",
		`"abc`:                    "unterminated string",
		`tru`:                     "invalid literal (want true)",
		``:                        "unexpected end of input",
		`{"a": 1,}`:               "expected a string key",
	} {
		_, err := DecodeJSON([]byte(in), "t", 2)
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
	// Many keys: the check stays linear and still finds the clash.
	var b strings.Builder
	b.WriteString("{")
	for i := range 5000 {
		b.WriteString(`"k` + strconv.Itoa(i) + `": 1,`)
	}
	b.WriteString(`"K4321": 2}`)
	_, err = DecodeJSON([]byte(b.String()), "t", 8)
	assert.ErrorContains(t, err, `key "K4321" differs from key "k4321"`)
}
