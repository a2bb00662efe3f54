package main

import (
	"encoding/json"
	"io"

	"github.com/safepipe/safepipe/internal/termsafe"
)

// esc makes user-written text (catalog names, rule targets, reasons) safe
// to print: control, format and separator characters are escaped, so a
// file cannot clear the screen or reverse the text around it.
func esc(s string) string { return termsafe.Escape(s) }

// writeJSON writes v as indented JSON whose strings carry no raw control
// or format character (termsafe.JSON), then a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(termsafe.JSON(b), '\n'))
	return err
}
