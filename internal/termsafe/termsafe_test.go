package termsafe

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"us-east-1":                  "us-east-1",
		"Zürich 東京":                  "Zürich 東京",
		"\x1b[2J\x1b[31mred":         `\x1b[2J\x1b[31mred`,
		"a\tb\nc\rd\x00\x7f":         `a\tb\nc\rd\x00\x7f`,
		"csi \u009b31m":              `csi \u009b31m`,
		"abc\u202edcba\u2066\u200b":  `abc\u202edcba\u2066\u200b`,
		"line\u2028para\u2029":       `line\u2028para\u2029`,
		"bad \xff\xfe utf-8":         `bad \xff\xfe utf-8`,
		"tag \U000e0041":             `tag \U000e0041`,
		`already \x1b is four chars`: `already \x1b is four chars`,
	} {
		assert.Equal(t, want, Escape(in), "%q", in)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { Escape("us-east-1 Europe (Ireland)") }))
}

func TestJSONKeepsTheValue(t *testing.T) {
	v := map[string]string{"name": "a\x7f\u0085\u009b[2J\u202e\u2066\u200b\U000e0041 Zürich \x1b", "ok": "plain"}
	b, err := json.Marshal(v)
	require.NoError(t, err)
	out := JSON(b)
	for _, r := range string(out) {
		assert.False(t, unsafe(r), "%U left raw in %s", r, out)
	}
	var back map[string]string
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, v, back)
	plain := []byte(`{"a":"b"}`)
	assert.Equal(t, plain, JSON(plain))
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b[2J\u202e\xff")
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		require.True(t, utf8.ValidString(e))
		for _, r := range e {
			require.False(t, unsafe(r), "%U left raw", r)
		}
		b, err := json.Marshal(s)
		require.NoError(t, err)
		var back string
		require.NoError(t, json.Unmarshal(JSON(b), &back))
		require.Equal(t, string([]rune(s)), back) // invalid bytes become U+FFFD, as json.Marshal writes them
	})
}

// TestMarkdown: a hostile name cannot format, link, mention or break the
// line it is printed in.
func TestMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"Prod-W1":                        `Prod-W1`,
		"**bold** [x](http://e.vil)":     `\*\*bold\*\* \[x\]\(http\://e\.vil\)`,
		"@org/team <img src=x> $x^2$":    `&#64;org/team \<img src=x\> \$x^2\$`,
		"line\n# heading | cell \x1b[2J": `line\\n\# heading \| cell \\x1b\[2J`,
	} {
		if got := Markdown(in); got != want {
			t.Errorf("Markdown(%q) = %q, want %q", in, got, want)
		}
	}
}
