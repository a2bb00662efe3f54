package sim

import (
	"errors"
	"io"
)

// WriteHTML writes the result as one self-contained page.
func (r *Result) WriteHTML(w io.Writer) error { return errors.New("html: not yet") }
