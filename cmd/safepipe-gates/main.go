// Command safepipe-gates is the gate controller of a safepipe pipeline: a
// Lambda function (runtime provided.al2023) that the pipeline stack
// deploys. It has two callers:
//
//   - An EventBridge schedule invokes it every minute. It reads every
//     alarm the entry gates watch, the stacks and ledgers they need and
//     the pipeline's state, lets gates.EvaluateWith decide every stage's
//     entry (and the bakes of stages that still bake through a condition),
//     logs one JSON line per stage with the reasons, and publishes the
//     decisions as the metrics EntryBlocked and BakeBreached (namespace
//     safepipe/gates, dimensions Pipeline and Stage) that the stage
//     conditions' alarms watch, with a Heartbeat. When a later step of a
//     region rolled back, it rolls the region's earlier steps back too
//     (gates.Stage.RollsBack; RollbackStage, one stage a round).
//   - CodePipeline invokes it for each stage's bake action (a Lambda
//     invoke action; job.go): it holds the stage until the bake has
//     elapsed with every watched alarm OK, and fails it on a breach.
//
// Run outside Lambda (no AWS_LAMBDA_RUNTIME_API), it evaluates the entry
// gates once and prints the decisions: `safepipe-gates -config gates.json`
// with AWS credentials is how an operator asks why a stage is held.
package main

import (
	"context"
	"encoding/json"
	"errors"
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

// Deadlines of one scheduled round: reads, then publishing with a deadline
// of its own (a slow read must not keep the decisions from being
// published: a gate alarm whose datapoints stop treats the missing data as
// breaching and closes every gate).
const (
	readDeadline    = 40 * time.Second
	publishDeadline = 10 * time.Second
	// readConcurrency bounds the reads in flight (one per account, region
	// and role, and per ledger).
	readConcurrency = 16
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	base, err := config.LoadDefaultConfig(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "safepipe-gates:", err)
		os.Exit(2)
	}
	// One world per process: a warm Lambda invocation reuses its clients
	// and the credentials of the roles it assumed (cached until they
	// expire).
	w := newAWS(base, cfg.Pipeline)
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		lambda.Start(func(ctx context.Context, event json.RawMessage) error {
			return handle(ctx, cfg, w, event, os.Stdout, realClock)
		})
		return
	}
	if err := run(context.Background(), cfg, w, os.Stdout, false); err != nil {
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

// handle dispatches an invocation: a CodePipeline job (a bake action) or
// the schedule.
func handle(ctx context.Context, cfg *gates.Config, w *awsWorld, event json.RawMessage, log io.Writer, clk clock) error {
	job, isJob, err := parseJob(event)
	if err != nil {
		// Not a job we can answer: nothing can be reported to CodePipeline
		// without the job's ID. Returning the error makes Lambda retry, and
		// the action times out if it never reads.
		return err
	}
	if isJob {
		return bake(ctx, cfg, w, job, log, clk)
	}
	return run(ctx, cfg, w, log, true)
}

// run evaluates the entry gates once, logs every decision and, when
// publish is set, publishes the gate metrics and the heartbeat.
func run(ctx context.Context, cfg *gates.Config, w *awsWorld, log io.Writer, publish bool) error {
	now := time.Now().UTC()
	readCtx, cancel := context.WithTimeout(ctx, readDeadline)
	ds := gates.EvaluateWith(readCtx, cfg, w, now, gates.Options{Concurrency: readConcurrency})
	cancel()
	enc := json.NewEncoder(log)
	var errs []error
	for _, d := range ds {
		errs = append(errs, enc.Encode(struct {
			Time string `json:"time"`
			gates.Decision
		}{now.Format(time.RFC3339), d}))
	}
	if !publish {
		return errors.Join(errs...)
	}
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishDeadline)
	defer cancel()
	errs = append(errs, w.publish(pubCtx, cfg, ds, now))
	// After publishing (the region's entries are closed by now): roll back
	// the earlier steps of a region whose later step rolled back.
	w.rollBack(pubCtx, ds, log, now)
	return errors.Join(errs...)
}
