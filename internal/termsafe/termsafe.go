// Package termsafe makes user-written text safe to print to a terminal.
//
// A catalog, a policy or a rule file is written by many people; a name in
// it may carry an ANSI escape sequence that clears the screen or rewrites
// earlier output, a C1 control that some terminals treat as an escape, or
// a bidirectional override (U+202E) that makes the text read differently
// from what it is. Every command prints such text through [Escape] (tables
// and text) or [JSON] (JSON output), so that what the reader sees is what
// the file says.
//
// The escaped set is every rune of the Unicode categories Cc (C0 and C1
// controls, DEL), Cf (format characters: bidi overrides and isolates,
// zero-width characters, the BOM), Zl and Zp (line and paragraph
// separators), and every byte that is not valid UTF-8. A backslash is not
// escaped: "\x1b" in the output is either an escaped ESC or those four
// characters in the input; either way it cannot reach the terminal as ESC.
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unsafe reports whether a rune must not reach a terminal as itself.
func unsafe(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Escape returns s with every unsafe rune written as a Go escape ("\x1b",
// "\u202e", "\t") and every invalid UTF-8 byte as "\xNN". Safe text is
// returned unchanged, without allocating.
func Escape(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafe(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff && unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// JSON returns JSON text (as encoding/json writes it) with every unsafe
// rune that encoding/json leaves as itself (DEL, C1 controls, format
// characters such as U+202E) written as a \u escape, so the document
// decodes to the same value but prints safely. encoding/json already
// escapes C0 controls, U+2028 and U+2029, and writes no invalid UTF-8.
// Outside strings JSON text is ASCII, so only string contents change.
func JSON(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafe(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+64)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case r >= 0x7f && unsafe(r) && r <= 0xffff:
			out = fmt.Appendf(out, `\u%04x`, r)
		case r >= 0x7f && unsafe(r):
			r -= 0x10000 // a UTF-16 surrogate pair, as JSON spells runes above U+FFFF
			out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// markdownSpecial are the characters Markdown escapes: emphasis, code,
// links and images, HTML and entities, tables, strikethrough, headings and
// lists, GitHub's math ($) and its autolinks (":" and "." of a URL or a
// www. name).
const markdownSpecial = "\\`*_{}[]()<>#+!|~&:.$"

// Markdown returns s escaped for Markdown text within a line (GitHub's,
// CommonMark): first as Escape does (no control or format character, no
// new line, so text cannot start a block of its own), then each character
// of markdownSpecial behind a backslash ("Any ASCII punctuation character
// may be backslash-escaped", CommonMark 0.31, 2.4), and "@" as the entity
// "&#64;", so that a name cannot format, link, mention a user or team, or
// end a table cell.
func Markdown(s string) string {
	s = Escape(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '@':
			b.WriteString("&#64;")
		case strings.ContainsRune(markdownSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
