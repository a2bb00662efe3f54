// Package junit writes JUnit XML test reports, the format CI systems read
// for test results: "CodeBuild supports the following test report file
// formats: Cucumber JSON (.json), JUnit XML (.xml), NUnit XML (.xml),
// NUnit3 XML (.xml), TestNG XML (.xml), Visual Studio TRX (.trx)"
// (https://docs.aws.amazon.com/codebuild/latest/userguide/test-reporting.html).
// The shape is the one those readers share: testsuites > testsuite >
// testcase, a failure or skipped element in a failing or skipped case.
// Text is escaped for a terminal (termsafe) before XML escapes it, so a
// control character in a name shows as \x1b, not as a character XML
// refuses. Pure Go.
package junit

import (
	"encoding/xml"
	"io"

	"github.com/safepipe/safepipe/internal/termsafe"
)

// Suites is the document.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one test suite.
type Suite struct {
	Name     string `xml:"name,attr"`
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Cases    []Case `xml:"testcase"`
}

// Case is one test case: passed, failed (Failure) or skipped (Skipped).
type Case struct {
	ClassName string   `xml:"classname,attr"`
	Name      string   `xml:"name,attr"`
	Failure   *Failure `xml:"failure,omitempty"`
	Skipped   *Skipped `xml:"skipped,omitempty"`
}

// Failure is a failed case's message (one line) and text (the details).
type Failure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Skipped is a skipped case's reason.
type Skipped struct {
	Message string `xml:"message,attr"`
}

// Write counts the cases, escapes every text and writes the document.
func Write(w io.Writer, s Suites) error {
	s.Tests, s.Failures, s.Skipped = 0, 0, 0
	s.Name = termsafe.Escape(s.Name)
	for i := range s.Suites {
		su := &s.Suites[i]
		su.Name = termsafe.Escape(su.Name)
		su.Tests, su.Failures, su.Skipped = len(su.Cases), 0, 0
		for j := range su.Cases {
			c := &su.Cases[j]
			c.ClassName, c.Name = termsafe.Escape(c.ClassName), termsafe.Escape(c.Name)
			if c.Failure != nil {
				su.Failures++
				c.Failure.Message = termsafe.Escape(c.Failure.Message)
				c.Failure.Text = escapeLines(c.Failure.Text)
			}
			if c.Skipped != nil {
				su.Skipped++
				c.Skipped.Message = termsafe.Escape(c.Skipped.Message)
			}
		}
		s.Tests, s.Failures, s.Skipped = s.Tests+su.Tests, s.Failures+su.Failures, s.Skipped+su.Skipped
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// escapeLines escapes each line of a multi-line text, keeping the lines.
func escapeLines(s string) string {
	out := make([]byte, 0, len(s))
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			out = append(out, termsafe.Escape(s[start:i])...)
			if i < len(s) {
				out = append(out, '\n')
			}
			start = i + 1
		}
	}
	return string(out)
}
