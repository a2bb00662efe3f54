package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses a command's flags. "-h" and "--help" print the usage
// to stdout (exit 0); a bad flag is one line on stderr (exit 2). done says
// the command has nothing more to do, and code is its exit code.
func parseFlags(fs *flag.FlagSet, synopsis string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		printUsage(fs, synopsis, stdout)
		return 0, true
	}
	fmt.Fprintf(stderr, "safepipe %s: %s (see safepipe %s -h)\n", fs.Name(), esc(err.Error()), fs.Name())
	return 2, true
}

func printUsage(fs *flag.FlagSet, synopsis string, w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", synopsis)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
