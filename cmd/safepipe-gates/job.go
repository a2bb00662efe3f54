package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	cptypes "github.com/aws/aws-sdk-go-v2/service/codepipeline/types"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/strictjson"
)

// A bake action is a CodePipeline Lambda invoke action: "CodePipeline
// invokes your function asynchronously with an event that contains details
// about the job", and "To complete the job, the function must call the
// CodePipeline API to signal success or failure"
// (https://docs.aws.amazon.com/lambda/latest/dg/services-codepipeline.html).
// The function replies "in progress" (PutJobSuccessResult with a
// continuation token), "succeeded" (without one) or "failed"
// (PutJobFailureResult). "If the Lambda function has sent no reply after
// 20 minutes, the action times out. If, during the 20 minutes, the Lambda
// function has replied that the action is still in progress, CodePipeline
// restarts the 20-minute timer and tries again." (CodePipeline quotas,
// https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
// How soon CodePipeline invokes the function again after an "in progress"
// is not documented, so each invocation watches for up to jobWatch itself,
// a minute apart, before it replies: the replies come every jobWatch at
// most, well inside the 20 minutes, whatever CodePipeline's interval.

// jobWatch is how long one invocation watches a bake before replying
// "in progress"; the function's timeout (constructs/pipeline) leaves room
// for the reply after it.
const jobWatch = 10 * time.Minute

// jobEvent is the part of a CodePipeline job event the controller reads.
type jobEvent struct {
	Job *struct {
		ID   string `json:"id"`
		Data struct {
			ActionConfiguration struct {
				Configuration struct {
					UserParameters string `json:"UserParameters"`
				} `json:"configuration"`
			} `json:"actionConfiguration"`
			ContinuationToken string `json:"continuationToken"`
		} `json:"data"`
	} `json:"CodePipeline.job"`
}

// job is one bake job.
type job struct {
	id, parameters, token string
}

// parseJob reads an invocation's event: a CodePipeline job (the bake
// action), or anything else (the schedule's event). The event comes from
// AWS; only its shape is checked, and only what is used is read.
func parseJob(event json.RawMessage) (job, bool, error) {
	if len(bytes.TrimSpace(event)) == 0 || !bytes.Contains(event, []byte(`"CodePipeline.job"`)) {
		return job{}, false, nil
	}
	var ev jobEvent
	if err := json.Unmarshal(event, &ev); err != nil {
		return job{}, false, fmt.Errorf("a CodePipeline job event that does not read: %w", err)
	}
	if ev.Job == nil || ev.Job.ID == "" {
		return job{}, false, errors.New("a CodePipeline job event without a job ID")
	}
	return job{id: ev.Job.ID, parameters: ev.Job.Data.ActionConfiguration.Configuration.UserParameters, token: ev.Job.Data.ContinuationToken}, true, nil
}

// bakeToken is the continuation token: when the invocation that began the
// part saw it start. The decision does not rest on it — the bake's times
// are CodePipeline's (awsWorld.BakeTimes) — so a forged token cannot
// shorten a bake; it is a fallback for an Observer that cannot read them.
type bakeToken struct {
	Version int    `json:"v"`
	Start   string `json:"start"`
}

func parseToken(s string) (time.Time, error) {
	var t bakeToken
	if err := strictjson.Unmarshal([]byte(s), &t, "continuation token"); err != nil {
		return time.Time{}, err
	}
	if t.Version != 1 {
		return time.Time{}, fmt.Errorf("continuation token version %d", t.Version)
	}
	return time.Parse(time.RFC3339, t.Start)
}

// clock is the time a job sees: the real one, or a test's.
type clock struct {
	now func() time.Time
	// wait sleeps until t; false if the invocation must reply first (its
	// deadline is near or it was cancelled).
	wait func(ctx context.Context, t time.Time) bool
}

var realClock = clock{now: time.Now, wait: func(ctx context.Context, t time.Time) bool {
	if dl, ok := ctx.Deadline(); ok && dl.Sub(t) < 90*time.Second {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(t)):
		return true
	}
}}

