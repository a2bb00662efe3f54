package strictjson

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

type inner struct {
	Name string `json:"name"`
}

type doc struct {
	Kind  string           `json:"kind"`
	Rules []inner          `json:"rules,omitempty"`
	By    map[string]inner `json:"by,omitempty"`
	Ptr   *inner           `json:"ptr,omitempty"`
}

func TestUnmarshal(t *testing.T) {
	cases := []struct {
		name, in, err string
	}{
		{"ok", `{"kind":"a","rules":[{"name":"x"}],"by":{"K":{"name":"y"}},"ptr":{"name":"z"}}`, ""},
		{"trailing object close", `{"kind":"a"}}`, "data after the JSON document"},
		{"trailing array close", `{"kind":"a"}]}`, "data after the JSON document"},
		{"second document", `{"kind":"a"} {"kind":"b"}`, "data after the JSON document"},
		{"duplicate key", `{"kind":"a","kind":"b"}`, `key "kind" appears twice`},
		{"case-variant keys", `{"rules":[],"Rules":[{"name":"x"}]}`, `differ only in case`},
		{"nested duplicate", `{"rules":[{"name":"x","name":"y"}]}`, `key "name" appears twice`},
		{"case-variant field", `{"KIND":"a"}`, `key "KIND" at the top level: the field is "kind"`},
		{"nested case-variant field", `{"ptr":{"Name":"a"}}`, `key "Name" at .ptr: the field is "name"`},
		{"unknown field", `{"kinds":"a"}`, `unknown field "kinds"`},
		{"too deep", `{"by":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}`, "nesting deeper than 64"},
		{"map keys may repeat across objects", `{"by":{"a":{"name":"x"},"b":{"name":"x"}}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := Unmarshal([]byte(c.in), &d, "in.json")
			if c.err == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, c.err)
			assert.ErrorContains(t, err, "in.json")
		})
	}
}

func TestDecodeCapsTheSize(t *testing.T) {
	var d doc
	err := Decode(strings.NewReader(`{"kind":"`+strings.Repeat("a", 100)+`"}`), &d, 50, "big.json")
	assert.ErrorContains(t, err, "big.json is larger than 50 bytes")
	assert.NoError(t, Decode(strings.NewReader(`{"kind":"a"}`), &d, 50, "small.json"))
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"kind":"a"}`, `{"rules":[{"name":"x"}]}`, `{"by":{"a":{}}}`, `[`, `{"a":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		_ = Unmarshal(b, &d, "fuzz")
	})
}
