package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/codepipeline"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/gates"
	"github.com/safepipe/safepipe/internal/mototest"
	"github.com/safepipe/safepipe/waves"
)

// BenchmarkRoundAgainstMoto times one scheduled round of the controller
// for the shape of a zonal wave 5: 36 account-regions, ~250 alarms (each
// region's AZ aggregates, 7 a region, through an assumed watch role),
// against moto on loopback, reading one place at a time and with the
// controller's concurrency. Run with
//
//	go test ./cmd/safepipe-gates -run XXX -bench RoundAgainstMoto -benchmem
func BenchmarkRoundAgainstMoto(b *testing.B) {
	mototest.Start(b)
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	require.NoError(b, err)
	cfg := &gates.Config{Version: gates.Version, Pipeline: "p",
		Window: gates.Window{TimeZone: "UTC", Days: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, StartHour: 0, EndHour: 24}}
	stage := gates.Stage{Name: "Prod-W5-Z1", Window: true, BakeAction: true}
	// 36 account-regions: the catalog's 34 regions in one account, two in
	// another (moto keeps accounts apart by the credentials an assumed
	// role returns).
	type place struct{ account, region string }
	var places []place
	for _, r := range waves.DefaultCatalog().Codes() {
		places = append(places, place{"123456789012", r})
	}
	places = append(places, place{"210987654321", "us-east-1"}, place{"210987654321", "eu-west-1"})
	alarms := 0
	for _, p := range places {
		role := "arn:aws:iam::" + p.account + ":role/safepipe-watch-p"
		c := base.Copy()
		c.Region = p.region
		c.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(c), role))
		cw := cloudwatch.NewFromConfig(c)
		for az := range 7 {
			name := fmt.Sprintf("svc-prod-az%d-aggregate-rollback", az+1)
			_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
				AlarmName: aws.String(name), Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"), Statistic: cwtypes.StatisticSum,
				Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
			})
			require.NoError(b, err)
			stage.Blockers = append(stage.Blockers, gates.Alarm{Account: p.account, Region: p.region, Role: role, Name: name, Stack: fmt.Sprintf("svc-az%d", az+1)})
			alarms++
		}
	}
	cfg.Stages = []gates.Stage{stage}
	require.NoError(b, cfg.Validate())
	b.Logf("%d alarms in %d account-regions", alarms, len(places))
	// moto answers on loopback in about a millisecond; a cross-region
	// DescribeAlarms takes tens to hundreds. The latency cases add a
	// fixed delay to each CloudWatch call, to show what the concurrency
	// buys where the network, not the CPU, is the cost.
	for _, c := range []struct {
		conc    int
		latency time.Duration
	}{{1, 0}, {readConcurrency, 0}, {1, 100 * time.Millisecond}, {readConcurrency, 100 * time.Millisecond}} {
		b.Run(fmt.Sprintf("concurrency=%d/latency=%s", c.conc, c.latency), func(b *testing.B) {
			conc := c.conc
			w := newAWS(base, "p") // reused across rounds, as a warm Lambda reuses it
			w.pipe = fakePipeline{out: &codepipeline.GetPipelineStateOutput{}}
			if c.latency > 0 {
				newCW := w.newCW
				w.newCW = func(cfg aws.Config) cloudWatchAPI { return slowCW{newCW(cfg), c.latency} }
			}
			b.ReportAllocs()
			for b.Loop() {
				ds := gates.EvaluateWith(ctx, cfg, w, time.Now().UTC(), gates.Options{Concurrency: conc})
				if ds[0].EntryBlocked {
					b.Fatalf("blocked: %v", ds[0].EntryReasons)
				}
				require.NoError(b, w.publish(ctx, cfg, ds, time.Now().UTC()))
			}
		})
	}
}

// slowCW delays every DescribeAlarms call.
type slowCW struct {
	cloudWatchAPI
	d time.Duration
}

func (s slowCW) DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, o ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	time.Sleep(s.d)
	return s.cloudWatchAPI.DescribeAlarms(ctx, in, o...)
}
