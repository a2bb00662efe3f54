package verify

import "github.com/safepipe/safepipe/internal/termsafe"

// Escape makes a string from a template, manifest or config safe to print
// on a terminal: control characters (C0, DEL, C1), Unicode format
// characters that reorder or hide text (bidirectional overrides and
// isolates, zero-width characters), line and paragraph separators and
// invalid UTF-8 are written as Go escapes ("\x1b", "\u202e"); a backslash
// stays a backslash. Text output and every error message pass names
// through it, so a template cannot move the cursor, recolour the screen or
// reverse what a reviewer reads. It is the CLI's escaping
// (internal/termsafe), so every command escapes alike.
func Escape(s string) string { return termsafe.Escape(s) }