// bake answers one bake job. It returns an error only when no answer
// reached CodePipeline (Lambda then retries the invocation).
func bake(ctx context.Context, cfg *gates.Config, w *awsWorld, j job, log io.Writer, clk clock) error {
	enc := json.NewEncoder(log)
	req, err := gates.ParseBakeRequest([]byte(j.parameters))
	if err != nil {
		// A bake action whose parameters do not read is a pipeline that
		// safepipe did not write: fail it at once, with the reason.
		_ = enc.Encode(map[string]any{"time": clk.now().UTC().Format(time.RFC3339), "job": j.id, "error": err.Error()})
		return w.fail(ctx, j.id, "safepipe bake: "+err.Error())
	}
	invoked := clk.now().UTC()
	start := invoked
	if j.token != "" {
		if t, err := parseToken(j.token); err == nil {
			start = t
		} else {
			// Our own token should always read; if it does not, the bake
			// starts again rather than being credited with time nobody saw.
			_ = enc.Encode(map[string]any{"time": invoked.Format(time.RFC3339), "stage": req.Stage, "note": "the continuation token does not read (" + err.Error() + "): the bake starts again"})
		}
	}
	token, _ := json.Marshal(bakeToken{Version: 1, Start: start.Format(time.RFC3339)})
	for {
		now := clk.now().UTC()
		readCtx, cancel := context.WithTimeout(ctx, readDeadline)
		v := gates.EvaluateBake(readCtx, cfg, req, w, start, now, gates.Options{Concurrency: readConcurrency})
		cancel()
		_ = enc.Encode(struct {
			Time string `json:"time"`
			Job  string `json:"job"`
			gates.BakeVerdict
		}{now.Format(time.RFC3339), j.id, v})
		switch v.Status {
		case gates.BakeBreachedStatus:
			return w.fail(ctx, j.id, "safepipe bake of "+req.Stage+" breached: "+strings.Join(v.Reasons, "; "))
		case gates.BakePassed:
			out := "passed"
			switch {
			case v.Rollback:
				out = "rollback"
			case req.Part < req.Parts:
				out = "part" // the stage is not through its bake yet
			}
			return w.succeed(ctx, j.id, "", fmt.Sprintf("safepipe bake of %s passed: %d min with every watched alarm OK%s", req.Stage, v.Minutes, notes(v)), 100, map[string]string{BakeOutput: out})
		}
		next := now.Truncate(time.Minute).Add(time.Minute)
		if next.Sub(invoked) >= jobWatch || !clk.wait(ctx, next) {
			summary := fmt.Sprintf("safepipe bake of %s: %d of %d min", req.Stage, min(v.Elapsed, v.Minutes), v.Minutes)
			if len(v.Reasons) > 0 {
				summary += "; not OK: " + strings.Join(v.Reasons, "; ")
			}
			return w.succeed(ctx, j.id, string(token), summary, int32(min(99, 100*v.Elapsed/max(1, v.Minutes))), nil)
		}
	}
}

func notes(v gates.BakeVerdict) string {
	if len(v.Notes) == 0 {
		return ""
	}
	return " (" + strings.Join(v.Notes, "; ") + ")"
}

// Limits of the reply fields: ExecutionDetails summary "Maximum length of
// 2048", FailureDetails message "Maximum length of 5000"
// (API_ExecutionDetails, API_FailureDetails).
const (
	maxSummary = 2048
	maxMessage = 5000
)

// cut shortens s to at most n bytes, at a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// succeed replies "succeeded", or "in progress" with a continuation token.
// A reply to a job already answered (a duplicate delivery, which Lambda's
// asynchronous queue allows) is refused by CodePipeline and ignored here.
func (w *awsWorld) succeed(ctx context.Context, id, token, summary string, percent int32, outputs map[string]string) error {
	in := &codepipeline.PutJobSuccessResultInput{JobId: aws.String(id),
		ExecutionDetails: &cptypes.ExecutionDetails{Summary: aws.String(cut(summary, maxSummary)), PercentComplete: aws.Int32(percent)}}
	if token != "" {
		in.ContinuationToken = aws.String(token)
	} else {
		in.OutputVariables = outputs
	}
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishDeadline)
	defer cancel()
	_, err := w.pipe.PutJobSuccessResult(pubCtx, in)
	return answered(err)
}

// fail replies "failed": the action fails, and the stage with it.
func (w *awsWorld) fail(ctx context.Context, id, message string) error {
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishDeadline)
	defer cancel()
	_, err := w.pipe.PutJobFailureResult(pubCtx, &codepipeline.PutJobFailureResultInput{JobId: aws.String(id),
		FailureDetails: &cptypes.FailureDetails{Type: cptypes.FailureTypeJobFailed, Message: aws.String(cut(message, maxMessage))}})
	return answered(err)
}

// answered: a job that is no longer waiting for a reply
// (InvalidJobStateException: "The job state was specified in an invalid
// format", JobNotFoundException) was answered by another delivery.
func answered(err error) error {
	var state *cptypes.InvalidJobStateException
	var gone *cptypes.JobNotFoundException
	if errors.As(err, &state) || errors.As(err, &gone) {
		return nil
	}
	return err
}
