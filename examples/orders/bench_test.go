package main

import (
	"os"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// BenchmarkSynthReference synthesizes the whole reference app (every
// region, cdk-nag included) in this process's jsii runtime, already started.
// Compare with BenchmarkSynthEmptyApp, run in the same binary:
//
//	go test ./examples/orders -run XXX -bench Synth -benchtime 3x
func BenchmarkSynthReference(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
		if err := NewPipeline(app).Err(); err != nil {
			b.Fatal(err)
		}
		app.Synth(nil)
		os.RemoveAll(dir)
	}
}

// BenchmarkSynthEmptyApp is the floor: an app with one empty stack.
func BenchmarkSynthEmptyApp(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
		awscdk.NewStack(app, jsii.String("Empty"), nil)
		app.Synth(nil)
		os.RemoveAll(dir)
	}
}
