// Package arch holds the tests that keep safepipe's architecture honest:
// the core packages (waves, gray, verify) stay pure Go, with no jsii or CDK
// dependency, so that they run without Node.js in milliseconds.
package arch
