// Command safepipe-gates is the gate controller of a safepipe pipeline: a
// Lambda function (runtime provided.al2023) that the pipeline stack deploys
// and an EventBridge schedule invokes every minute. Each run it reads the
// configuration bundled next to it (gates.json, see package gates), reads
// every watched alarm, stack and the pipeline's state through the AWS APIs,
// lets gates.Evaluate decide every stage's entry and bake gates, logs one
// JSON line per stage with the reasons, and publishes the decisions as the
// metrics EntryBlocked and BakeBreached (namespace safepipe/gates,
// dimensions Pipeline and Stage) that the stage conditions' alarms watch.
//
// Run outside Lambda (no AWS_LAMBDA_RUNTIME_API), it evaluates once and
// prints the decisions: `safepipe-gates -config gates.json` with AWS
// credentials is how an operator asks why a stage is held.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/safepipe/safepipe/gates"
)

func main() {
	path := flag.String("config", "", "the gates configuration (default: gates.json next to the executable)")
	flag.Parse()
	if *path == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "safepipe-gates:", err)
			os.Exit(2)
		}
		*path = filepath.Join(filepath.Dir(exe), "gates.json")
	}
	cfg, err := load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "safepipe-gates:", err)
		os.Exit(2)
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.Start(func(ctx context.Context) error { return run(ctx, cfg, os.Stdout, true) })
		return
	}
	if err := run(context.Background(), cfg, os.Stdout, false); err != nil {
		fmt.Fprintln(os.Stderr, "safepipe-gates:", err)
		os.Exit(1)
	}
}

func load(path string) (*gates.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return gates.Parse(f, path)
}

// run evaluates once, logs every decision and, when publish is set,
// publishes the gate metrics.
func run(ctx context.Context, cfg *gates.Config, log io.Writer, publish bool) error {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Second)
	defer cancel()
	base, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	w := newAWS(base, cfg.Pipeline)
	now := time.Now().UTC()
	ds := gates.Evaluate(ctx, cfg, w, now)
	enc := json.NewEncoder(log)
	for _, d := range ds {
		if err := enc.Encode(struct {
			Time string `json:"time"`
			gates.Decision
		}{now.Format(time.RFC3339), d}); err != nil {
			return err
		}
	}
	if !publish {
		return nil
	}
	return w.publish(ctx, cfg.Pipeline, ds, now)
}
